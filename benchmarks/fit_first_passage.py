"""Fit rag.answer.TOP_PASSAGE: how far the sentences of the retrieval's first passage are
ranked ahead when an answer picks its best sentence by terms and meaning. Fitted on the tuning
halves of the given sets together (the share of questions whose best sentence holds an accepted
answer, summed over the sets), read on the held-out halves. The figures and the command are in
eval/README.md ("What is fitted", item 11).

    .venv/bin/python benchmarks/fit_first_passage.py xquad-vi xquad-en-vi seeds

Each set's evaluation index must exist (`rag eval --dataset NAME` builds it). Questions are
retrieved with `Assistant.search` (top 5, hybrid) and scored by rag.answer.score_sentences with
the model's fitted MEANING, exactly as `compose` scores them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.quality_eval import answer_candidates, split_items  # noqa: E402
from rag.answer import TOP_PASSAGE  # noqa: E402
from rag.datasets import load_dataset  # noqa: E402
from rag.evaluation.index_cache import open_eval_index  # noqa: E402
from rag.metrics import contains_answer  # noqa: E402
from rag.settings import Settings  # noqa: E402

PRIORS = (0.0, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6)


def features(assistant, items) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per answerable question: each candidate sentence's score, whether it is of the first
    hit, whether it holds an accepted answer."""
    return [
        (
            np.array([s.score for s in sents]),
            np.array([s.hit_index == 0 for s in sents]),
            np.array([contains_answer(s.text, item.answers) for s in sents]),
        )
        for item, sents in answer_candidates(assistant, items)
    ]


def right(rows, prior: float) -> int:
    """Questions whose best sentence, the first hit's ranked ``prior`` ahead, holds an answer."""
    return sum(
        bool(good[int(np.argmax(score + prior * first))])
        for score, first, good in rows
        if len(score)
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("datasets", nargs="+")
    args = ap.parse_args()
    settings = Settings.load()
    halves = {}
    for name in args.datasets:
        ds = load_dataset(name)
        assistant = open_eval_index(ds, settings)
        halves[name] = tuple(
            features(assistant, split_items(ds, split).items) for split in ("tune", "test")
        )
        assistant.close()
    print(f"current TOP_PASSAGE {TOP_PASSAGE}; best sentence holds an answer (tune / test):")
    for prior in PRIORS:
        cells = [
            f"{name} {right(t, prior) / len(t):.3f} / {right(h, prior) / len(h):.3f}"
            for name, (t, h) in halves.items()
        ]
        total = sum(right(t, prior) for t, _ in halves.values())
        print(f"  {prior:4.2f}  tune right {total:4d}  " + "  ".join(cells))


if __name__ == "__main__":
    main()
