"""`rag ingest` of the VNTC train split: time, chunks, peak memory, index size on disk.

    python benchmarks/ingest_vntc.py --sample 200 --model sentence-transformers/all-MiniLM-L6-v2
    python benchmarks/ingest_vntc.py --bm25-only
    python benchmarks/ingest_vntc.py --sample 500 --backend onnx-int8   # RAG_EMBED_BACKEND

``--sample N``: the real ingest path (rag.pipeline.Assistant.ingest, the embedding model
included) over the first N articles; the JSON also extrapolates linearly to the whole split.
``--bm25-only``: every article through the same load, clean and chunk code and the same index
writer (rag.store) with no vectors, as ingest does when no model is available: everything but the
embedding, at full size. Run each in its own process (peak memory is the process's).
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
VNTC = REPO.parent / "shared" / "data" / "vntc" / "vntc_train.jsonl.gz"
VNTC_ARTICLES = 33_759  # lines in the train split


def disk_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sample_file(n: int, folder: Path) -> Path:
    out = folder / f"vntc_first_{n}.jsonl"
    with gzip.open(VNTC, "rt", encoding="utf-8") as src, open(out, "w", encoding="utf-8") as dst:
        for i, line in enumerate(src):
            if i >= n:
                break
            dst.write(line)
    return out


def run_sample(n: int, model: str, work: Path, backend: str = "torch") -> dict:
    from rag.pipeline import Assistant
    from rag.settings import Settings

    path = sample_file(n, work)
    settings = Settings.load(
        env={}, index_dir=work / "index", embed_model=model, embed_backend=backend
    )
    assistant = Assistant(settings)
    assert assistant.encoder is not None, "the model did not load"
    t0 = time.perf_counter()
    report = assistant.ingest([path])
    seconds = time.perf_counter() - t0
    info = assistant.info()
    assistant.close()
    scale = VNTC_ARTICLES / n
    return {
        "mode": f"ingest, first {n} lines, {model} ({backend})",
        "lines": n,
        "articles": report.added,
        "skipped": len(report.skipped),
        "chunks": report.chunks,
        "seconds": round(seconds, 1),
        "chunks_per_s": round(report.chunks / seconds, 2),
        "peak_rss_mb": round(peak_rss_mb()),
        "index_bytes": info["disk_bytes"],
        "extrapolated_to_33759_lines": {
            "seconds": round(seconds * scale),
            "hours": round(seconds * scale / 3600, 2),
            "chunks": round(report.chunks * scale),
        },
    }


def run_bm25_only(work: Path) -> dict:
    from rag.chunk import chunk_article
    from rag.load import load_paths
    from rag.store import Store
    from rag.types import Article

    t0 = time.perf_counter()
    add, seen, skipped = [], set(), 0
    for item in load_paths([VNTC]):
        if not isinstance(item, Article) or item.id in seen:
            skipped += 1
            continue
        seen.add(item.id)
        chunks = chunk_article(item, 900, 150)
        if chunks:
            add.append((item, chunks))
    t_chunk = time.perf_counter() - t0
    store = Store(work / "index")
    t1 = time.perf_counter()
    with store.lock():
        store.write_generation(
            base=None,
            add=add,
            vectors=None,
            model=None,
            dim=None,
            settings_info={"chunk_size": 900, "chunk_overlap": 150},
        )
    t_write = time.perf_counter() - t1
    n_chunks = sum(len(c) for _, c in add)
    return {
        "mode": "whole split, load+clean+chunk+SQLite+BM25, no vectors",
        "articles": len(add),
        "skipped_or_duplicate": skipped,
        "chunks": n_chunks,
        "load_clean_chunk_s": round(t_chunk, 1),
        "write_index_s": round(t_write, 1),
        "seconds": round(t_chunk + t_write, 1),
        "peak_rss_mb": round(peak_rss_mb()),
        "index_bytes": disk_bytes(work / "index"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", type=int)
    ap.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    ap.add_argument("--bm25-only", action="store_true")
    ap.add_argument("--backend", default="torch", help="RAG_EMBED_BACKEND for --sample")
    ap.add_argument("--keep", type=Path, help="write the index here instead of a temp folder")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ingest-bench-")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    try:
        if args.bm25_only:
            result = run_bm25_only(work)
        else:
            result = run_sample(args.sample or 200, args.model, work, args.backend)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
