"""BM25 over segment postings, scored as bm25s scores (rag.bm25s_adapter holds how).

A segment's passages are saved as Postings (raw term counts, no scores); BM25Index scores one or
more of them with the statistics of the whole collection, so that the scores of an index cut into
segments, with deleted passages, equal those of one index over the same live passages. The tokens
are rag.tokens': document_tokens() for passages, query_terms() for questions.
"""

from __future__ import annotations

import hashlib
import threading
from array import array
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from rag import bm25s_adapter
from rag.tokens import FOLD_PREFIX, document_tokens, query_terms

# Fitted on the tuning split of xquad-vi (benchmarks/fit_retrieval.py; see eval/README.md).
BM25_K1 = 0.9
BM25_B = 0.4

# What a BM25Index keeps between questions (it never changes, so neither does what it finds):
# each term's live postings (views of the segments' arrays, found once instead of once per
# question and per segment) for up to LOOKUPS terms, and its scores in the passages that hold
# it (float32, the idf applied) up to SCORED_ENTRIES in all (4 bytes each, least recently used
# dropped first), or SCORED_PER_PASSAGE a live passage where that is more: a larger index's
# common syllables hold longer postings, and a question recomputing them costs more than the
# cache's 4 bytes an entry (benchmarks/README.md, "A million passages"). Questions share their
# commonest syllables, which hold the longest postings.
LOOKUPS = 65_536
SCORED_ENTRIES = 8_000_000
SCORED_PER_PASSAGE = 32
# A term held by at least 1/DENSE_SHARE of a segment's passages is kept as a dense column of
# the segment: adding one is a streaming pass, ~7x cheaper an element than a scattered add.
DENSE_SHARE = 6


class _Vocabulary(dict):
    """token -> id, a new token getting the next id."""

    def __missing__(self, token: str) -> int:
        i = self[token] = len(self)
        return i


def _term_key(token: str) -> int:
    """A term's 64-bit key: each segment's vocabulary is a sorted array of keys (looked up by
    binary search, loaded without building a dict), the terms' UTF-8 kept beside them to
    confirm a match."""
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")


_PARTS = ("keys", "terms", "term_offsets", "indptr", "docs", "tfs", "lengths")


