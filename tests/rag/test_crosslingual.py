"""English questions meet Vietnamese passages through names, dates and units (rag.crosslingual)."""

from __future__ import annotations

from rag.crosslingual import vietnamese_forms
from rag.lexical import BM25Index, query_terms


def test_country_and_city_names_map_to_their_vietnamese_forms():
    forms = vietnamese_forms("What did Russia and North Korea sign in Pyongyang?")
    assert "Nga" in forms
    assert "Triều Tiên" in forms
    assert "Bình Nhưỡng" in forms


def test_dates_become_day_slash_month_and_month_names():
    assert {"tháng 6", "19/6"} <= set(vietnamese_forms("What happened on June 19?"))
    assert "19/6" in vietnamese_forms("What happened on 19 June 2024?")


def test_units_after_numbers_in_digits_and_words():
    forms = vietnamese_forms("Did the talks last two hours or 3 days?")
    assert {"2 giờ", "hai giờ", "3 ngày", "ba ngày"} <= set(forms)


def test_lower_case_words_are_not_names():
    # "may" the verb and "turkey" the bird are not the month or the country.
    assert vietnamese_forms("Which turkey may they cook?") == []


def test_vietnamese_questions_are_left_alone():
    terms = query_terms("Nga và Triều Tiên ký hiệp ước ở đâu?")
    assert "~nga" not in terms and set(terms) >= {"nga", "triều", "tiên"}


def test_an_english_question_finds_the_vietnamese_passage_through_the_names():
    index = BM25Index.build(
        [
            "Tổng thống Nga và nhà lãnh đạo Triều Tiên ký hiệp ước tại Bình Nhưỡng ngày 19/6.",
            "Pháp và Đức họp tại Berlin về ngân sách năm tới.",
            "Nhật Bản công bố số liệu thương mại tháng 5.",
        ]
    )
    terms = query_terms("What did Russia and North Korea sign in Pyongyang on June 19?")
    assert terms["triều_tiên"] > 0 and terms["19/6"] == 1.0
    scores = index.scores(terms)
    assert int(scores.argmax()) == 0
    assert scores[0] > 3 * max(scores[1], scores[2])
