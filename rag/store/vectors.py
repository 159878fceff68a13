"""A segment's vector index: the interface the store uses (VectorIndex) and its FAISS
implementation (FaissVectors).

Vectors are unit length and scored by inner product (cosine). Positions are the segment's rows:
vector i is row i. A segment is immutable, so a deleted row stays in the index and is dropped at
search time (``search(..., deleted=mask)``) and when a merge rewrites the segment
(``vectors(deleted=mask)`` gives the live ones).

Exact search (Flat) while small; from ``threshold`` vectors on, HNSW (approximate). The threshold
comes from Settings.faiss_threshold (RAG_FAISS_THRESHOLD) and applies to each segment's rows;
the kind and its parameters are recorded in the manifest (faiss_params). A segment keeps the
kind it was written with until a merge rewrites it, or `rag index optimize` does because the
threshold now gives its rows the other kind (rag.store.merge.plan_merge).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from rag.settings import DEFAULT_FAISS_THRESHOLD

HNSW_THRESHOLD = DEFAULT_FAISS_THRESHOLD
# HNSW parameters: recall@10 against exact search 0.991 at efSearch 128 (0.989 at 96) over all
# 110,883 VNTC passage vectors in one index, 0.997 over the same vectors in 7 segments of ~16k
# rows, each its own HNSW, merged (MiniLM; benchmarks/README.md); efSearch is saved in the file.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 128
HNSW_EF_SEARCH = 128
KINDS = ("auto", "flat", "hnsw")


@runtime_checkable
class VectorIndex(Protocol):
    """What the store needs of a segment's vector index."""

    @property
    def kind(self) -> str:
        """ "flat" (exact) or "hnsw" (approximate), as the manifest records it."""
        ...

    @property
    def d(self) -> int:
        """Dimension of the vectors."""
        ...

    @property
    def ntotal(self) -> int:
        """Vectors held, deleted ones included."""
        ...

    def append(self, vectors: np.ndarray) -> None:
        """Add vectors after the ones held (positions ntotal, ntotal + 1, ...)."""
        ...

    def search(
        self, queries: np.ndarray, k: int, deleted: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, positions), each (len(queries), min(ntotal, k + deleted rows)), best
        first; positions that ``deleted`` (a mask over positions) marks come back as -1 with
        score -inf, so that at least k live results are among the rest when there are k."""
        ...

    def reconstruct(self, position: int) -> np.ndarray: ...

    def vectors(self, deleted: np.ndarray | None = None) -> np.ndarray:
        """The vectors held, in order, float32; without the ``deleted`` positions."""
        ...

    def save(self, path: Path) -> None: ...


def choose_kind(n: int, kind: str = "auto", threshold: int = HNSW_THRESHOLD) -> str:
    """The kind of index for ``n`` vectors: ``kind`` itself unless it is "auto"."""
    if kind == "auto":
        return "hnsw" if n >= threshold else "flat"
    if kind in KINDS:
        return kind
    raise ValueError(f"unknown FAISS index kind {kind!r}: use auto, flat or hnsw")


def make_faiss_index(dim: int, n: int, kind: str = "auto", threshold: int = HNSW_THRESHOLD):
    """An empty FAISS index for ``n`` vectors: exact inner-product search while small, HNSW
    from ``threshold`` vectors on. Returns (index, kind) where kind is recorded in the manifest
    (with faiss_params(kind, threshold))."""
    import faiss

    kind = choose_kind(n, kind, threshold)
    if kind == "flat":
        return faiss.IndexFlatIP(dim), kind
    index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.hnsw.efSearch = HNSW_EF_SEARCH
    return index, kind


def faiss_params(kind: str | None, threshold: int) -> dict[str, Any] | None:
    """What the manifest records about the FAISS index besides its kind."""
    if kind is None:
        return None
    params: dict[str, Any] = {"threshold": threshold}
    if kind == "hnsw":
        params.update(M=HNSW_M, efConstruction=HNSW_EF_CONSTRUCTION, efSearch=HNSW_EF_SEARCH)
    return params


class FaissVectors:
    """VectorIndex over a FAISS index (``index``: IndexFlatIP or IndexHNSWFlat)."""

    def __init__(self, index, kind: str | None = None, *, mapped: bool = False) -> None:
        self.index = index
        self._kind = kind
        self._mapped = mapped

    @classmethod
    def build(
        cls,
        dim: int,
        vectors: np.ndarray | None = None,
        *,
        kind: str = "auto",
        threshold: int = HNSW_THRESHOLD,
    ) -> FaissVectors:
        """An index of ``vectors`` (none: empty), its kind chosen for their number."""
        n = 0 if vectors is None else len(vectors)
        index, kind = make_faiss_index(dim, n, kind, threshold)
        out = cls(index, kind)
        if vectors is not None:
            out.append(vectors)
        return out

    @classmethod
    def load(cls, path: Path) -> FaissVectors:
        """Read an index file (faiss raises RuntimeError for a missing, damaged or truncated
        one). Its vectors are memory-mapped, not copied: opening an index costs no read of
        every segment's vectors (a writer adding 10 articles reads none), and the pages are
        shared with the page cache. Such an index is read-only (a segment never changes)."""
        import faiss

        return cls(faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC), mapped=True)

    @property
    def kind(self) -> str:
        if self._kind is None:
            self._kind = "hnsw" if hasattr(self.index, "hnsw") else "flat"
        return self._kind

    @property
    def d(self) -> int:
        return int(self.index.d)

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def append(self, vectors: np.ndarray) -> None:
        if self._mapped:
            # FAISS aborts the process on a write into a mapped index: refuse it here.
            raise ValueError("a loaded segment's vectors are read-only")
        if len(vectors):
            self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def search(
        self, queries: np.ndarray, k: int, deleted: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        n_del = 0 if deleted is None else int(deleted.sum())
        dist, ids = self.index.search(queries, min(self.ntotal, k + n_del))
        if deleted is not None:
            gone = (ids >= 0) & deleted[np.maximum(ids, 0)]
            ids = np.where(gone, -1, ids)
            dist = np.where(gone, -np.inf, dist).astype(np.float32)
        return dist, ids

    def reconstruct(self, position: int) -> np.ndarray:
        return self.index.reconstruct(int(position))

    def vectors(self, deleted: np.ndarray | None = None) -> np.ndarray:
        n = self.index.ntotal
        if n == 0:
            out = np.zeros((0, self.index.d), dtype=np.float32)
        else:
            out = self.index.reconstruct_n(0, n)
        return out if deleted is None else out[~deleted]

    def save(self, path: Path) -> None:
        import faiss

        # Through a Python file: faiss.write_index(path) only prints a failed fclose (a full
        # disk) and returns, leaving a truncated file that would then be committed.
        with open(path, "wb") as fh:
            faiss.write_index(self.index, faiss.PyCallbackIOWriter(lambda b: fh.write(b)))
