"""Fit the fusion weights (rag.fusion.WEIGHTS) on the tuning split and report the held-out half.

    .venv/bin/python benchmarks/fit_retrieval.py xquad-vi [--index DIR]

The tuning split is the XQuAD articles (Wikipedia titles) that sort in the first half; the test
split the rest (benchmarks/quality_eval.py uses the same rule). Features come from the real
Retriever (rag.retrieve.Retriever.features) over an evaluation index built by `rag eval`; a
candidate is relevant under the rule of rag.metrics (gold article and contains an answer).
Prints, per mode, the weights (scaled so that the lexical weight is 1) of a logistic regression
and of a grid search for the best tuning MRR@10, and R@1 / MRR@10 on the tuning half, the test
half and all questions for BM25 alone, the current weights, the regression and the grid.
Questions are encoded in one batch (one at a time takes ~1 s each on a busy 2-core machine).

    .venv/bin/python benchmarks/fit_retrieval.py xquad-en-vi --cache .rag/eval
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.quality_eval import split_items  # noqa: E402
from rag import fusion  # noqa: E402
from rag import metrics as M  # noqa: E402
from rag.datasets import load_dataset  # noqa: E402
from rag.evaluate import eval_index_dir  # noqa: E402
from rag.lexical import detect_language  # noqa: E402
from rag.pipeline import Assistant  # noqa: E402
from rag.settings import Settings  # noqa: E402


def collect(retriever, snapshot, items, mode):
    # Encode the split's questions in one batch: one query at a time is ~1 s each on a busy CPU.
    vectors = (
        retriever.encoder.encode_queries([it.question for it in items])
        if mode == "hybrid" and items
        else [None] * len(items)
    )
    out = []
    for it, qv in zip(items, vectors, strict=True):
        rows, feats = retriever.features(it.question, 10, mode, query_vector=qv)
        chunks = snapshot.chunks(rows)
        rel = np.array(
            [
                c.chunk.article_id in it.article_ids and M.contains_answer(c.chunk.text, it.answers)
                for c in chunks
            ]
        )
        out.append((it, rows, feats, rel))
    return out


def score(data, weights, cols):
    r1 = mrr = 0.0
    for _, _, feats, rel in data:
        s = feats[:, cols] @ weights
        order = np.argsort(-s, kind="stable")[:10]
        flags = rel[order]
        r1 += bool(flags[:1].any())
        hit = np.flatnonzero(flags)
        mrr += 1.0 / (hit[0] + 1) if hit.size else 0.0
    n = max(1, len(data))
    return round(float(r1) / n, 4), round(float(mrr) / n, 4)


# The grid searched for the non-lexical weights (lexical weight fixed at 1): the logistic
# regression fits candidates one by one, the grid picks what ranks best on the tuning split.
GRID = (0.0, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.4, 2.0, 3.0, 4.0, 6.0, 8.0)


def grid_search(data, cols):
    """The weights (lexical = 1) with the best (MRR@10, R@1) on ``data``."""
    import itertools

    best = None
    for rest in itertools.product(GRID, repeat=len(cols) - 1):
        w = np.array([1.0, *rest], dtype=np.float32)
        r1, mrr = score(data, w, cols)
        if best is None or (mrr, r1) > best[0]:
            best = ((mrr, r1), w)
    return best[1]


def open_evaluation(default_cache: str, default_news: int):
    """(dataset, assistant, retriever) for the command line's dataset: the evaluation index
    `rag eval` builds (cached under --cache), opened with the default settings."""
    p = argparse.ArgumentParser()
    p.add_argument("dataset")
    p.add_argument("--cache", default=default_cache)
    p.add_argument("--news-size", type=int, default=default_news)
    a = p.parse_args()
    ds = load_dataset(a.dataset, news_size=a.news_size)
    settings = Settings.load()
    root = eval_index_dir(ds, settings, Path(a.cache))
    assistant = Assistant.open(settings.with_(index_dir=root / "index"))
    return ds, assistant, assistant.retriever()


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    ds, assistant, retriever = open_evaluation(default_cache="/tmp/qeval", default_news=5000)
    tune, test = split_items(ds, "tune").items, split_items(ds, "test").items
    lang = detect_language(ds.items[0].question)
    for mode, cols in (("bm25", [0, 1]), ("hybrid", [0, 1, 2])):
        if mode not in retriever.modes:
            continue
        d_tune = collect(retriever, retriever.snapshot, tune, mode)
        d_test = collect(retriever, retriever.snapshot, test, mode)
        x = np.vstack([f[:, cols] for _, _, f, _ in d_tune])
        y = np.concatenate([r for _, _, _, r in d_tune])
        lr = LogisticRegression(C=1.0, max_iter=2000).fit(x, y)
        w = lr.coef_[0] / lr.coef_[0][0]
        grid = grid_search(d_tune, cols)
        current = fusion.weights_for(mode, lang)[cols]
        print(
            f"{ds.name} {mode}: LR weights {np.round(w, 3).tolist()}"
            f" grid weights {np.round(grid, 3).tolist()} (features {fusion.FEATURES[: len(cols)]})"
        )
        for name, weights in (
            ("lexical", np.eye(len(cols))[0]),
            ("current", current),
            ("LR", w),
            ("grid", grid),
        ):
            print(
                f"  {name:8s} tune R@1/MRR {score(d_tune, weights, cols)}"
                f"  test R@1/MRR {score(d_test, weights, cols)}"
                f"  all R@1/MRR {score(d_tune + d_test, weights, cols)}"
            )
    assistant.close()


if __name__ == "__main__":
    main()
