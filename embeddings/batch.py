"""The embedding-only batch job behind `rag embed`: articles in, Parquet shards of vectors out.

What it guarantees:

* **The same passages as `rag ingest`.** Records go through rag.load (encoding detection,
  cleaning, the content-hash article id), rag.chunk and ``passage_for_embedding``: a vector here is
  the vector ingest would store for that passage. (This is the one place where embeddings/ reaches
  into rag/, lazily: a job must run ingest's own load/clean/chunk code, not a copy of it.)
* **Restartable and exact.** The record stream is deterministic, so shard ``k`` always holds
  records ``[k*S, (k+1)*S)``. Each shard is written to a temporary file and renamed into place, so
  a shard file either exists whole or not at all. ``--resume`` re-reads the inputs, checks that
  every finished shard still holds the records it should (ids and text hashes), and encodes only
  the missing shards. Within a shard the batches are formed the same way on every run, so a
  resumed job writes the same vectors, bit for bit, as an uninterrupted one.
* **Bad records cost only themselves.** Invalid JSON, empty text, unreadable files become
  ``Skipped`` entries (with line numbers) in ``skipped.jsonl`` and the manifest's counts.
* **Fast.** Texts are sorted by length inside a shard before batching (padding is wasted work),
  the model is loaded once, and ``backend="onnx"`` / ``"onnx-int8"`` run the same model through
  ONNX Runtime (embeddings/onnx.py).

No FAISS and no SQLite here: ``--build-index`` hands the shards to rag.store (see build_index()).

Output layout::

    OUT/job.json            the job's configuration and input fingerprint (resume checks it)
    OUT/shards/part-00000.parquet ...   id, article_id, chunk, text_sha1, embedding
    OUT/skipped.jsonl       one {"source","line","reason"} per record that was not embedded
    OUT/manifest.json       model, dim, prompts, chunking, counts, timings (written last)
    OUT/index/              with --build-index: an index directory for `rag serve --index`
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.settings import EMBED_BACKENDS

if TYPE_CHECKING:
    import pyarrow as pa

    from rag.types import Article, Chunk, Skipped

JOB_FORMAT = 1
BACKENDS = EMBED_BACKENDS  # one list for `rag ingest --backend` and `rag embed --backend`
DTYPES = ("float32", "float16")
ENGINES = ("local", "ray")
SHARD_NAME = "part-{:05d}.parquet"
# Fingerprint keys set by this code, not by the user: a new release may change them. A finished
# job is still finished under them, as under keys a newer release added to the fingerprint
# (--resume re-encodes nothing); an unfinished one is refused.
CODE_SIDE_KEYS = frozenset({"onnx_recipe"})
PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class EmbedJob:
    """Everything that decides the output. Two runs with equal jobs over equal inputs write
    equal shards; ``--resume`` refuses to continue a job whose settings changed."""

    inputs: tuple[str, ...]
    out_dir: Path
    model: str
    chunk_size: int = 900
    chunk_overlap: int = 150
    no_chunk: bool = False
    dtype: str = "float32"
    backend: str = "torch"
    shard_size: int = 2048
    batch_size: int = 32
    sort_by_length: bool = True
    # Padded tokens per batch (texts x the batch's longest): None = CPU_BATCH_TOKENS when the
    # encoder runs on a CPU and no cap on an accelerator; 0 = no cap.
    batch_tokens: int | None = None
    # Truncate passages to this many tokens (None: the model's own limit). Faster, less exact:
    # for quick large-scale runs and benchmarks; recorded in the manifest.
    max_seq_length: int | None = None
    device: str | None = None

    def validate(self) -> None:
        from rag.errors import InputError

        if not self.inputs:
            raise InputError("no inputs: name JSONL, Parquet files or folders of articles")
        if self.dtype not in DTYPES:
            raise InputError(f"unknown --dtype {self.dtype!r}: use float32 or float16")
        if self.backend not in BACKENDS:
            raise InputError(f"unknown --backend {self.backend!r}: use {', '.join(BACKENDS)}")
        if self.shard_size < 1 or self.batch_size < 1:
            raise InputError("--shard-size and --batch-size must be at least 1")
        if self.batch_tokens is not None and self.batch_tokens < 0:
            raise InputError("--batch-tokens must be at least 0 (0: no cap)")
        if self.max_seq_length is not None and self.max_seq_length < 8:
            raise InputError("--max-seq-length must be at least 8 tokens")
        if not self.no_chunk and not 0 <= self.chunk_overlap < self.chunk_size:
            raise InputError("chunk overlap must be at least 0 and smaller than the chunk size")

    def fingerprint(self) -> dict[str, Any]:
        """What must not change between a run and its --resume (backend and batch size are
        included: they change the vectors in their last bits)."""
        extra: dict[str, Any] = {}
        if self.backend.startswith("onnx"):
            from embeddings.onnx import RECIPE

            # How the ONNX graph is built and quantized changes its vectors (int8: by ~0.005 in
            # cosine): a job started under another recipe cannot be finished exactly.
            extra["onnx_recipe"] = RECIPE
        return {
            "format": JOB_FORMAT,
            "inputs": input_fingerprint(self.inputs),
            "model": self.model,
            "chunking": None if self.no_chunk else [self.chunk_size, self.chunk_overlap],
            "dtype": self.dtype,
            "backend": self.backend,
            "shard_size": self.shard_size,
            "batch_size": self.batch_size,
            "sort_by_length": self.sort_by_length,
            "batch_tokens": "auto" if self.batch_tokens is None else self.batch_tokens,
            "max_seq_length": self.max_seq_length,
            **extra,
        }


@dataclass(frozen=True)
class Record:
    """One passage to embed: the row of a shard, plus the text that is embedded."""

    id: str
    article_id: str
    chunk: int
    text_sha1: str
    passage: str


@dataclass(frozen=True)
class EmbedReport:
    out_dir: Path
    records: int
    articles: int
    skipped: int
    duplicates: int
    shards: int
    shards_reused: int
    seconds: float
    encode_seconds: float
    manifest: dict = field(default_factory=dict, compare=False)
    skipped_records: tuple[Skipped, ...] = ()

    @property
    def records_per_second(self) -> float:
        return self.manifest.get("timings", {}).get("records_per_second", 0.0)


# ---- inputs -> articles -> records ------------------------------------------------------------


def expand_inputs(inputs: Iterable[str | Path]) -> list[Path]:
    from rag.load import expand_paths

    return expand_paths(inputs)


def input_fingerprint(inputs: Iterable[str | Path]) -> list[list[Any]]:
    """Path, size and modification time of every input file. A resume compares paths and sizes
    (_fingerprint_changes); the time is kept for the record only: a copy or a restore from
    backup changes it, and every reused shard is checked against the records anyway."""
    out = []
    for p in expand_inputs(inputs):
        st = p.stat()
        out.append([str(p.resolve()), st.st_size, st.st_mtime_ns])
    return out


def iter_articles(inputs: Iterable[str | Path]) -> Iterator[Article | Skipped]:
    """rag.load for everything it reads, plus Parquet files (rows shaped like the JSONL records:
    id, title, text, source, date), parsed by the same record parser."""
    from rag.load import load_file

    for path in expand_inputs(inputs):
        if path.name.lower().endswith(PARQUET_SUFFIXES):
            yield from _parquet_articles(path)
        else:
            yield from load_file(path)


def _parquet_articles(path: Path) -> Iterator[Article | Skipped]:
    import pyarrow.parquet as pq

    from rag.load import parse_record
    from rag.types import Skipped

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
        yield Skipped(str(path), f"cannot read Parquet: {exc}")
        return
    columns = pf.schema_arrow.names
    if "text" not in columns:
        # One entry for the file, not one per row: every row would fail the same way.
        shown = ", ".join(columns[:8]) + (", ..." if len(columns) > 8 else "")
        yield Skipped(
            str(path), f"no 'text' column (it has: {shown}): name the article text column 'text'"
        )
        return
    row_no = 0
    for batch in pf.iter_batches(batch_size=1024):
        for row in batch.to_pylist():
            row_no += 1
            # One parser for JSONL and Parquet rows: the same checks, the same article ids.
            line = json.dumps(row, ensure_ascii=False, default=str)
            yield parse_record(line, source=str(path), line_no=row_no)


def article_chunks(article: Article, job: EmbedJob) -> list[Chunk]:
    from rag.chunk import chunk_article
    from rag.types import Chunk

    if job.no_chunk:
        # --no-chunk: the record as it is, one passage spanning the whole cleaned text.
        return [Chunk(article.id, 0, article.text, 0, len(article.text), article.title)]
    return chunk_article(article, job.chunk_size, job.chunk_overlap)


def iter_units(
    job: EmbedJob,
) -> Iterator[tuple[Article, list[Chunk]] | Skipped]:
    """Articles with their chunks, in input order; duplicates (same content id) and articles
    with nothing to embed come out as Skipped, as `rag ingest` treats them."""
    from rag.types import Skipped

    seen: set[str] = set()
    for item in iter_articles(job.inputs):
        if isinstance(item, Skipped):
            yield item
            continue
        if item.id in seen:
            yield Skipped(item.source, f"duplicate of article {item.id}")
            continue
        seen.add(item.id)
        chunks = article_chunks(item, job)
        if not chunks:
            yield Skipped(item.source, "no text to index")
            continue
        yield item, chunks


def records_of(chunks: Sequence[Chunk]) -> list[Record]:
    from rag.chunk import passage_for_embedding

    return [
        Record(c.id, c.article_id, c.index, _sha1(c.text), passage_for_embedding(c)) for c in chunks
    ]


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


@dataclass
class _Tally:
    articles: int = 0
    records: int = 0
    duplicates: int = 0
    skipped: list = field(default_factory=list)


def iter_shards(job: EmbedJob, tally: _Tally) -> Iterator[tuple[int, list[Record]]]:
    """(shard number, records) for the whole job; the last shard may be short."""
    from rag.types import Skipped

    pending: list[Record] = []
    shard = 0
    for unit in iter_units(job):
        if isinstance(unit, Skipped):
            tally.skipped.append(unit)
            if unit.reason.startswith("duplicate of article"):
                tally.duplicates += 1
            continue
        _, chunks = unit
        tally.articles += 1
        tally.records += len(chunks)
        pending.extend(records_of(chunks))
        while len(pending) >= job.shard_size:
            yield shard, pending[: job.shard_size]
            pending = pending[job.shard_size :]
            shard += 1
    if pending:
        yield shard, pending


def count_records(job: EmbedJob) -> int:
    """A first pass over the inputs (load, clean, chunk; no model) so the progress bar can
    show an ETA. Costs a few percent of the job: chunking is ~100x cheaper than encoding."""
    n = 0
    for unit in iter_units(job):
        if not isinstance(unit, tuple):
            continue
        n += len(unit[1])
    return n


# ---- encoding ---------------------------------------------------------------------------------


def load_job_encoder(job: EmbedJob):
    """The encoder for ``job``: rag's sentence-transformers Encoder (same model id and prompts
    as `rag ingest`), or its ONNX Runtime twin. Never a fallback model: an embedding job that
    silently used another model would produce vectors nobody asked for."""
    from embeddings.encoder import resolve_encoder
    from rag.errors import ModelLoadError

    try:
        encoder = resolve_encoder(job.model, fallback=False, device=job.device).encoder
    except ModelLoadError as exc:
        raise ModelLoadError(
            f"{exc}; name a local model folder or a cached model id with --model "
            "(rag embed never swaps in another model)"
        ) from exc
    if job.max_seq_length is not None:
        encoder.model.max_seq_length = min(job.max_seq_length, encoder.model.max_seq_length or 512)
    return with_backend(encoder, job.backend)


def with_backend(encoder, backend: str):
    """``encoder`` (an embeddings.encoder.Encoder) run by ``backend``: itself for "torch", under
    bf16 autocast, or its ONNX Runtime twin (fp32 or int8). Shared by `rag embed` and `rag
    ingest` (RAG_EMBED_BACKEND)."""
    from rag.errors import InputError, ModelLoadError

    if backend == "torch":
        return encoder
    if backend == "torch-bf16":
        return Bf16Encoder(encoder)
    if backend not in BACKENDS:
        raise InputError(f"unknown embedding backend {backend!r}: use {', '.join(BACKENDS)}")
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:  # the `onnx` extra
        raise ModelLoadError(
            f"the {backend} backend needs ONNX Runtime ({exc.name} is not installed): "
            "pip install -e '.[onnx]', or use the torch backend"
        ) from exc
    from embeddings.onnx import OnnxEncoder

    return OnnxEncoder.from_encoder(encoder, quantize=backend == "onnx-int8")


class Bf16Encoder:
    """The torch Encoder under bfloat16 autocast: matrix products in bf16, the rest (layer norm,
    softmax, pooling, normalization) in fp32. On CPUs with bf16 units (AVX512-BF16, AMX) it is
    faster at cosine ~0.9999 to fp32; on CPUs without them it is slower: measure
    (benchmarks/throughput.py) before choosing it."""

    def __init__(self, encoder) -> None:
        self._encoder = encoder
        self.model_id = encoder.model_id
        self.spec = encoder.spec
        self.dim = encoder.dim
        self.model = encoder.model
        self.on_cpu = getattr(encoder, "on_cpu", True)

    def _autocast(self):
        import torch

        return torch.autocast(self.model.device.type, dtype=torch.bfloat16)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self._autocast():
            return self._encoder.encode_queries(texts)

    def encode_passages(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        with self._autocast():
            return self._encoder.encode_passages(texts, batch_size=batch_size)


# Padded tokens in one batch on a CPU. There, batches of long texts run faster small (the
# activations of 8 full-window MiniLM passages stay in the caches, those of 32 do not; figures in
# benchmarks/README.md, "The CPU token cap"). Short texts still fill batch_size (2048 tokens hold
# 32 texts of 64). An accelerator wants large batches: no cap.
CPU_BATCH_TOKENS = 2048


def batch_tokens_for(encoder, configured: int | None) -> int | None:
    """The token cap for ``encoder``'s batches: ``configured`` (0 = none), or by default
    CPU_BATCH_TOKENS on a CPU and none on an accelerator."""
    if configured is not None:
        return configured or None
    return CPU_BATCH_TOKENS if getattr(encoder, "on_cpu", True) else None


def token_lengths(encoder, texts: Sequence[str]) -> list[int]:
    """Each passage's length in the model's tokens (with its prompt and special tokens,
    truncated at the model's window): what a batch holding it is padded to. Characters / 4 for
    an encoder without a tokenizer."""
    model = getattr(encoder, "model", None)
    tokenizer = getattr(model, "tokenizer", None)
    window = int(getattr(model, "max_seq_length", None) or 512)
    if tokenizer is None or not callable(tokenizer):
        return [min(window, len(t) // 4 + 2) for t in texts]
    prompt = getattr(getattr(encoder, "spec", None), "passage_prompt", "") or ""
    out: list[int] = []
    for i in range(0, len(texts), 1024):  # only the lengths are kept: 110k passages' ids are ~1 GB
        piece = [prompt + t for t in texts[i : i + 1024]]
        out.extend(
            len(x) for x in tokenizer(piece, truncation=True, max_length=window)["input_ids"]
        )
    return out


def plan_batches(
    lengths: Sequence[int],
    batch_size: int,
    max_tokens: int | None = None,
    *,
    sort_by_length: bool = True,
) -> list[np.ndarray]:
    """Batches of indices into ``lengths``: longest first when sorting (ties in input order),
    at most ``batch_size`` texts and, with ``max_tokens``, at most that many padded tokens
    (texts x the longest), never fewer than one text. Depends only on its arguments, so a
    shard's batches, and so its vectors bit for bit, are the same in every run."""
    n = len(lengths)
    order = np.argsort(-np.asarray(lengths), kind="stable") if sort_by_length else np.arange(n)
    batches = []
    start = 0
    while start < n:
        end, longest = start + 1, lengths[order[start]]
        while end < n and end - start < batch_size:
            wider = max(longest, lengths[order[end]])
            if max_tokens and wider * (end - start + 1) > max_tokens:
                break
            longest, end = wider, end + 1
        batches.append(order[start:end])
        start = end
    return batches


def encode_sorted(
    encoder,
    texts: Sequence[str],
    batch_size: int,
    *,
    sort_by_length: bool = True,
    max_tokens: int | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Encode ``texts`` in batches of texts of similar length (longest first, plan_batches),
    returned in the order given. The batches depend only on ``texts`` and the caps, so the
    vectors are reproducible."""
    n = len(texts)
    out = np.zeros((n, encoder.dim), dtype=np.float32)
    if n == 0:
        return out
    if sort_by_length or max_tokens:
        lengths = token_lengths(encoder, texts)
    else:
        lengths = [0] * n
    for idx in plan_batches(lengths, batch_size, max_tokens, sort_by_length=sort_by_length):
        out[idx] = encoder.encode_passages([texts[j] for j in idx], batch_size=len(idx))
        if on_batch is not None:
            on_batch(len(idx))
    return out


# ---- shards -----------------------------------------------------------------------------------


def shard_table(records: Sequence[Record], vectors: np.ndarray, dtype: str) -> pa.Table:
    import pyarrow as pa

    n, dim = vectors.shape
    values = pa.array(np.ascontiguousarray(vectors, dtype=dtype).reshape(-1))
    return pa.table(
        {
            "id": pa.array([r.id for r in records], pa.string()),
            "article_id": pa.array([r.article_id for r in records], pa.string()),
            "chunk": pa.array([r.chunk for r in records], pa.int32()),
            "text_sha1": pa.array([r.text_sha1 for r in records], pa.string()),
            "embedding": pa.FixedSizeListArray.from_arrays(values, dim),
        }
    )


def write_shard(path: Path, table: pa.Table) -> None:
    """Write-then-rename: a shard file is either whole or absent, whatever kills the job."""
    import pyarrow.parquet as pq

    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    pq.write_table(table, tmp, compression="zstd")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def shard_matches(path: Path, records: Sequence[Record]) -> bool:
    """Whether a finished shard holds exactly these records (ids and text hashes)."""
    import pyarrow.parquet as pq

    try:
        t = pq.read_table(path, columns=["id", "text_sha1"])
    except Exception:  # noqa: BLE001 - a damaged file is simply redone
        return False
    return t.column("id").to_pylist() == [r.id for r in records] and t.column(
        "text_sha1"
    ).to_pylist() == [r.text_sha1 for r in records]


def read_shards(out_dir: str | Path) -> pa.Table:
    """All shards of a finished job as one table, in record order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted((Path(out_dir) / "shards").glob("part-*.parquet"))
    if not files:
        from rag.errors import InputError

        raise InputError(f"no shards under {out_dir}/shards: run `rag embed ... --out {out_dir}`")
    return pa.concat_tables([pq.read_table(f) for f in files])


def vectors_of(table: pa.Table) -> np.ndarray:
    """The ``embedding`` column as an (n, dim) array, in the dtype it was stored in."""
    col = table.column("embedding").combine_chunks()
    dim = col.type.list_size
    return col.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim)


# ---- the job ----------------------------------------------------------------------------------


def _atomic_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False))
    os.replace(tmp, path)


