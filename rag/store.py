"""The index directory: immutable segments (SQLite rows, FAISS vectors, BM25 postings) listed
by a manifest, one generation at a time.

Layout::

    <index>/CURRENT                 name of the live generation ("gen-000012")
    <index>/gen-000012/manifest.json  model, chunking, versions, counts, and the live segments in
                                    order, each with its tombstones (articles deleted since)
    <index>/segments/seg-000007/    rows.sqlite, vectors.faiss (absent: BM25 only), bm25/,
                                    segment.json
    <index>/.write.lock             held by the one writer

A write never touches a live segment: an ingest writes one new segment and a new manifest in
temporary folders, then switches CURRENT with an atomic rename; a delete writes only a manifest
with a tombstone; a merge writes one segment for several and a manifest without them. A crash at
any point leaves the old generation intact (leftovers are swept by the next writer), and
readers keep answering from the snapshot they leased. Positions (chunk rows, FAISS ids, BM25
documents) run over the segments in manifest order.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import math
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from rag import __version__
from rag.errors import (
    IndexBusyError,
    IndexCorruptError,
    IndexMissingError,
    InputError,
    StorageError,
)
from rag.lexical import BM25Index, Postings
from rag.types import Article, Chunk

FORMAT = 2
# Segment folders, under the index directory.
SEGMENTS = "segments"
log = logging.getLogger(__name__)
TOKENIZER = "nfc-lower-tone-syllables+bigrams+folded+title/3"
# Above this many vectors an approximate FAISS index (HNSW) replaces exact search; the
# RAG_FAISS_THRESHOLD environment variable moves the threshold. Exact search costs ~10 ms per
# query at 133k x 384 on 2 cores, so below ~200k it is both exact and fast enough.
HNSW_THRESHOLD = 200_000
# HNSW parameters: recall@10 against exact search 0.991 at efSearch 128 (0.989 at 96) over all
# 110,883 VNTC passage vectors (MiniLM; benchmarks/README.md); efSearch is saved in the file.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 128
HNSW_EF_SEARCH = 128

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    source TEXT NOT NULL,
    date TEXT,
    text TEXT NOT NULL,
    added_at REAL NOT NULL,
    meta TEXT
);
CREATE TABLE IF NOT EXISTS chunks (
    row INTEGER PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES articles(id),
    idx INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    text TEXT NOT NULL,
    text_sha1 TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
"""


def faiss_threshold() -> int:
    """Vectors at which "auto" switches from exact to HNSW (RAG_FAISS_THRESHOLD overrides)."""
    raw = os.environ.get("RAG_FAISS_THRESHOLD", "")
    try:
        return int(raw) if raw.strip() else HNSW_THRESHOLD
    except ValueError:
        raise InputError(f"RAG_FAISS_THRESHOLD={raw!r} is not a whole number of vectors") from None


def make_faiss_index(dim: int, n: int, kind: str = "auto"):
    """Exact inner-product search while small; HNSW from faiss_threshold() vectors on.
    Returns (index, kind) where kind is recorded in the manifest (with faiss_params(kind))."""
    import faiss

    if kind == "auto":
        kind = "hnsw" if n >= faiss_threshold() else "flat"
    if kind == "flat":
        return faiss.IndexFlatIP(dim), kind
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
        return index, kind
    raise ValueError(f"unknown FAISS index kind {kind!r}: use auto, flat or hnsw")


def faiss_params(kind: str | None) -> dict[str, Any] | None:
    """What the manifest records about the FAISS index besides its kind."""
    if kind is None:
        return None
    params: dict[str, Any] = {"threshold": faiss_threshold()}
    if kind == "hnsw":
        params.update(M=HNSW_M, efConstruction=HNSW_EF_CONSTRUCTION, efSearch=HNSW_EF_SEARCH)
    return params


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    for p in sorted(path.rglob("*")):
        if p.is_file():
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())
    _fsync_dir(path)


# SQLite's primary result codes for the same faults (sqlite3 reports them, not an errno).
_SQLITE_ERRNO = {13: errno.ENOSPC, 8: errno.EROFS, 3: errno.EACCES, 10: errno.EIO, 14: errno.EACCES}
MB = 2**20


