"""What an evaluation produces: per-question records, a run's result, and the run's figures.

Every record turns into the JSON of results.json (``to_dict``); ``aggregate`` computes a run's
figures from its questions, with every key always present (None where undefined).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag import metrics as M
from rag.datasets import QAItem

RETRIEVAL_DEPTH = 10


@dataclass(frozen=True)
class RetrievedPassage:
    article_id: str
    chunk_index: int
    score: float
    relevant: bool
    title: str = ""

    def to_dict(self) -> dict:
        return {
            "article_id": self.article_id,
            "chunk": self.chunk_index,
            "score": _r(self.score, 6),
            "relevant": self.relevant,
        }


@dataclass(frozen=True)
class CitedPassage:
    n: int
    article_id: str
    title: str
    text: str
    good: bool  # contains an accepted answer or belongs to a gold article

    def to_dict(self) -> dict:
        return {"n": self.n, "article_id": self.article_id, "title": self.title, "good": self.good}


@dataclass(frozen=True)
class QuestionResult:
    item: QAItem
    retrieved: tuple[RetrievedPassage, ...]
    n_relevant: int  # relevant passages in the index (gold-passage rule)
    recall: tuple[float, ...]  # Recall@1..RETRIEVAL_DEPTH; () for unanswerable questions
    mrr: float | None
    ndcg: float | None
    answer: str
    found: bool
    mode: str
    cited: tuple[CitedPassage, ...]
    hit: bool | None  # None for unanswerable questions
    f1: float | None
    citation_precision: float | None
    ask_seconds: float
    search_seconds: float
    rewritten: str | None = None  # the standalone form a follow-up question was answered as

    @property
    def failed(self) -> bool:
        """A miss worth reading: no accepted answer in an answer, or an answer where the
        corpus has none."""
        return (self.hit is False) if self.item.answerable else self.found

    def to_dict(self) -> dict:
        it = self.item
        return {
            "id": it.id,
            "question": it.question,
            "turns": list(it.turns),
            "rewritten": self.rewritten,
            "lang": it.lang,
            "kind": it.kind,
            "answerable": it.answerable,
            "answers": list(it.answers),
            "gold_articles": list(it.article_ids),
            "n_relevant": self.n_relevant,
            "recall@1": _r(self.recall[0]) if self.recall else None,
            "recall@5": _r(self.recall[4]) if self.recall else None,
            "recall@10": _r(self.recall[9]) if self.recall else None,
            "mrr@10": _r(self.mrr),
            "ndcg@10": _r(self.ndcg),
            "found": self.found,
            "hit": self.hit,
            "token_f1": _r(self.f1),
            "citation_precision": _r(self.citation_precision),
            "answer": self.answer,
            "mode": self.mode,
            "cited": [c.to_dict() for c in self.cited],
            "retrieved": [p.to_dict() for p in self.retrieved],
            "ask_ms": _r(self.ask_seconds * 1000, 2),
            "search_ms": _r(self.search_seconds * 1000, 2),
        }


@dataclass(frozen=True)
class EvalResult:
    dataset: str
    description: str
    run: str  # the run's label: the retriever and any overrides
    retriever: str  # requested mode
    modes_used: tuple[str, ...]  # what the pipeline used (bm25 when no dense model loads)
    top_k: int
    settings: dict
    model: dict  # configured, in use, fallback warning
    index: dict  # directory, articles, chunks, chunking
    metrics: dict
    questions: tuple[QuestionResult, ...]
    seconds: float

    def to_dict(self, questions: bool = True) -> dict:
        out = {
            "run": self.run,
            "dataset": self.dataset,
            "retriever": self.retriever,
            "modes_used": list(self.modes_used),
            "top_k": self.top_k,
            "model": self.model,
            "index": self.index,
            "settings": self.settings,
            "metrics": self.metrics,
            "seconds": _r(self.seconds, 2),
        }
        if questions:
            out["questions"] = [q.to_dict() for q in self.questions]
        return out


def _r(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(float(x), digits)


def aggregate(results: Sequence[QuestionResult]) -> dict:
    """The run's figures; every key is always present (None where undefined), so the JSON
    keeps one shape across datasets and runs."""
    answerable = [q for q in results if q.item.answerable]
    unanswerable = [q for q in results if not q.item.answerable]
    curve = [M.mean(q.recall[k] for q in answerable) for k in range(RETRIEVAL_DEPTH)]
    ask_ms = [q.ask_seconds * 1000 for q in results]
    search_ms = [q.search_seconds * 1000 for q in results]
    out = {
        "questions": len(results),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "recall@1": _r(curve[0]) if answerable else None,
        "recall@5": _r(curve[4]) if answerable else None,
        "recall@10": _r(curve[9]) if answerable else None,
        "mrr@10": _r(M.mean(q.mrr for q in answerable)),
        "ndcg@10": _r(M.mean(q.ndcg for q in answerable)),
        "answer_hit": _r(M.mean(float(q.hit) for q in answerable)),
        "token_f1": _r(M.mean(q.f1 for q in answerable)),
        "citation_precision": _r(M.mean(q.citation_precision for q in answerable)),
        "answers_with_citations": sum(1 for q in answerable if q.cited),
        "abstention_accuracy": _r(M.mean(float(not q.found) for q in unanswerable)),
        "false_abstention": _r(M.mean(float(not q.found) for q in answerable)),
        "ask_p50_ms": _r(M.percentile(ask_ms, 50), 2),
        "ask_p95_ms": _r(M.percentile(ask_ms, 95), 2),
        "search_p50_ms": _r(M.percentile(search_ms, 50), 2),
        "search_p95_ms": _r(M.percentile(search_ms, 95), 2),
        "recall_curve": [_r(v) for v in curve] if answerable else [],
    }
    out["by_lang"] = _groups(answerable, lambda q: q.item.lang or "?")
    out["by_kind"] = _groups(answerable, lambda q: q.item.kind or "?")
    return out


def _groups(results: Sequence[QuestionResult], key: Callable[[QuestionResult], str]) -> dict:
    groups: dict[str, list[QuestionResult]] = {}
    for q in results:
        groups.setdefault(key(q), []).append(q)
    return {
        name: {
            "n": len(qs),
            "recall@5": _r(M.mean(q.recall[4] for q in qs)),
            "mrr@10": _r(M.mean(q.mrr for q in qs)),
            "answer_hit": _r(M.mean(float(q.hit) for q in qs)),
            "token_f1": _r(M.mean(q.f1 for q in qs)),
        }
        for name, qs in sorted(groups.items())
    }
