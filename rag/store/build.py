"""The files of a new segment, written into its (temporary) folder: rows, vectors and BM25
postings, either for new articles or for the live rows of the segments a merge replaces. Each
returns the segment's entry for the manifest (rows, articles, faiss_index); the writer
(rag.store.writer) names the segment, makes it durable and commits it."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.bm25 import Postings
from rag.store.layout import POSTINGS, ROWS, VECTORS
from rag.store.postings_merge import merge_postings
from rag.store.rows import CHUNK_TEXTS, RowWriter, merge_rows
from rag.store.segment import Segment
from rag.store.vectors import FaissVectors, choose_kind
from rag.types import Article, Chunk


def write_postings(directory: Path) -> None:
    """BM25 postings of the segment's rows in row order, streamed from SQLite: (title, text)
    pairs (rag.tokens weights the title field), never all in memory at once."""
    db = sqlite3.connect(directory / ROWS)
    try:
        Postings.build(db.execute(CHUNK_TEXTS)).save(directory / POSTINGS)
    finally:
        db.close()


class NewSegment:
    """The files of a segment of new articles, written batch after batch into ``directory``:
    each batch's rows go to SQLite and its vectors to FAISS as they come, and the BM25
    postings are built from SQLite at ``finish``, so what memory holds is one batch, the
    segment's vectors and its postings, never the texts of the whole segment. ``kind``: the
    FAISS index's, chosen for ``expected_rows`` when it is "auto"; with ``expected_rows`` None
    (a stream of unknown length) the vectors are held until ``finish`` and the kind is chosen
    for the segment's own rows, as a merge chooses it."""

    def __init__(
        self,
        directory: Path,
        *,
        dim: int | None,
        with_vectors: bool,
        kind: str,
        threshold: int,
        expected_rows: int | None,
    ) -> None:
        self.directory = directory
        self.dim = dim
        self._kind = kind
        self._threshold = threshold
        self._held: list[np.ndarray] | None = None
        self.vectors = None
        if with_vectors and expected_rows is None:
            self._held = []
        elif with_vectors:
            self.vectors = FaissVectors.build(
                int(dim), kind=choose_kind(expected_rows, kind, threshold)
            )
        self._rows = RowWriter(directory)
        self._open = True

    @property
    def rows(self) -> int:
        return self._rows.rows

    def append(
        self, add: Sequence[tuple[Article, Sequence[Chunk]]], vectors: np.ndarray | None
    ) -> None:
        """``vectors``: one per chunk of ``add``, in order (None for a BM25-only index)."""
        count = sum(len(cs) for _, cs in add)
        if self.vectors is not None or self._held is not None:
            new = np.zeros((0, self.dim), dtype=np.float32) if vectors is None else vectors
            if new.shape != (count, self.dim):
                raise ValueError(f"expected {count} vectors of dim {self.dim}, got {new.shape}")
            if self._held is not None:
                self._held.append(np.asarray(new, dtype=np.float32))
            else:
                self.vectors.append(new)
        self._rows.append(add)

    def finish(self) -> dict:
        """Close the rows, save the vectors, write the postings; the segment's entry."""
        self._open = False
        count, n_articles = self._rows.close()
        written = None
        if self._held is not None:
            held = np.vstack(self._held) if self._held else np.zeros((0, self.dim), np.float32)
            self._held = None
            self.vectors = FaissVectors.build(
                int(self.dim), held, kind=self._kind, threshold=self._threshold
            )
        if self.vectors is not None:
            self.vectors.save(self.directory / VECTORS)
            written = self.vectors.kind
            self.vectors = None
        write_postings(self.directory)
        return {"rows": count, "articles": n_articles, "faiss_index": written}

    def abort(self) -> None:
        """Let go of what is open (the caller removes the folder)."""
        if self._open:
            self._open = False
            self._rows.close()
        self.vectors = None
        self._held = None


def write_new_segment(
    directory: Path,
    add: Sequence[tuple[Article, Sequence[Chunk]]],
    vectors: np.ndarray | None,
    *,
    dim: int | None,
    with_vectors: bool,
    kind: str,
    threshold: int,
) -> dict:
    """The segment of the articles ``add``; ``vectors``: one per chunk, in order."""
    segment = NewSegment(
        directory,
        dim=dim,
        with_vectors=with_vectors,
        kind=kind,
        threshold=threshold,
        expected_rows=sum(len(cs) for _, cs in add),
    )
    try:
        segment.append(add, vectors)
        return segment.finish()
    finally:
        segment.abort()


def write_merged_segment(
    directory: Path,
    parts: Sequence[tuple[Segment, int, np.ndarray | None]],
    *,
    dim: int | None,
    threshold: int,
) -> dict:
    """One segment of the live rows of ``parts`` ((segment, offset, deleted mask)), in order.
    Nothing is tokenized or encoded again: rows are copied by SQLite, vectors read back from
    the segments' indexes, postings merged. ``dim`` None: a BM25-only index."""
    count, n_articles = merge_rows(directory, parts)
    written = None
    if dim is not None:
        # Part after part into one index (of the ``count`` live rows copied): memory holds the
        # merged index, not a second copy of its vectors.
        index = FaissVectors.build(dim, kind=choose_kind(count, "auto", threshold))
        for seg, _, mask in parts:
            index.append(seg.faiss.vectors(mask))
        index.save(directory / VECTORS)
        written = index.kind
    size = merge_postings(
        directory / POSTINGS,
        [(seg.bm25, None if mask is None else ~mask) for seg, _, mask in parts],
    )
    if size != count:
        raise ValueError(f"merged {size} BM25 documents for {count} rows")
    return {"rows": count, "articles": n_articles, "faiss_index": written}
