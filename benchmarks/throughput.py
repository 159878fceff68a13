"""Batch embedding throughput: the `rag embed` encoding step against a plain
``SentenceTransformer.encode`` loop over the same passages, same model, same process.

    python benchmarks/throughput.py [--n 384] [--model sentence-transformers/all-MiniLM-L6-v2]

Passages: the first N chunks of the VNTC train split (../shared/data/vntc), made exactly as
`rag embed` makes them (rag.load, rag.chunk 900/150, the title in front). Rows:

* baseline      ``model.encode(batch)`` for consecutive batches of 32, in input order
* sorted        embeddings.batch.encode_sorted: the same model, batches of similar length
* onnx          the same, ONNX Runtime fp32 (embeddings/onnx.py)
* onnx-int8     the same, ONNX Runtime int8 (dynamic, per-channel MatMul weights)
* bf16          --backend torch-bf16: torch under CPU bf16 autocast, sorted batches

The baseline runs first and last; its figure is the mean of both (these 2 cores are shared, so
drift is visible). Cosine is to the baseline's vectors. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
VNTC = REPO.parent / "shared" / "data" / "vntc" / "vntc_train.jsonl.gz"


def vntc_passages(n: int, path: Path = VNTC) -> list[str]:
    from rag.chunk import chunk_article, passage_for_embedding
    from rag.load import parse_record
    from rag.types import Article

    out: list[str] = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            item = parse_record(line, source=str(path), line_no=line_no)
            if isinstance(item, Article):
                out.extend(passage_for_embedding(c) for c in chunk_article(item, 900, 150))
            if len(out) >= n:
                return out[:n]
    return out


def timed(fn):
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=384)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    ap.add_argument("--skip", default="", help="comma-separated rows to skip")
    args = ap.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import torch

    from embeddings.batch import EmbedJob, encode_sorted, load_job_encoder

    texts = vntc_passages(args.n)
    job = EmbedJob(inputs=("-",), out_dir=Path("-"), model=args.model)
    encoder = load_job_encoder(job)
    model = encoder.model
    b = args.batch_size
    tokens = sum(
        len(x)
        for x in model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)[
            "input_ids"
        ]
    )

    def baseline():
        return np.vstack(
            [model.encode(texts[i : i + b], batch_size=b, normalize_embeddings=True)
             for i in range(0, len(texts), b)]
        )  # fmt: skip

    def sorted_with(enc):
        return lambda: encode_sorted(enc, texts, b)

    def bf16():
        bf16_enc = load_job_encoder(EmbedJob(**{**job.__dict__, "backend": "torch-bf16"}))
        return encode_sorted(bf16_enc, texts, b)

    skip = set(args.skip.split(","))
    model.encode(texts[:b], batch_size=b)  # warm-up: first-call allocations
    ref, t_base1 = timed(baseline)
    rows = {}
    rows["sorted"] = timed(sorted_with(encoder))
    if "onnx" not in skip:
        onnx_enc = load_job_encoder(EmbedJob(**{**job.__dict__, "backend": "onnx"}))
        onnx_enc.encode_passages(texts[:b])
        rows["onnx"] = timed(sorted_with(onnx_enc))
    if "onnx-int8" not in skip:
        int8_enc = load_job_encoder(EmbedJob(**{**job.__dict__, "backend": "onnx-int8"}))
        int8_enc.encode_passages(texts[:b])
        rows["onnx-int8"] = timed(sorted_with(int8_enc))
    if "bf16" not in skip:
        rows["bf16"] = timed(bf16)
    _, t_base2 = timed(baseline)
    t_base = (t_base1 + t_base2) / 2

    def cos(v):
        v = v.astype(np.float32)
        return (v * ref).sum(1) / (np.linalg.norm(v, axis=1) * np.linalg.norm(ref, axis=1))

    result = {
        "model": args.model,
        "passages": len(texts),
        "mean_chars": round(float(np.mean([len(t) for t in texts])), 1),
        "tokens": tokens,
        "batch_size": b,
        "torch_threads": torch.get_num_threads(),
        "baseline": {
            "texts_per_s": round(len(texts) / t_base, 2),
            "tokens_per_s": round(tokens / t_base, 1),
            "runs_s": [round(t_base1, 2), round(t_base2, 2)],
        },
    }
    for name, (vectors, seconds) in rows.items():
        c = cos(vectors)
        result[name] = {
            "texts_per_s": round(len(texts) / seconds, 2),
            "tokens_per_s": round(tokens / seconds, 1),
            "speedup_vs_baseline": round(t_base / seconds, 2),
            "cosine_to_baseline_min": round(float(c.min()), 5),
            "cosine_to_baseline_mean": round(float(c.mean()), 5),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
