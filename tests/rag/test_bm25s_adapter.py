"""rag.bm25s_adapter's assumptions about bm25s, checked against the installed bm25s.

rag computes BM25 itself (rag.bm25) and must give what bm25s's own index gives over the same
passages. A bm25s release outside the adapter's SUPPORTED range fails here first, with a message
that says what to do.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from rag import bm25s_adapter
from rag.bm25 import BM25_B, BM25_K1, BM25Index, top_k
from rag.bm25s_adapter import Reference, UnsupportedBM25sError
from rag.chunk import chunk_text
from rag.tokens import document_tokens, query_terms

REPO = Path(__file__).resolve().parents[2]
QUESTIONS = [
    "Hiệp ước mới thay thế những văn kiện nào?",
    "Putin tặng quà gì?",
    "lao động Donbas",
    "hiep uoc thay the",
    "Who met in Pyongyang?",
    "Triều Tiên ký hiệp ước năm 1961",
]


@pytest.fixture(scope="module")
def corpus() -> list[tuple[str, str]]:
    """The seed articles' passages with titles, plus passages without tokens."""
    docs = []
    for path in sorted((REPO / "seeds").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        title = text.splitlines()[0][:80]
        docs += [(title, text[s:e]) for s, e in chunk_text(text, 400, 80)]
    return docs + [("", ""), ("Tiêu đề", "..."), ("", "Hoà bình THUÝ quả")]


@pytest.fixture(scope="module")
def indexes(corpus) -> tuple[BM25Index, Reference]:
    ours = BM25Index.build(iter(corpus))
    theirs = Reference((document_tokens(*d) for d in corpus), k1=BM25_K1, b=BM25_B)
    return ours, theirs


def test_the_installed_bm25s_is_a_supported_version():
    version = bm25s_adapter.installed_version()
    assert bm25s_adapter.check_version() == version, (
        f"bm25s {version} is installed but rag/bm25s_adapter.py supports "
        f"{bm25s_adapter.SUPPORTED_TEXT}"
    )


@pytest.mark.parametrize("version", ["0.2.6", "0.2.14", "0.3.0", "0.3.16", "0.3.99rc1"])
def test_supported_versions(version):
    assert bm25s_adapter.is_supported(version)
    assert bm25s_adapter.check_version(version) == version


@pytest.mark.parametrize("version", ["0.2.5", "0.1.10", "0.4.0", "0.4.0rc1", "1.0", "garbage"])
def test_an_unsupported_version_fails_with_one_clear_line(version):
    with pytest.raises(UnsupportedBM25sError) as info:
        bm25s_adapter.check_version(version)
    msg = str(info.value)
    assert msg.startswith(f"bm25s {version} is not supported") and "\n" not in msg
    assert bm25s_adapter.SUPPORTED_TEXT in msg and "rag/bm25s_adapter.py" in msg


def test_lucene_idf_is_bm25s_lucene_formula():
    for n in (1, 2, 10, 977, 110_883):
        for df in sorted({1, 2, n // 2 or 1, n}):
            expected = np.float32(math.log(1 + (n - df + 0.5) / (df + 0.5)))
            assert bm25s_adapter.lucene_idf(df, n) == expected, (df, n)


def test_every_term_scores_as_bm25s_retrieval_scores_it(indexes):
    """Term by term, rag's scores are bm25s's (BM25.get_scores), float for float: idf, mean
    length, length norms, the tf part and the empty passages all agree."""
    ours, theirs = indexes
    assert ours.size == theirs.size
    vocabulary = theirs.vocabulary()
    assert len(vocabulary) > 500
    for term in sorted(vocabulary):
        expected = theirs.scores([term])
        assert ours.scores({term: 1.0}).tobytes() == expected.tobytes(), term


def test_questions_rank_as_bm25s_ranks_them(indexes):
    """A question's terms: the same ranking as bm25s's retrieve(), scores equal within float32
    rounding (bm25s adds the terms in float32 one after another, rag in float64 once)."""
    ours, theirs = indexes
    vocabulary = theirs.vocabulary()
    for question in QUESTIONS:
        tokens = [t for t in query_terms(question) if t in vocabulary]
        assert tokens, question
        got = ours.scores(dict.fromkeys(tokens, 1.0))
        expected = theirs.scores(tokens)
        np.testing.assert_allclose(got, expected, rtol=1e-6, err_msg=question)
        docs, scores = theirs.model.retrieve([tokens], k=10, show_progress=False)
        matched = [int(d) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]
        assert matched, question
        assert [i for i, _ in top_k(got, 10)] == matched, question
        np.testing.assert_allclose(got[docs[0]], scores[0], rtol=1e-6, err_msg=question)


def test_weighted_terms_equal_the_reference_matrix(indexes):
    """What rag asks (weighted query_terms) against bm25s's matrix read through the adapter."""
    ours, theirs = indexes
    for question in QUESTIONS:
        terms = query_terms(question)
        assert np.array_equal(ours.scores(terms), theirs.weighted_scores(terms)), question


def test_top_k_cuts_ties_by_position_at_the_kth_place_too():
    scores = np.array([0.5, 2.0, 1.0, 1.0, 0.0, 1.0, 1.0, 2.0] * 50, dtype=np.float32)
    assert top_k(scores, 4) == [(1, 2.0), (7, 2.0), (9, 2.0), (15, 2.0)]
    got = top_k(scores, 103)
    assert [i for i, _ in got][100:] == [2, 3, 5]
    assert all(s > 0 for _, s in top_k(scores, 400)) and len(top_k(scores, 400)) == 350


def test_top_k_over_a_large_array_equals_the_whole_partition(monkeypatch):
    """Above TOP_K_PREFILTER scores, top_k keeps those at least a sample's k-th best first:
    the same indices and values as partitioning the whole array, ties and zeros included."""
    import rag.bm25

    rng = np.random.default_rng(7)
    n = 1 << 19
    arrays = [
        rng.random(n).astype(np.float32),
        np.round(rng.random(n) * 4, 1).astype(np.float32),  # ties everywhere
        (rng.exponential(size=n) * (rng.random(n) < 0.3)).astype(np.float32),  # mostly zeros
        np.zeros(n, dtype=np.float32),
    ]
    arrays[3][rng.integers(0, n, 25)] = 1.0  # fewer positive scores than k
    cases = [(a, k, m) for a in arrays for k in (1, 30, 40, 200) for m in (0.0, 0.5)]
    fast = [top_k(a, k, m) for a, k, m in cases]
    monkeypatch.setattr(rag.bm25, "TOP_K_PREFILTER", 1 << 62)  # always the whole partition
    assert fast == [top_k(a, k, m) for a, k, m in cases]
    assert len(fast[0]) == 1 and fast[0][0][1] == float(arrays[0].max())
