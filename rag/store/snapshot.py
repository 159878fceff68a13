"""Snapshots: one generation of the index, loaded and read as one (Snapshot, with its segments'
vectors searched as one by SegmentedVectors), and the current one shared by a server's threads
(SnapshotHolder)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.bm25 import BM25Index
from rag.store.segment import Counted, Segment, StoredChunk
from rag.types import Article

if TYPE_CHECKING:
    from rag.store.writer import Store


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
            dist, ids = index.search(queries, k, deleted)  # deleted rows come back as -1
            for q in range(nq):
                ok = ids[q] >= 0
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
        # The one segment's FAISS attributes (e.g. ``hnsw``) when there is a single segment.
        segs = self.__dict__["_snap"].segments
        if len(segs) == 1 and segs[0].faiss is not None:
            return getattr(segs[0].faiss.index, name)
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

    def segment_rows(self, article_id: str) -> list[int | None]:
        """Per segment, in order: how many rows ``article_id`` has there, tombstoned or not
        (None: the segment does not hold the article). What a delete's tombstones count."""
        return [
            len(seg.rows_of([article_id])) if seg.has_article(article_id) else None
            for seg in self.segments
        ]

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
