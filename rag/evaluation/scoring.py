"""Scoring one question: its gold passages in the index, and its retrieval and answer figures
(see rag.metrics for the gold-passage rule and ties)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag import metrics as M
from rag.datasets import EvalDataset, QAItem
from rag.evaluation.results import (
    RETRIEVAL_DEPTH,
    CitedPassage,
    QuestionResult,
    RetrievedPassage,
)


@dataclass(frozen=True)
class Gold:
    n_relevant: int
    any_gold_passage: bool


def gold_for(item: QAItem, dataset: EvalDataset, chunk_size: int, chunk_overlap: int) -> Gold:
    """Count the index's relevant passages for ``item`` by chunking its gold articles as the
    index did (rag.chunk), and decide whether the any-gold-passage fallback applies."""
    from rag.chunk import chunk_article

    total = 0
    with_answer = 0
    for article_id in item.article_ids:
        article = dataset.article(article_id)
        if article is None:
            continue
        for chunk in chunk_article(article, chunk_size, chunk_overlap):
            total += 1
            with_answer += M.contains_answer(chunk.text, item.answers)
    if with_answer:
        return Gold(with_answer, False)
    return Gold(total, True)


def score_question(
    item: QAItem,
    hits: Sequence,
    answer,
    gold: Gold | None,
    ask_seconds: float,
    search_seconds: float,
) -> QuestionResult:
    """Score one question from its search hits and its Answer (rag.types)."""
    gold_set = set(item.article_ids)
    retrieved = []
    for h in hits[:RETRIEVAL_DEPTH]:
        ids = (h.chunk.article_id, *getattr(h, "also", ()))
        relevant = bool(item.answerable) and M.is_relevant(
            ids, h.chunk.text, item.answers, gold_set,
            any_gold_passage=gold.any_gold_passage if gold else False,
        )  # fmt: skip
        retrieved.append(
            RetrievedPassage(h.chunk.article_id, h.chunk.index, h.score, relevant, h.chunk.title)
        )
    flags = [p.relevant for p in retrieved]
    scores = [p.score for p in retrieved]
    if item.answerable:
        recall = tuple(M.recall_at_k(flags, k, scores) for k in range(1, RETRIEVAL_DEPTH + 1))
        mrr = M.reciprocal_rank(flags, M.MRR_K, scores)
        ndcg = M.ndcg_at_k(flags, gold.n_relevant if gold else 0, M.NDCG_K, scores)
    else:
        recall, mrr, ndcg = (), None, None
    cited = tuple(
        CitedPassage(
            c.n,
            c.article_id,
            c.title,
            c.text,
            c.article_id in gold_set or M.contains_answer(c.text, item.answers),
        )  # fmt: skip
        for c in answer.citations
    )
    if item.answerable:
        hit = bool(answer.found) and M.answer_hit(answer.text, item.answers)
        f1 = M.token_f1(answer.text, item.answers) if answer.found else 0.0
        cit_p = M.citation_precision(
            [(c.article_id, c.text) for c in cited], item.answers, gold_set
        )
    else:
        hit, f1, cit_p = None, None, None
    return QuestionResult(
        item=item,
        retrieved=tuple(retrieved),
        n_relevant=gold.n_relevant if gold else 0,
        recall=recall,
        mrr=mrr,
        ndcg=ndcg,
        answer=answer.text,
        found=bool(answer.found),
        mode=answer.mode,
        cited=cited,
        hit=hit,
        f1=f1,
        citation_precision=cit_p,
        ask_seconds=ask_seconds,
        search_seconds=search_seconds,
    )
