"""Abstention thresholds of rag.answer by question language."""

from __future__ import annotations

from rag.answer import MIN_COVERAGE, MIN_COVERAGE_EN, compose, states_count
from rag.query import counted_noun, date_grain, split_question
from rag.tokens import query_terms
from rag.types import Chunk, Hit

PASSAGE = (
    "Tổng thống Nga Vladimir Putin đến Bình Nhưỡng ngày 19/6 trong chuyến thăm kéo dài hai ngày."
)


def _hits() -> list[Hit]:
    return [Hit(Chunk("a", 0, PASSAGE, 0, len(PASSAGE), "Putin thăm Triều Tiên"), 1.0, 0)]


def test_english_question_over_vietnamese_text_is_answered_below_the_vietnamese_threshold():
    # Only "Putin" crosses the languages, so the right sentence covers little of the question:
    # between the English and the Vietnamese thresholds.
    q = "When did President Putin arrive for the state visit?"
    idf = {t: 1.0 for t in query_terms(q)}
    ans = compose(q, _hits(), idf, mode="bm25", model=None)
    assert MIN_COVERAGE_EN <= ans.confidence < MIN_COVERAGE
    assert ans.found and "19/6" in ans.text and ans.text.endswith("[1]")
    strict = compose(q, _hits(), idf, mode="bm25", model=None, min_coverage=MIN_COVERAGE)
    assert not strict.found and strict.citations == ()
    # Naming the city, which CLDR maps to "Bình Nhưỡng", covers more of the question.
    q2 = "When did President Putin arrive in Pyongyang for the state visit?"
    idf2 = {t: 1.0 for t in query_terms(q2)}
    assert compose(q2, _hits(), idf2, mode="bm25", model=None).confidence > ans.confidence


def test_vietnamese_question_keeps_its_own_threshold():
    q = "Ông Putin mặc áo màu gì khi xuống sân bay?"
    idf = {t: 1.0 for t in query_terms(q)}
    ans = compose(q, _hits(), idf, mode="bm25", model=None)
    assert ans.confidence < MIN_COVERAGE
    assert not ans.found and ans.text.startswith("Không tìm thấy")


def _passages(*texts: str) -> list[Hit]:
    return [
        Hit(Chunk(f"a{i}", 0, t, 0, len(t), f"Bài {i}"), 1.0 - i / 10, i)
        for i, t in enumerate(texts)
    ]


def test_a_count_question_needs_a_count_of_what_it_asks():
    hits = _passages(
        "Hiệp ước bao gồm điều khoản phòng thủ chung giữa hai nước.",
        "Hiệp ước được ký trong chuyến thăm Bình Nhưỡng.",
    )
    q = "Hiệp ước gồm bao nhiêu điều khoản?"
    idf = {t: 1.0 for t in query_terms(q)}
    assert counted_noun(q) == "điều"
    # The first passage covers the question well but counts no clauses: not an answer.
    assert not compose(q, hits, idf, mode="bm25", model=None).found
    counted = _passages("Hiệp ước gồm 23 điều khoản, trong đó có điều khoản phòng thủ chung.")
    ans = compose(q, counted, idf, mode="bm25", model=None)
    assert ans.found and "23 điều khoản" in ans.text


def test_count_rules_read_numbers_on_either_side_and_percentages():
    assert states_count("tuổi", "Manning, ở tuổi 39, là cầu thủ lớn tuổi nhất.")
    assert states_count("năm", "Ông Putin thăm Triều Tiên 24 năm trước.")
    assert states_count("giải", "Người chiến thắng giải Grammy sáu lần đã hát quốc ca.")
    assert not states_count(
        "điều", "Hiệp ước gồm điều khoản phòng thủ chung, theo đó hai bên giúp nhau."
    )
    assert counted_noun("Sứa lược ăn bao nhiêu trong một ngày?") is None
    assert states_count("%", "Thương mại tăng 54% trong 5 tháng.")
    assert counted_noun("Thương mại tăng bao nhiêu phần trăm?") == "%"
    assert counted_noun("Thương mại tăng bao nhiêu?") is None


def test_a_count_of_something_no_article_names_is_not_found():
    hits = _passages("Năm 2023, kim ngạch thương mại song phương tăng 9 lần.")
    q = "Kim ngạch thương mại năm 2023 đạt bao nhiêu USD?"
    idf = {t: 1.0 for t in query_terms(q)}
    vocab = {"kim", "ngạch", "thương", "mại", "năm", "2023", "tăng", "lần"}

    def known(terms):
        return {t for t in terms if t in vocab}

    assert not compose(q, hits, idf, mode="bm25", model=None, known=known).found
    # Without the vocabulary, the number in the sentence is taken as the count.
    assert compose(q, hits, idf, mode="bm25", model=None).found


