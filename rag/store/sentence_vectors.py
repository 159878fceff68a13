"""Sentence vectors kept beside the index, so that a question's sentences are read, not encoded.

Hybrid retrieval's second stage and the answers score the sentences of the retrieved passages
by their cosine to the question (rag.similarity). Encoding them when a question first brings
them up costs most of a question over a large index (some 35 short texts through the model);
an ingest encodes them once instead and keeps them here.

One SQLite file for the index (``<index>/sentences.sqlite``), a table of (key, vector): the key
is a hash of the model and the sentence's text, the vector float16. Content-addressed, so it
needs no part in the generations: a merge or a delete leaves its entries right (an entry no
live passage holds is only unused), a kill leaves whole transactions, and the same sentence in
two articles is stored once. Writers use WAL, so readers (`rag serve`) never wait on them.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.store.layout import SENTENCE_VECTORS

BUSY_MS = 30_000  # how long a writer waits for another writer's transaction
_CHUNK = 500  # keys per SELECT (SQLite's parameter limit is 32,766; fewer keeps plans simple)


def sentence_key(model: str, text: str) -> bytes:
    return hashlib.sha1(f"{model}\n{text}".encode()).digest()[:16]


class SentenceVectors:
    """The stored sentence vectors of one index and one model. ``writable``: open (and create)
    the file for writing; readers open it read-only, and a file that is not there yet is empty.
    Thread-safe: one connection behind a lock."""

    def __init__(self, root: Path, model: str, dim: int, *, writable: bool = False) -> None:
        self.path = Path(root) / SENTENCE_VECTORS
        self.model = model
        self.dim = dim
        self.writable = writable
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is None:
            if self.writable:
                conn = sqlite3.connect(self.path, timeout=BUSY_MS / 1000, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vec BLOB NOT NULL)"
                    " WITHOUT ROWID"
                )
                conn.commit()
            elif self.path.is_file():
                uri = f"file:{self.path}?mode=ro"
                conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            else:
                return None
            self._conn = conn
        return self._conn

    def get(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors (float32) of those of ``texts`` that have one."""
        keys = {sentence_key(self.model, t): t for t in dict.fromkeys(texts)}
        found: dict[str, np.ndarray] = {}
        with self._lock:
            conn = self._connection()
            if conn is None or not keys:
                return found
            wanted = list(keys)
            for i in range(0, len(wanted), _CHUNK):
                part = wanted[i : i + _CHUNK]
                marks = ",".join("?" * len(part))
                for key, blob in conn.execute(
                    f"SELECT key, vec FROM vectors WHERE key IN ({marks})", part
                ):
                    if len(blob) == 2 * self.dim:
                        found[keys[bytes(key)]] = np.frombuffer(blob, np.float16).astype(np.float32)
        return found

    def missing(self, texts: Sequence[str]) -> list[str]:
        """Those of ``texts`` (each once) without a stored vector."""
        have = self.get(texts)
        return [t for t in dict.fromkeys(texts) if t not in have]

    def put(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store ``vectors`` (one row per text) in one transaction."""
        if not self.writable:
            raise RuntimeError("SentenceVectors opened read-only")
        rows = [
            (sentence_key(self.model, t), np.asarray(v, dtype=np.float16).tobytes())
            for t, v in zip(texts, vectors, strict=True)
        ]
        with self._lock:
            conn = self._connection()
            assert conn is not None
            with conn:
                conn.executemany("INSERT OR REPLACE INTO vectors (key, vec) VALUES (?, ?)", rows)

    def prune(self, keep: set[bytes]) -> int:
        """Delete every stored vector whose key is not in ``keep`` (of any model), in one
        transaction, then give the space back to the file system (VACUUM: it needs room for a
        copy of what is kept; without it the rows are gone and the file keeps its size).
        Returns the number deleted."""
        if not self.writable:
            raise RuntimeError("SentenceVectors opened read-only")
        with self._lock:
            conn = self._connection()
            assert conn is not None
            gone = [(key,) for (key,) in conn.execute("SELECT key FROM vectors") if key not in keep]
            if gone:
                with conn:
                    conn.executemany("DELETE FROM vectors WHERE key = ?", gone)
            # Free pages left by this prune, or by an earlier one whose VACUUM found no room.
            if conn.execute("PRAGMA freelist_count").fetchone()[0]:
                try:
                    conn.execute("VACUUM")
                except sqlite3.OperationalError:
                    pass  # a full disk: the rows are deleted; the file shrinks at the next prune
            return len(gone)

    def count(self) -> int:
        """Every stored vector (of every model)."""
        with self._lock:
            conn = self._connection()
            if conn is None:
                return 0
            return int(conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
