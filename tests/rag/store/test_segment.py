"""rag.store.segment: a loaded segment, the checks made when it is opened, and the reference
count that frees it when the last snapshot lets go."""

from __future__ import annotations

import numpy as np
import pytest

from rag.errors import IndexCorruptError
from rag.store import Store
from tests.rag.store.conftest import article, write


def test_a_segment_is_freed_by_its_last_reader(three_segments: Store):
    snap = three_segments.open()
    seg = snap.segments[1]
    assert (seg.name, seg.size, seg.row_span()) == ("seg-000003", 5, (5, 0, 4))
    assert seg.vectors().shape == (5, 8) and seg.bm25.size == 5
    assert seg.acquire()  # a second reader
    snap.close()  # the snapshot's reference
    assert not seg.closed and seg.has_article("a3")
    seg.release()
    assert seg.closed and seg.faiss is None and seg.bm25 is None
    assert not seg.acquire()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "bm25" / "keys.npy").write_bytes(b"x"), "the BM25 files are damaged"),
        (lambda d: (d / "vectors.faiss").write_bytes(b"x"), "the FAISS file is missing or"),
        (lambda d: (d / "rows.sqlite").unlink(), "the SQLite rows are missing"),
        (lambda d: (d / "rows.sqlite").write_bytes(b"x" * 4096), "the SQLite rows are damaged"),
    ],
)
def test_damaged_files_are_clear_errors(tmp_path, damage, message):
    store = Store(tmp_path / "index")
    write(store, [article(0)])
    damage(store.root / "segments" / "seg-000001")
    with pytest.raises(IndexCorruptError, match=message) as info:
        store.open()
    assert "rag ingest --rebuild" in str(info.value)


def test_rows_that_disagree_with_the_manifest(tmp_path):
    store = Store(tmp_path / "index")
    write(store, [article(0)], model=None)
    manifest = store.root / store.current_generation() / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"rows": 2', '"rows": 3'))
    with pytest.raises(IndexCorruptError, match="BM25 does not match the rows"):
        store.open()


def test_a_loaded_segment_is_mapped_read_only(tmp_path):
    """Opening an index maps the segments' vectors and postings instead of reading them; the
    mapped data cannot be written (a FAISS write into it would abort the process)."""
    store = Store(tmp_path / "index")
    write(store, [article(0), article(1)])
    snap = store.open()
    try:
        seg = snap.segments[0]
        assert not seg.bm25.docs.flags.writeable and not seg.bm25.lengths.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            seg.faiss.append(np.zeros((1, seg.faiss.d), dtype=np.float32))
        assert seg.faiss.ntotal == 4  # refused before FAISS saw it
        assert [h.row for h in snap.chunks([0, 3])] == [0, 3]
    finally:
        snap.close()