def prepare_out_dir(job: EmbedJob, resume: bool) -> tuple[dict, list[str]]:
    """Create OUT (fresh) or check that it holds this very job (resume). Returns job.json, and
    the fingerprint keys that differ from it: none, except for a finished job made by an older
    release (CODE_SIDE_KEYS, or keys it did not record), which must not encode anything."""
    from rag.errors import InputError

    out = Path(job.out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file: name a folder for the job's shards")
    job_file = out / "job.json"
    fingerprint = job.fingerprint()
    restart = job_file.exists() and not _job_started(out)
    if restart:
        # A run that stopped before its first shard (a model that would not load, Ray out of
        # reach, Ctrl-C while counting) left nothing to keep: start afresh with these settings,
        # rather than make the user delete the folder to change --model.
        job_file.unlink()
    if job_file.exists():
        saved = json.loads(job_file.read_text())
        if not resume:
            raise InputError(
                f"{out} already holds an embedding job: add --resume to finish it, or choose "
                f"another --out"
            )
        before = saved.get("fingerprint", {})
        changed = _fingerprint_changes(before, fingerprint)
        by_release = all(k in CODE_SIDE_KEYS or k not in before for k in changed)
        if changed and not (by_release and _job_complete(out)):
            key = changed[0]
            if key == "inputs" and isinstance(before.get(key), list):
                raise InputError(
                    f"cannot resume {out}: {_inputs_change(before[key], fingerprint[key])}; "
                    "rerun with the original inputs or into a new --out"
                )
            raise InputError(
                f"cannot resume {out}: its {key} was {before.get(key)!r}, now "
                f"{fingerprint[key]!r}; rerun with the original settings or a new --out"
            )
        # Only a newer release's own settings differ and every shard is written: nothing will
        # be encoded again, so the finished shards stay valid (for --build-index, say).
        return saved, changed
    if not restart and out.exists() and any(out.iterdir()):
        raise InputError(f"{out} exists and is not an embedding job's folder: choose another --out")
    try:
        (out / "shards").mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file on the way, no permission, read-only disk
        raise InputError(f"cannot create --out {out}: {exc.strerror or exc}") from exc
    saved = {"fingerprint": fingerprint, "started": _now()}
    _atomic_json(job_file, saved)
    return saved, []


def _fingerprint_changes(before: dict, now: dict) -> list[str]:
    """The keys of ``now`` whose value differs in ``before``; the inputs by path and size."""

    def same(key: str) -> bool:
        if key == "inputs" and isinstance(before.get(key), list):
            return [f[:2] for f in before[key]] == [f[:2] for f in now[key]]
        return before.get(key) == now[key]

    return [key for key in now if not same(key)]


def _inputs_change(before: list, now: list) -> str:
    """One line on how the input files differ: the first file added, gone or resized."""
    old = {path: size for path, size, *_ in before}
    new = {path: size for path, size, *_ in now}
    for path, size in new.items():
        if path not in old:
            return f"{path} is a new input"
        if old[path] != size:
            return f"{path} changed size ({old[path]:,} bytes then, {size:,} now)"
    gone = [path for path in old if path not in new]
    return f"{gone[0]} is no longer an input" if gone else "the inputs come in another order"


def _job_complete(out: Path) -> bool:
    """Whether the job in ``out`` finished: its manifest says every shard is written."""
    try:
        return bool(json.loads((out / "manifest.json").read_text()).get("complete"))
    except (OSError, ValueError):
        return False


def _job_started(out: Path) -> bool:
    """Whether the job in ``out`` has written anything worth keeping: a shard or a manifest."""
    return (out / "manifest.json").exists() or any((out / "shards").glob("part-*.parquet"))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def run_job(
    job: EmbedJob,
    *,
    resume: bool = False,
    progress: bool = True,
    engine: str = "local",
    ray_options: dict | None = None,
    stop_after_shards: int | None = None,
) -> EmbedReport:
    """Run (or finish, with ``resume``) an embedding job; see the module docstring.

    ``engine="ray"`` encodes the pending shards on Ray Data (embeddings/ray_job.py); loading,
    chunking and shard writing stay here, so both engines write the same files.
    ``stop_after_shards`` ends the run early after encoding that many shards (for tests and for
    splitting a long job into several runs); a later ``resume`` finishes it."""
    from rag.errors import InputError

    job.validate()
    if engine not in ENGINES:
        raise InputError(f"unknown --engine {engine!r}: use local or ray")
    if engine == "ray":
        from embeddings.ray_job import check_ray

        check_ray((ray_options or {}).get("address"))  # before the output folder is touched
    t_start = time.perf_counter()
    state, release_drift = prepare_out_dir(job, resume)
    out = Path(job.out_dir)
    shards_dir = out / "shards"
    for stale in shards_dir.glob(".part-*.tmp-*"):
        stale.unlink(missing_ok=True)  # left by a killed writer; never a finished shard

    encoder = None  # loaded on the first shard that needs it: a finished job loads nothing
    model_info: dict[str, Any] = state.get("model_info") or {}
    if engine == "local" and not _job_started(out):
        # A fresh job encodes for sure: load the model (and build its ONNX twin) before the
        # counting pass, so a model that will not load fails in seconds, not after a full read
        # of the inputs. (Ray workers load their own, possibly from another cache.)
        encoder = load_job_encoder(job)
        model_info = _model_info(encoder)
        state = {**state, "model_info": model_info}
        _atomic_json(out / "job.json", state)

    total = state.get("planned_records")
    if total is None:
        total = count_records(job)
        state = {**state, "planned_records": total}
        _atomic_json(out / "job.json", state)

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="rec", desc="embedding", smoothing=0.1, dynamic_ncols=True)
    tally = _Tally()
    encoded = reused = shard_count = encoded_records = 0
    encode_seconds = 0.0
    pending: list[tuple[int, list[Record]]] = []
    stopped = False
    try:
        for shard, records in iter_shards(job, tally):
            shard_count += 1
            path = shards_dir / SHARD_NAME.format(shard)
            if path.exists() and shard_matches(path, records):
                reused += 1
                if bar is not None:
                    bar.update(len(records))
                continue
            if stop_after_shards is not None and encoded >= stop_after_shards:
                stopped = True
                continue  # keep counting so the tally stays whole
            if release_drift:
                # A finished job from an older release, with a shard missing or damaged since:
                # encoding it now would mix two kinds of vectors.
                raise InputError(
                    f"{path} must be encoded again, but {out} was made by an older release "
                    f"({', '.join(release_drift)} differ): rerun the job into a new --out"
                )
            encoded += 1
            encoded_records += len(records)
            if engine == "ray":
                pending.append((shard, records))
                continue
            if encoder is None:
                encoder = load_job_encoder(job)
                model_info = _model_info(encoder)
                state = {**state, "model_info": model_info}
                _atomic_json(out / "job.json", state)
            t0 = time.perf_counter()
            vectors = encode_sorted(
                encoder,
                [r.passage for r in records],
                job.batch_size,
                sort_by_length=job.sort_by_length,
                max_tokens=batch_tokens_for(encoder, job.batch_tokens),
                on_batch=bar.update if bar is not None else None,
            )
            encode_seconds += time.perf_counter() - t0
            write_shard(path, shard_table(records, vectors, job.dtype))
        if engine == "ray" and pending:
            from embeddings.ray_job import encode_shards_on_ray

            t0 = time.perf_counter()
            model_info = encode_shards_on_ray(
                job, pending, shards_dir, bar=bar, **(ray_options or {})
            )
            encode_seconds += time.perf_counter() - t0
    finally:
        if bar is not None:
            bar.close()

    # Shards left over from a run with more records (cannot happen with an equal fingerprint,
    # but a hand-edited folder must not pass as a finished job).
    for extra in shards_dir.glob("part-*.parquet"):
        if int(extra.stem.split("-")[1]) >= shard_count:
            extra.unlink()

    elapsed = time.perf_counter() - t_start
    if not model_info:
        model_info = state.get("model_info") or _model_info_from_shards(job)
    state = {**state, "model_info": model_info}
    _atomic_json(out / "job.json", state)
    manifest = _manifest(
        job,
        engine,
        model_info,
        tally,
        shard_count,
        encoded,
        encoded_records,
        reused,
        elapsed,
        encode_seconds,
        stopped,
        state,
    )
    _write_skipped(out / "skipped.jsonl", tally.skipped)
    if not stopped:
        _atomic_json(out / "manifest.json", manifest)
    return EmbedReport(
        out_dir=out,
        records=tally.records,
        articles=tally.articles,
        skipped=len(tally.skipped),
        duplicates=tally.duplicates,
        shards=shard_count,
        shards_reused=reused,
        seconds=elapsed,
        encode_seconds=encode_seconds,
        manifest=manifest,
        skipped_records=tuple(tally.skipped),
    )


