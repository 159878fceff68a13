"""Abstention thresholds of rag.answer by question language."""

from __future__ import annotations

from rag.answer import MIN_COVERAGE, MIN_COVERAGE_EN, compose
from rag.lexical import query_terms
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