def test_a_which_day_question_is_answered_by_a_sentence_with_a_day():
    hits = _passages(
        "Điện Kremlin cho biết hiệp ước được ký sẽ thay thế các văn bản ký vào các năm 1961 "
        "và 2000.",
        "Hai nhà lãnh đạo ký hiệp ước ngày 19/6 tại Bình Nhưỡng.",
    )
    q = "Hiệp ước được ký vào ngày nào?"
    idf = {t: 1.0 for t in query_terms(q)}
    assert date_grain(q) == "day" and date_grain("Hiệp ước ký năm nào?") == "year"
    ans = compose(q, hits, idf, mode="bm25", model=None)
    assert ans.found and ans.text.startswith("Hai nhà lãnh đạo ký hiệp ước ngày 19/6")
    assert "1961" not in ans.text


def test_compound_questions_are_split_only_where_both_sides_ask():
    assert split_question("Triều Tiên định làm gì ở Donbas và Ukraine đã đáp lại thế nào?") == [
        "Triều Tiên định làm gì ở Donbas?",
        "Ukraine đã đáp lại thế nào?",
    ]
    assert split_question("Putin và Kim đã ký gì?") == ["Putin và Kim đã ký gì?"]
    assert split_question("Who signed the treaty and where?") == [
        "Who signed the treaty?",
        "where?",
    ]


def test_each_part_of_a_compound_question_gets_its_sentence():
    hits = _passages(
        "Triều Tiên định đưa 1.000 lao động tới Donbas để tái thiết.",
        "Ukraine đã đáp lại bằng cách cắt đứt quan hệ với Triều Tiên.",
    )
    q = "Triều Tiên định làm gì ở Donbas và Ukraine đã đáp lại thế nào?"
    idf = {t: 1.0 for t in query_terms(q)}
    ans = compose(q, hits, idf, mode="bm25", model=None)
    assert "1.000 lao động" in ans.text and "cắt đứt quan hệ" in ans.text
    assert [c.n for c in ans.citations] == [1, 2]


def test_each_citation_supports_the_sentence_it_follows():
    # Five near-identical articles that differ in one number: a sentence cites only the
    # passages that state its number, never the whole set behind the first one.
    import re

    numbers = (34, 35, 36, 37, 38)
    texts = [
        f"Kim ngạch thương mại song phương năm 2023 đạt {n} triệu USD, theo Tổng cục Hải quan."
        for n in numbers
    ]
    q = "Kim ngạch thương mại song phương năm 2023 đạt bao nhiêu?"
    ans = compose(q, _passages(*texts), {t: 1.0 for t in query_terms(q)}, mode="bm25", model=None)
    assert ans.found
    passage = {c.n: c.text for c in ans.citations}
    claims = re.findall(r"(.*?)((?:\[\d+\])+)", ans.text)
    assert claims
    for sentence, marks in claims:
        stated = set(re.findall(r"\d+", sentence))
        for n in map(int, re.findall(r"\d+", marks)):
            assert stated <= set(re.findall(r"\d+", passage[n])), (sentence, passage[n])
    # The same fact in other words and the same numbers is still cited together.
    same = _passages(
        texts[0],
        "Theo Tổng cục Hải quan, kim ngạch thương mại song phương năm 2023 đạt 34 triệu USD.",
    )
    together = compose(q, same, {t: 1.0 for t in query_terms(q)}, mode="bm25", model=None)
    assert together.text.endswith("[1][2]") and together.text.count("triệu USD") == 1


TRADE = (
    "Ông Putin cho biết hợp tác kinh tế-thương mại giữa hai nước có triển vọng tốt, mặc dù kim "
    "ngạch song phương hiện còn khiêm tốn. Cụ thể, năm 2023, kim ngạch thương mại song phương "
    "tăng 9 lần, trong 5 tháng đầu năm 2024 tăng 54%. Tổng thống Putin nhấn mạnh Nga tiếp tục nỗ "
    "lực chính trị ngoại giao nhằm thúc đẩy hòa bình trên Bán đảo Triều Tiên."
)


