"""Query -> ranked Hits: BM25 and dense (FAISS) retrieval, fused.

Fusion is a weighted sum of scores normalized over the candidate set (the union of both
retrievers' top candidates, each candidate scored by both), not rank fusion: with a weak dense
model, reciprocal-rank fusion lets the dense model's errors push BM25's right answer down
(measured: R@1 0.93 -> 0.72 on XQuAD-vi). The dense weight depends on how much the model in use
is worth (a multilingual model earns more weight than the English fallback).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.lexical import top_k
from rag.store import Snapshot
from rag.types import Hit

# Dense weight in hybrid fusion by the kind of model in use, when Settings.dense_weight is None.
DENSE_WEIGHT_MULTILINGUAL = 0.5
DENSE_WEIGHT_OTHER = 0.2


@dataclass(frozen=True)
class Candidate:
    row: int
    score: float
    scores: dict


def dense_weight_for(encoder, configured: float | None) -> float:
    if configured is not None:
        return configured
    if encoder is None:
        return 0.0
    return (
        DENSE_WEIGHT_MULTILINGUAL
        if encoder.spec.multilingual and encoder.spec.query_prompt
        else DENSE_WEIGHT_OTHER
    )


def _minmax(x: np.ndarray) -> np.ndarray:
    if x.size == 0:
        return x
    lo, hi = float(x.min()), float(x.max())
    if hi - lo < 1e-9:
        return np.ones_like(x) if hi > 0 else np.zeros_like(x)
    return (x - lo) / (hi - lo)


class Retriever:
    def __init__(self, snapshot: Snapshot, encoder=None, dense_weight: float | None = None):
        self.snapshot = snapshot
        self.encoder = encoder if snapshot.faiss is not None else None
        self.dense_weight = dense_weight_for(self.encoder, dense_weight)

    @property
    def modes(self) -> tuple[str, ...]:
        return ("bm25", "dense", "hybrid") if self.encoder is not None else ("bm25",)

    def effective_mode(self, mode: str) -> str:
        return mode if mode in self.modes else "bm25"

    def candidates(self, query: str, k: int, mode: str = "hybrid") -> list[Candidate]:
        mode = self.effective_mode(mode)
        n = self.snapshot.size
        if n == 0:
            return []
        if mode == "bm25":
            bm = self.snapshot.bm25.scores(query)
            return [Candidate(i, s, {"bm25": s}) for i, s in top_k(bm, k)]
        qv = self.encoder.encode_queries([query])
        if mode == "dense":
            depth = min(k, n)
            dist, ids = self.snapshot.faiss.search(qv, depth)
            return [
                Candidate(int(i), float(d), {"dense": float(d)})
                for d, i in zip(dist[0], ids[0], strict=True)
                if i >= 0
            ]
        # hybrid: union of both retrievers' candidates, each scored by both.
        depth = min(max(4 * k, 50), n)
        bm = self.snapshot.bm25.scores(query)
        bm_top = [i for i, _ in top_k(bm, depth, min_score=-1.0)]
        _, ids = self.snapshot.faiss.search(qv, depth)
        rows = list(dict.fromkeys(bm_top + [int(i) for i in ids[0] if i >= 0]))
        vecs = np.vstack([self.snapshot.faiss.reconstruct(int(r)) for r in rows])
        dense = vecs @ qv[0]
        lex = bm[rows]
        w = self.dense_weight
        fused = w * _minmax(dense) + (1 - w) * _minmax(lex)
        order = np.lexsort((np.asarray(rows), -fused))[:k]
        return [
            Candidate(rows[j], float(fused[j]), {"bm25": float(lex[j]), "dense": float(dense[j])})
            for j in order
        ]

    def search(self, query: str, k: int = 5, mode: str = "hybrid") -> list[Hit]:
        cands = self.candidates(query, k, mode)
        stored = self.snapshot.chunks([c.row for c in cands])
        meta = self.snapshot.article_meta([s.chunk.article_id for s in stored])
        hits = []
        for rank, (cand, sc) in enumerate(zip(cands, stored, strict=True)):
            m = meta.get(sc.chunk.article_id, {})
            hits.append(
                Hit(
                    chunk=sc.chunk,
                    score=cand.score,
                    rank=rank,
                    scores=dict(cand.scores),
                    source=m.get("source", ""),
                    date=m.get("date"),
                )
            )
        return hits
