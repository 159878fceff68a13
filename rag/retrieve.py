"""Query -> ranked Hits: BM25 and dense (FAISS) retrieval, fused by a learned linear score.

Both modes that use BM25 rescore their top candidates with rag.fusion: the BM25 score, how well
the best sentence of the passage covers the question and, in hybrid mode, the dense similarity,
weighted by weights fitted per embedding model (the index's) on a tuning split (see rag.fusion
for why this and not reciprocal-rank fusion); in hybrid mode the best of them are then rescored
with their best sentence's cosine to the question. Optional stages follow: a cross-encoder
(rag.rerank) and the collapse of near-duplicate passages (rag.dedup).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag import fusion
from rag.bm25 import BM25Index, idf_weights, top_k
from rag.query import Query, as_query
from rag.sentences import split_sentences
from rag.settings import RETRIEVER_MODES
from rag.similarity import SentenceSimilarity
from rag.store import Snapshot
from rag.types import Hit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    row: int
    score: float
    scores: dict


def dense_weight_for(encoder, configured: float | None) -> float | None:
    """The configured dense weight, or None for the fitted fusion weights."""
    if encoder is None:
        return 0.0
    return configured


def lexical_index(snapshot: Snapshot) -> BM25Index:
    """The snapshot's BM25 index over its segments (a segment written by an older tokenizer is
    re-tokenized in memory from its rows when it is loaded: rag.store)."""
    return snapshot.bm25


_FAISS_THREADS = threading.Lock()


def dense_search(index, queries: np.ndarray, k: int):
    """FAISS search; a single question runs on one OpenMP thread: one query is a memory scan
    that splitting only makes the threads wait for each other (benchmarks/README.md, "Query
    latency")."""
    if len(queries) > 1:
        return index.search(queries, k)
    import faiss

    with _FAISS_THREADS:
        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            return index.search(queries, k)
        finally:
            faiss.omp_set_num_threads(before)


QUERY_VECTORS = 64  # question vectors a retriever keeps
LEXICAL_SCORES = 2  # BM25 score arrays a retriever keeps (one float per passage each)

_POOL = None
_POOL_LOCK = threading.Lock()


def _question_pool():
    """One worker thread, started once per process, that encodes a question while the calling
    thread scores it with BM25 (Retriever.overlap)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            from concurrent.futures import ThreadPoolExecutor

            _POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-question")
        return _POOL


class Retriever:
    def __init__(
        self,
        snapshot: Snapshot,
        encoder=None,
        dense_weight: float | None = None,
        similarity: SentenceSimilarity | None = None,
        *,
        rescore: bool = True,
    ):
        """``similarity``: the sentence vectors' cache of ``encoder`` (rag.similarity), shared
        with the answers and across snapshots by the caller; one of its own if not given.
        ``rescore``: hybrid mode's second stage (rag.fusion.rescored) where the model has a
        weight for it."""
        self.snapshot = snapshot
        self.encoder = encoder if snapshot.faiss is not None else None
        self._similarity = similarity
        self.rescore = rescore
        self.dense_weight = dense_weight_for(self.encoder, dense_weight)
        self.bm25 = lexical_index(snapshot)
        # The last questions' vectors: retrieval and answer composition read the same one.
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._vectors_lock = threading.Lock()
        self._encoding = threading.Lock()  # one encode at a time (the encoder's are serial too)
        # The last questions' BM25 scores: prepare() may score a question before features().
        self._lexical: OrderedDict[tuple, np.ndarray] = OrderedDict()
        # Encode a hybrid question in _question_pool while BM25 scores it on this thread. Off:
        # not faster where it was measured (benchmarks/README.md, "Query latency"); the same
        # hits either way (tests/rag/test_retrieve_overlap.py).
        self.overlap = False

    def query_vector(self, query: str) -> np.ndarray:
        """The question's vector, shape (1, dim), encoded once for the stages that read it
        (and once for concurrent askers of the same question: they wait for the first)."""
        with self._vectors_lock:
            vec = self._vectors.get(query)
        if vec is None:
            with self._encoding:
                with self._vectors_lock:
                    vec = self._vectors.get(query)
                if vec is None:
                    vec = np.asarray(self.encoder.encode_queries([query]), dtype=np.float32)
                    with self._vectors_lock:
                        self._vectors[query] = vec
                        while len(self._vectors) > QUERY_VECTORS:
                            self._vectors.popitem(last=False)
        return vec

    def prepare(self, question: str | Query, mode: str) -> Query:
        """The question analysed, with its vector when ``mode`` reads one: what every later
        stage (retrieval, fusion, answer composition) reads."""
        query = as_query(question)
        mode = self.effective_mode(mode)
        if query.vector is None and mode != "bm25":
            if self.overlap and mode == "hybrid":
                pending = _question_pool().submit(self.query_vector, query.text)
                self._lexical_ahead(query)  # meanwhile
                query = query.with_vector(pending.result())
            else:
                query = query.with_vector(self.query_vector(query.text))
        return query

    def _lexical_ahead(self, query: Query) -> None:
        """What features() reads of the lexical side, read before it asks: the BM25 scores
        (kept), the idf of the terms (kept by the BM25 index), and the sentence runs of the
        BM25 candidates' texts (cached by text in rag.fusion) with their SQLite pages."""
        lex = self.lexical_scores(query.terms)
        self.idf(query.terms)
        rows = self._lexical_rows(lex, fusion.RERANK_DEPTH)
        fusion.sentence_runs_ahead(sc.chunk.text for sc in self.snapshot.chunks(rows))

    def _lexical_rows(self, lex: np.ndarray, k: int) -> list[int]:
        """The lexical candidates: the rows of the best BM25 scores, RERANK_DEPTH or k."""
        return [i for i, _ in top_k(lex, min(max(k, fusion.RERANK_DEPTH), self.snapshot.size))]

    def lexical_scores(self, terms: dict[str, float]) -> np.ndarray:
        """BM25 scores of every position for ``terms`` (read only: shared by the stages)."""
        key = tuple(terms.items())
        with self._vectors_lock:
            scores = self._lexical.get(key)
        if scores is None:
            scores = self.bm25.scores(terms)
            with self._vectors_lock:
                self._lexical[key] = scores
                while len(self._lexical) > LEXICAL_SCORES:
                    self._lexical.popitem(last=False)
        return scores

    def _vector(self, query: Query) -> np.ndarray:
        return query.vector if query.vector is not None else self.query_vector(query.text)

    @property
    def modes(self) -> tuple[str, ...]:
        return RETRIEVER_MODES if self.encoder is not None else ("bm25",)

    def effective_mode(self, mode: str) -> str:
        return mode if mode in self.modes else "bm25"

    def idf(self, terms) -> dict[str, float]:
        return idf_weights(self.bm25, terms)

    def known(self, terms) -> set[str]:
        """The terms that some indexed passage contains."""
        return self.bm25.known(terms)

    def candidates(self, query: str | Query, k: int, mode: str = "hybrid") -> list[Candidate]:
        query = as_query(query)
        mode = self.effective_mode(mode)
        n = self.snapshot.size
        if n == 0:
            return []
        if mode == "dense":
            qv = self._vector(query)
            dist, ids = dense_search(self.snapshot.faiss, qv, min(k, n))
            return [
                Candidate(int(i), float(d), {"dense": float(d)})
                for d, i in zip(dist[0], ids[0], strict=True)
                if i >= 0
            ]
        rows, feats, texts = self._features(query, k, mode)
        if not rows:
            return []
        weights = fusion.weights_for(mode, query.lang, self.snapshot.model)
        if mode == "hybrid" and self.dense_weight is not None:
            # A configured dense weight replaces the fitted one.
            weights = weights.copy()
            weights[2] = self.dense_weight / max(1e-6, 1 - self.dense_weight) * weights[0]
        fused = fusion.fuse(feats[:, :3], weights)
        best_cosine: dict[int, float] = {}
        if mode == "hybrid" and self.rescore and weights[3] > 0:

            def cosines(idx: np.ndarray) -> np.ndarray:
                sims = self.sentence_cosines(query, [texts[i] for i in idx])
                best_cosine.update(zip(idx.tolist(), sims.tolist(), strict=True))
                return sims

            fused = fusion.rescored(fused, rows, cosines, float(weights[3]))
        order = np.lexsort((np.asarray(rows), -fused))[:k]
        out = []
        for j in order:
            scores = {"bm25": float(feats[j, 3]), "sentence": float(feats[j, 1])}
            if mode == "hybrid":
                scores["dense"] = float(feats[j, 2])
            if j in best_cosine:
                scores["sentence_cosine"] = best_cosine[j]
            out.append(Candidate(rows[j], float(fused[j]), scores))
        return out

    @property
    def similarity(self) -> SentenceSimilarity:
        if self._similarity is None:
            self._similarity = SentenceSimilarity(self.encoder)
        return self._similarity

    def sentence_cosines(self, query: str | Query, texts: Sequence[str]) -> np.ndarray:
        """For each passage text, the best cosine of the question with one of its sentences
        (the second stage of rag.fusion)."""
        query = as_query(query)
        sentences = [[t[s:e] for s, e in split_sentences(t)] or [t] for t in texts]
        flat = [x for group in sentences for x in group]
        sims = self.similarity.for_question(query.text, self._vector(query))(flat)
        out = np.zeros(len(texts), dtype=np.float32)
        at = 0
        for i, group in enumerate(sentences):
            out[i] = sims[at : at + len(group)].max()
            at += len(group)
        return out

    def features(
        self, query: str | Query, k: int, mode: str, query_vector: np.ndarray | None = None
    ) -> tuple[list[int], np.ndarray]:
        """Candidate rows and their first-stage features: rag.fusion.FEATURES but the last
        (``sentence_cosines`` gives it), then the raw BM25 score. ``query_vector``: the query
        already encoded (benchmarks encode a whole split in one batch, which is much faster
        than one query at a time)."""
        rows, feats, _ = self._features(query, k, mode, query_vector)
        return rows, feats

    def _features(
        self, query: str | Query, k: int, mode: str, query_vector: np.ndarray | None = None
    ) -> tuple[list[int], np.ndarray, list[str]]:
        """features(), and the candidates' texts it read."""
        query = as_query(query)
        n = self.snapshot.size
        terms = query.terms
        lex = self.lexical_scores(terms)
        rows = self._lexical_rows(lex, k)
        dense = None
        if mode == "hybrid":
            qv = (
                self._vector(query)
                if query_vector is None
                else np.asarray(query_vector, dtype=np.float32).reshape(1, -1)
            )
            _, ids = dense_search(self.snapshot.faiss, qv, min(fusion.DENSE_DEPTH, n))
            rows = list(dict.fromkeys(rows + [int(i) for i in ids[0] if i >= 0]))
            if rows:
                vecs = np.vstack([self.snapshot.faiss.reconstruct(int(r)) for r in rows])
                dense = vecs @ qv[0]
        if not rows:
            return [], np.zeros((0, 4), dtype=np.float32), []
        texts = [sc.chunk.text for sc in self.snapshot.chunks(rows)]
        lex_rows = lex[rows].astype(np.float32)
        best = float(lex_rows.max())
        # The first stage's features (rag.fusion.FEATURES but the last), then the raw BM25.
        feats = np.zeros((len(rows), 4), dtype=np.float32)
        feats[:, 0] = lex_rows / best if best > 0 else 0.0
        feats[:, 1] = fusion.best_sentence_coverage(
            fusion.coverage_terms(terms, self.idf(terms)), texts
        )
        if dense is not None:
            feats[:, 2] = dense
        feats[:, 3] = lex_rows
        return rows, feats, texts

    def search(self, query: str | Query, k: int = 5, mode: str = "hybrid") -> list[Hit]:
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
                    meta=m.get("meta") or {},
                )
            )
        return hits
