"""The index directory: FAISS vectors + SQLite rows + BM25 + a manifest, as one snapshot.

Layout::

    <index>/CURRENT            name of the live generation ("gen-000003")
    <index>/gen-000003/        manifest.json, rows.sqlite, vectors.faiss (absent: BM25 only), bm25/
    <index>/.write.lock        held by the one writer

A write never touches the live generation: it builds the next one in a temporary folder, then
switches CURRENT with an atomic rename. A crash at any point leaves the old snapshot intact
(leftover temporary folders are swept by the next writer), and readers keep answering from the
snapshot they loaded until they see CURRENT change. Row i of SQLite's chunks table, vector i of
FAISS and document i of BM25 are the same passage in every generation.
"""

from __future__ import annotations

import errno
import hashlib
import json
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
from rag.lexical import BM25Index
from rag.types import Article, Chunk

FORMAT = 1
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
    added_at REAL NOT NULL
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


class Snapshot:
    """One loaded, read-only generation of the index.

    Readers share it across threads. Its lifetime is counted: the owner (whoever opened it, e.g.
    a SnapshotHolder) holds one reference and each reader one more (acquire()/release()), and
    the SQLite connection, FAISS and BM25 are dropped only when the last one is released, so a
    new generation never closes the files under a request that is still reading this one."""

    def __init__(self, root: Path, gen_dir: Path, manifest: dict, faiss_index, bm25: BM25Index):
        self.root = root
        self.gen_dir = gen_dir
        self.manifest = manifest
        self.faiss = faiss_index
        self.bm25 = bm25
        # One connection, used by many threads: sqlite3 is built serialized here (threadsafety
        # 3), and _query also serializes it, so the shared statement cache and cursors of the
        # Python module are never used by two threads at once. Queries take milliseconds.
        self._db = sqlite3.connect(
            f"file:{gen_dir / 'rows.sqlite'}?mode=ro", uri=True, check_same_thread=False
        )
        self._db_lock = threading.Lock()
        self._refs = 1
        self._refs_lock = threading.Lock()
        self._closed = False

    @property
    def generation(self) -> str:
        return self.gen_dir.name

    @property
    def model(self) -> str | None:
        return self.manifest.get("model")

    @property
    def size(self) -> int:
        return int(self.manifest["counts"]["chunks"])

    @property
    def closed(self) -> bool:
        return self._closed

    def acquire(self) -> bool:
        """One more reader; False when the snapshot is already closed (nothing acquired)."""
        with self._refs_lock:
            if self._closed:
                return False
            self._refs += 1
            return True

    def release(self) -> None:
        """A reader (or the owner) is done; the last one closes the snapshot."""
        with self._refs_lock:
            self._refs -= 1
            last = self._refs <= 0
        if last:
            self.close()

    def close(self) -> None:
        """Close at once (the owner of a snapshot nobody else reads); safe to call twice."""
        with self._refs_lock:
            self._closed = True
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
            "SELECT id, title, text, source, date FROM articles WHERE id = ?", (article_id,)
        )
        return Article(*rows[0]) if rows else None

    def article_meta(self, article_ids: Sequence[str]) -> dict[str, dict]:
        if not article_ids:
            return {}
        ids = list(dict.fromkeys(article_ids))
        marks = ",".join("?" * len(ids))
        cur = self._query(
            f"SELECT id, title, source, date FROM articles WHERE id IN ({marks})", ids
        )
        return {r[0]: {"title": r[1], "source": r[2], "date": r[3]} for r in cur}

    def articles(self) -> list[dict]:
        cur = self._query(
            "SELECT a.id, a.title, a.source, a.date, COUNT(c.row), length(a.text) "
            "FROM articles a LEFT JOIN chunks c ON c.article_id = a.id "
            "GROUP BY a.id ORDER BY a.added_at, a.id"
        )
        return [
            {"id": r[0], "title": r[1], "source": r[2], "date": r[3], "chunks": r[4], "chars": r[5]}
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
            new = self.store.open()
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

    def open(self) -> Snapshot:
        # A writer may switch CURRENT and prune the generation a reader is loading; that is
        # not damage: load the new current one instead. Damage stays put and is reported.
        for _ in range(3):
            gen = self.current_generation()
            try:
                return self._open(gen)
            except IndexCorruptError:
                if self.current_generation() == gen:
                    raise
        return self._open(self.current_generation())

    def _open(self, gen: str | None) -> Snapshot:
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
        n = int(manifest.get("counts", {}).get("chunks", -1))
        faiss_index = None
        if manifest.get("model") is not None:
            import faiss

            try:
                faiss_index = faiss.read_index(str(gen_dir / "vectors.faiss"))
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
            bm25 = BM25Index.load(gen_dir / "bm25")
        except Exception:  # noqa: BLE001
            raise IndexCorruptError(
                f"index {self.root}: the BM25 files are damaged: {rebuild}"
            ) from None
        if n > 0 and bm25.size != n:
            raise IndexCorruptError(f"index {self.root}: BM25 does not match the rows: {rebuild}")
        if not (gen_dir / "rows.sqlite").exists():
            raise IndexCorruptError(f"index {self.root}: the SQLite rows are missing: {rebuild}")
        snap = Snapshot(self.root, gen_dir, manifest, faiss_index, bm25)
        try:
            rows = snap._query("SELECT COUNT(*), COALESCE(MAX(row), -1) FROM chunks")[0]
        except sqlite3.DatabaseError:
            snap.close()
            raise IndexCorruptError(
                f"index {self.root}: the SQLite rows are damaged: {rebuild}"
            ) from None
        if rows[0] != n or rows[1] != n - 1:
            snap.close()
            raise IndexCorruptError(
                f"index {self.root}: SQLite has {rows[0]} passages, the manifest {n}: {rebuild}"
            )
        return snap

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
        """Write the next generation = base - delete + add, then make it current.
        Must be called under lock(). ``vectors`` holds one row per chunk in ``add``, in order.
        A full disk or any other failed write raises StorageError (one line) after removing the
        temporary generation; CURRENT and the live generation are untouched."""
        self._sweep()
        number = 1 + max(
            [0] + [int(p.name[4:]) for p in self.root.glob("gen-[0-9]*") if p.name[4:].isdigit()]
        )
        name = f"gen-{number:06d}"
        tmp = self.root / f".tmp-{name}-{os.getpid()}"
        try:
            return self._write_generation(
                tmp, name, base, add, vectors, delete, model, dim, settings_info, faiss_kind
            )
        except (OSError, sqlite3.Error) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            (self.root / f".CURRENT.{os.getpid()}").unlink(missing_ok=True)
            need = generation_bytes(base, add, dim)
            err = storage_error(exc, "writing the index", self.root, need)
            if err is None:
                raise
            raise err from exc

    def _write_generation(
        self, tmp, name, base, add, vectors, delete, model, dim, settings_info, faiss_kind
    ) -> str:
        tmp.mkdir(parents=True)
        try:
            count, n_articles = self._write_rows(tmp, base, add, delete)
            kind = None
            if model is not None:
                kind = self._write_vectors(tmp, base, add, vectors, delete, dim, count, faiss_kind)
            _write_bm25(tmp)
            (tmp / "bm25").mkdir(exist_ok=True)
            manifest = {
                "format": FORMAT,
                "generation": name,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "model": model,
                "dim": dim if model is not None else None,
                "normalized": True,
                "metric": "inner_product",
                "faiss_index": kind,
                "faiss_params": faiss_params(kind),
                "tokenizer": TOKENIZER,
                "counts": {"articles": n_articles, "chunks": count},
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
            # Renamed into place but never made current (the pointer could not be written).
            if self.current_generation() != name:
                shutil.rmtree(self.root / name, ignore_errors=True)
            raise
        self._prune(keep=name)
        return name

    def _write_rows(self, tmp, base, add, delete):
        db_path = tmp / "rows.sqlite"
        db = sqlite3.connect(db_path)
        try:
            if base is not None:
                base.backup_to(db)
            db.executescript(SCHEMA)
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
                        "INSERT INTO articles (id, title, source, date, text, added_at) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (
                            article.id,
                            article.title,
                            article.source,
                            article.date,
                            article.text,
                            now,
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

    def _write_vectors(self, tmp, base, add, vectors, delete, dim, count, faiss_kind):
        import faiss

        new = np.zeros((0, dim), dtype=np.float32) if vectors is None else vectors
        n_new = sum(len(chunks) for _, chunks in add)
        if new.shape != (n_new, dim):
            raise ValueError(f"expected {n_new} vectors of dim {dim}, got {new.shape}")
        old = base.vectors() if base is not None and base.faiss is not None else None
        if old is not None and delete:
            keep = np.ones(old.shape[0], dtype=bool)
            keep[base.rows_of(delete)] = False
            old = old[keep]
        allv = new if old is None else np.vstack([old, new])
        if allv.shape[0] != count:
            raise ValueError(f"{allv.shape[0]} vectors for {count} passages")
        index, kind = make_faiss_index(dim, count, faiss_kind)
        if count:
            index.add(np.ascontiguousarray(allv, dtype=np.float32))
        # Through a Python file: faiss.write_index(path) only prints a failed fclose (a full
        # disk) and returns, leaving a truncated file that would then be committed.
        with open(tmp / "vectors.faiss", "wb") as fh:
            faiss.write_index(index, faiss.PyCallbackIOWriter(lambda b: fh.write(b)))
        return kind

    def _sweep(self) -> None:
        """Remove temporary folders left by writers that died (we hold the lock)."""
        for p in self.root.glob(".tmp-gen-*"):
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

    def _prune(self, keep: str) -> None:
        """Keep the new generation and the one before it (a reader may still be loading it)."""
        gens = sorted(p for p in self.root.glob("gen-[0-9]*") if p.is_dir())
        for p in gens[:-2]:
            if p.name != keep:
                shutil.rmtree(p, ignore_errors=True)

    def destroy(self) -> None:
        """Remove every generation (for --rebuild); the caller holds the lock."""
        (self.root / "CURRENT").unlink(missing_ok=True)
        for p in self.root.glob("gen-[0-9]*"):
            shutil.rmtree(p, ignore_errors=True)


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


def _write_bm25(gen_dir: Path) -> None:
    """BM25 over the generation's rows in row order, streamed from SQLite: (title, text) pairs
    (rag.lexical weights the title field), never all in memory at once."""
    db = sqlite3.connect(gen_dir / "rows.sqlite")
    try:
        rows = db.execute(
            "SELECT a.title, c.text FROM chunks c JOIN articles a ON a.id = c.article_id "
            "ORDER BY c.row"
        )
        BM25Index.build(rows).save(gen_dir / "bm25")
    finally:
        db.close()


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
