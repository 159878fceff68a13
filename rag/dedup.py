"""Collapse near-duplicate passages among the retrieved hits (syndicated news).

News agencies' stories are republished with small edits, so one fact comes back as several
passages of different articles. Two hits are near-duplicates when the Jaccard similarity of
their sets of syllable 3-shingles reaches DUP_THRESHOLD; the later (lower-ranked) one is folded
into the earlier: its article id goes to ``Hit.also``, and the answer shows it as "also reported
by" on the citation instead of as a citation of its own. Only the few retrieved hits are
compared (pairwise, exact), so no MinHash index is needed.
"""

from __future__ import annotations

from dataclasses import replace

from rag.tokens import syllables
from rag.types import Hit

DUP_THRESHOLD = 0.5
SHINGLE = 3


def shingles(text: str, n: int = SHINGLE) -> frozenset[tuple[str, ...]]:
    syl = syllables(text)
    if len(syl) < n:
        return frozenset([tuple(syl)]) if syl else frozenset()
    return frozenset(tuple(syl[i : i + n]) for i in range(len(syl) - n + 1))


def jaccard(a: frozenset, b: frozenset) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def collapse(hits: list[Hit], threshold: float = DUP_THRESHOLD) -> list[Hit]:
    """``hits`` without near-duplicates of better-ranked hits; each kept hit lists the article
    ids it absorbed in ``also`` (passages of its own article are dropped without a mention)."""
    kept: list[tuple[Hit, frozenset, list[str]]] = []
    for h in hits:
        sh = shingles(h.chunk.text)
        for k, ksh, also in kept:
            if jaccard(sh, ksh) >= threshold:
                if h.chunk.article_id != k.chunk.article_id and h.chunk.article_id not in also:
                    also.append(h.chunk.article_id)
                    also.extend(a for a in h.also if a not in also)
                break
        else:
            kept.append((h, sh, list(h.also)))
    return [replace(h, rank=rank, also=tuple(also)) for rank, (h, _, also) in enumerate(kept)]
