"""`rag ingest` of the VNTC train split: time, chunks, peak memory, index size on disk.

    python benchmarks/ingest_vntc.py --sample 200 --model sentence-transformers/all-MiniLM-L6-v2
    python benchmarks/ingest_vntc.py --bm25-only
    python benchmarks/ingest_vntc.py --sample 500 --backend onnx-int8   # RAG_EMBED_BACKEND
    python benchmarks/ingest_vntc.py --sample 100 --model intfloat/multilingual-e5-small \
        --sentences 2

``--sample N``: the real ingest path (rag.pipeline.Assistant.ingest, the embedding model
included) over the first N articles; the JSON also extrapolates linearly to the whole split.
``--bm25-only``: every article through `Assistant.ingest` with no model, as ingest runs when
none can be loaded: everything but the embedding, at full size (``--segment-rows``: the
segments' size, default RAG_SEGMENT_ROWS, else 16,384). Run each in its own process (peak
memory is the process's). ``--sentences ROUNDS``: the sample ingested into a new index with
the sentence vectors stored (RAG_SENTENCE_VECTORS) and without, alternating (the order flips
every round): seconds of each, their ratio, and the sentences' file size.
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


def run_sample(
    n: int, model: str, work: Path, backend: str = "torch", sentences: bool | None = None
) -> dict:
    from rag.pipeline import Assistant
    from rag.settings import Settings

    path = sample_file(n, work)
    settings = Settings.load(
        env={},
        index_dir=work / "index",
        embed_model=model,
        embed_backend=backend,
        sentence_vectors=sentences,
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


def compare_sentences(n: int, model: str, work: Path, backend: str, rounds: int) -> dict:
    """The sample's ingest with sentence vectors stored and without, alternating (--sentences)."""
    from rag.store.layout import SENTENCE_VECTORS

    seconds: dict[str, list[float]] = {"without": [], "with": []}
    size = 0
    for r in range(rounds):
        for name in ("without", "with") if r % 2 == 0 else ("with", "without"):
            shutil.rmtree(work / "index", ignore_errors=True)
            out = run_sample(n, model, work, backend, sentences=name == "with")
            seconds[name].append(out["seconds"])
            if name == "with":
                size = (work / "index" / SENTENCE_VECTORS).stat().st_size
    best = {name: min(t) for name, t in seconds.items()}
    return {
        "mode": f"ingest, first {n} lines, {model} ({backend}), sentence vectors stored or not",
        "chunks": out["chunks"],
        "seconds": seconds,
        "ratio_with_over_without": round(best["with"] / best["without"], 3),
        "sentences_file_bytes": size,
    }


def run_bm25_only(work: Path, segment_rows: int | None = None) -> dict:
    """`Assistant.ingest` of the whole split as it runs when no model can be loaded: the
    articles streamed through load, clean and chunk into segments of SQLite rows and BM25
    postings, committed once."""
    from embeddings.encoder import EncoderChoice
    from rag.pipeline import Assistant
    from rag.settings import Settings

    settings = Settings.load(env={}, index_dir=work / "index", segment_rows=segment_rows)
    assistant = Assistant(settings)
    assistant._choice = EncoderChoice(None, "none: BM25 only")  # no model, as on a bare machine
    t0 = time.perf_counter()
    report = assistant.ingest([VNTC])
    seconds = time.perf_counter() - t0
    segments = len(assistant.retriever().snapshot.segments)
    assistant.close()
    return {
        "mode": "whole split through Assistant.ingest, no vectors",
        "articles": report.added,
        "skipped_or_duplicate": len(report.skipped) + report.unchanged,
        "chunks": report.chunks,
        "segments": segments,
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(peak_rss_mb()),
        "index_bytes": disk_bytes(work / "index"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", type=int)
    ap.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    ap.add_argument("--bm25-only", action="store_true")
    ap.add_argument("--backend", default="torch", help="RAG_EMBED_BACKEND for --sample")
    ap.add_argument("--segment-rows", type=int, help="rows per segment for --bm25-only")
    ap.add_argument("--keep", type=Path, help="write the index here instead of a temp folder")
    ap.add_argument("--sentences", type=int, default=0, metavar="ROUNDS")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ingest-bench-")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    try:
        if args.bm25_only:
            result = run_bm25_only(work, args.segment_rows)
        elif args.sentences:
            result = compare_sentences(
                args.sample or 100, args.model, work, args.backend, args.sentences
            )
        else:
            result = run_sample(args.sample or 200, args.model, work, args.backend)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