def test_a_continuation_is_quoted_right_after_the_sentence_it_continues():
    q = "Ông Putin nói gì về kim ngạch thương mại hai nước, kèm số liệu cụ thể?"
    ans = compose(q, _passages(TRADE), {t: 1.0 for t in query_terms(q)}, mode="bm25", model=None)
    assert ans.found
    assert "hiện còn khiêm tốn. [1] Cụ thể, năm 2023, kim ngạch" in ans.text, ans.text
    assert "Bán đảo Triều Tiên" not in ans.text


def test_the_run_that_holds_the_best_sentence_comes_first():
    # The best sentence in the second passage: its answer leads, whatever the passage order.
    q = "Hiệp ước được ký ở đâu?"
    hits = _passages(
        "Hai bên ký hiệp ước được chuẩn bị từ lâu tại Bình Nhưỡng.",
        "Hiệp ước được ký tại Bình Nhưỡng sau cuộc hội đàm giữa hai nhà lãnh đạo.",
    )
    ans = compose(q, hits, {t: 1.0 for t in query_terms(q)}, mode="bm25", model=None)
    assert ans.text.startswith("Hiệp ước được ký tại Bình Nhưỡng"), ans.text
    assert "Hai bên ký hiệp ước" in ans.text  # still quoted, second


TREATY = (
    "Ông Kim Jong Un cũng nêu rõ hiệp ước là văn kiện mang tính xây dựng, phòng thủ và hòa bình, "
    "đáp ứng quan hệ chiến lược giữa hai nước trong thời đại mới khi vị thế hai nước trong cấu "
    "trúc địa chính trị thế giới đã thay đổi. Trước đó, trợ lý Tổng thống Nga, ông Yuri Ushakov "
    "cho biết văn kiện mới sẽ thay thế Hiệp ước hữu nghị ký năm 1961, Tuyên bố Moskva 2000 và "
    "Tuyên bố Bình Nhưỡng 2001. Ông Putin đánh giá hiệp ước trên là văn kiện đột phá, qua đó hai "
    "nước đưa quan hệ hợp tác song phương lên tầm cao mới."
)
TREATY_Q = "Hiệp ước mới thay thế những văn kiện nào?"


def test_a_sentence_that_misses_the_questions_words_is_left_out():
    # "thay đổi … vị thế" holds "thay" and "thế" but not "thay thế"; the third sentence holds
    # neither: the answer is the sentence about what the treaty replaces, alone.
    idf = {t: 1.0 for t in query_terms(TREATY_Q)}
    ans = compose(TREATY_Q, _passages(TREATY), idf, mode="bm25", model=None)
    assert ans.text.startswith("Trước đó, trợ lý Tổng thống Nga"), ans.text
    assert "mang tính xây dựng" not in ans.text and "văn kiện đột phá" not in ans.text


def test_a_lead_that_its_continuation_answers_better_is_left_out():
    # By meaning, the off-topic lead ranks first (as multilingual-e5 ranks it over the seeds);
    # its continuation holds the question's "thay thế": the continuation alone is the answer.
    import numpy as np

    def cosines(texts):
        return np.array([0.93 if "xây dựng" in t else 0.85 for t in texts], dtype=np.float32)

    idf = {t: 1.0 for t in query_terms(TREATY_Q)}
    ans = compose(
        TREATY_Q,
        _passages(TREATY),
        idf,
        mode="hybrid",
        model="intfloat/multilingual-e5-small",
        cosines=cosines,
    )
    assert ans.text.startswith("Trước đó, trợ lý Tổng thống Nga"), ans.text
    assert "mang tính xây dựng" not in ans.text and "văn kiện đột phá" not in ans.text


def _by_meaning(q: str, hits: list[Hit], marked: str, cosine: float, other: float, mode: str):
    """compose() over ``hits`` with the multilingual model's rules, a sentence's cosine with
    ``q`` being ``cosine`` where it holds ``marked``, ``other`` elsewhere."""
    import numpy as np

    def cosines(texts):
        return np.array([cosine if marked in t else other for t in texts], dtype=np.float32)

    idf = {t: 1.0 for t in query_terms(q)}
    model = "intfloat/multilingual-e5-small"
    return compose(q, hits, idf, mode=mode, model=model, cosines=cosines)


def test_an_extra_sentence_near_the_best_by_meaning_alone_is_left_out():
    # "Sau lễ ký, … họp báo" covers little of the question: its cosine alone brought it near
    # the best sentence, and the answer would not quote it on its own.
    q = "Cuộc hội đàm trước lễ ký kéo dài bao lâu?"
    hits = _passages(
        "Hiệp định được ký kết sau cuộc hội đàm kéo dài khoảng hai giờ tại Bình Nhưỡng.",
        "Sau lễ ký, hai nhà lãnh đạo đã tổ chức họp báo.",
    )
    ans = _by_meaning(q, hits, "họp báo", 0.87, 0.86, "hybrid")
    assert "hai giờ" in ans.text and "họp báo" not in ans.text, ans.text