def storage_errno(exc: BaseException) -> int | None:
    """The errno behind a failed write (OSError, or sqlite3's own codes); None for others."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc.errno
    if isinstance(exc, sqlite3.OperationalError | sqlite3.DatabaseError):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None and code & 0xFF in _SQLITE_ERRNO:
            return _SQLITE_ERRNO[code & 0xFF]
        if "disk is full" in str(exc):
            return errno.ENOSPC
    return None


def storage_error(exc: BaseException, what: str, path: Path, need: int) -> StorageError | None:
    """The one-line StorageError for a write that failed with ``exc`` (None if ``exc`` is not a
    storage fault). ``need``: bytes the write needs, for "free N MB" (what is free is
    subtracted, so call it after the temporary files are removed)."""
    code = storage_errno(exc)
    if code is None:
        return None
    where = f"while {what} at {path}"
    again = "run the same command again"
    if code in (errno.ENOSPC, errno.EDQUOT):
        try:
            free = shutil.disk_usage(_existing_parent(path)).free
        except OSError:
            free = 0
        mb = max(1, math.ceil((need - free) / MB))
        if code == errno.ENOSPC:
            msg = f"no space left on device {where}; free {mb} MB and {again}"
        else:
            msg = f"disk quota exceeded {where}; free {mb} MB (or raise the quota) and {again}"
    elif code == errno.EROFS:
        msg = f"read-only file system {where}; use a writable location and {again}"
    elif code in (errno.EACCES, errno.EPERM):
        msg = f"permission denied {where}; make it writable (or use another location) and {again}"
    else:
        msg = f"{os.strerror(code).lower()} {where}; check the disk and {again}"
    err = StorageError(msg)
    err.errno = code  # type: ignore[attr-defined]
    return err


def _existing_parent(path: Path) -> Path:
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def generation_bytes(base: Snapshot | None, add: Sequence[tuple[Article, Sequence[Chunk]]], dim):
    """About what writing a generation takes on disk: the base copied, the new text twice
    (SQLite rows and BM25), the new vectors, and a margin for SQLite's journal."""
    old = 0
    if base is not None:
        old = (
            sum(p.stat().st_size for p in base.gen_dir.rglob("*") if p.is_file())
            if (base.gen_dir.exists())
            else 0
        )
    text = sum(len(a.text.encode()) + sum(len(c.text.encode()) for c in cs) for a, cs in add)
    vectors = sum(len(cs) for _, cs in add) * 4 * int(dim or 0)
    return int(1.2 * (old + 2 * text + vectors)) + MB


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
    segment), FAISS vectors (None for a BM25-only index) and BM25 postings. Segments are shared
    by the snapshots that list them (a new generation reuses the loaded segments of the one
    before), so their lifetime is counted: each snapshot holds one reference
    (acquire()/release()), and the SQLite connection, FAISS and postings are dropped when the
    last one is released."""

    def __init__(self, root: Path, seg_dir: Path, meta: dict, faiss_index, bm25) -> None:
        self.root = root
        self.gen_dir = seg_dir  # the folder its files are in (the name the queries below use)
        self.manifest = meta
        self.faiss = faiss_index
        self.bm25 = bm25
        # One connection, used by many threads: sqlite3 is built serialized here (threadsafety
        # 3), and _query also serializes it, so the shared statement cache and cursors of the
        # Python module are never used by two threads at once. Queries take milliseconds.
        self._db = sqlite3.connect(
            f"file:{seg_dir / 'rows.sqlite'}?mode=ro", uri=True, check_same_thread=False
        )
        self._db_lock = threading.Lock()
        # site, byline, credit, url as JSON; indexes written before it have no such column.
        columns = {r[1] for r in self._query("PRAGMA table_info(articles)")}
        self._meta = "meta" if "meta" in columns else "NULL"
        self._count_references()

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
        return Article(*fields, **_meta(meta))

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
            r[0]: {"title": r[1], "source": r[2], "date": r[3], "meta": _meta(r[4])} for r in cur
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
                **_meta(r[6]),
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
        db = sqlite3.connect(f"file:{self.gen_dir / 'rows.sqlite'}?mode=ro", uri=True)
        try:
            yield from db.execute(
                "SELECT a.title, c.text FROM chunks c JOIN articles a ON a.id = c.article_id "
                "ORDER BY c.row"
            )
        finally:
            db.close()

    def backup_to(self, target: sqlite3.Connection) -> None:
        with self._db_lock:
            self._db.backup(target)

    def vectors(self) -> np.ndarray | None:
        if self.faiss is None:
            return None
        n = self.faiss.ntotal
        if n == 0:
            return np.zeros((0, self.faiss.d), dtype=np.float32)
        return self.faiss.reconstruct_n(0, n)


class SegmentedVectors:
    """The FAISS indexes of a snapshot's segments searched as one: each segment is searched
    for k plus its deleted rows (so k live results survive the filter), deleted rows are
    dropped, and the lists are merged by score (ties by position). Positions are the
    snapshot's: a segment's rows follow the previous segment's."""

    def __init__(self, snap: Snapshot) -> None:
        self._snap = snap
        self.ntotal = snap.size
        self.d = int(snap.manifest.get("dim") or 0)

    def search(self, queries: np.ndarray, k: int):
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        nq = len(queries)
        found_d: list[list[np.ndarray]] = [[] for _ in range(nq)]
        found_i: list[list[np.ndarray]] = [[] for _ in range(nq)]
        for seg, offset, deleted in self._snap.parts():
            index = seg.faiss
            if index is None or index.ntotal == 0:
                continue
            n_del = 0 if deleted is None else int(deleted.sum())
            kk = min(index.ntotal, k + n_del)
            dist, ids = index.search(queries, kk)
            for q in range(nq):
                ok = ids[q] >= 0
                if deleted is not None:
                    ok &= ~deleted[np.maximum(ids[q], 0)]
                found_d[q].append(dist[q][ok])
                found_i[q].append(ids[q][ok].astype(np.int64) + offset)
        out_d = np.full((nq, k), -np.inf, dtype=np.float32)
        out_i = np.full((nq, k), -1, dtype=np.int64)
        for q in range(nq):
            if not found_d[q]:
                continue
            d = np.concatenate(found_d[q])
            i = np.concatenate(found_i[q])
            order = np.lexsort((i, -d))[:k]
            out_d[q, : len(order)] = d[order]
            out_i[q, : len(order)] = i[order]
        return out_d, out_i

    def reconstruct(self, row: int) -> np.ndarray:
        seg, local = self._snap.locate(int(row))
        return seg.faiss.reconstruct(int(local))

    def reconstruct_n(self, start: int, n: int) -> np.ndarray:
        return np.vstack([self.reconstruct(r) for r in range(start, start + n)])

    def __getattr__(self, name: str):
        # The one segment's own attributes (e.g. ``hnsw``) when there is a single segment.
        segs = self.__dict__["_snap"].segments
        if len(segs) == 1 and segs[0].faiss is not None:
            return getattr(segs[0].faiss, name)
        raise AttributeError(name)


