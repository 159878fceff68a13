"""rag.store.merge: the merge policy (merges themselves: tests/rag/test_segments.py)."""

from __future__ import annotations

from rag.store.merge import MERGE_FACTOR, plan_merge, segment_tier


def test_merge_policy_merges_adjacent_segments_of_one_tier():
    def e(rows, deleted=0):
        return {"rows": rows, "live_rows": rows - deleted, "deleted": ["x"] * bool(deleted)}

    small = [e(20)] * (MERGE_FACTOR - 1)
    assert plan_merge([e(100_000)] + small) is None
    assert plan_merge([e(100_000)] + small + [e(30)]) == (1, 1 + MERGE_FACTOR)
    # A segment with many deleted rows is rewritten alone.
    assert plan_merge([e(100_000, 40_000), e(20)]) == (0, 1)
    assert plan_merge([e(100_000, 1_000), e(20)]) is None
    assert plan_merge([e(5)], full=True) is None
    assert plan_merge([e(5), e(5)], full=True) == (0, 2)
    assert segment_tier(1) == segment_tier(500) == 0 < segment_tier(100_000)


def test_a_segment_of_the_wrong_faiss_kind_is_rewritten_alone_when_a_threshold_is_given():
    def e(rows, kind, deleted=0):
        return {"rows": rows, "live_rows": rows - deleted, "faiss_index": kind, "deleted": []}

    index = [e(16_384, "flat"), e(16_380, "hnsw"), e(600, "flat")]
    assert plan_merge(index) is None  # background merges: the kinds stay as written
    assert plan_merge(index, threshold=8_192) == (0, 1)
    assert plan_merge(index[1:], threshold=16_384) == (0, 1)  # 16,380 rows: below, exact
    assert plan_merge([e(16_384, "hnsw"), e(600, "flat")], threshold=8_192) is None
    # Judged by the live rows, which the rewrite keeps: it never asks for itself again.
    assert plan_merge([e(10_000, "hnsw", deleted=2_000)], threshold=8_192) == (0, 1)
    assert plan_merge([e(8_000, "flat")], threshold=8_192) is None
    # A BM25-only index has no FAISS kind to give.
    assert plan_merge([e(20_000, None)], threshold=8_192) is None
