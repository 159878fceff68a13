"""rag.store.snapshot: a generation read as one (positions over segments, tombstones), its
vectors searched as one, and the holder that shares the current one."""

from __future__ import annotations

import numpy as np

from rag.store import SnapshotHolder, Store
from tests.rag.store.conftest import article, write


def test_positions_run_over_the_segments_and_skip_tombstones(three_segments: Store):
    snap = three_segments.open()
    try:
        # seg-000001: a0 (rows 0-1, deleted), a1 (2-3); seg-000003: a3 (4-6), a4 (7-8).
        assert (snap.size, snap.live) == (9, 7)
        assert [snap.is_deleted(r) for r in range(9)] == [True, True] + [False] * 7
        seg, local = snap.locate(5)
        assert seg is snap.segments[1] and local == 1
        stored = snap.chunks(list(range(9)))
        assert [s.row for s in stored] == list(range(2, 9))
        assert [s.chunk.article_id for s in stored] == ["a1"] * 2 + ["a3"] * 3 + ["a4"] * 2
        assert [a["id"] for a in snap.articles()] == ["a1", "a3", "a4"]
        assert snap.article("a0") is None and not snap.has_article("a0")
        assert snap.article("a3").site == "Báo thử"
        assert snap.rows_of(["a1", "a3", "a0"]) == [2, 3, 4, 5, 6]
        assert snap.article_meta(["a4"])["a4"]["meta"] == {"site": "Báo thử"}
        assert snap.segment_rows("a0") == [2, None]
        assert snap.segment_rows("a3") == [None, 3]
        assert snap.segment_rows("nothing") == [None, None]
        assert [title for title, _ in snap.all_chunk_texts()] == ["Tin 1"] * 2 + ["Tin 3"] * 3 + [
            "Tin 4"
        ] * 2
    finally:
        snap.close()


def test_the_segments_vectors_search_as_one_exact_index(tmp_path):
    store = Store(tmp_path / "index")  # all exact
    write(store, [article(0), article(1)], seed=0)
    write(store, [article(2, passages=4)], seed=1)
    write(store, [article(3)], delete=["a1"], seed=2)
    snap = store.open()
    try:
        vectors = snap.vectors()
        assert vectors.shape == (snap.size, 8)
        live = np.array([not snap.is_deleted(r) for r in range(snap.size)])
        queries = vectors[[0, 2, 5]] + 0.1
        for k in (1, 3, snap.live):
            dist, ids = snap.faiss.search(queries, k)
            scores = queries @ vectors.T
            scores[:, ~live] = -np.inf
            expected = np.array([np.lexsort((np.arange(len(s)), -s))[:k] for s in scores])
            assert np.array_equal(ids, expected), k
            np.testing.assert_allclose(dist, np.take_along_axis(scores, expected, 1), rtol=1e-5)
        for r in range(snap.size):
            assert np.array_equal(snap.faiss.reconstruct(r), vectors[r])
    finally:
        snap.close()


def test_a_lease_keeps_its_generation_until_it_ends(three_segments: Store):
    store = three_segments
    holder = SnapshotHolder(store)
    with holder.lease() as old:
        write(store, [article(7)], seed=4)
        with holder.lease() as new:
            assert new is not old and new.generation > old.generation
            assert not old.closed and new.has_article("a7")
        assert holder.peek() is new
    assert old.closed and old.faiss is None and old.bm25 is None
    shared = {s.name for s in new.segments} & {"seg-000001", "seg-000003"}
    assert shared and all(not s.closed for s in new.segments)  # reused, not closed
    holder.close()
    assert new.closed and all(s.closed for s in new.segments)