def _model_info(encoder) -> dict[str, Any]:
    return {
        "model": encoder.model_id,
        "dim": int(encoder.dim),
        "query_prompt": encoder.spec.query_prompt,
        "passage_prompt": encoder.spec.passage_prompt,
    }


def _model_info_from_shards(job: EmbedJob) -> dict[str, Any]:
    """Every shard was reused and no model was loaded in this run: read what we can."""
    from embeddings.encoder import spec_for

    spec = spec_for(job.model)
    dim = None
    files = sorted((Path(job.out_dir) / "shards").glob("part-*.parquet"))
    if files:
        import pyarrow.parquet as pq

        dim = pq.read_schema(files[0]).field("embedding").type.list_size
    return {
        "model": job.model,
        "dim": dim,
        "query_prompt": spec.query_prompt,
        "passage_prompt": spec.passage_prompt,
    }


def _manifest(
    job: EmbedJob,
    engine: str,
    model_info: dict,
    tally: _Tally,
    shard_count: int,
    encoded: int,
    encoded_records: int,
    reused: int,
    elapsed: float,
    encode_seconds: float,
    stopped: bool,
    state: dict,
) -> dict:
    return {
        "format": JOB_FORMAT,
        "kind": "embeddings",
        "created": _now(),
        "started": state.get("started"),
        **model_info,
        "normalized": True,
        "dtype": job.dtype,
        "backend": job.backend,
        "engine": engine,
        "chunking": None
        if job.no_chunk
        else {"chunk_size": job.chunk_size, "chunk_overlap": job.chunk_overlap},
        "inputs": [str(p) for p in job.inputs],
        "columns": ["id", "article_id", "chunk", "text_sha1", "embedding"],
        "counts": {
            "articles": tally.articles,
            "records": tally.records,
            "skipped": len(tally.skipped),
            "duplicates": tally.duplicates,
            "shards": shard_count,
            "shard_size": job.shard_size,
        },
        "timings": {
            "seconds": round(elapsed, 3),
            "encode_seconds": round(encode_seconds, 3),
            "shards_encoded": encoded,
            "shards_reused": reused,
            "records_encoded": encoded_records,
            "records_per_second": round(encoded_records / encode_seconds, 2)
            if encode_seconds > 0
            else None,
        },
        "batch_size": job.batch_size,
        "sort_by_length": job.sort_by_length,
        "batch_tokens": "auto" if job.batch_tokens is None else job.batch_tokens,
        "max_seq_length": job.max_seq_length,
        "complete": not stopped,
    }


