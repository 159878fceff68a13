"""rag.query: a question analysed once into the value every later stage reads."""

from __future__ import annotations

import numpy as np

from rag.query import Query, analyse, as_query
from rag.tokens import query_terms


def test_analysis_of_a_vietnamese_question():
    q = analyse("Tổng thống Putin tặng Chủ tịch Kim Jong Un món quà gì?")
    assert q.lang == "vi"
    assert q.terms == query_terms(q.text)
    assert q.kind == "other" and q.parts == ()
    # Its own words: not the question words, nor the rest of a title ("Chủ tịch").
    assert q.focus == {"tặng", "món", "quà"}


def test_typed_questions_carry_what_they_ask_for():
    assert analyse("Hiệp ước được ký vào ngày nào?").grain == "day"
    counted = analyse("Triều Tiên đưa bao nhiêu lao động sang Nga?")
    assert counted.kind == "number" and counted.counted == "lao"
    english = analyse("Where was the treaty signed?")
    assert english.lang == "en" and english.kind == "place" and english.focus == frozenset()


def test_a_compound_question_is_analysed_part_by_part():
    q = analyse("Triều Tiên định làm gì ở Donbas và Ukraine đã đáp lại thế nào?")
    assert [p.text for p in q.parts] == [
        "Triều Tiên định làm gì ở Donbas?",
        "Ukraine đã đáp lại thế nào?",
    ]
    assert all(isinstance(p, Query) and p.terms == query_terms(p.text) for p in q.parts)


def test_vector_is_attached_without_changing_the_analysis():
    q = analyse("Hiệp ước được ký ở đâu?")
    v = np.ones((1, 4), dtype=np.float32)
    with_v = q.with_vector(v)
    assert with_v.vector is v and q.vector is None
    assert with_v == q  # the vector is not part of what the question is
    assert as_query(with_v) is with_v
    assert as_query(q.text) == q
