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
