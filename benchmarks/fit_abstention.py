"""Whether the dense score (and a learned sentence ranker) would answer better: fitted on the
tuning halves, read on the held-out halves. The figures and the commands are in eval/README.md
("Abstention with the dense score").

    .venv/bin/python benchmarks/fit_abstention.py seeds seeds-chat [--cache .rag/eval]
    RAG_EMBED_BACKEND=torch .venv/bin/python benchmarks/fit_abstention.py xquad-vi --cache DIR

Every question is asked through `Assistant.ask` as `rag eval` asks it (follow-ups after their
conversation). Each answerable question is asked twice: as it is, and with its gold articles'
passages taken out of the hits (k + 5 retrieved, the gold ones dropped, k kept): a question the
index cannot answer about the same subject, which the answer should decline. Per answer, the
best sentence's term coverage and cosine (`rag.answer.score_sentences`), the best passage
cosine among the hits (the dense score) and whether the best sentence holds an accepted answer.

Abstention: the current rule (coverage >= MIN_COVERAGE or the model's confident cosine)
against every linear rule ``coverage + a (cosine - 0.8) + b (dense - 0.8) >= t`` that answers
no more of the tuning negatives (summed over the datasets, each as a share): the one with the
most tuning answers whose best sentence is right. Ranking: a logistic regression over each
candidate sentence's features against the current score, by the share of questions whose top
sentence holds an answer.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import rag.answer as answer_module  # noqa: E402
from benchmarks.fit_retrieval import open_dataset  # noqa: E402
from benchmarks.quality_eval import split_items  # noqa: E402
from rag.answer import MEANING, MIN_COVERAGE, MIN_COVERAGE_EN  # noqa: E402
from rag.evaluation.run import conversation  # noqa: E402
from rag.metrics import contains_answer  # noqa: E402


def collect(name: str, cache: str, news_size: int, tune_only: bool) -> list[dict]:
    ds, assistant, _ = open_dataset(name, cache, news_size)
    seen: dict = {}
    score_sentences = answer_module.score_sentences

    def spy(*args, **kwargs):
        out = score_sentences(*args, **kwargs)
        if kwargs.get("cosines") is not None or len(args) > 4:  # the whole question's scoring
            seen["sentences"] = out
        return out

    retrieve = assistant._retrieve
    drop: dict = {"ids": None}

    def retrieve_without_gold(retriever, query, k, *rest):
        if not drop["ids"]:
            hits = retrieve(retriever, query, k, *rest)
        else:
            hits = retrieve(retriever, query, k + 5, *rest)
            hits = [h for h in hits if h.chunk.article_id not in drop["ids"]][:k]
        seen["hits"] = hits
        return hits

    answer_module.score_sentences = spy
    assistant._retrieve = retrieve_without_gold
    tune = {it.id for it in split_items(ds, "tune").items}
    rows = []
    try:
        for item in ds.items:
            if tune_only and item.id not in tune:
                continue
            for negative in (False, True) if item.answerable else (False,):
                drop["ids"] = None
                history = conversation(assistant, item, 5, "hybrid") if item.turns else []
                seen.clear()
                drop["ids"] = set(item.article_ids) if negative else None
                ans = assistant.ask(item.question, history, mode="hybrid")
                sents = seen.get("sentences") or []
                hits = seen.get("hits") or []
                best = min(sents, key=lambda s: (-s.score, s.hit_index, s.start), default=None)
                answerable = item.answerable and not negative
                rows.append(
                    {
                        "dataset": name,
                        "lang": item.lang,
                        "tune": item.id in tune,
                        "answerable": answerable,
                        "answered": ans.found,
                        "best_ok": bool(
                            answerable and best and contains_answer(best.text, item.answers)
                        ),
                        "coverage": best.coverage if best else 0.0,
                        "cosine": best.cosine if best else 0.0,
                        "dense": max((h.scores.get("dense", 0.0) for h in hits), default=0.0),
                        "sentences": [
                            (
                                s.coverage,
                                s.cosine,
                                hits[s.hit_index].score,
                                s.hit_index,
                                s.position,
                                len(s.focus),
                                len(s.text),
                                s.score,
                                answerable and contains_answer(s.text, item.answers),
                            )
                            for s in sents
                        ]
                        if answerable
                        else [],
                    }
                )
    finally:
        answer_module.score_sentences = score_sentences
        assistant.close()
    return rows


def current_rule(model: str):
    meaning = MEANING[model]

    def rule(r: dict) -> bool:
        floor = MIN_COVERAGE_EN if r["lang"] == "en" else MIN_COVERAGE
        return r["coverage"] >= floor or meaning.sure(r["cosine"], r["lang"])

    return rule


def linear_rule(a: float, b: float, t: float):
    return lambda r: r["coverage"] + a * (r["cosine"] - 0.8) + b * (r["dense"] - 0.8) >= t


def tally(rows: list[dict], rule) -> dict:
    out = {"right": 0, "wrong": 0, "declined": 0, "negatives declined": 0, "negatives answered": 0}
    for r in rows:
        said = rule(r)
        if r["answerable"]:
            out["right" if said and r["best_ok"] else "wrong" if said else "declined"] += 1
        else:
            out["negatives answered" if said else "negatives declined"] += 1
    return out


def shares(groups: list[list[dict]], rule) -> tuple[float, float]:
    right = answered = 0.0
    for rows in groups:
        t = tally(rows, rule)
        pos = sum(r["answerable"] for r in rows)
        right += t["right"] / max(1, pos)
        answered += t["negatives answered"] / max(1, len(rows) - pos)
    return right, answered


def sentence_features(s: tuple, best: tuple) -> list[float]:
    cov, cos, hit_score, hi, pos, focus, length, _, _ = s
    return [cov, cov - best[0], cos, cos - best[1], hit_score - best[2], 1 / (1 + hi),
            float(pos == 0), float(focus), float(np.log1p(length))]  # fmt: skip


def ranking(rows: list[dict]) -> tuple[list[np.ndarray], list[np.ndarray], list[int]]:
    xs, ys, current = [], [], []
    for r in rows:
        sents = r["sentences"]
        if not sents:
            continue
        best = tuple(max(col) for col in zip(*sents, strict=True))
        xs.append(np.array([sentence_features(s, best) for s in sents]))
        ys.append(np.array([s[8] for s in sents], dtype=float))
        current.append(int(np.argmax([s[7] for s in sents])))
    return xs, ys, current


def top1(xs, ys, picks) -> float:
    return float(np.mean([y[p] for y, p in zip(ys, picks, strict=True)])) if ys else 0.0


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    p = argparse.ArgumentParser()
    p.add_argument("datasets", nargs="+")
    p.add_argument("--cache", default=".rag/eval")
    p.add_argument("--news-size", type=int, default=5000)
    p.add_argument("--tune-only", action="store_true", help="ask the tuning halves only")
    a = p.parse_args()
    rows = [r for name in a.datasets for r in collect(name, a.cache, a.news_size, a.tune_only)]
    rule = current_rule("intfloat/multilingual-e5-small")
    for lang in ("vi", "en"):
        mine = [r for r in rows if r["lang"] == lang]
        tune = [[r for r in mine if r["tune"] and r["dataset"] == d] for d in a.datasets]
        tune = [g for g in tune if g]
        if not tune:
            continue
        right0, answered0 = shares(tune, rule)
        best = None
        grid = (0, 0.5, 1, 2, 3, 4, 6, 8, 12, 16)
        for x, y, t in itertools.product(grid, grid, np.arange(-0.4, 1.0, 0.01)):
            right, answered = shares(tune, linear_rule(x, y, t))
            if answered <= answered0 + 1e-9 and (best is None or right > best[0]):
                best = (right, (x, y, round(float(t), 2)))
        print(f"{lang}: best linear rule (cosine, dense, threshold) {best[1]}")
        for d in a.datasets:
            for half in (True, False):
                sel = [r for r in mine if r["dataset"] == d and r["tune"] == half]
                if sel:
                    print(f"  {d} {'tune' if half else 'test'} current {tally(sel, rule)}")
                    print(f"  {' ' * len(d)} {'    '} linear  {tally(sel, linear_rule(*best[1]))}")
    answerable = [r for r in rows if r["answerable"]]
    xs, ys, _ = ranking([r for r in answerable if r["tune"]])
    lr = LogisticRegression(C=1.0, max_iter=5000).fit(np.vstack(xs), np.concatenate(ys))
    print("sentence ranker weights", np.round(lr.coef_[0], 2).tolist())
    for d in a.datasets:
        for half in (True, False):
            xs, ys, current = ranking(
                [r for r in answerable if r["dataset"] == d and r["tune"] == half]
            )
            if ys:
                learned = [int(np.argmax(x @ lr.coef_[0])) for x in xs]
                print(
                    f"  {d} {'tune' if half else 'test'} top sentence holds an answer:"
                    f" current {top1(xs, ys, current):.3f} learned {top1(xs, ys, learned):.3f}"
                    f" ({len(ys)} questions)"
                )


if __name__ == "__main__":
    main()