class Postings:
    """One segment's inverted index: raw term frequencies, no scores. Scores depend on the
    statistics of the whole collection (document count, mean length, document frequencies),
    which change as segments come and go, so they are computed at query time (BM25Index).

    Arrays (saved as .npy, no pickles): ``keys`` (uint64, sorted) and ``terms`` (UTF-8 bytes,
    split by ``term_offsets``) name the terms; ``indptr`` cuts ``docs`` (int32, ascending per
    term) and ``tfs`` (int32) into each term's postings; ``lengths`` (int64) is each passage's
    token count."""

    def __init__(self, keys, terms, term_offsets, indptr, docs, tfs, lengths) -> None:
        self.keys = keys
        self.terms = terms
        self.term_offsets = term_offsets
        self.indptr = indptr
        self.docs = docs
        self.tfs = tfs
        self.lengths = lengths

    @property
    def size(self) -> int:
        return len(self.lengths)

    def column(self, term: str) -> int | None:
        """The column of ``term``, or None."""
        key = np.uint64(_term_key(term))
        raw = term.encode()
        i = int(np.searchsorted(self.keys, key))
        while i < len(self.keys) and self.keys[i] == key:
            a, b = int(self.term_offsets[i]), int(self.term_offsets[i + 1])
            if self.terms[a:b].tobytes() == raw:
                return i
            i += 1
        return None

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(docs, tfs) of ``term``; None when no passage of the segment holds it."""
        j = self.column(term)
        if j is None:
            return None
        s = slice(int(self.indptr[j]), int(self.indptr[j + 1]))
        return self.docs[s], self.tfs[s]

    def vocabulary(self) -> list[str]:
        blob, off = self.terms.tobytes(), self.term_offsets.tolist()
        return [blob[off[i] : off[i + 1]].decode() for i in range(len(self.keys))]

    @classmethod
    def from_counts(cls, tokens: list[str], ids, tfs, nnz, lengths) -> Postings:
        """From (token id, count) pairs passage after passage: ``tokens`` names the ids,
        ``nnz`` counts each passage's distinct tokens, ``lengths`` its tokens."""
        # int32 where the values fit, and each temporary dropped once used: the entries (one
        # per distinct token of each passage, ~530 a VNTC passage) are most of a segment
        # build's memory.
        small = np.int32 if len(tokens) < 2**31 else np.int64
        keys = np.fromiter((_term_key(t) for t in tokens), dtype=np.uint64, count=len(tokens))
        order = np.argsort(keys, kind="stable")
        rank = np.empty(len(tokens), dtype=small)
        rank[order] = np.arange(len(tokens), dtype=small)
        cols = rank[np.asarray(ids)]
        del rank
        indptr = np.zeros(len(tokens) + 1, dtype=np.int64)
        np.cumsum(np.bincount(cols, minlength=len(tokens)), out=indptr[1:])
        # Column-major, passages ascending within a column (entries already come in row order).
        by_col = np.argsort(cols, kind="stable")
        del cols
        docs = np.repeat(np.arange(len(lengths), dtype=np.int32), np.asarray(nnz, dtype=np.int64))
        docs = docs[by_col]
        tfs = np.asarray(tfs, dtype=np.int32)[by_col]
        del by_col
        encoded = [tokens[i].encode() for i in order]
        term_offsets = np.zeros(len(tokens) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=term_offsets[1:])
        return cls(
            keys[order],
            np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(),
            term_offsets,
            indptr,
            docs,
            tfs,
            np.asarray(lengths, dtype=np.int64),
        )

    @classmethod
    def build(cls, docs: Iterable[str | tuple[str, str]]) -> Postings:
        """``docs``: passages as text, or as (title, text) to give the title its weight; any
        iterable (a SQLite cursor streams). Each passage becomes (token id, count) pairs as it
        comes, so memory holds the vocabulary and two int32 per distinct token of a passage,
        never the token lists. A passage without tokens counts as bm25s counts it (one "")."""
        vocab = _Vocabulary()
        ids = array("i")
        tfs = array("i")
        nnz = array("q")
        lengths = array("q")
        for d in docs:
            tokens = (
                document_tokens(*d) if isinstance(d, tuple) else document_tokens("", d)
            ) or list(bm25s_adapter.EMPTY_DOCUMENT)
            counts = Counter(map(vocab.__getitem__, tokens))
            ids.extend(counts.keys())
            tfs.extend(counts.values())
            nnz.append(len(counts))
            lengths.append(len(tokens))
        return cls.from_counts(
            list(vocab),
            np.frombuffer(ids, dtype=np.int32),
            np.frombuffer(tfs, dtype=np.int32),
            np.frombuffer(nnz, dtype=np.int64),
            np.frombuffer(lengths, dtype=np.int64),
        )

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for name in _PARTS:
            self.save_part(directory, name, getattr(self, name))

    @staticmethod
    def save_part(directory: Path, name: str, values: np.ndarray) -> None:
        """One of the arrays (``name`` of _PARTS) as ``directory``/name.npy, no pickles."""
        with open(directory / f"{name}.npy", "wb") as fh:
            np.save(fh, values, allow_pickle=False)

    @classmethod
    def load(cls, directory: Path) -> Postings:
        # Memory-mapped, read-only (a segment never changes): opening an index reads headers,
        # not every segment's postings (~0.4 GB at VNTC's 111k passages), which a writer that
        # adds 10 articles never reads; a search pages in the columns of its terms.
        arrays = [
            np.asarray(np.load(directory / f"{n}.npy", mmap_mode="r", allow_pickle=False))
            for n in _PARTS
        ]
        p = cls(*arrays)
        v = len(p.keys)
        if (
            len(p.indptr) != v + 1
            or len(p.term_offsets) != v + 1
            or len(p.docs) != len(p.tfs)
            or (v and int(p.indptr[-1]) != len(p.docs))
            or (len(p.docs) and int(p.docs.max()) >= p.size)
        ):
            raise ValueError(f"inconsistent postings in {directory}")
        return p


