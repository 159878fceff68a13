"""Fit the fusion weights (rag.fusion.WEIGHTS) on the tuning split and report the held-out half.

    .venv/bin/python benchmarks/fit_retrieval.py xquad-vi [xquad-vi+news ...] [--cache DIR]

The tuning split is the XQuAD articles (Wikipedia titles) that sort in the first half; the test
split the rest (benchmarks/quality_eval.py uses the same rule). Features come from the real
Retriever (rag.retrieve.Retriever.features) over the evaluation index `rag eval` builds for the
configured model (RAG_EMBED_MODEL, RAG_EMBED_BACKEND; `--news-backend` for the xquad-vi+news
index when it was embedded with another backend); a candidate is relevant under the rule of
rag.metrics (gold article and contains an answer). With several datasets (of one question
language) the grid is searched for the best summed tuning figures.
Prints, per mode, the weights (scaled so that the lexical weight is 1) of a logistic regression
and of a grid search for the best tuning MRR@10, and R@1 / MRR@10 on the tuning half, the test
half and all questions of each dataset for BM25 alone, the dense score alone (hybrid: the dense
top 10 are always among the candidates, so this is the dense retriever's ranking), the current
weights of the index's model, the regression and the grid.
Questions are encoded in one batch (one at a time takes ~1 s each on a busy 2-core machine).
Candidates are ranked as rag.retrieve ranks them: the first stage (lexical, sentence, dense),
then, with a sentence-cosine weight, its best RESCORE_DEPTH rescored, ties by row; every
candidate's sentences are encoded once (cached by text), so the first run over a large index
takes a while (an index with stored sentence vectors reads them). ``--depth N``: rank as if
RESCORE_DEPTH were N.

    .venv/bin/python benchmarks/fit_retrieval.py xquad-en-vi --cache .rag/eval
    .venv/bin/python benchmarks/fit_retrieval.py xquad-vi xquad-vi+news --cache .rag/eval \\
        --news-size 3000 --news-backend onnx-int8
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
from rag.evaluation.index_cache import eval_index_dir  # noqa: E402
from rag.pipeline import Assistant  # noqa: E402
from rag.query import as_query  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.tokens import detect_language  # noqa: E402


def collect(retriever, snapshot, items, mode):
    """Per question: (item, candidate rows, features, relevance). Features: the columns of
    rag.fusion.FEATURES; in hybrid mode the last (the best sentence's cosine, which retrieval
    reads for the first stage's best only) for every candidate, so that any weights can pick
    their own best."""
    # Encode the split's questions in one batch: one query at a time is ~1 s each on a busy CPU.
    vectors = (
        retriever.encoder.encode_queries([it.question for it in items])
        if mode == "hybrid" and items
        else [None] * len(items)
    )
    out = []
    for it, qv in zip(items, vectors, strict=True):
        rows, feats = retriever.features(it.question, 10, mode, query_vector=qv)
        feats = feats[:, : len(fusion.FEATURES)].copy()
        chunks = snapshot.chunks(rows)
        if mode == "hybrid" and rows:
            query = as_query(it.question).with_vector(np.asarray(qv, dtype=np.float32))
            feats[:, 3] = retriever.sentence_cosines(query, [c.chunk.text for c in chunks])
        else:
            feats[:, 3] = 0.0
        rel = np.array(
            [
                c.chunk.article_id in it.article_ids and M.contains_answer(c.chunk.text, it.answers)
                for c in chunks
            ]
        )
        out.append((it, rows, feats, rel))
    return out


def ranking(rows, feats, weights, cols) -> np.ndarray:
    """Candidate indices as rag.retrieve ranks them with ``weights`` (of the columns ``cols``):
    the first stage, then the sentence-cosine stage (column 3) over its best."""
    full = np.zeros(len(fusion.FEATURES), dtype=np.float32)
    full[cols] = weights
    fused = feats[:, :3] @ full[:3]
    if full[3] > 0:
        fused = fusion.rescored(fused, rows, lambda idx: feats[idx, 3], float(full[3]))
    return np.lexsort((np.asarray(rows), -fused))


def score(data, weights, cols):
    r1 = mrr = 0.0
    for _, rows, feats, rel in data:
        order = ranking(rows, feats, weights, cols)[:10]
        flags = rel[order]
        r1 += bool(flags[:1].any())
        hit = np.flatnonzero(flags)
        mrr += 1.0 / (hit[0] + 1) if hit.size else 0.0
    n = max(1, len(data))
    return round(float(r1) / n, 4), round(float(mrr) / n, 4)


# The grid searched for the non-lexical weights (lexical weight fixed at 1): the logistic
# regression fits candidates one by one, the grid picks what ranks best on the tuning split.
# It reaches 200: e5's cosines lie in a narrow band (about 0.75 to 0.9), so its weight must be
# large for its differences to count against the lexical score's 0 to 1.
GRID = (0.0, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.4, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0,
        48.0, 64.0, 100.0, 200.0)  # fmt: skip


# The sentence-cosine weight's grid (hybrid): it reranks the first stage's best RESCORE_DEPTH.
GRID_SENTENCE_COSINE = (0.0, 2.0, 4.0, 8.0, 16.0, 24.0, 50.0, 100.0, 200.0, 400.0)


def grid_search(datasets, cols):
    """The weights (lexical = 1) with the best summed (MRR@10, R@1) over ``datasets``."""
    import itertools

    grids = [GRID] * (len(cols) - 1)
    if 3 in cols:
        grids[-1] = GRID_SENTENCE_COSINE
    best = None
    for rest in itertools.product(*grids):
        w = np.array([1.0, *rest], dtype=np.float32)
        figures = [score(data, w, cols) for data in datasets]
        key = (sum(m for _, m in figures), sum(r for r, _ in figures))
        if best is None or key > best[0]:
            best = (key, w)
    return best[1]


def open_dataset(name: str, cache: str, news_size: int, backend: str | None = None):
    """(dataset, assistant, retriever): the evaluation index `rag eval` builds for the dataset
    (cached under ``cache``), opened with the default settings (``backend``: the embedding
    backend the index was built with, when not the configured one)."""
    ds = load_dataset(name, news_size=news_size)
    settings = Settings.load()
    if backend:
        settings = settings.with_(embed_backend=backend)
    root = eval_index_dir(ds, settings, Path(cache))
    if not (root / "built.json").is_file():
        raise SystemExit(f"no evaluation index for {name} in {root}: run `rag eval` first")
    assistant = Assistant.open(settings.with_(index_dir=root / "index"))
    return ds, assistant, assistant.retriever()


def open_evaluation(default_cache: str, default_news: int):
    """(dataset, assistant, retriever) for the command line's dataset (see open_dataset)."""
    p = argparse.ArgumentParser()
    p.add_argument("dataset")
    p.add_argument("--cache", default=default_cache)
    p.add_argument("--news-size", type=int, default=default_news)
    a = p.parse_args()
    return open_dataset(a.dataset, a.cache, a.news_size)


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    p = argparse.ArgumentParser()
    p.add_argument("datasets", nargs="+")
    p.add_argument("--cache", default="/tmp/qeval")
    p.add_argument("--news-size", type=int, default=5000)
    p.add_argument("--news-backend", default=None)
    p.add_argument(
        "--depth", type=int, help="rank as if rag.fusion.RESCORE_DEPTH were this (default: it)"
    )
    a = p.parse_args()
    if a.depth is not None:
        fusion.RESCORE_DEPTH = a.depth  # read by fusion.rescored at each call
    print(f"rescoring depth {fusion.RESCORE_DEPTH}")
    opened = []
    for name in a.datasets:
        backend = a.news_backend if name == "xquad-vi+news" else None
        ds, assistant, retriever = open_dataset(name, a.cache, a.news_size, backend)
        opened.append((ds, assistant, retriever))
    lang = detect_language(opened[0][0].items[0].question)
    model = opened[0][2].snapshot.model
    print(f"model {model}; questions in {lang!r}")
    for mode, cols in (("bm25", [0, 1]), ("hybrid", [0, 1, 2, 3])):
        if any(mode not in r.modes for _, _, r in opened):
            continue
        tunes, tests = [], []
        for ds, _, retriever in opened:
            tune, test = split_items(ds, "tune").items, split_items(ds, "test").items
            tunes.append(collect(retriever, retriever.snapshot, tune, mode))
            tests.append(collect(retriever, retriever.snapshot, test, mode))
        x = np.vstack([f[:, cols] for d in tunes for _, _, f, _ in d])
        y = np.concatenate([r for d in tunes for _, _, _, r in d])
        # Read as one stage over every candidate (its sentence-cosine weight also reranks the
        # first stage's best RESCORE_DEPTH only when scored).
        lr = LogisticRegression(C=1.0, max_iter=2000).fit(x, y)
        w = lr.coef_[0] / lr.coef_[0][0]
        grid = grid_search(tunes, cols)
        current = fusion.weights_for(mode, lang, model)[cols]
        print(
            f"{'+'.join(a.datasets)} {mode}: LR weights {np.round(w, 3).tolist()}"
            f" grid weights {np.round(grid, 3).tolist()} (features {fusion.FEATURES[: len(cols)]})"
        )
        candidates = [("lexical", np.eye(len(cols))[0])]
        if mode == "hybrid":
            candidates.append(("dense", np.eye(len(cols))[2]))
            first = current.copy()
            first[3] = 0.0
            candidates.append(("current, first stage only", first))
        candidates += [("current", current), ("LR", w), ("grid", grid)]
        for (ds, _, _), d_tune, d_test in zip(opened, tunes, tests, strict=True):
            print(f" {ds.name} (tune {len(d_tune)}, test {len(d_test)} questions)")
            for name, weights in candidates:
                print(
                    f"  {name:26s} tune R@1/MRR {score(d_tune, weights, cols)}"
                    f"  test R@1/MRR {score(d_test, weights, cols)}"
                    f"  all R@1/MRR {score(d_tune + d_test, weights, cols)}"
                )
    for _, assistant, _ in opened:
        assistant.close()


if __name__ == "__main__":
    main()
