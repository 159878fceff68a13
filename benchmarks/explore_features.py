"""Candidate fusion features measured on the tuning split before any goes into rag/fusion.py.

    .venv/bin/python benchmarks/explore_features.py xquad-vi [--cache .rag/eval]

For each question of the split (benchmarks/quality_eval.py: XQuAD titles in the first half =
tune), the real Retriever's bm25-mode candidates and features (rag.retrieve.Retriever.features)
are extended with candidates for a new feature:

* ``local``   the best-sentence coverage with each question term's share multiplied by its
              inverse document frequency among the candidates (log((n + 1) / (df + 0.5))):
              a term every candidate holds ("Tesla" among Tesla's paragraphs) tells none apart;
* ``pcov``    the share of the question's information the passage holds anywhere (each term
              counted once, unlike BM25's term frequency);
* ``plocal``  ``pcov`` with the candidate-local shares of ``local``;
* ``pair``    the best coverage of two adjacent sentences together.

Each feature is added to the current two (lexical, sentence) with weights from a grid chosen for
the best tuning (MRR@10, R@1); the chosen weights are then scored on the other half. Prints one
line per feature. A feature earns a place in rag/fusion.py only where the held-out half agrees.
"""

from __future__ import annotations

import itertools
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.fit_retrieval import collect, open_evaluation, score  # noqa: E402
from benchmarks.quality_eval import split_items  # noqa: E402
from rag import fusion  # noqa: E402
from rag.sentences import split_sentences  # noqa: E402
from rag.tokens import query_terms, tokenize  # noqa: E402

NAMES = ("lexical", "sentence", "local", "pcov", "plocal", "pair")
GRID = (0.0, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0)
COLS = list(range(len(NAMES)))


def extended(retriever, question: str, rows: list[int], feats: np.ndarray) -> np.ndarray:
    texts = [c.chunk.text for c in retriever.snapshot.chunks(rows)]
    terms = query_terms(question)
    shares = fusion.coverage_terms(terms, retriever.idf(terms))
    n = len(texts)
    passage_sets = [set(tokenize(t)) for t in texts]
    df = {t: sum(t in s for s in passage_sets) for t in shares}
    local = {t: v * math.log((n + 1) / (df[t] + 0.5)) for t, v in shares.items()}
    total = sum(local.values()) or 1.0
    local = {t: v / total for t, v in local.items()}
    f_local = fusion.best_sentence_coverage(local, texts) if local else np.zeros(n)
    f_pcov = [sum(v for t, v in shares.items() if t in s) for s in passage_sets]
    f_plocal = [sum(v for t, v in local.items() if t in s) for s in passage_sets]
    f_pair = np.zeros(n)
    for i, text in enumerate(texts):
        sents = [set(tokenize(text[s:e])) for s, e in split_sentences(text)]
        for j in range(len(sents)):
            both = sents[j] | (sents[j + 1] if j + 1 < len(sents) else set())
            f_pair[i] = max(f_pair[i], sum(v for t, v in shares.items() if t in both))
    cols = [feats[:, 0], feats[:, 1], f_local, f_pcov, f_plocal, f_pair]
    return np.column_stack(cols).astype(np.float32)


def main() -> None:
    ds, assistant, retriever = open_evaluation(default_cache=".rag/eval", default_news=3000)
    data = {}
    for split in ("tune", "test"):
        items = split_items(ds, split).items
        data[split] = [
            (it, rows, extended(retriever, it.question, rows, feats), rel)
            for it, rows, feats, rel in collect(retriever, retriever.snapshot, items, "bm25")
        ]
    current = np.zeros(len(NAMES), dtype=np.float32)
    current[:2] = fusion.weights_for("bm25", "vi")[:2]
    weights = [round(float(x), 2) for x in current[:2]]
    print(
        f"current {weights}: tune {score(data['tune'], current, COLS)}"
        f" test {score(data['test'], current, COLS)}  (R@1, MRR@10)"
    )
    for extra in range(2, len(NAMES)):
        best = None
        for w_sentence, w_extra in itertools.product(GRID, GRID):
            w = np.zeros(len(NAMES), dtype=np.float32)
            w[0], w[1], w[extra] = 1.0, w_sentence, w_extra
            r1, mrr = score(data["tune"], w, COLS)
            if best is None or (mrr, r1) > best[0]:
                best = ((mrr, r1), w)
        w = best[1]
        print(
            f"+{NAMES[extra]:7s} weights {[round(float(x), 2) for x in w[[0, 1, extra]]]}:"
            f" tune {score(data['tune'], w, COLS)} test {score(data['test'], w, COLS)}"
        )
    assistant.close()


if __name__ == "__main__":
    main()
