"""Shards -> index (`rag embed --build-index`): the index directory `rag ingest` writes, built
from a finished job's shards alone: nothing is encoded, loaded or chunked again."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rag.errors import InputError
from rag.jobs.shards import read_shards, units_of, vectors_of
from rag.jobs.spec import EmbedJob


def build_index(
    job: EmbedJob,
    index_dir: str | Path | None = None,
    *,
    faiss_kind: str = "auto",
) -> Path:
    """Write an index directory (SQLite rows, FAISS, BM25, manifest) from a finished job's
    shards into ``index_dir`` (default OUT/index). The articles and passages are the ones the
    shards hold beside the vectors, each checked against its text hash."""
    from rag.ingest import index_settings
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
    if counts.get("records") not in (None, table.num_rows):
        raise InputError(
            f"the shards in {out} hold {table.num_rows} rows, its manifest {counts['records']}: "
            f"rerun the job with --resume"
        )
    add = units_of(table, out)
    vectors = np.ascontiguousarray(vectors_of(table), dtype=np.float32)
    del table
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
        )
    return store.root
