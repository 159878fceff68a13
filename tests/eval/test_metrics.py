"""Metric functions against hand-computed cases: ranks, ties, empty results, unanswerables."""

from __future__ import annotations

import math

import pytest

from rag.metrics import (
    answer_hit,
    citation_precision,
    contains_answer,
    is_relevant,
    mean,
    ndcg_at_k,
    normalize_tokens,
    percentile,
    recall_at_k,
    reciprocal_rank,
    strip_citations,
    token_f1,
)

# --- normalization ----------------------------------------------------------------------------


def test_tone_mark_placement_and_case_do_not_matter():
    assert normalize_tokens("Hoà bình") == normalize_tokens("hòa BÌNH")
    assert normalize_tokens("thuý") == normalize_tokens("thúy")
    # Different tones are different words.
    assert normalize_tokens("ma") != normalize_tokens("má")


def test_numbers_thousands_dates_and_punctuation():
    assert normalize_tokens("1.000") == normalize_tokens("1,000") == normalize_tokens("1000")
    assert normalize_tokens("ngày 19/6.")[1:] == ["19", "6"]
    assert normalize_tokens("54%") == ["54"]
    assert normalize_tokens("Kim Jong-un") == normalize_tokens("Kim Jong Un")
    assert normalize_tokens("“bền vững”") == normalize_tokens("bền vững")
    assert len(normalize_tokens("“bền vững”")) == 2


def test_contains_answer_matches_whole_tokens_only():
    assert contains_answer("ký ngày 19/6 tại Bình Nhưỡng.", ["19/6"])
    assert not contains_answer("ký ngày 119/6", ["19/6"])
    assert not contains_answer("năm 19610", ["1961"])
    assert contains_answer("Truật Xích (1185-1226)", ["1185"])
    assert not contains_answer("anything", [])
    assert not contains_answer("anything", ["   "])


def test_citation_markers_do_not_split_a_quoted_span():
    text = "Kim ngạch hiện còn khiêm tốn [1]. Cụ thể, năm 2023 tăng 9 lần [1]."
    assert strip_citations("a [1] b [2, 3] c").split() == ["a", "b", "c"]
    assert answer_hit(text, ["khiêm tốn. Cụ thể, năm 2023"])


# --- answer metrics ---------------------------------------------------------------------------


def test_answer_hit_and_miss():
    assert answer_hit("Hai bên ký tại Bình Nhưỡng [1].", ["Pyongyang", "Bình Nhưỡng"])
    assert not answer_hit("Không tìm thấy thông tin.", ["Bình Nhưỡng"])
    # An unanswerable question has no accepted answer: never a hit.
    assert not answer_hit("Bình Nhưỡng", [])


def test_token_f1_hand_computed():
    # pred tokens: ký tại bình nhưỡng (4); gold: bình nhưỡng (2); common 2
    # precision 2/4, recall 2/2 -> F1 = 2 * 0.5 * 1 / 1.5 = 2/3
    assert token_f1("Ký tại Bình Nhưỡng [1]", ["Bình Nhưỡng"]) == pytest.approx(2 / 3)
    # Best over the accepted answers.
    assert token_f1("Bình Nhưỡng", ["Moskva", "Bình Nhưỡng"]) == pytest.approx(1.0)
    assert token_f1("", ["Bình Nhưỡng"]) == 0.0
    assert token_f1("Bình Nhưỡng", []) == 0.0
    # Repeated tokens count once per occurrence on both sides.
    # pred: a a b (3), gold: a b b (3): common = min(2,1) + min(1,2) = 2 -> F1 = 2/3
    assert token_f1("a a b", ["a b b"]) == pytest.approx(2 / 3)


def test_citation_precision():
    gold = ["g1"]
    cited = [
        ("g1", "đoạn không có đáp án"),  # gold article: counts
        ("x", "ký ngày 19/6"),  # another article, but contains the answer: counts
        ("y", "không liên quan"),  # neither
    ]
    assert citation_precision(cited, ["19/6"], gold) == pytest.approx(2 / 3)
    assert citation_precision([], ["19/6"], gold) is None
    # Unanswerable: nothing is gold, nothing can be an answer.
    assert citation_precision([("y", "text")], [], []) == 0.0


def test_gold_passage_rule():
    answers = ["19/6"]
    assert is_relevant(["g1"], "ký ngày 19/6", answers, ["g1"])
    assert not is_relevant(["g1"], "đoạn khác của bài", answers, ["g1"])
    assert not is_relevant(["x"], "ký ngày 19/6", answers, ["g1"])  # answer, but not gold
    # A collapsed near-duplicate from a gold article makes the hit relevant.
    assert is_relevant(["x", "g1"], "ký ngày 19/6", answers, ["g1"])
    # No passage of a gold article holds the answer: any gold passage counts.
    assert is_relevant(["g1"], "đoạn khác", answers, ["g1"], any_gold_passage=True)
    assert not is_relevant(["x"], "đoạn khác", answers, ["g1"], any_gold_passage=True)


# --- ranking metrics without ties -------------------------------------------------------------


