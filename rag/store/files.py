"""Durable writes and what a failed one means: fsync of files and folders, the errno behind a
failed write (OSError or SQLite's own codes) and the one-line StorageError that says what to
free, and about how many bytes a write of the index needs."""

from __future__ import annotations

import errno
import math
import os
import shutil
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import StorageError
from rag.types import Article, Chunk

if TYPE_CHECKING:
    from rag.store.snapshot import Snapshot

MB = 2**20
# SQLite's primary result codes for the same faults (sqlite3 reports them, not an errno).
_SQLITE_ERRNO = {13: errno.ENOSPC, 8: errno.EROFS, 3: errno.EACCES, 10: errno.EIO, 14: errno.EACCES}


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def fsync_tree(path: Path) -> None:
    """Every file under ``path``, then ``path`` itself."""
    for p in sorted(path.rglob("*")):
        if p.is_file():
            fsync_file(p)
    fsync_dir(path)


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
    text = sum(len(a.text.encode()) + sum(len(c.text.encode()) for c in cs) for a, cs in add)
    vectors = sum(len(cs) for _, cs in add) * 4 * int(dim or 0)
    return write_bytes(base, text, vectors)


def write_bytes(base: Snapshot | None, text: int, vectors: int) -> int:
    """generation_bytes from the sizes alone: ``text`` (UTF-8 bytes of the new articles and
    passages) and ``vectors`` (bytes of the new vectors), for a write whose articles are
    streamed and never all at hand."""
    old = 0
    if base is not None:
        old = (
            sum(p.stat().st_size for p in base.gen_dir.rglob("*") if p.is_file())
            if (base.gen_dir.exists())
            else 0
        )
    return int(1.2 * (old + 2 * text + vectors)) + MB
