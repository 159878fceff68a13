"""Fit the ranking of an answer's candidate sentences (rag.answer.SentenceRanker) on the tuning
halves of xquad-vi, xquad-en-vi and the seeds Q&A together; print the top-1 accuracy on each
half against the ranking without it (MEANING's sum plus TOP_PASSAGE), and the fitted weights
as rag.answer.RANKERS takes them. The figures and the command are in eval/README.md.

    .venv/bin/python benchmarks/fit_sentence_ranker.py [--l2 0.001]

A conditional logit: the candidates of one question (rag.answer.score_sentences over hybrid
retrieval's top 5) compete for the probability of holding an accepted answer; the loss is the
negative log of the probability the fitted scores give the good candidates, plus an L2 penalty
on the weights of the standardized features. Questions with no good candidate teach nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.quality_eval import answer_candidates, split_items  # noqa: E402
from rag.answer import RANK_FEATURES, TOP_PASSAGE  # noqa: E402
from rag.datasets import load_dataset  # noqa: E402
from rag.evaluation.index_cache import open_eval_index  # noqa: E402
from rag.metrics import contains_answer  # noqa: E402
from rag.settings import Settings  # noqa: E402

DATASETS = ("xquad-vi", "xquad-en-vi", "seeds")

# Per answerable question: the candidates' features, their score without a ranker (with the
# first passage's prior), and whether each holds an accepted answer.
Group = tuple[np.ndarray, np.ndarray, np.ndarray]


def candidates(assistant, items) -> list[Group]:
    out = []
    for item, sents in answer_candidates(assistant, items):
        if not sents:
            out.append((np.zeros((0, len(RANK_FEATURES))), np.zeros(0), np.zeros(0)))
            continue
        out.append(
            (
                np.array([s.features for s in sents]),
                np.array([s.score + TOP_PASSAGE * (s.hit_index == 0) for s in sents]),
                np.array([contains_answer(s.text, item.answers) for s in sents], dtype=float),
            )
        )
    return out


def fit(groups: list[Group], l2: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from scipy.optimize import minimize

    learn = [(x, y) for x, _, y in groups if y.sum() > 0]
    stacked = np.concatenate([x for x, _ in learn])
    mean, scale = stacked.mean(0), stacked.std(0)
    scale[scale == 0] = 1.0

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.0, np.zeros_like(w)
        for x, y in learn:
            z = (x - mean) / scale
            s = z @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            good = (p * y).sum()
            total -= np.log(good)
            grad -= z.T @ (p * y / good - p)
        return total / len(learn) + l2 * w @ w, grad / len(learn) + 2 * l2 * w

    weights = minimize(loss, np.zeros(stacked.shape[1]), jac=True, method="L-BFGS-B").x
    return mean, scale, weights


def top1(groups: list[Group], score) -> float:
    """Share of the answerable questions whose first-ranked candidate holds an answer."""
    right = [bool(y[np.argmax(score(x, before))]) if len(y) else False for x, before, y in groups]
    return float(np.mean(right))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--l2", type=float, default=1e-3)
    args = ap.parse_args()
    settings = Settings.load()
    halves: dict[str, dict[str, list[Group]]] = {}
    for name in DATASETS:
        dataset = load_dataset(name)
        assistant = open_eval_index(dataset, settings)
        halves[name] = {
            split: candidates(assistant, split_items(dataset, split).items)
            for split in ("tune", "test")
        }
    model = assistant.retriever().encoder.model_id
    mean, scale, weights = fit([g for h in halves.values() for g in h["tune"]], args.l2)
    print(f"model: {model}; top-1 accuracy, without / with the ranker (tune | test)")
    for name, h in halves.items():
        row = [
            f"{top1(h[s], lambda x, before: before):.3f} / "
            f"{top1(h[s], lambda x, before: ((x - mean) / scale) @ weights):.3f}"
            for s in ("tune", "test")
        ]
        print(f"  {name:12s} {row[0]} | {row[1]}")
    for feature, w in zip(RANK_FEATURES, weights, strict=True):
        print(f"  {feature:20s} {w:+.3f}")

    def numbers(a: np.ndarray) -> str:
        return "(" + ", ".join(f"{v:.4g}" for v in a) + ")"

    print("SentenceRanker(")
    print(f"    mean={numbers(mean)},")
    print(f"    scale={numbers(scale)},")
    print(f"    weights={numbers(weights)},")
    print(")")


if __name__ == "__main__":
    main()