def test_recall_mrr_ndcg_plain_ranking():
    rel = [False, True, False, True]
    assert recall_at_k(rel, 1) == 0.0
    assert recall_at_k(rel, 2) == 1.0
    assert reciprocal_rank(rel) == pytest.approx(0.5)
    # DCG = 1/log2(3) + 1/log2(5); ideal with 2 relevant = 1 + 1/log2(3)
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(rel, n_relevant=2) == pytest.approx(expected)
    # A third relevant passage exists in the index but was not retrieved: the ideal grows.
    ideal3 = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(rel, n_relevant=3) == pytest.approx(
        (1 / math.log2(3) + 1 / math.log2(5)) / ideal3
    )


def test_cutoffs():
    rel = [False] * 10 + [True]
    assert recall_at_k(rel, 10) == 0.0
    assert reciprocal_rank(rel, k=10) == 0.0
    assert ndcg_at_k(rel, n_relevant=1) == 0.0
    assert reciprocal_rank(rel, k=11) == pytest.approx(1 / 11)


def test_empty_results():
    assert recall_at_k([], 5) == 0.0
    assert reciprocal_rank([]) == 0.0
    assert ndcg_at_k([], n_relevant=3) == 0.0
    # Nothing relevant anywhere (an unanswerable question): nDCG is undefined, not 0.
    assert ndcg_at_k([False, False], n_relevant=0) is None
    assert ndcg_at_k([], n_relevant=0) is None


def test_scores_in_any_order_are_sorted_first():
    rel = [True, False]
    scores = [0.1, 0.9]  # the relevant passage actually ranks second
    assert recall_at_k(rel, 1, scores) == 0.0
    assert reciprocal_rank(rel, scores=scores) == pytest.approx(0.5)


# --- ties: expected value over the orders of tied passages ------------------------------------


def test_tie_at_the_top_two_passages_one_relevant():
    rel = [False, True, False]
    scores = [2.0, 2.0, 1.0]
    # Either of the two tied passages may come first: P(relevant at rank 1) = 1/2.
    assert recall_at_k(rel, 1, scores) == pytest.approx(0.5)
    assert recall_at_k(rel, 2, scores) == 1.0
    # E[RR] = 1/2 * 1 + 1/2 * 1/2 = 3/4
    assert reciprocal_rank(rel, scores=scores) == pytest.approx(0.75)
    # E[DCG] = 1/2 * (1 + 1/log2(3)); ideal = 1
    assert ndcg_at_k(rel, 1, scores=scores) == pytest.approx(0.5 * (1 + 1 / math.log2(3)))
    # Given order, no ties: the relevant one is second.
    assert recall_at_k(rel, 1) == 0.0


def test_tie_straddling_the_cutoff():
    # Positions 0..3 tie; one relevant among 4 ; k = 2 takes 2 of the 4 tied.
    rel = [False, False, True, False]
    scores = [1.0, 1.0, 1.0, 1.0]
    # P(relevant among the 2 taken) = 1 - C(3,2)/C(4,2) = 1 - 3/6 = 1/2
    assert recall_at_k(rel, 2, scores) == pytest.approx(0.5)
    # Two relevant among 4, k = 1: 1 - C(2,1)/C(4,1) = 1/2
    assert recall_at_k([True, True, False, False], 1, scores) == pytest.approx(0.5)
    # E[RR], r=2 of n=4: P(first at 0)=3/6, at 1: 2/6, at 2: 1/6 -> 1/2 + 1/6 + 1/18 = 13/18
    assert reciprocal_rank([True, True, False, False], scores=scores) == pytest.approx(13 / 18)


def test_tie_beyond_mrr_cutoff_is_cut():
    # Passages at positions 9 and 10 tie, one relevant: only position 9 (rank 10) counts.
    rel = [False] * 9 + [False, True]
    scores = [float(20 - i) for i in range(9)] + [1.0, 1.0]
    assert reciprocal_rank(rel, k=10, scores=scores) == pytest.approx(0.5 * (1 / 10))
    assert recall_at_k(rel, 10, scores) == pytest.approx(0.5)


def test_all_tied_all_relevant_is_perfect():
    rel = [True, True, True]
    scores = [0.5, 0.5, 0.5]
    assert recall_at_k(rel, 1, scores) == 1.0
    assert reciprocal_rank(rel, scores=scores) == 1.0
    assert ndcg_at_k(rel, 3, scores=scores) == pytest.approx(1.0)


def test_mismatched_lengths_are_an_error():
    with pytest.raises(ValueError):
        recall_at_k([True, False], 1, [1.0])


# --- aggregates -------------------------------------------------------------------------------


def test_percentile_and_mean():
    assert percentile([], 50) is None
    assert percentile([3.0], 95) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    # numpy's linear method: pos = 0.95 * 3 = 2.85 -> 3 + 0.85 * (4 - 3)
    assert percentile([4.0, 1.0, 3.0, 2.0], 95) == pytest.approx(3.85)
    assert mean([1.0, None, 3.0]) == 2.0
    assert mean([None]) is None