def _write_skipped(path: Path, skipped: Sequence[Skipped]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        for s in skipped:
            fh.write(
                json.dumps(
                    {"source": s.source, "line": s.line, "reason": s.reason}, ensure_ascii=False
                )
                + "\n"
            )
    os.replace(tmp, path)


# ---- --build-index ----------------------------------------------------------------------------


def build_index(
    job: EmbedJob,
    index_dir: str | Path | None = None,
    *,
    faiss_kind: str = "auto",
) -> Path:
    """Write an index directory (the one `rag ingest` writes: SQLite rows, FAISS, BM25, manifest)
    from a finished job's shards, without encoding anything again. The articles and chunks come
    from re-reading the inputs; each shard row is checked against its chunk's id and text hash."""
    from rag.errors import InputError
    from rag.store import Store

    out = Path(job.out_dir)
    manifest_path = out / "manifest.json"
    if not manifest_path.exists():
        raise InputError(f"{out} has no finished job (no manifest.json): finish it with --resume")
    manifest = json.loads(manifest_path.read_text())
    counts = manifest.get("counts", {})
    if counts.get("records") == 0:
        # An index of nothing would serve every question with "not found": say why instead.
        raise InputError(
            f"nothing to index: the inputs gave no passages ({counts.get('skipped', 0)} record(s) "
            f"skipped, listed in {out / 'skipped.jsonl'}); check the inputs"
        )
    table = read_shards(out)
    vectors = np.ascontiguousarray(vectors_of(table), dtype=np.float32)
    ids = table.column("id").to_pylist()
    sha1s = table.column("text_sha1").to_pylist()
    add: list[tuple[Article, list[Chunk]]] = []
    row = 0
    from rag.types import Skipped

    for unit in iter_units(job):
        if isinstance(unit, Skipped):
            continue
        article, chunks = unit
        for c in chunks:
            if row >= len(ids) or ids[row] != c.id or sha1s[row] != _sha1(c.text):
                raise InputError(
                    f"the shards in {out} do not match the inputs any more (row {row}): "
                    f"rerun the job into a new --out"
                )
            row += 1
        add.append((article, chunks))
    if row != len(ids):
        raise InputError(f"the shards in {out} hold {len(ids)} rows, the inputs {row}")
    if job.dtype == "float16":
        # float16 storage loses ~3 decimal digits: renormalize so inner product stays cosine.
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    store = Store(Path(index_dir) if index_dir is not None else out / "index")
    with store.lock(timeout=10.0):
        # No destroy() first: base=None writes a whole new generation beside the old one and
        # switches to it at the commit, so a kill halfway keeps the old index serving.
        store.write_generation(
            base=None,
            add=add,
            vectors=vectors,
            model=manifest["model"],
            dim=int(manifest["dim"]),
            settings_info={
                "chunk_size": job.chunk_size,
                "chunk_overlap": job.chunk_overlap,
                "requested_model": job.model,
                "query_prompt": manifest.get("query_prompt"),
                "passage_prompt": manifest.get("passage_prompt"),
                "built_by": "rag embed --build-index",
                "embed_dtype": job.dtype,
                "embed_backend": job.backend,
                "embed_max_seq_length": job.max_seq_length,
            },
            faiss_kind=faiss_kind,
        )
    return store.root


__all__ = [
    "EmbedJob",
    "EmbedReport",
    "Record",
    "build_index",
    "encode_sorted",
    "plan_batches",
    "read_shards",
    "run_job",
    "vectors_of",
]
