"""Run rag.evaluation over datasets and runs; print one table per dataset and save JSON.

    .venv/bin/python benchmarks/quality_eval.py xquad-vi bm25,dense,hybrid [--news-size 5000]
        [--split test] [--cache /tmp/qeval] [--out benchmarks/out/NAME.json]

``--split tune|test`` keeps the questions of one half of the XQuAD articles (the tuning split is
the articles whose XQuAD title sorts in the first half: see rag.quality_split).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.datasets import EvalDataset, load_dataset  # noqa: E402
from rag.evaluation.report import format_table  # noqa: E402
from rag.evaluation.run import run_compare  # noqa: E402
from rag.settings import Settings  # noqa: E402


def split_items(ds: EvalDataset, split: str) -> EvalDataset:
    """Tuning split = questions whose gold article comes from an XQuAD document (Wikipedia
    title) in the first half of the sorted titles; test = the rest. Seeds: by question id
    parity (odd = tune)."""
    by_id = {a.id: a for a in ds.articles}
    if ds.name.startswith("xquad"):
        titles = sorted({by_id[i.article_ids[0]].source.split("/")[1] for i in ds.items})
        tune_titles = set(titles[: len(titles) // 2])

        def is_tune(item):
            return by_id[item.article_ids[0]].source.split("/")[1] in tune_titles
    else:

        def is_tune(item):
            return int(item.id.rsplit("-", 1)[-1]) % 2 == 1

    keep = tuple(i for i in ds.items if is_tune(i) == (split == "tune"))
    return EvalDataset(ds.name, ds.corpus, ds.articles, keep, ds.description + f" [{split}]")


def answer_candidates(assistant, items, k: int = 5):
    """(item, its candidate sentences) for each answerable item: hybrid retrieval's top ``k``
    scored by rag.answer.score_sentences with the model's cosines and the articles' text, as
    an answer reads them."""
    from rag.answer import meaning_for, score_sentences

    retriever = assistant.retriever()
    meaning = meaning_for(retriever.encoder.model_id)

    def article_text(article_id: str) -> str | None:
        return getattr(retriever.snapshot.article(article_id), "text", None)

    for item in items:
        if not item.answerable:
            continue
        query = retriever.prepare(item.question, "hybrid")
        hits = assistant.search(item.question, k=k)
        cosines = retriever.similarity.for_question(query.text, query.vector)
        yield (
            item,
            score_sentences(
                query, hits, retriever.idf, retriever.known, cosines, meaning, article_text
            ),
        )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("dataset")
    p.add_argument("runs", nargs="?", default="bm25,dense,hybrid")
    p.add_argument("--news-size", type=int, default=5000)
    p.add_argument("--split", choices=["all", "tune", "test"], default="all")
    p.add_argument("--cache", default="/tmp/qeval")
    p.add_argument("--limit", type=int)
    p.add_argument("--out")
    a = p.parse_args()
    ds = load_dataset(a.dataset, news_size=a.news_size, limit=a.limit)
    if a.split != "all":
        ds = split_items(ds, a.split)
    results = run_compare(
        ds, Settings.load(), a.runs.split(","), cache_dir=Path(a.cache), log=print
    )
    print(f"{ds.description} ({len(ds.items)} questions)")
    print(format_table(results))
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(
            json.dumps([r.to_dict(questions=True) for r in results], ensure_ascii=False, indent=1)
        )


if __name__ == "__main__":
    main()