class Snapshot(Counted):
    """One loaded, read-only generation of the index: the live segments its manifest lists,
    with their tombstones (articles deleted since the segment was written), read as one.

    Positions (the ``row`` of chunks(), FAISS ids, BM25 score indices) run over the segments in
    manifest order, deleted rows included (they never come back from a search). Readers share
    a snapshot across threads. Its lifetime is counted: the owner (whoever opened it, e.g. a
    SnapshotHolder) holds one reference and each reader one more (acquire()/release()), and
    its segments are released only when the last one is, so a new generation never closes
    the files under a request that is still reading this one."""

    def __init__(self, root: Path, gen_dir: Path, manifest: dict, segments: list[Segment]):
        self.root = root
        self.gen_dir = gen_dir
        self.manifest = manifest
        self.segments = segments
        entries = manifest.get("segments", [])
        self.offsets = np.cumsum([0] + [s.size for s in segments]).astype(np.int64)
        self._deleted_ids = [frozenset(e.get("deleted", ())) for e in entries]
        self._deleted: list[np.ndarray | None] = []
        for seg, ids in zip(segments, self._deleted_ids, strict=True):
            if not ids:
                self._deleted.append(None)
                continue
            mask = np.zeros(seg.size, dtype=bool)
            mask[seg.rows_of(sorted(ids))] = True
            self._deleted.append(mask)
        self.faiss = SegmentedVectors(self) if manifest.get("model") is not None else None
        self.bm25 = BM25Index([(s.bm25, d) for s, d in zip(segments, self._deleted, strict=True)])
        self._count_references()

    @property
    def generation(self) -> str:
        return self.gen_dir.name

    @property
    def model(self) -> str | None:
        return self.manifest.get("model")

    @property
    def size(self) -> int:
        """Positions: the rows of every segment, deleted ones included."""
        return int(self.offsets[-1])

    @property
    def live(self) -> int:
        return int(self.manifest["counts"]["chunks"])

    def _free(self) -> None:
        for seg in self.segments:
            seg.release()
        self.faiss = None
        self.bm25 = None

    # ---- positions -----------------------------------------------------------------------
    def parts(self) -> Iterator[tuple[Segment, int, np.ndarray | None]]:
        """(segment, offset of its first row, deleted-rows mask or None), in order."""
        for i, seg in enumerate(self.segments):
            yield seg, int(self.offsets[i]), self._deleted[i]

    def locate(self, row: int) -> tuple[Segment, int]:
        i = int(np.searchsorted(self.offsets, row, side="right")) - 1
        if not 0 <= i < len(self.segments):
            raise IndexError(row)
        return self.segments[i], row - int(self.offsets[i])

    def is_deleted(self, row: int) -> bool:
        i = int(np.searchsorted(self.offsets, row, side="right")) - 1
        mask = self._deleted[i]
        return mask is not None and bool(mask[row - int(self.offsets[i])])

    def _live_ids(self, i: int, article_ids: Sequence[str]) -> list[str]:
        gone = self._deleted_ids[i]
        return [a for a in article_ids if a not in gone]

    # ---- rows ----------------------------------------------------------------------------
    def chunks(self, rows: Sequence[int]) -> list[StoredChunk]:
        """The live chunks at ``rows`` (positions), in the order asked."""
        by_seg: dict[int, list[int]] = {}
        for r in rows:
            r = int(r)
            i = int(np.searchsorted(self.offsets, r, side="right")) - 1
            if 0 <= i < len(self.segments):
                by_seg.setdefault(i, []).append(r - int(self.offsets[i]))
        found: dict[int, StoredChunk] = {}
        for i, local in by_seg.items():
            mask, off = self._deleted[i], int(self.offsets[i])
            for sc in self.segments[i].chunks(local):
                if mask is None or not mask[sc.row]:
                    found[sc.row + off] = StoredChunk(sc.row + off, sc.chunk)
        return [found[int(r)] for r in rows if int(r) in found]

    def article(self, article_id: str) -> Article | None:
        for i in reversed(range(len(self.segments))):
            if article_id not in self._deleted_ids[i]:
                found = self.segments[i].article(article_id)
                if found is not None:
                    return found
        return None

    def article_meta(self, article_ids: Sequence[str]) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for i, seg in enumerate(self.segments):
            out.update(seg.article_meta(self._live_ids(i, list(dict.fromkeys(article_ids)))))
        return out

    def articles(self) -> list[dict]:
        out = []
        for i, seg in enumerate(self.segments):
            gone = self._deleted_ids[i]
            out += [a for a in seg.articles() if a["id"] not in gone]
        return out

    def has_article(self, article_id: str) -> bool:
        return any(
            article_id not in self._deleted_ids[i] and seg.has_article(article_id)
            for i, seg in enumerate(self.segments)
        )

    def rows_of(self, article_ids: Sequence[str]) -> list[int]:
        """The live chunk rows (positions) of these articles."""
        out = []
        for i, seg in enumerate(self.segments):
            off = int(self.offsets[i])
            out += [r + off for r in seg.rows_of(self._live_ids(i, article_ids))]
        return out

    def all_chunk_texts(self) -> Iterator[tuple[str, str]]:
        """(title, text) of every live passage, in position order."""
        for seg, _, mask in self.parts():
            for local, pair in enumerate(seg.all_chunk_texts()):
                if mask is None or not mask[local]:
                    yield pair

    def vectors(self) -> np.ndarray | None:
        """Every position's vector (deleted rows included), in order."""
        if self.faiss is None:
            return None
        parts = [s.vectors() for s in self.segments]
        if not parts:
            return np.zeros((0, self.faiss.d), dtype=np.float32)
        return np.vstack(parts)

    def disk_bytes(self) -> int:
        dirs = [self.gen_dir] + [s.gen_dir for s in self.segments]
        return sum(
            p.stat().st_size for d in dirs if d.exists() for p in d.rglob("*") if p.is_file()
        )