GIFTS = (
    "Hai nhà lãnh đạo đã tặng quà cho nhau nhân cuộc gặp lần này. Tổng thống Putin tặng nhà "
    "lãnh đạo Triều Tiên bộ trà và một chiếc xe hơi Aurus do Nga sản xuất. Ông Ushakov không "
    "cho biết ông Putin được tặng gì. Hiệp ước được ký tại Bình Nhưỡng sau cuộc hội đàm kéo dài."
)


def _in_article(start: int, end: int, rank: int = 0) -> Hit:
    return Hit(Chunk("g", rank, GIFTS[start:end], start, end, "Quà tặng"), 1.0 - rank / 10, rank)


def test_the_sentence_before_a_passage_is_quoted_and_its_citation_holds_it():
    # The passage retrieved opens after the sentence that answers; with the article's text,
    # that sentence is a candidate, cited with the passage widened to hold it.
    q = "Ông Putin tặng nhà lãnh đạo Triều Tiên chiếc xe hơi nào?"
    idf = {t: 1.0 for t in query_terms(q)}
    start = GIFTS.index("Ông Ushakov")
    hits = [_in_article(start, len(GIFTS))]
    assert "Aurus" not in compose(q, hits, idf, mode="bm25", model=None).text
    ans = compose(q, hits, idf, mode="bm25", model=None, article_text={"g": GIFTS}.get)
    assert ans.found and "xe hơi Aurus do Nga sản xuất. [1]" in ans.text, ans.text
    (cited,) = ans.citations
    said = GIFTS.index("Tổng thống Putin tặng")
    assert cited.start == said and cited.end == len(GIFTS)
    assert cited.text == GIFTS[said:] and cited.highlights[0][0] == said


def test_a_sentence_cut_at_a_passage_edge_is_read_whole():
    q = "Ông Putin tặng nhà lãnh đạo Triều Tiên chiếc xe hơi nào?"
    idf = {t: 1.0 for t in query_terms(q)}
    cut = GIFTS.index("bộ trà")  # the passage starts inside the answering sentence
    ans = compose(
        q, [_in_article(cut, len(GIFTS))], idf, mode="bm25", model=None,
        article_text={"g": GIFTS}.get,
    )  # fmt: skip
    assert "Tổng thống Putin tặng nhà lãnh đạo Triều Tiên bộ trà" in ans.text, ans.text
    # The sentence before a passage that another retrieved passage holds is read there only.
    first = GIFTS.index("Ông Ushakov")
    hits = [_in_article(first, len(GIFTS), 0), _in_article(0, first - 1, 1)]
    both = compose(q, hits, idf, mode="bm25", model=None, article_text={"g": GIFTS}.get)
    assert both.text.count("Aurus") == 1 and [c.n for c in both.citations] == [1]
    assert (both.citations[0].start, both.citations[0].end) == (0, first - 1)


def test_the_other_voice_is_seen_past_tense_words():
    from rag.answer import opposite_voice

    received = "Ông Ushakov không cho biết Tổng thống Putin được tặng gì."
    assert opposite_voice("Ông Putin đã tặng nhà lãnh đạo Triều Tiên những món quà gì?", received)
    assert opposite_voice("Putin tặng Kim món quà gì?", received)
    assert opposite_voice("Ông Putin đã được tặng gì?", "Tổng thống Putin tặng bộ trà.")
    assert not opposite_voice("Ông Putin đã tặng gì?", "Tổng thống Putin tặng bộ trà.")


def test_hybrid_answers_rank_the_first_passage_ahead():
    # Two passages whose sentences score alike: hybrid mode quotes the retrieval's first, the
    # other modes the better-scored one.
    from rag.answer import TOP_PASSAGE

    q = "Hiệp ước được ký ở đâu?"
    hits = _passages(
        "Hiệp ước được ký tại Bình Nhưỡng sau cuộc hội đàm.",
        "Hiệp ước được ký tại thủ đô Bình Nhưỡng của Triều Tiên hôm 19/6.",
    )
    hybrid = _by_meaning(q, hits, "19/6", 0.90, 0.88, "hybrid")
    dense = _by_meaning(q, hits, "19/6", 0.90, 0.88, "dense")
    assert hybrid.text.startswith("Hiệp ước được ký tại Bình Nhưỡng sau"), hybrid.text
    assert dense.text.startswith("Hiệp ước được ký tại thủ đô"), dense.text
    assert TOP_PASSAGE > 0


