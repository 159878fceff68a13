"""bm25s as rag relies on it: the one module that uses more of bm25s than its public API.

rag scores BM25 itself (rag.bm25: postings per segment, statistics over the whole collection),
and its scores equal, float for float, those of one bm25s index ("lucene" variant) over the same
live passages. That rests on facts about bm25s's internals, all of them here:

* idf: bm25s's own lucene function (private: ``bm25s.scoring._select_idf_scorer("lucene")``),
  ``log(1 + (N - df + 0.5) / (df + 0.5))`` in Python floats, stored as float32;
* the mean passage length: the mean of an integer array (an exact sum, then one division);
* a term's score in a passage: ``tf / (k1 * ((1 - b) + b * length / mean) + tf)`` in float64
  (tf as float32), times the float32 idf, stored as float32;
* a passage without tokens is indexed as one "" token;
* bm25s's own scores, for comparisons, are read off its term-by-passage matrix
  (``BM25.vocab_dict``, ``BM25.scores``: data, indices, indptr, num_docs).

tests/rag/test_bm25s_adapter.py checks each fact against the installed bm25s, which must be one
of SUPPORTED; check_version() says so in one line otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np

# The bm25s releases these facts were checked against (pyproject.toml asks for the same).
SUPPORTED = ((0, 2, 6), (0, 4, 0))  # from, up to (excluded)
SUPPORTED_TEXT = ">=0.2.6,<0.4"
# What a passage without tokens is indexed as.
EMPTY_DOCUMENT = ("",)


class UnsupportedBM25sError(RuntimeError):
    """The installed bm25s is not a version the adapter was checked against."""


def installed_version() -> str:
    from importlib.metadata import version

    return version("bm25s")


def _release(version: str) -> tuple[int, int, int]:
    """(major, minor, patch) of a version string ("0.3.16", "0.4.0rc1" -> (0, 4, 0))."""
    m = re.match(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", version.strip())
    if m is None:
        return (0, 0, 0)
    major, minor, patch = (int(g or 0) for g in m.groups())
    return (major, minor, patch)


def is_supported(version: str) -> bool:
    low, high = SUPPORTED
    return low <= _release(version) < high


def check_version(version: str | None = None) -> str:
    """The installed bm25s version (or ``version``); UnsupportedBM25sError if unsupported."""
    version = installed_version() if version is None else version
    if not is_supported(version):
        raise UnsupportedBM25sError(
            f"bm25s {version} is not supported (rag's BM25 scores were checked against bm25s "
            f"{SUPPORTED_TEXT}): install a supported version, or check rag/bm25s_adapter.py "
            f"against this one (tests/rag/test_bm25s_adapter.py) and widen SUPPORTED"
        )
    return version


# ---- the formulas, as bm25s computes them ------------------------------------------------------
@lru_cache(maxsize=1)
def _lucene_idf_function():
    try:
        from bm25s.scoring import _select_idf_scorer

        return _select_idf_scorer("lucene")
    except (ImportError, ValueError) as exc:
        check_version()  # the likely cause, said in one line
        raise UnsupportedBM25sError(
            f"bm25s {installed_version()} has no lucene idf function where "
            f"rag/bm25s_adapter.py looks for it ({exc})"
        ) from exc


def lucene_idf(df: int, n: int) -> np.float32:
    """bm25s's lucene idf of a term in ``df`` of ``n`` passages, by bm25s's own function."""
    return np.float32(_lucene_idf_function()(int(df), N=n))


def mean_length(total: int, n: int) -> np.float64:
    """bm25s's mean passage length: the mean of an int64 array (exact sum, one division)."""
    return np.float64(total) / np.float64(n) if n else np.float64(1.0)


def length_norms(lengths: np.ndarray, mean: np.float64, k1: float, b: float) -> np.ndarray:
    """Each passage's ``k1 * ((1 - b) + b * length / mean)``, float64."""
    return k1 * ((1 - b) + b * lengths.astype(np.float64) / mean)


def term_scores(idf: np.float32, tfs: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """A term's scores in passages with counts ``tfs`` and length norms ``norms``, float32: the
    float64 tf part times the float32 idf, stored as float32 (as bm25s stores its matrix)."""
    tf = tfs.astype(np.float32)
    return (idf * (tf / (norms + tf))).astype(np.float32)


# ---- bm25s's own index, for comparisons ------------------------------------------------------
class Reference:
    """A bm25s index ("lucene", the same k1 and b) over token lists, with its scores read off its
    term-by-passage matrix: what rag's BM25 must reproduce."""

    def __init__(self, documents: Iterable[Sequence[str]], k1: float, b: float) -> None:
        import bm25s

        self.model = bm25s.BM25(k1=k1, b=b, method="lucene")
        self.model.index([list(d) or list(EMPTY_DOCUMENT) for d in documents], show_progress=False)

    @property
    def size(self) -> int:
        return int(self.model.scores["num_docs"])

    def vocabulary(self) -> set[str]:
        return set(self.model.vocab_dict)

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(passages, float32 scores) of ``term`` in bm25s's matrix; None when it has no column
        (an unknown term, or bm25s's "" without one)."""
        sc = self.model.scores
        i = self.model.vocab_dict.get(term)
        if i is None or i + 1 >= len(sc["indptr"]):
            return None
        c = slice(int(sc["indptr"][i]), int(sc["indptr"][i + 1]))
        return sc["indices"][c], sc["data"][c]

    def weighted_scores(self, terms: dict[str, float]) -> np.ndarray:
        """Every passage's score for weighted terms, summed as rag sums them (float64, then
        float32): the matrix's float32 entries times the float32 weight."""
        rows, vals = [], []
        for t, w in terms.items():
            found = self.postings(t) if w > 0 else None
            if found is not None:
                rows.append(found[0])
                vals.append(found[1] * np.float32(w))
        if not rows:
            return np.zeros(self.size, dtype=np.float32)
        return np.bincount(
            np.concatenate(rows), weights=np.concatenate(vals), minlength=self.size
        ).astype(np.float32)

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """bm25s's own retrieval scores (BM25.get_scores) for a query's tokens, float32."""
        return np.asarray(self.model.get_scores(list(tokens)), dtype=np.float32)
