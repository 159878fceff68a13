"""rag.store.files: durable writes and the one-line message of a failed one."""

from __future__ import annotations

import errno
import sqlite3

import pytest

from rag.store.files import MB, fsync_tree, generation_bytes, storage_errno, storage_error
from tests.rag.store.conftest import article


@pytest.mark.parametrize(
    ("code", "start"),
    [
        (errno.ENOSPC, "no space left on device while saving at "),
        (errno.EDQUOT, "disk quota exceeded while saving at "),
        (errno.EROFS, "read-only file system while saving at "),
        (errno.EACCES, "permission denied while saving at "),
        (errno.EIO, "input/output error while saving at "),
    ],
)
def test_a_failed_write_is_one_line(tmp_path, code, start):
    err = storage_error(OSError(code, "x"), "saving", tmp_path / "not" / "yet", 10 * MB)
    msg = str(err)
    assert msg.startswith(start + str(tmp_path)) and "\n" not in msg
    assert msg.endswith("run the same command again") and err.errno == code


def test_what_counts_as_a_storage_fault():
    assert storage_errno(ValueError("x")) is None
    assert storage_error(ValueError("x"), "saving", "/", 1) is None
    assert storage_errno(sqlite3.OperationalError("database or disk is full")) == errno.ENOSPC
    assert storage_errno(OSError(errno.EROFS, "x")) == errno.EROFS


def test_fsync_and_the_size_of_a_write(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("x")
    fsync_tree(tmp_path)
    add = [article(0)]
    assert generation_bytes(None, add, 8) > MB > generation_bytes(None, [], None) - 1