class BM25Index:
    """BM25 ("lucene" variant, bm25s's formulas and float operations) over the postings of
    one or more segments, with the statistics of the whole collection: document count, mean
    length and document frequencies summed over the live passages of every segment, deleted
    passages left out. Scores for all positions come back as one array (deleted positions
    score 0), so that fusion can combine them with dense scores, and they equal, float for
    float, what a single index over the same live passages gives.

    ``parts``: (postings, deleted mask or None), in position order: part i's passages follow
    part i-1's."""

    def __init__(
        self,
        parts: Sequence[tuple[Postings, np.ndarray | None]] = (),
        k1: float = BM25_K1,
        b: float = BM25_B,
    ) -> None:
        self.k1, self.b = k1, b
        self._parts = []
        offset = 0
        total_len = 0
        live = 0
        for p, deleted in parts:
            if deleted is not None and not deleted.any():
                deleted = None
            self._parts.append([p, offset, deleted, None])
            offset += p.size
            keep = p.lengths if deleted is None else p.lengths[~deleted]
            total_len += int(keep.sum())
            live += len(keep)
        self._span = offset
        self.live = live
        self._avg_len = bm25s_adapter.mean_length(total_len, live)
        for part in self._parts:
            part[3] = bm25s_adapter.length_norms(part[0].lengths, self._avg_len, k1, b)
        self._lock = threading.Lock()
        self._found: dict[str, list] = {}
        self._scored: OrderedDict[str, list[np.ndarray]] = OrderedDict()
        self._scored_entries = 0
        self._scored_budget = max(SCORED_ENTRIES, SCORED_PER_PASSAGE * live)

    @classmethod
    def build(
        cls, docs: Iterable[str | tuple[str, str]], k1: float = BM25_K1, b: float = BM25_B
    ) -> BM25Index:
        """A one-segment index of ``docs`` (see Postings.build)."""
        p = Postings.build(docs)
        return cls([(p, None)] if p.size else [], k1, b)

    @property
    def size(self) -> int:
        """Positions scored (live and deleted passages)."""
        return self._span

    def _live_postings(self, term: str):
        """[(offset, docs, tfs, part)] of the live passages holding ``term`` (kept: LOOKUPS)."""
        found = self._found.get(term)
        if found is None:
            found = self._find(term)
            with self._lock:
                if len(self._found) >= LOOKUPS:
                    self._found.clear()
                self._found[term] = found
        return found

    def _find(self, term: str):
        out = []
        for part in self._parts:
            p, offset, deleted, _ = part
            found = p.postings(term)
            if found is None:
                continue
            docs, tfs = found
            if deleted is not None:
                keep = ~deleted[docs]
                docs, tfs = docs[keep], tfs[keep]
            if len(docs):
                out.append((offset, docs, tfs, part))
        return out

    def df(self, term: str) -> int:
        return sum(len(d) for _, d, _, _ in self._live_postings(term))

    def known(self, terms: Iterable[str]) -> set[str]:
        """The terms that some indexed (live) passage contains."""
        return {t for t in terms if self._live_postings(t)}

    def idf(self, df: int) -> np.float32:
        """bm25s's lucene idf, computed by bm25s's own function (math.log), as float32."""
        return bm25s_adapter.lucene_idf(df, self.live)

    def scores(self, query: str | dict[str, float]) -> np.ndarray:
        """BM25 score of every position for ``query`` (a question, or the weighted terms of
        query_terms), float32 in position order."""
        n = self._span
        if not self.live:
            return np.zeros(n, dtype=np.float32)
        terms = query_terms(query) if isinstance(query, str) else query
        # Summed in float64 term after term, each passage's terms in the query's order, then
        # stored as float32: the floats np.bincount gave over the concatenated terms.
        total = np.zeros(n, dtype=np.float64)
        for t, w in terms.items():
            if w <= 0:
                continue
            found = self._live_postings(t)
            if not found:
                continue
            for (offset, docs, _, part), data in zip(
                found, self._term_scores(t, found), strict=True
            ):
                if w != 1:
                    data = data * np.float32(w)
                span = total[offset : offset + part[0].size]
                if len(data) == len(span):  # every position (a dense column, zeros included)
                    span += data
                else:
                    span[docs] += data
        return total.astype(np.float32)

    def _term_scores(self, term: str, found) -> list[np.ndarray]:
        """``term``'s float32 scores in the passages of each of its ``found`` postings (kept, up
        to the index's budget of entries)."""
        with self._lock:
            data = self._scored.get(term)
            if data is not None:
                self._scored.move_to_end(term)
                return data
        idf = self.idf(sum(len(d) for _, d, _, _ in found))
        data = []
        for _, docs, tfs, part in found:
            scored = bm25s_adapter.term_scores(idf, tfs, part[3][docs])
            if len(docs) * DENSE_SHARE >= part[0].size:
                # A common term: a column of every position (0 where absent, and x + 0.0 is x),
                # added as one streaming pass instead of a gather and scatter per passage.
                column = np.zeros(part[0].size, dtype=np.float32)
                column[docs] = scored
                scored = column
            data.append(scored)
        size = sum(len(d) for d in data)
        with self._lock:
            if term not in self._scored and size <= self._scored_budget:
                self._scored[term] = data
                self._scored_entries += size
                while self._scored_entries > self._scored_budget:
                    _, old = self._scored.popitem(last=False)
                    self._scored_entries -= sum(len(d) for d in old)
        return data

    def save(self, directory: Path) -> None:
        """Save a one-segment index (what a segment holds)."""
        if len(self._parts) > 1:
            raise ValueError("only a one-segment BM25 index is saved; merge the postings first")
        if self._parts:
            self._parts[0][0].save(directory)

    @classmethod
    def load(cls, directory: Path) -> BM25Index:
        if not (directory / "keys.npy").exists():
            return cls([])
        return cls([(Postings.load(directory), None)])