def test_question_word_bigrams_are_told_apart_from_a_phrases_bigrams():
    from rag.answer import _term_part

    assert [_term_part(t) for t in ("sứa", "sứa_lược", "lược_đã", "năm_nào")] == [0, 1, 2, 2]


def test_the_fitted_ranker_reads_every_feature_the_candidates_carry():
    import numpy as np

    from rag.answer import RANK_FEATURES, RANKERS, meaning_for, score_sentences

    model = "intfloat/multilingual-e5-small"
    assert model in RANKERS
    for ranker in RANKERS.values():
        assert len(ranker.mean) == len(ranker.scale) == len(ranker.weights) == len(RANK_FEATURES)
    q = "Hiệp ước được ký ở đâu?"
    hits = _passages("Hiệp ước được ký tại Bình Nhưỡng sau cuộc hội đàm. Hai bên họp báo.")
    idf = {t: 1.0 for t in query_terms(q)}
    sents = score_sentences(
        q, hits, idf, cosines=lambda ts: np.full(len(ts), 0.9), meaning=meaning_for(model)
    )
    assert len(sents) == 2 and all(len(s.features) == len(RANK_FEATURES) for s in sents)
    place = next(s for s in sents if "Bình Nhưỡng" in s.text)
    other = next(s for s in sents if "họp báo" in s.text)
    assert RANKERS[model].score(place.features) > RANKERS[model].score(other.features)
    # Without a model's cosines no features are computed (BM25, the tiny test models).
    assert all(s.features == () for s in score_sentences(q, hits, idf))


WHY = (
    "Nga cần hiệp ước mới vì tình hình địa chính trị trên thế giới đã thay đổi. "
    "Quan hệ song phương đã chuyển biến sâu sắc trong thời gian gần đây."
)


def _cosine_ranker(monkeypatch, weight: float) -> None:
    """The multilingual model's fitted odds replaced by ones that read only the cosine."""
    from rag import answer
    from rag.answer import RANK_FEATURES, SentenceRanker

    n = len(RANK_FEATURES)
    weights = tuple(weight if f == "cosine" else 0.0 for f in RANK_FEATURES)
    monkeypatch.setitem(
        answer.RANKERS,
        "intfloat/multilingual-e5-small",
        SentenceRanker((0.0,) * n, (1.0,) * n, weights),
    )


def test_a_second_sentence_of_the_passage_is_quoted_when_the_ranker_is_torn(monkeypatch):
    # A ranker that reads only the cosine: near-equal cosines split the odds, and the answer
    # quotes both sentences of the passage under its one citation; far apart, only the best.
    _cosine_ranker(monkeypatch, 50.0)
    q = "Vì sao Nga cần hiệp ước mới?"
    torn = _by_meaning(q, _passages(WHY), "song phương", 0.89, 0.90, "hybrid")
    assert "thay đổi. [1]" in torn.text and "gần đây. [1]" in torn.text, torn.text
    assert [c.n for c in torn.citations] == [1]
    sure = _by_meaning(q, _passages(WHY), "song phương", 0.80, 0.90, "hybrid")
    assert "song phương" not in sure.text and "thay đổi. [1]" in sure.text, sure.text
    # Other modes have no fitted odds: the second sentence covers too little to be quoted.
    dense = _by_meaning(q, _passages(WHY), "song phương", 0.89, 0.90, "dense")
    assert "song phương" not in dense.text, dense.text


def test_a_further_sentence_needs_a_tenth_of_the_fitted_odds(monkeypatch):
    # Another passage's sentence near the best by its terms: quoted without a ranker (dense
    # mode), left out when the fitted odds (here: the cosine alone) give it almost nothing.
    _cosine_ranker(monkeypatch, 200.0)
    q = "Hiệp ước được ký ở đâu?"
    hits = _passages(
        "Hiệp ước được ký tại Bình Nhưỡng sau cuộc hội đàm.",
        "Hiệp ước được ký tại thủ đô Bình Nhưỡng của Triều Tiên hôm 19/6.",
    )
    dense = _by_meaning(q, hits, "19/6", 0.88, 0.90, "dense")
    assert "[1]" in dense.text and "19/6. [2]" in dense.text, dense.text
    hybrid = _by_meaning(q, hits, "19/6", 0.88, 0.90, "hybrid")
    assert "19/6" not in hybrid.text and [c.n for c in hybrid.citations] == [1], hybrid.text