class SnapshotHolder:
    """The current snapshot of a Store, shared by the threads of a server.

    ``with holder.lease() as snap:`` gives a reader the snapshot that is current when it
    starts and keeps it open until the block ends, whatever writers commit meanwhile. When
    CURRENT moves, the next lease loads the new generation (one thread loads; other readers
    keep leasing the old one meanwhile, unless they ask for ``current=True``, as writers must)
    and the old one closes when its last lease ends."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._snap: Snapshot | None = None
        self._lock = threading.Lock()  # guards _snap
        self._loading = threading.Lock()  # one loader at a time

    @contextmanager
    def lease(self, required: bool = True, *, current: bool = False) -> Iterator[Snapshot | None]:
        """The current snapshot, held open for the block; None when there is no index and
        ``required`` is false (IndexMissingError when it is true). ``current``: wait for the
        generation CURRENT names now even while another thread loads it (a writer's base)."""
        snap = self._acquire(required, current)
        try:
            yield snap
        finally:
            if snap is not None:
                snap.release()

    def peek(self) -> Snapshot | None:
        """The snapshot held now, without a lease (to compare identities, not to read)."""
        return self._snap

    def _leased(self, gen: str | None) -> Snapshot | None:
        """The held snapshot, acquired, if it is generation ``gen`` (any, if ``gen`` is None)."""
        with self._lock:
            snap = self._snap
            if snap is not None and (gen is None or snap.generation == gen) and snap.acquire():
                return snap
        return None

    def refresh(self) -> None:
        """Load the generation CURRENT names now (after a commit: the writer's next reads, and
        its client's, see what it wrote)."""
        with self.lease(required=False, current=True):
            pass

    def _acquire(self, required: bool, current: bool) -> Snapshot | None:
        gen = self.store.current_generation()
        if gen is not None and (snap := self._leased(gen)) is not None:
            return snap
        # CURRENT moved (or nothing is loaded yet). While another thread loads the new
        # generation, keep answering from the one held rather than queueing behind the load.
        if not self._loading.acquire(blocking=current):
            if gen is not None and (snap := self._leased(None)) is not None:
                return snap
            self._loading.acquire()
        try:
            gen = self.store.current_generation()
            if gen is None:
                self._install(None)
                if required:
                    self.store.open()  # raises IndexMissingError with the how-to
                return None
            if (snap := self._leased(gen)) is not None:
                return snap
            new = self.store.open(reuse=self._snap)
            new.acquire()  # the caller's lease; the holder keeps the first reference
            self._install(new)
            return new
        finally:
            self._loading.release()

    def _install(self, new: Snapshot | None) -> None:
        with self._lock:
            old, self._snap = self._snap, new
        if old is not None:
            old.release()  # the holder's reference: closes now, or when its last lease ends

    def close(self) -> None:
        """Drop the holder's reference (leases still open keep their snapshot until done)."""
        self._install(None)


def bm25_text(title: str, text: str) -> str:
    """What BM25 indexes for a passage: the title travels with it, as for embeddings."""
    return f"{title}\n{text}" if title and not text.startswith(title) else text


class Store:
    """The index directory: opens snapshots, and writes new ones under a lock."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # ---- reading -------------------------------------------------------------------------
    def exists(self) -> bool:
        return (self.root / "CURRENT").exists()

    def current_generation(self) -> str | None:
        try:
            return (self.root / "CURRENT").read_text().strip() or None
        except FileNotFoundError:
            return None

    def manifest_model(self) -> str | None:
        """The model of the current generation, from its manifest alone (nothing loaded);
        None when there is no readable index."""
        gen = self.current_generation()
        try:
            return json.loads((self.root / gen / "manifest.json").read_text()).get("model")
        except (TypeError, OSError, ValueError, AttributeError):
            return None

    def open(self, reuse: Snapshot | None = None) -> Snapshot:
        """Load the current generation. ``reuse``: a snapshot still open whose loaded segments
        the new one shares (segments are immutable), so only new segments are read."""
        # A writer may switch CURRENT and prune the generation a reader is loading; that is
        # not damage: load the new current one instead. Damage stays put and is reported.
        for _ in range(3):
            gen = self.current_generation()
            try:
                return self._open(gen, reuse)
            except IndexCorruptError:
                if self.current_generation() == gen:
                    raise
        return self._open(self.current_generation(), reuse)

    def _open(self, gen: str | None, reuse: Snapshot | None = None) -> Snapshot:
        if gen is None:
            raise IndexMissingError(
                f"no index at {self.root}: run `rag ingest PATH` first (or `rag serve`, which "
                f"indexes seeds/)"
            )
        gen_dir = self.root / gen
        rebuild = f"rebuild it with `rag ingest --rebuild PATH --index {self.root}`"
        try:
            manifest = json.loads((gen_dir / "manifest.json").read_text())
        except FileNotFoundError:
            raise IndexCorruptError(f"index {self.root} has no manifest: {rebuild}") from None
        except json.JSONDecodeError:
            raise IndexCorruptError(
                f"index {self.root} has a damaged manifest: {rebuild}"
            ) from None
        if manifest.get("format") != FORMAT:
            raise IndexCorruptError(
                f"index {self.root} has format {manifest.get('format')}, this version reads "
                f"{FORMAT}: {rebuild}"
            )
        loaded = {s.name: s for s in reuse.segments} if reuse is not None else {}
        segments: list[Segment] = []
        try:
            for entry in manifest.get("segments", []):
                seg = loaded.get(entry["name"])
                if seg is None or not seg.acquire():
                    seg = self._open_segment(entry, manifest, rebuild)
                segments.append(seg)
            snap = Snapshot(self.root, gen_dir, manifest, segments)
        except BaseException:
            for seg in segments:
                seg.release()
            raise
        if snap.bm25.live != snap.live:
            snap.close()
            raise IndexCorruptError(
                f"index {self.root}: the segments hold {snap.bm25.live} live passages, the "
                f"manifest {snap.live}: {rebuild}"
            )
        return snap

    def _open_segment(self, entry: dict, manifest: dict, rebuild: str) -> Segment:
        seg_dir = self.root / SEGMENTS / entry["name"]
        n = int(entry["rows"])
        if not (seg_dir / "rows.sqlite").exists():
            raise IndexCorruptError(f"index {self.root}: the SQLite rows are missing: {rebuild}")
        faiss_index = None
        if manifest.get("model") is not None:
            import faiss

            try:
                faiss_index = faiss.read_index(str(seg_dir / "vectors.faiss"))
            except Exception:  # noqa: BLE001 - faiss raises RuntimeError for any damage
                raise IndexCorruptError(
                    f"index {self.root}: the FAISS file is missing or damaged: {rebuild}"
                ) from None
            if faiss_index.ntotal != n:
                raise IndexCorruptError(
                    f"index {self.root}: FAISS has {faiss_index.ntotal} vectors but the manifest "
                    f"says {n} passages: {rebuild}"
                )
        try:
            postings = Postings.load(seg_dir / "bm25")
        except Exception:  # noqa: BLE001
            raise IndexCorruptError(
                f"index {self.root}: the BM25 files are damaged: {rebuild}"
            ) from None
        if postings.size != n:
            raise IndexCorruptError(f"index {self.root}: BM25 does not match the rows: {rebuild}")
        seg = None
        try:
            seg = Segment(self.root, seg_dir, dict(entry), faiss_index, postings)
            rows = seg._query("SELECT COUNT(*), COALESCE(MAX(row), -1) FROM chunks")[0]
        except sqlite3.DatabaseError:
            if seg is not None:
                seg.close()
            raise IndexCorruptError(
                f"index {self.root}: the SQLite rows are damaged: {rebuild}"
            ) from None
        if rows[0] != n or rows[1] != n - 1:
            seg.close()
            raise IndexCorruptError(
                f"index {self.root}: SQLite has {rows[0]} passages, the manifest {n}: {rebuild}"
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

    # ---- writing -------------------------------------------------------------------------
    @contextmanager
    def lock(self, timeout: float = 0.0) -> Iterator[None]:
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.root / ".write.lock"))
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            lock.acquire(timeout=timeout)
        except Timeout:  # before OSError: filelock's Timeout is a TimeoutError
            raise IndexBusyError(
                f"another process is writing the index {self.root}: wait for it to finish and try "
                f"again"
            ) from None
        except OSError as exc:
            raise storage_error(exc, "writing the index", self.root, MB) or exc from None
        try:
            yield
        finally:
            lock.release()

    def write_generation(
        self,
        *,
        base: Snapshot | None,
        add: Sequence[tuple[Article, Sequence[Chunk]]],
        vectors: np.ndarray | None,
        delete: Sequence[str] = (),
        model: str | None,
        dim: int | None,
        settings_info: dict[str, Any],
        faiss_kind: str = "auto",
    ) -> str:
        """Commit the next generation = base - delete + add and make it current. Must be
        called under lock(). ``vectors`` holds one row per chunk in ``add``, in order.

        Only what is added is written: one new segment (SQLite rows, FAISS vectors, BM25
        postings) for ``add``, and a new manifest listing the base's segments plus it; deletes
        are tombstones in the manifest until a merge rewrites their segment. ``base=None``
        starts a new index (the old one, if any, stays current until the commit). A full disk
        or any other failed write raises StorageError (one line) after removing what it wrote;
        CURRENT and the live generation are untouched."""
        self._sweep()
        entries = self._base_entries(base, model)
        for article_id in dict.fromkeys(delete):
            for i, e in enumerate(entries):
                seg = base.segments[i]
                if article_id not in e["deleted"] and seg.has_article(article_id):
                    e["deleted"].append(article_id)
                    e["live_rows"] -= len(seg.rows_of([article_id]))
        try:
            if add:
                entries.append(
                    self._new_segment(
                        base, lambda d: self._fill_segment(d, add, vectors, model, dim, faiss_kind)
                    )
                )
            return self._commit(base, entries, model, dim, settings_info)
        except (OSError, sqlite3.Error) as exc:
            need = generation_bytes(base, add, dim)
            err = storage_error(exc, "writing the index", self.root, need)
            if err is None:
                raise
            raise err from exc

    def _base_entries(self, base: Snapshot | None, model: str | None) -> list[dict]:
        if base is None:
            return []
        if base.size and (base.model is None) != (model is None):
            raise ValueError("a write cannot add or drop the vectors of an existing index")
        return [
            {**e, "deleted": list(e.get("deleted", ()))} for e in base.manifest.get("segments", [])
        ]

    def _next_segment_number(self, base: Snapshot | None) -> int:
        seg_root = self.root / SEGMENTS
        used = [int(base.manifest.get("next_segment", 1)) - 1] if base is not None else [0]
        cur = self._current_manifest()
        if cur is not None:
            used.append(int(cur.get("next_segment", 1)) - 1)
        for p in seg_root.glob("*seg-*"):
            digits = p.name.split("seg-")[1].split("-")[0]
            if digits.isdigit():
                used.append(int(digits))
        return max(used) + 1

    def _current_manifest(self) -> dict | None:
        gen = self.current_generation()
        try:
            return json.loads((self.root / gen / "manifest.json").read_text())
        except (TypeError, OSError, ValueError):
            return None

    def _new_segment(self, base: Snapshot | None, fill) -> dict:
        """Write a segment with ``fill(tmp_dir) -> entry`` into a temporary folder, make it
        durable, and rename it into place (uncommitted until a manifest lists it)."""
        number = self._next_segment_number(base)
        name = f"seg-{number:06d}"
        seg_root = self.root / SEGMENTS
        seg_root.mkdir(parents=True, exist_ok=True)
        tmp = seg_root / f".tmp-{name}-{os.getpid()}"
        try:
            tmp.mkdir()
            entry = fill(tmp)
            entry.update(name=name, tokenizer=TOKENIZER)
            (tmp / "segment.json").write_text(json.dumps(entry, indent=2, ensure_ascii=False))
            _fsync_tree(tmp)
            os.rename(tmp, seg_root / name)
            _fsync_dir(seg_root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return {**entry, "deleted": [], "live_rows": entry["rows"]}

    def _fill_segment(self, tmp, add, vectors, model, dim, faiss_kind) -> dict:
        count, n_articles = self._write_rows(tmp, None, add, ())
        kind = None
        if model is not None:
            new = np.zeros((0, dim), dtype=np.float32) if vectors is None else vectors
            if new.shape != (count, dim):
                raise ValueError(f"expected {count} vectors of dim {dim}, got {new.shape}")
            kind = _write_faiss(tmp, new, dim, faiss_kind)
        _write_bm25(tmp)
        return {"rows": count, "articles": n_articles, "faiss_index": kind}

    def _commit(self, base, entries, model, dim, settings_info) -> str:
        """Write the manifest of the next generation listing ``entries`` (segments with no live
        row left are dropped), switch CURRENT to it, then remove what no kept manifest lists."""
        entries = [e for e in entries if e["live_rows"] > 0]
        number = 1 + max(
            [0] + [int(p.name[4:]) for p in self.root.glob("gen-[0-9]*") if p.name[4:].isdigit()]
        )
        name = f"gen-{number:06d}"
        tmp = self.root / f".tmp-{name}-{os.getpid()}"
        kinds = {e.get("faiss_index") for e in entries if e.get("faiss_index")}
        kind = kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else None)
        if model is not None and kind is None:
            kind = "flat"
        seg_numbers = [int(e["name"][4:]) for e in entries]
        try:
            tmp.mkdir(parents=True)
            manifest = {
                "format": FORMAT,
                "generation": name,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "model": model,
                "dim": dim if model is not None else None,
                "normalized": True,
                "metric": "inner_product",
                "faiss_index": kind,
                "faiss_params": faiss_params(kind if kind != "mixed" else "hnsw"),
                "tokenizer": TOKENIZER,
                "counts": {
                    "articles": sum(e["articles"] - len(e["deleted"]) for e in entries),
                    "chunks": sum(e["live_rows"] for e in entries),
                },
                "segments": entries,
                "next_segment": max(
                    [self._next_segment_number(base)] + [n + 1 for n in seg_numbers]
                ),
                "settings": settings_info,
                "versions": _versions(),
            }
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
            _fsync_tree(tmp)
            final = self.root / name
            os.rename(tmp, final)
            pointer = self.root / f".CURRENT.{os.getpid()}"
            pointer.write_text(name + "\n")
            with open(pointer, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(pointer, self.root / "CURRENT")  # the commit point
            _fsync_dir(self.root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            (self.root / f".CURRENT.{os.getpid()}").unlink(missing_ok=True)
            # Renamed into place but never made current (the pointer could not be written).
            if self.current_generation() != name:
                shutil.rmtree(self.root / name, ignore_errors=True)
                self._sweep_segments()
            raise
        self._prune(keep=name)
        return name

    # ---- merges --------------------------------------------------------------------------
    def merge(self, base: Snapshot, start: int, stop: int) -> str:
        """Replace segments [start, stop) of ``base`` (the current snapshot, under lock()) by
        one segment of their live rows, in order, and commit. Nothing is tokenized or encoded
        again: rows are copied by SQLite, vectors by FAISS, postings merged."""
        self._sweep()
        entries = self._base_entries(base, base.model)
        parts = list(base.parts())[start:stop]

        def fill(tmp: Path) -> dict:
            count, n_articles = _merge_rows(tmp, parts)
            kind = None
            if base.model is not None:
                dim = int(base.manifest["dim"])
                vecs = [
                    seg.vectors() if mask is None else seg.vectors()[~mask]
                    for seg, _, mask in parts
                ]
                allv = np.vstack(vecs) if vecs else np.zeros((0, dim), dtype=np.float32)
                kind = _write_faiss(tmp, allv, dim, "auto")
            postings = Postings.merge(
                [(seg.bm25, None if mask is None else ~mask) for seg, _, mask in parts]
            )
            postings.save(tmp / "bm25")
            if postings.size != count:
                raise ValueError(f"merged {postings.size} BM25 documents for {count} rows")
            return {"rows": count, "articles": n_articles, "faiss_index": kind}

        merged = self._new_segment(base, fill)
        entries[start:stop] = [merged]
        return self._commit(
            base, entries, base.model, base.manifest.get("dim"), base.manifest.get("settings", {})
        )

    def _write_rows(self, tmp, base, add, delete):
        db_path = tmp / "rows.sqlite"
        db = sqlite3.connect(db_path)
        try:
            if base is not None:
                base.backup_to(db)
            db.executescript(SCHEMA)
            if "meta" not in {r[1] for r in db.execute("PRAGMA table_info(articles)")}:
                db.execute("ALTER TABLE articles ADD COLUMN meta TEXT")  # an older base
            with db:
                if delete:
                    marks = ",".join("?" * len(delete))
                    db.execute(f"DELETE FROM chunks WHERE article_id IN ({marks})", list(delete))
                    db.execute(f"DELETE FROM articles WHERE id IN ({marks})", list(delete))
                    # Renumber so that row i is again FAISS vector i and BM25 document i.
                    db.execute("CREATE TEMP TABLE kept AS SELECT row FROM chunks ORDER BY row")
                    db.execute(
                        "UPDATE chunks SET row = -1 - (SELECT COUNT(*) FROM kept k "
                        "WHERE k.row < chunks.row)"
                    )
                    db.execute("UPDATE chunks SET row = -1 - row")
                (start,) = db.execute("SELECT COUNT(*) FROM chunks").fetchone()
                now = time.time()
                row = start
                for article, chunks in add:
                    db.execute(
                        "INSERT INTO articles (id, title, source, date, text, added_at, meta) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            article.id,
                            article.title,
                            article.source,
                            article.date,
                            article.text,
                            now,
                            json.dumps(article.meta(), ensure_ascii=False) or None,
                        ),
                    )
                    for c in chunks:
                        db.execute(
                            "INSERT INTO chunks (row, article_id, idx, start, end, text, text_sha1) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (row, c.article_id, c.index, c.start, c.end, c.text, _sha1(c.text)),
                        )
                        row += 1
            count = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            n_articles = db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        finally:
            db.close()
        return count, n_articles

    def _sweep(self) -> None:
        """Remove what writers that died left behind (we hold the lock): temporary folders,
        generations newer than CURRENT (renamed into place, never committed), and segments that
        no kept manifest lists (written, never committed; or merged away)."""
        for p in self.root.glob(".tmp-gen-*"):
            shutil.rmtree(p, ignore_errors=True)
        for p in (self.root / SEGMENTS).glob(".tmp-seg-*"):
            shutil.rmtree(p, ignore_errors=True)
        for p in self.root.glob(".vector-cache/*/.part-*"):
            p.unlink(missing_ok=True)
        for p in self.root.glob(".CURRENT.*"):
            p.unlink(missing_ok=True)
        # A writer killed between renaming its generation into place and switching CURRENT
        # leaves a generation newer than CURRENT that was never committed: drop it, or _prune
        # would keep it and delete the live one's predecessor instead.
        current = self.current_generation()
        live = int(current[4:]) if current and current[4:].isdigit() else 0
        for p in self.root.glob("gen-[0-9]*"):
            if p.name[4:].isdigit() and int(p.name[4:]) > live:
                shutil.rmtree(p, ignore_errors=True)
        self._sweep_segments()

    def _sweep_segments(self) -> None:
        """Remove the segments that no generation on disk lists (CURRENT's and the one kept
        before it). Removed only after the switch, so a reader of either still finds its
        files, and a reader of an older one holds them open."""
        listed: set[str] = set()
        for g in self.root.glob("gen-[0-9]*"):
            try:
                m = json.loads((g / "manifest.json").read_text())
            except (OSError, ValueError):
                continue
            listed.update(e["name"] for e in m.get("segments", []))
        current = self.current_generation()
        if current is not None and not (self.root / current / "manifest.json").exists():
            return  # a damaged index: keep every file for the rebuild to replace
        for p in (self.root / SEGMENTS).glob("seg-*"):
            if p.name not in listed:
                shutil.rmtree(p, ignore_errors=True)

    def _prune(self, keep: str) -> None:
        """Keep the new generation and the one before it (a reader may still be loading it),
        then the segments they list."""
        gens = sorted(p for p in self.root.glob("gen-[0-9]*") if p.is_dir())
        for p in gens[:-2]:
            if p.name != keep:
                shutil.rmtree(p, ignore_errors=True)
        self._sweep_segments()

    def destroy(self) -> None:
        """Remove every generation and segment (for --rebuild); the caller holds the lock."""
        (self.root / "CURRENT").unlink(missing_ok=True)
        for p in self.root.glob("gen-[0-9]*"):
            shutil.rmtree(p, ignore_errors=True)
        shutil.rmtree(self.root / SEGMENTS, ignore_errors=True)


# Merge policy (as Lucene's log merge policy: adjacent segments, so positions keep their
# order): segments are grouped in tiers by live rows, tier t holding MERGE_FLOOR * F^t to
# MERGE_FLOOR * F^(t+1) rows (everything below MERGE_FLOOR is tier 0); MERGE_FACTOR adjacent
# segments of one tier are merged into one (of about the next tier). Each row is rewritten
# about log_F(n / MERGE_FLOOR) times over the life of an index of n rows. A segment with
# MERGE_DELETED of its rows deleted is rewritten alone to drop them.
MERGE_FACTOR = 8
MERGE_FLOOR = 512
MERGE_DELETED = 0.3


def segment_tier(rows: int) -> int:
    return int(math.log(max(rows, MERGE_FLOOR) / MERGE_FLOOR, MERGE_FACTOR) + 1e-9)


def plan_merge(entries: Sequence[dict], full: bool = False) -> tuple[int, int] | None:
    """The next merge for a manifest's segment list: (start, stop), segments [start, stop)
    merged into one; None when the policy has nothing to do. ``full``: everything into one
    segment without deleted rows (`rag index optimize --full`)."""
    if full:
        if len(entries) > 1 or any(e.get("deleted") for e in entries):
            return 0, len(entries)
        return None
    tiers = [segment_tier(int(e["live_rows"])) for e in entries]
    start = 0
    for i in range(1, len(tiers) + 1):
        if i == len(tiers) or tiers[i] != tiers[start]:
            if i - start >= MERGE_FACTOR:
                return start, start + MERGE_FACTOR
            start = i
    for i, e in enumerate(entries):
        if e.get("deleted") and 1 - int(e["live_rows"]) / max(1, int(e["rows"])) >= MERGE_DELETED:
            return i, i + 1
    return None


class VectorCache:
    """Passage vectors encoded for a write that has not committed yet, kept in the index
    directory (``.vector-cache/<key>/part-N.npz``: text sha1s + float32 vectors) so that a
    rerun after a failed write (full disk, kill) encodes nothing it had already encoded.
    ``key`` names the model and backend that made the vectors; the writer clears the cache
    after its commit. Only the lock holder touches it."""

    def __init__(self, root: Path, key: str) -> None:
        self.dir = Path(root) / ".vector-cache" / hashlib.sha1(key.encode()).hexdigest()[:16]

    def load(self) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for part in sorted(self.dir.glob("part-*.npz")):
            try:
                with np.load(part, allow_pickle=False) as z:
                    keys, vecs = z["keys"], z["vectors"]
            except (OSError, ValueError, KeyError):
                continue  # a part cut short by a crash: its passages are encoded again
            if vecs.ndim == 2 and len(keys) == len(vecs):
                found.update(zip((k.decode() for k in keys), vecs, strict=True))
        return found

    def add(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Append one part; written to a temporary name, then renamed (never half a part)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        n = len(list(self.dir.glob("part-*.npz")))
        tmp = self.dir / f".part-{n:06d}.{os.getpid()}.npz"
        try:
            with open(tmp, "wb") as fh:
                np.savez(fh, keys=np.array(keys, dtype="S40"), vectors=vectors.astype(np.float32))
            os.replace(tmp, self.dir / f"part-{n:06d}.npz")
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def clear(self) -> None:
        shutil.rmtree(self.dir.parent, ignore_errors=True)


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def _write_faiss(directory: Path, vectors: np.ndarray, dim: int, faiss_kind: str) -> str:
    """A segment's FAISS index of ``vectors`` (exact while small, HNSW from the threshold on)."""
    import faiss

    index, kind = make_faiss_index(dim, len(vectors), faiss_kind)
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    # Through a Python file: faiss.write_index(path) only prints a failed fclose (a full
    # disk) and returns, leaving a truncated file that would then be committed.
    with open(directory / "vectors.faiss", "wb") as fh:
        faiss.write_index(index, faiss.PyCallbackIOWriter(lambda b: fh.write(b)))
    return kind


def _merge_rows(directory: Path, parts) -> tuple[int, int]:
    """The live rows of ``parts`` ((segment, offset, deleted mask)) copied, in order, into a new
    rows.sqlite: chunks renumbered from 0, deleted articles left out."""
    db = sqlite3.connect(directory / "rows.sqlite")
    try:
        db.executescript(SCHEMA)
        columns = [r[1] for r in db.execute("PRAGMA table_info(articles)")]
        start = 0
        for seg, _, mask in parts:
            db.execute("ATTACH DATABASE ? AS src", (f"file:{seg.gen_dir / 'rows.sqlite'}?mode=ro",))
            try:
                have = {r[1] for r in db.execute("PRAGMA src.table_info(articles)")}
                cols = ",".join(c for c in columns if c in have)
                deleted_rows = set() if mask is None else set(np.flatnonzero(mask).tolist())
                with db:
                    db.execute("CREATE TEMP TABLE IF NOT EXISTS gone (row INTEGER PRIMARY KEY)")
                    db.execute("DELETE FROM gone")
                    db.executemany("INSERT INTO gone VALUES (?)", [(r,) for r in deleted_rows])
                    db.execute(
                        f"INSERT INTO articles ({cols}) SELECT {cols} FROM src.articles "
                        f"WHERE id IN (SELECT DISTINCT article_id FROM src.chunks "
                        f"WHERE row NOT IN (SELECT row FROM gone))"
                    )
                    db.execute(
                        "INSERT INTO chunks (row, article_id, idx, start, end, text, text_sha1) "
                        "SELECT ? + ROW_NUMBER() OVER (ORDER BY row) - 1, article_id, idx, start, "
                        "end, text, text_sha1 FROM src.chunks "
                        "WHERE row NOT IN (SELECT row FROM gone) ORDER BY row",
                        (start,),
                    )
                start = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            finally:
                db.execute("DETACH DATABASE src")
        n_articles = db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    finally:
        db.close()
    return start, n_articles


def _write_bm25(gen_dir: Path) -> None:
    """BM25 postings of the segment's rows in row order, streamed from SQLite: (title, text) pairs
    (rag.lexical weights the title field), never all in memory at once."""
    db = sqlite3.connect(gen_dir / "rows.sqlite")
    try:
        rows = db.execute(
            "SELECT a.title, c.text FROM chunks c JOIN articles a ON a.id = c.article_id "
            "ORDER BY c.row"
        )
        Postings.build(rows).save(gen_dir / "bm25")
    finally:
        db.close()


def _meta(raw: str | None) -> dict[str, str]:
    """The site/byline/credit/url a row's meta column holds ({} for none)."""
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    keys = ("site", "byline", "credit", "url")
    return {k: str(data[k]) for k in keys if isinstance(data, dict) and data.get(k)}


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"rag": __version__}
    for pkg in ("faiss-cpu", "bm25s", "sentence-transformers", "langchain-text-splitters"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out
