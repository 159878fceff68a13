"""rag.store.writer: generations, tombstones, merges and the manifest, written through Store
without a model (tests/rag/test_store.py and test_segments.py do it through the Assistant)."""

from __future__ import annotations

import numpy as np
import pytest

from rag.bm25 import BM25Index
from rag.store import Store
from tests.rag.store.conftest import DIM, article, write


def test_generations_tombstones_and_the_manifest(three_segments: Store):
    store = three_segments
    root = store.root
    snap = store.open()
    try:
        m = snap.manifest
        # a2's segment lost its only article: dropped; a0 is a tombstone in the first one.
        assert [e["name"] for e in m["segments"]] == ["seg-000001", "seg-000003"]
        assert [e["deleted"] for e in m["segments"]] == [["a0"], []]
        assert [e["live_rows"] for e in m["segments"]] == [2, 5]
        assert m["counts"] == {"articles": 3, "chunks": 7}
        # Threshold 5: the 4-row segment is exact, the 5-row one HNSW.
        assert [e["faiss_index"] for e in m["segments"]] == ["flat", "hnsw"]
        assert m["faiss_index"] == "mixed"
        assert m["faiss_params"]["threshold"] == 5 and m["faiss_params"]["M"] == 32
        assert m["generation"] == store.current_generation() == "gen-000004"
        assert m["next_segment"] == 4 and m["dim"] == DIM and m["model"] == "m"
    finally:
        snap.close()
    # The current generation and the one before it are kept, and the segments they list.
    assert sorted(p.name for p in root.glob("gen-*")) == ["gen-000003", "gen-000004"]
    assert sorted(p.name for p in (root / "segments").iterdir()) == [
        "seg-000001",
        "seg-000002",
        "seg-000003",
    ]
    write(store, [article(5)], seed=3)
    assert sorted(p.name for p in (root / "segments").iterdir()) == [
        "seg-000001",
        "seg-000003",
        "seg-000004",
    ]
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".tmp")) == []


def test_merge_rewrites_the_live_rows_and_scores_as_a_fresh_index(three_segments: Store):
    store = three_segments
    before = store.open()
    try:
        texts = list(before.all_chunk_texts())
        live = [r for r in range(before.size) if not before.is_deleted(r)]
        vectors = before.vectors()[live]
        with store.lock():
            store.merge(before, 0, len(before.segments))
    finally:
        before.close()
    after = store.open()
    try:
        (seg,) = after.segments
        assert after.size == after.live == len(texts) == 7
        assert after.manifest["segments"][0]["deleted"] == []
        assert seg.faiss.kind == "hnsw"  # 7 rows, threshold 5
        assert list(after.all_chunk_texts()) == texts
        assert np.array_equal(after.vectors(), vectors)
        fresh = BM25Index.build(iter(texts))
        for q in ("Hiệp ước số 3", "hiep uoc ha noi", "19/6"):
            assert after.bm25.scores(q).tobytes() == fresh.scores(q).tobytes(), q
    finally:
        after.close()


def test_the_threshold_comes_from_settings_or_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_FAISS_THRESHOLD", "100")
    given = Store(tmp_path / "given", faiss_threshold=1)
    write(given, [article(0)])
    from_env = Store(tmp_path / "env")
    write(from_env, [article(0)])
    for store, kind, threshold in ((given, "hnsw", 1), (from_env, "flat", 100)):
        snap = store.open()
        try:
            assert snap.manifest["faiss_index"] == snap.segments[0].faiss.kind == kind
            assert snap.manifest["faiss_params"]["threshold"] == threshold
        finally:
            snap.close()


def test_a_bm25_only_index(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_FAISS_THRESHOLD", "not read without vectors")
    store = Store(tmp_path / "index")
    write(store, [article(0), article(1)], model=None)
    snap = store.open()
    try:
        assert snap.faiss is None and snap.vectors() is None and snap.segments[0].faiss is None
        assert snap.manifest["faiss_index"] is None and snap.manifest["faiss_params"] is None
        assert not (store.root / "segments" / "seg-000001" / "vectors.faiss").exists()
        assert snap.bm25.scores("Hiệp ước số 1").argmax() in (2, 3)
    finally:
        snap.close()
    with pytest.raises(ValueError, match="add or drop the vectors"):
        write(store, [article(2)], model="m")


def test_vectors_must_match_the_chunks(tmp_path):
    store = Store(tmp_path / "index")
    add = [article(0)]
    with store.lock(), pytest.raises(ValueError, match="expected 2 vectors of dim 8"):
        store.write_generation(
            base=None,
            add=add,
            vectors=np.zeros((3, DIM), dtype=np.float32),
            model="m",
            dim=DIM,
            settings_info={},
        )
    assert not store.exists()
    assert [p.name for p in (store.root / "segments").iterdir()] == []


def test_optimize_gives_a_segment_written_flat_its_hnsw_and_the_same_hits(tmp_path):
    """A segment written under a higher threshold (an older index) gets the kind the store's
    threshold gives it from `rag index optimize` (reindex), not from the background merges."""
    from rag.merges import Merges
    from rag.store import SnapshotHolder

    root = tmp_path / "index"
    write(Store(root, faiss_threshold=1_000), [article(i) for i in range(4)], seed=0)
    write(Store(root, faiss_threshold=1_000), [article(9)], seed=1)
    store = Store(root, faiss_threshold=5)
    holder = SnapshotHolder(store)
    merges = Merges(store, holder)
    with holder.lease() as snap:
        assert [s.faiss.kind for s in snap.segments] == ["flat", "flat"]
        queries = snap.vectors()[:3]
        before = snap.faiss.search(queries, 4)
    assert merges.optimize() == 0
    assert merges.optimize(reindex=True) == 1  # 8 rows >= 5: HNSW; 2 rows < 5: stays exact
    assert merges.optimize(reindex=True) == 0
    with holder.lease() as snap:
        assert [s.faiss.kind for s in snap.segments] == ["hnsw", "flat"]
        assert [e["faiss_index"] for e in snap.manifest["segments"]] == ["hnsw", "flat"]
        assert snap.manifest["faiss_index"] == "mixed"
        after = snap.faiss.search(queries, 4)
        assert [sc.chunk for sc in snap.chunks(range(snap.size))] == [
            c for i in (0, 1, 2, 3, 9) for c in article(i)[1]
        ]
    assert np.array_equal(before[1], after[1])
    assert np.allclose(before[0], after[0])
    holder.close()
