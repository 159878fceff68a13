"""The merge policy: which adjacent segments of a generation to merge next (Store.merge does it)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rag.store.vectors import choose_kind

# Merge policy (as Lucene's log merge policy: adjacent segments, so positions keep their
# order): segments are grouped in tiers by live rows, tier t holding MERGE_FLOOR * F^t to
# MERGE_FLOOR * F^(t+1) rows (everything below MERGE_FLOOR is tier 0); MERGE_FACTOR adjacent
# segments of one tier are merged into one (of about the next tier). Each row is rewritten
# about log_F(n / MERGE_FLOOR) times over the life of an index of n rows. A segment with
# MERGE_DELETED of its rows deleted is rewritten alone to drop them.
MERGE_FACTOR = 8
MERGE_FLOOR = 512
MERGE_DELETED = 0.3


def segment_tier(rows: int) -> int:
    return int(math.log(max(rows, MERGE_FLOOR) / MERGE_FLOOR, MERGE_FACTOR) + 1e-9)


def plan_merge(
    entries: Sequence[dict], full: bool = False, threshold: int | None = None
) -> tuple[int, int] | None:
    """The next merge for a manifest's segment list: (start, stop), segments [start, stop)
    merged into one; None when the policy has nothing to do. ``full``: everything into one
    segment without deleted rows (`rag index optimize --full`). ``threshold`` (the FAISS
    threshold, given by `rag index optimize`): at last, a segment whose FAISS kind is not the
    one the threshold gives its live rows (written flat under an older or higher threshold)
    is rewritten alone, which builds its HNSW (or its exact index)."""
    if full:
        if len(entries) > 1 or any(e.get("deleted") for e in entries):
            return 0, len(entries)
        return None
    tiers = [segment_tier(int(e["live_rows"])) for e in entries]
    start = 0
    for i in range(1, len(tiers) + 1):
        if i == len(tiers) or tiers[i] != tiers[start]:
            if i - start >= MERGE_FACTOR:
                return start, start + MERGE_FACTOR
            start = i
    for i, e in enumerate(entries):
        if e.get("deleted") and 1 - int(e["live_rows"]) / max(1, int(e["rows"])) >= MERGE_DELETED:
            return i, i + 1
    if threshold is not None:
        for i, e in enumerate(entries):
            kind = e.get("faiss_index")
            if kind and kind != choose_kind(int(e["live_rows"]), "auto", threshold):
                return i, i + 1
    return None
