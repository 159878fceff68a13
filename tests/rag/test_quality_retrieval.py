"""Retrieval and answer quality parts: normalization, BM25 fields and weights, fusion, near-
duplicate collapse, follow-up rewriting and answer composition, on real indexes (bm25s, FAISS,
SQLite) built from the seed articles."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from rag.answer import compose
from rag.bm25 import BM25Index
from rag.chat import rewrite
from rag.dedup import collapse
from rag.query import question_type
from rag.tokens import (
    detect_language,
    document_tokens,
    fold_accents,
    normalize,
    query_terms,
    tokenize,
)
from rag.types import Chunk, Hit


def test_normalize_unifies_tone_placement_quotes_and_case():
    assert normalize("Hoà bình") == normalize("hòa bình")
    assert normalize("THUÝ") == normalize("thúy")
    assert normalize("“a” – b") == '"a" - b'


def test_normalize_leaves_the_placements_that_have_one_form_alone():
    # "qu" is a consonant: "quà", "quả", "quý" have their tone on the vowel after it in either
    # style; "uê" always carries it on the "ê". Only oa / oe / uy syllables have two forms.
    for word in ("quà", "quả", "QUÝ", "huệ", "tuệ", "thuế", "quế", "khuya", "thuở"):
        assert normalize(word) == word.lower(), word
    assert normalize("khoẻ") == normalize("khỏe") and normalize("uỷ") == normalize("ủy")


def test_numbers_stay_whole():
    toks = tokenize("Hơn 1.000 lao động, ngày 19/6, tăng 54%")
    assert {"1.000", "19/6", "54%"} <= set(toks)


def test_folded_field_finds_text_typed_without_diacritics():
    docs = [
        ("", "Hiệp ước mới sẽ thay thế các văn kiện ký năm 1961."),
        ("", "Tổng thống tặng một chiếc xe hơi Aurus."),
    ]
    index = BM25Index.build(docs)
    s = index.scores("hiep uoc thay the nhung van kien nao")
    assert int(np.argmax(s)) == 0 and s[0] > 0
    assert "~hiep" in document_tokens("", "hiệp ước")
    assert fold_accents("Đối tác") == "Doi tac"


def test_title_is_indexed_as_a_field():
    index = BM25Index.build([("Triều Tiên và Nga", "Hai bên ký kết."), ("", "Hai bên ký kết.")])
    s = index.scores("Triều Tiên")
    assert s[0] > 0 and s[1] == 0


def test_english_questions_keep_names_and_numbers_at_full_weight():
    terms = query_terms("How many workers did Pyongyang send in 2023?")
    assert terms["pyongyang"] == 1.0 and terms["2023"] == 1.0
    assert terms["workers"] < 1.0
    assert detect_language("How many workers?") == "en"
    assert detect_language("hiep uoc thay the nhung van kien nao") == "vi"


def test_question_types():
    assert question_type("Thương mại tăng bao nhiêu phần trăm?") == "number"
    assert question_type("Hiệp ước được ký vào ngày nào?") == "date"
    assert question_type("Lễ ký diễn ra ở đâu?") == "place"
    assert question_type("Ai tiết lộ điều này?") == "person"
    assert question_type("Hiệp ước thay thế những văn kiện nào?") == "list"


def _hit(article_id: str, text: str, rank: int, title: str = "") -> Hit:
    return Hit(Chunk(article_id, 0, text, 0, len(text), title), 1.0 - rank / 10, rank)


def test_collapse_folds_syndicated_copies_into_also():
    story = (
        "Tổng thống Nga Vladimir Putin và Chủ tịch Triều Tiên Kim Jong Un ký Hiệp ước Đối tác "
        "chiến lược toàn diện sau cuộc hội đàm ở Bình Nhưỡng ngày 19/6."
    )
    hits = [
        _hit("a", story, 0),
        _hit("b", "Theo TTXVN: " + story, 1),
        _hit("c", "Kim ngạch thương mại song phương tăng 9 lần trong năm 2023.", 2),
    ]
    out = collapse(hits)
    assert [h.chunk.article_id for h in out] == ["a", "c"]
    assert out[0].also == ("b",) and [h.rank for h in out] == [0, 1]


def test_compose_cites_the_same_fact_from_two_articles_once():
    fact = "Hiệp ước được ký tại Bình Nhưỡng ngày 19/6 sau cuộc hội đàm."
    hits = [
        _hit("a", fact + " Hai bên tổ chức họp báo.", 0, "Bài A"),
        _hit("b", "Theo Reuters, " + fact, 1, "Bài B"),
    ]
    hits[0] = replace(hits[0], also=("c",))
    idf = {t: 1.0 for t in query_terms("Hiệp ước được ký ở đâu?")}
    ans = compose(
        "Hiệp ước được ký ở đâu?", hits, idf, mode="bm25", model=None, titles={"c": "Bài C"}
    )
    assert ans.found
    assert ans.text.count("19/6") == 1 and "[1][2]" in ans.text
    assert ans.citations[0].also_reported_by == ("Bài C",)


def test_rewrite_ellipsis_and_pronouns():
    hist = [("Hiệp ước năm 1961 được ký ở đâu?", "Ở Moskva [1]")]
    assert rewrite("còn hiệp ước năm 2000 thì sao?", hist) == "hiệp ước năm 2000 được ký ở đâu?"
    hist = [("When did Putin meet Kim Jong Un?", "On 19 June [1]")]
    assert rewrite("what did he give him?", hist) == "what did Putin give Kim Jong Un?"
    assert rewrite("Hiệp ước ký ngày nào?", hist) is None
    assert rewrite("còn năm 2000 thì sao?", []) is None


TREATY_ANSWER = (
    "Tổng thống Nga Vladimir Putin và Chủ tịch Triều Tiên Kim Jong Un ký Hiệp ước Đối tác chiến "
    "lược toàn diện sau cuộc hội đàm ở Bình Nhưỡng ngày 19/6. [1]"
)


@pytest.mark.parametrize(
    ("history", "question", "standalone"),
    [
        # "Nó" is what the previous question asked for: the object its answer names.
        (
            [("Nga và Triều Tiên ký gì?", TREATY_ANSWER)],
            "Nó được ký ở đâu?",
            "Hiệp ước Đối tác chiến lược toàn diện được ký ở đâu?",
        ),
        # ... else the previous question's subject.
        (
            [("Hiệp ước Nga - Triều Tiên được ký vào ngày nào?", "Ngày 19/6 [1]")],
            "Nó sẽ thay thế những văn kiện nào?",
            "Hiệp ước Nga - Triều Tiên sẽ thay thế những văn kiện nào?",
        ),
        (
            [("Theo ông Ushakov, thỏa thuận sẽ không mang tính chất gì?", "Đối đầu [1]")],
            "Nó nhằm mục đích gì?",
            "Thỏa thuận nhằm mục đích gì?",
        ),
        # A bare question phrase replaces the previous one, on the previous turn's rewrite.
        (
            [("Nga và Triều Tiên ký gì?", TREATY_ANSWER), ("Nó được ký vào ngày nào?", "19/6")],
            "Còn ở đâu?",
            "Hiệp ước Đối tác chiến lược toàn diện được ký ở đâu?",
        ),
        # "ông ấy" after "which aide …?" is the aide the answer named, not the president.
        (
            [
                (
                    "Trợ lý nào của Tổng thống Putin nói về hiệp ước mới?",
                    "Ông Yury Ushakov, Trợ lý Điện Kremlin, cho biết … [1]",
                )
            ],
            "Ông ấy nói hiệp ước mới sẽ thay thế những gì?",
            "Yury Ushakov nói hiệp ước mới sẽ thay thế những gì?",
        ),
        # A question's capitalised first word is not a name ("Chuyến thăm…").
        (
            [("Chuyến thăm Triều Tiên của ông Putin kéo dài mấy ngày?", "2 ngày [1]")],
            "Ông ấy bắt đầu chuyến thăm vào ngày nào?",
            "Putin bắt đầu chuyến thăm vào ngày nào?",
        ),
        # An unresolved "it" keeps what the conversation is about beside it.
        (
            [("When did Putin and Kim sign the treaty?", "19/6 [1]")],
            "Which documents will it replace?",
            "Which documents will it replace? (Putin and Kim sign the treaty)",
        ),
        # So does a thing named with a demonstrative, and a reply asked for with no object.
        (
            [("Ông Kim Jong-un có chuyến thăm vùng Viễn đông Nga khi nào?", "tháng 9 [1]")],
            "Chuyến đi đó kéo dài bao lâu?",
            "Chuyến đi đó kéo dài bao lâu? (Ông Kim Jong-un có chuyến thăm vùng Viễn đông Nga)",
        ),
        (
            [("Bình Nhưỡng hy vọng đưa bao nhiêu lao động đến Donbas?", "hơn 1.000 [1]")],
            "Ukraine đã phản ứng thế nào?",
            "Ukraine đã phản ứng thế nào? (Bình Nhưỡng hy vọng đưa lao động đến Donbas)",
        ),
        (
            [("What did Putin give Kim?", "a car [1]")],
            "How did Kim respond?",
            "How did Kim respond? (Putin give Kim)",
        ),
        # A question that stands on its own is left as it is.
        (
            [("Nga và Triều Tiên ký gì?", TREATY_ANSWER)],
            "Ai ký hiệp ước?",
            None,
        ),
    ],
)
def test_rewrite_keeps_what_a_pronoun_or_ellipsis_stands_for(history, question, standalone):
    assert rewrite(question, history) == standalone


def test_assistant_answers_follow_ups_with_the_rewritten_query(seeded_assistant):
    first = "Bình Nhưỡng hy vọng đưa bao nhiêu lao động đến Donbas?"
    a1 = seeded_assistant.ask(first)
    assert a1.found and a1.rewritten_query is None
    follow = "còn Luhansk thì sao?"
    a2 = seeded_assistant.ask(follow, history=[(first, a1.text)])
    assert a2.question == follow
    assert a2.rewritten_query == "Bình Nhưỡng hy vọng đưa bao nhiêu lao động đến Luhansk?"
    assert a2.to_dict()["rewritten_query"] == a2.rewritten_query


def test_search_on_seeds_finds_the_passage_and_unaccented_queries_work(seeded_assistant):
    hits = seeded_assistant.search("Chiếc xe hơi ông Putin tặng ông Kim Jong Un hiệu gì?", k=3)
    assert any("Aurus" in h.chunk.text for h in hits[:1])
    folded = seeded_assistant.search(
        "chiec xe hoi ong putin tang ong kim hieu gi", k=3, mode="bm25"
    )
    assert any("Aurus" in h.chunk.text for h in folded[:1])
    ans = seeded_assistant.ask("Bình Nhưỡng hy vọng đưa bao nhiêu lao động đến Donbas?")
    assert ans.found and "1.000" in ans.text
