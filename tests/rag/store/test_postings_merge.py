"""rag.store.postings_merge: merged postings, written as a stream, equal the postings built from
scratch over the same live passages: every term's passages and counts, the lengths, the file
format Postings.load reads, whether steps are large or one term each and whether term keys
collide."""

from __future__ import annotations

import numpy as np
import pytest

from rag.bm25 import Postings
from rag.store.postings_merge import merge_postings
from tests.rag.test_lexical_speed import seed_passages


def _as_dict(p: Postings) -> dict[str, tuple[list[int], list[int]]]:
    out = {}
    for term in p.vocabulary():
        docs, tfs = p.postings(term)
        out[term] = (np.asarray(docs).tolist(), np.asarray(tfs).tolist())
    return out


def _split(docs, cuts, deletions):
    """Postings of docs[cuts[i]:cuts[i+1]] each, with the masks of kept passages."""
    parts, kept = [], []
    for i, (lo, hi) in enumerate(zip(cuts, cuts[1:], strict=False)):
        p = Postings.build(iter(docs[lo:hi]))
        keep = None
        if i in deletions:
            keep = np.ones(p.size, dtype=bool)
            keep[deletions[i]] = False
            kept += [d for j, d in enumerate(docs[lo:hi]) if keep[j]]
        else:
            kept += docs[lo:hi]
        parts.append((p, keep))
    return parts, kept


@pytest.mark.parametrize("chunk", [1 << 22, 7])
def test_merged_postings_equal_postings_built_from_the_live_passages(tmp_path, monkeypatch, chunk):
    import rag.store.postings_merge as pm

    monkeypatch.setattr(pm, "CHUNK_ENTRIES", chunk)  # 7: a step per term or two
    docs = [*seed_passages(), ("", ""), ("Tiêu đề", "...")]
    n = len(docs)
    # Tombstones in the middle part, one whole part deleted: its terms leave the vocabulary.
    parts, kept = _split(docs, [0, 5, n // 3, n // 2, n], {1: slice(None), 2: slice(None, None, 3)})
    size = merge_postings(tmp_path / "bm25", parts)
    merged = Postings.load(tmp_path / "bm25")
    expected = Postings.build(iter(kept))
    assert size == merged.size == expected.size == len(kept)
    assert merged.lengths.tolist() == expected.lengths.tolist()
    assert np.all(np.diff(merged.keys.astype(np.float64)) >= 0)
    assert _as_dict(merged) == _as_dict(expected)
    assert sorted(merged.vocabulary()) == sorted(expected.vocabulary())


def test_terms_that_share_a_key_stay_apart(tmp_path, monkeypatch):
    import rag.bm25

    # Keys from the term's length alone: nearly every key collides, in a part and across.
    monkeypatch.setattr(rag.bm25, "_term_key", lambda token: len(token.encode()))
    docs = seed_passages()[:40]
    parts, kept = _split(docs, [0, 13, 40], {0: [2, 3]})
    merge_postings(tmp_path / "bm25", parts)
    merged = Postings.load(tmp_path / "bm25")
    expected = Postings.build(iter(kept))
    assert merged.size == len(kept)
    assert _as_dict(merged) == _as_dict(expected)


def test_a_key_shared_by_terms_of_different_parts_is_caught_by_their_text(tmp_path, monkeypatch):
    import rag.bm25

    docs = seed_passages()[:40]
    first = set(Postings.build(iter(docs[:20])).vocabulary())
    second = set(Postings.build(iter(docs[20:])).vocabulary())
    only_first, only_second = sorted(first - second)[0], sorted(second - first)[0]
    real = rag.bm25._term_key
    # One key for a term of each part and no collision inside either part.
    monkeypatch.setattr(
        rag.bm25, "_term_key", lambda t: 7 if t in (only_first, only_second) else real(t)
    )
    parts, kept = _split(docs, [0, 20, 40], {})
    merge_postings(tmp_path / "bm25", parts)
    merged = Postings.load(tmp_path / "bm25")
    assert _as_dict(merged) == _as_dict(Postings.build(iter(kept)))
    assert merged.postings(only_first) is not None and merged.postings(only_second) is not None


def test_no_parts_make_an_empty_segment(tmp_path):
    assert merge_postings(tmp_path / "bm25", []) == 0
    assert Postings.load(tmp_path / "bm25").size == 0
