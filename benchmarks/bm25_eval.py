"""`rag eval`'s scoring on a BM25-only index (no embedding: fast on large corpora).

    .venv/bin/python benchmarks/bm25_eval.py xquad-vi+news [--news-size 5000] [--split test]

Builds (once, cached under --cache) an index without vectors from the dataset's articles, then
scores the bm25 retriever with rag.evaluation exactly as `rag eval` does. Run it with
PYTHONPATH pointing at an older checkout to measure the code before a change.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from benchmarks.quality_eval import split_items
    from embeddings.encoder import EncoderChoice
    from rag.datasets import load_dataset
    from rag.evaluation.report import format_table
    from rag.evaluation.run import evaluate
    from rag.pipeline import Assistant
    from rag.settings import Settings

    p = argparse.ArgumentParser()
    p.add_argument("dataset")
    p.add_argument("--news-size", type=int, default=5000)
    p.add_argument("--split", choices=["all", "tune", "test"], default="all")
    p.add_argument("--cache", default="/tmp/qeval-bm25")
    p.add_argument("--out")
    a = p.parse_args()
    ds = load_dataset(a.dataset, news_size=a.news_size)
    root = Path(a.cache) / f"{ds.corpus}-{ds.corpus_fingerprint()}"
    settings = Settings.load(index_dir=root / "index", retriever="bm25")
    assistant = Assistant.open(settings)
    assistant._choice = EncoderChoice(None, "none")  # BM25 only: no model is loaded
    if not (root / "built").exists():
        t0 = time.perf_counter()
        rep = assistant.ingest_articles(ds.articles)
        print(
            f"indexed {rep.added} articles, {rep.chunks} passages in {time.perf_counter() - t0:.0f}s"
        )
        (root / "built").write_text("ok")
    if a.split != "all":
        ds = split_items(ds, a.split)
    res = evaluate(assistant, ds, settings, "bm25", False, time.perf_counter())
    print(f"{ds.description} ({len(ds.items)} questions)")
    print(format_table([res]))
    if a.out:
        Path(a.out).write_text(json.dumps(res.to_dict(questions=True), ensure_ascii=False))


if __name__ == "__main__":
    main()
