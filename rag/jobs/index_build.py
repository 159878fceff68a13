"""Shards -> index (`rag embed --build-index`): the index directory `rag ingest` writes, built
from a finished job's shards alone: nothing is encoded, loaded or chunked again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from rag.errors import InputError
from rag.jobs.shards import shard_units, shards_size
from rag.jobs.spec import EmbedJob


def build_index(
    job: EmbedJob,
    index_dir: str | Path | None = None,
    *,
    faiss_kind: str = "auto",
    segment_rows: int | None = None,
) -> Path:
    """Write an index directory (SQLite rows, FAISS, BM25, manifest) from a finished job's
    shards into ``index_dir`` (default OUT/index). The articles and passages are the ones the
    shards hold beside the vectors, each checked against its text hash.

    The shards are read one at a time and written as they come, into segments of
    ``segment_rows`` rows (default rag.store.SEGMENT_ROWS), so memory holds one shard and one
    segment, not the job: the index answers as one segment of all the rows would."""
    from rag.ingest import index_settings
    from rag.store import SEGMENT_ROWS, Store

    segment_rows = SEGMENT_ROWS if segment_rows is None else segment_rows

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
    rows, text_bytes = shards_size(out)
    if counts.get("records") not in (None, rows):
        raise InputError(
            f"the shards in {out} hold {rows} rows, its manifest {counts['records']}: "
            f"rerun the job with --resume"
        )
    store = Store(Path(index_dir) if index_dir is not None else out / "index")
    with store.lock(timeout=10.0):
        # No destroy() first: base=None writes a whole new generation beside the old one and
        # switches to it at the commit, so a kill halfway keeps the old index serving.
        store.write_batches(
            base=None,
            batches=_batches(out, renormalize=job.dtype == "float16"),
            rows=rows,
            text_bytes=text_bytes,
            model=manifest["model"],
            dim=int(manifest["dim"]),
            settings_info=index_settings(
                job.chunk_size,
                job.chunk_overlap,
                requested_model=job.model,
                embed_backend=job.backend,
                query_prompt=manifest.get("query_prompt"),
                passage_prompt=manifest.get("passage_prompt"),
                built_by="rag embed --build-index",
                embed_dtype=job.dtype,
                embed_max_seq_length=job.max_seq_length,
            ),
            faiss_kind=faiss_kind,
            segment_rows=segment_rows,
        )
    return store.root


def _batches(out: Path, *, renormalize: bool) -> Iterator[tuple[list, np.ndarray]]:
    """The shards' articles and float32 vectors, one shard at a time."""
    for units, stored in shard_units(out):
        vectors = np.ascontiguousarray(stored, dtype=np.float32)
        if renormalize:
            # float16 storage loses ~3 decimal digits: renormalize so inner product stays cosine.
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        yield units, vectors