# Above this many scores, top_k first keeps those at least the k-th best of every TOP_K_STRIDE-th
# (a subset's k-th best is at most the whole's): one comparison pass instead of a partition of
# the whole array (~4 ms at a million passages).
TOP_K_PREFILTER = 1 << 18
TOP_K_STRIDE = 16


def top_k(scores: np.ndarray, k: int, min_score: float = 0.0) -> list[tuple[int, float]]:
    """Indices and values of the k best scores above min_score, best first, ties by index."""
    if scores.size == 0 or k <= 0:
        return []
    k = min(k, scores.size)
    pool = None
    if scores.size >= TOP_K_PREFILTER and k * TOP_K_STRIDE * 8 <= scores.size:
        sample = scores[::TOP_K_STRIDE]
        floor = np.partition(sample, len(sample) - k)[len(sample) - k]
        pool = np.flatnonzero(scores >= floor)
        if len(pool) * 4 > scores.size:
            pool = None  # mostly ties with the floor (zeros): nothing gained
    if pool is not None:
        return [(int(pool[i]), s) for i, s in top_k(scores[pool], k, min_score)]
    kth = scores[np.argpartition(-scores, k - 1)[k - 1]]
    # Every score tied with the k-th, so that ties are cut by index (argpartition picks any).
    idx = np.flatnonzero(scores >= kth)
    idx = idx[np.lexsort((idx, -scores[idx]))][:k]
    return [(int(i), float(scores[i])) for i in idx if scores[i] > min_score]


def idf_weights(index: BM25Index, tokens: Iterable[str]) -> dict[str, float]:
    """BM25 idf of each token over the indexed passages (unknown tokens get the maximum:
    a word no passage contains is as informative as a word can be)."""
    toks = list(dict.fromkeys(tokens))
    n = index.live
    max_idf = float(np.log(1 + (n + 0.5) / 0.5)) if n else 1.0
    if not n:
        return dict.fromkeys(toks, 1.0)
    out = {}
    for t in toks:
        df = index.df(t)
        if df == 0:
            # An unseen bigram is usually a chance junction of two words, not a term, and an
            # unseen folded form is a word folding leaves as it is: no weight for either.
            out[t] = 0.0 if "_" in t or t.startswith(FOLD_PREFIX) else max_idf
            continue
        out[t] = float(np.log(1 + (n - df + 0.5) / (df + 0.5)))
    return out
