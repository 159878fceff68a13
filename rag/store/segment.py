"""One segment of the index, loaded: its rows (SQLite), vectors (VectorIndex) and BM25
postings, shared by the snapshots that list it and freed when the last one lets go (Counted)."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.bm25 import Postings
from rag.errors import IndexCorruptError
from rag.store.layout import POSTINGS, ROWS, SEGMENTS, TOKENIZER, VECTORS
from rag.store.rows import chunk_texts, row_meta
from rag.store.vectors import FaissVectors, VectorIndex
from rag.types import Article, Chunk

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredChunk:
    row: int
    chunk: Chunk


class Counted:
    """A reference count for what readers share: the owner holds one reference and each reader
    one more (acquire()/release()); the last release frees the resources (``_free``). ``close``
    frees them at once (the owner of something nobody else reads); it is safe to call twice."""

    def _count_references(self) -> None:
        self._refs = 1
        self._refs_lock = threading.Lock()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def acquire(self) -> bool:
        """One more reader; False when already closed (nothing acquired)."""
        with self._refs_lock:
            if self._closed:
                return False
            self._refs += 1
            return True

    def release(self) -> None:
        """A reader (or the owner) is done; the last one closes."""
        with self._refs_lock:
            self._refs -= 1
            last = self._refs <= 0
        if last:
            self.close()

    def close(self) -> None:
        with self._refs_lock:
            if self._closed:
                return
            self._closed = True
        self._free()

    def _free(self) -> None:
        raise NotImplementedError


class Segment(Counted):
    """One immutable segment of the index, loaded: its SQLite rows (row = position in the
    segment), vectors (``faiss``: a VectorIndex; None for a BM25-only index) and BM25 postings. Segments are shared
    by the snapshots that list them (a new generation reuses the loaded segments of the one
    before), so their lifetime is counted: each snapshot holds one reference
    (acquire()/release()), and the SQLite connection, FAISS and postings are dropped when the
    last one is released."""

    def __init__(
        self, root: Path, seg_dir: Path, meta: dict, faiss_index: VectorIndex | None, bm25
    ) -> None:
        self.root = root
        self.gen_dir = seg_dir  # the folder its files are in (the name the queries below use)
        self.manifest = meta
        self.faiss = faiss_index
        self.bm25 = bm25
        # One connection, used by many threads: sqlite3 is built serialized here (threadsafety
        # 3), and _query also serializes it, so the shared statement cache and cursors of the
        # Python module are never used by two threads at once. Queries take milliseconds.
        self._db = sqlite3.connect(
            f"file:{seg_dir / ROWS}?mode=ro", uri=True, check_same_thread=False
        )
        self._db_lock = threading.Lock()
        # site, byline, credit, url as JSON; indexes written before it have no such column.
        columns = {r[1] for r in self._query("PRAGMA table_info(articles)")}
        self._meta = "meta" if "meta" in columns else "NULL"
        self._count_references()

    @classmethod
    def open(cls, root: Path, entry: dict, *, vectors: bool, rebuild: str) -> Segment:
        """Load the segment a manifest ``entry`` lists, checking that its rows, vectors (when
        ``vectors``: the index has a model) and postings agree with the entry; IndexCorruptError
        (ending with ``rebuild``, the how-to) when they do not."""
        seg_dir = root / SEGMENTS / entry["name"]
        n = int(entry["rows"])
        if not (seg_dir / ROWS).exists():
            raise IndexCorruptError(f"index {root}: the SQLite rows are missing: {rebuild}")
        faiss_index = None
        if vectors:
            try:
                faiss_index = FaissVectors.load(seg_dir / VECTORS)
            except ImportError:
                raise
            except Exception:  # noqa: BLE001 - faiss raises RuntimeError for any damage
                raise IndexCorruptError(
                    f"index {root}: the FAISS file is missing or damaged: {rebuild}"
                ) from None
            if faiss_index.ntotal != n:
                raise IndexCorruptError(
                    f"index {root}: FAISS has {faiss_index.ntotal} vectors but the manifest "
                    f"says {n} passages: {rebuild}"
                )
        try:
            postings = Postings.load(seg_dir / POSTINGS)
        except Exception:  # noqa: BLE001
            raise IndexCorruptError(
                f"index {root}: the BM25 files are damaged: {rebuild}"
            ) from None
        if postings.size != n:
            raise IndexCorruptError(f"index {root}: BM25 does not match the rows: {rebuild}")
        seg = None
        try:
            seg = cls(root, seg_dir, dict(entry), faiss_index, postings)
            rows = seg._query("SELECT COUNT(*), COALESCE(MAX(row), -1) FROM chunks")[0]
        except sqlite3.DatabaseError:
            if seg is not None:
                seg.close()
            raise IndexCorruptError(
                f"index {root}: the SQLite rows are damaged: {rebuild}"
            ) from None
        if rows[0] != n or rows[1] != n - 1:
            seg.close()
            raise IndexCorruptError(
                f"index {root}: SQLite has {rows[0]} passages, the manifest {n}: {rebuild}"
            )
        if entry.get("tokenizer", TOKENIZER) != TOKENIZER:
            log.warning(
                "segment %s was tokenized by %s; re-tokenizing its %d passages in memory",
                seg_dir,
                entry.get("tokenizer"),
                n,
            )
            seg.bm25 = Postings.build(seg.all_chunk_texts())
        return seg

    @property
    def name(self) -> str:
        return self.gen_dir.name

    @property
    def size(self) -> int:
        return int(self.manifest["rows"])

    def _free(self) -> None:
        with self._db_lock:
            self._db.close()
        # Drop the arrays now, not when the last stray reference goes: RSS follows generations.
        self.faiss = None
        self.bm25 = None

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._db_lock:
            return self._db.execute(sql, params).fetchall()

    def chunks(self, rows: Sequence[int]) -> list[StoredChunk]:
        """The chunks at ``rows`` (FAISS/BM25 positions), in the order asked."""
        if not rows:
            return []
        marks = ",".join("?" * len(rows))
        cur = self._query(
            f"SELECT c.row, c.article_id, c.idx, c.text, c.start, c.end, a.title "
            f"FROM chunks c JOIN articles a ON a.id = c.article_id WHERE c.row IN ({marks})",
            [int(r) for r in rows],
        )
        found = {r[0]: StoredChunk(r[0], Chunk(r[1], r[2], r[3], r[4], r[5], r[6])) for r in cur}
        return [found[r] for r in rows if r in found]

    def article(self, article_id: str) -> Article | None:
        rows = self._query(
            f"SELECT id, title, text, source, date, {self._meta} FROM articles WHERE id = ?",
            (article_id,),
        )
        if not rows:
            return None
        *fields, meta = rows[0]
        return Article(*fields, **row_meta(meta))

    def article_meta(self, article_ids: Sequence[str]) -> dict[str, dict]:
        if not article_ids:
            return {}
        ids = list(dict.fromkeys(article_ids))
        marks = ",".join("?" * len(ids))
        cur = self._query(
            f"SELECT id, title, source, date, {self._meta} FROM articles WHERE id IN ({marks})",
            ids,
        )
        return {
            r[0]: {"title": r[1], "source": r[2], "date": r[3], "meta": row_meta(r[4])} for r in cur
        }

    def articles(self) -> list[dict]:
        cur = self._query(
            f"SELECT a.id, a.title, a.source, a.date, COUNT(c.row), length(a.text), "
            f"{'a.meta' if self._meta == 'meta' else 'NULL'} "
            "FROM articles a LEFT JOIN chunks c ON c.article_id = a.id "
            "GROUP BY a.id ORDER BY a.added_at, a.id"
        )
        return [
            {
                "id": r[0],
                "title": r[1],
                "source": r[2],
                "date": r[3],
                "chunks": r[4],
                "chars": r[5],
                **row_meta(r[6]),
            }
            for r in cur
        ]

    def has_article(self, article_id: str) -> bool:
        return bool(self._query("SELECT 1 FROM articles WHERE id = ?", (article_id,)))

    def rows_of(self, article_ids: Sequence[str]) -> list[int]:
        """The chunk rows of these articles."""
        if not article_ids:
            return []
        marks = ",".join("?" * len(article_ids))
        q = f"SELECT row FROM chunks WHERE article_id IN ({marks})"
        return [r[0] for r in self._query(q, list(article_ids))]

    def all_chunk_texts(self) -> Iterator[tuple[str, str]]:
        # Streamed through a connection of its own: holding _db_lock across yields would stall
        # every other reader of this snapshot for the whole scan.
        return chunk_texts(self.gen_dir)

    def row_span(self) -> tuple[int, int, int]:
        """(rows, lowest row, highest row) as rows.sqlite holds them ((0, 0, -1) when empty)."""
        count, lo, hi = self._query(
            "SELECT COUNT(*), COALESCE(MIN(row), 0), COALESCE(MAX(row), -1) FROM chunks"
        )[0]
        return count, lo, hi

    def vectors(self) -> np.ndarray | None:
        """Every row's vector, in order (None for a BM25-only index)."""
        return None if self.faiss is None else self.faiss.vectors()
