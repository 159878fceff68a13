"""The chat's source filters through ui.handlers.chat on a real Assistant over the seeds (and
one dated article): an outlet, a date range, a date that is not one; the note that says which
filters are on; the outlet choices."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

gr = pytest.importorskip("gradio")

from rag.answer import NOT_FOUND  # noqa: E402
from ui.handlers.chat import ChatHandlers  # noqa: E402
from ui.options import PageOptions  # noqa: E402

TREATY_Q = "Hiệp ước mới thay thế những văn kiện nào?"
CAT_Q = "Mèo Mướp thích ăn gì?"
CAT = {
    "title": "Mèo Mướp thích cá kho",
    "site": "Tuổi Trẻ",
    "author": "Lan Anh",
    "url": "https://tuoitre.vn/meo-muop.htm",
    "date": "2024-06-20",
    "text": "Con mèo Mướp ở Hà Nội thích ăn cá kho. Mỗi sáng, mèo Mướp ngồi chờ bên bếp.",
}
SKIP = type(gr.skip())


@pytest.fixture()
def chat(seeded_assistant, tiny_settings) -> ChatHandlers:
    return ChatHandlers(seeded_assistant, PageOptions.of(seeded_assistant, tiny_settings))


@pytest.fixture()
def with_cat(seeded_assistant, tmp_path: Path):
    """The seeds (no publication date) and one article of Tuổi Trẻ dated 20/6/2024."""
    f = tmp_path / "cat.jsonl"
    f.write_text(json.dumps(CAT, ensure_ascii=False) + "\n", encoding="utf-8")
    seeded_assistant.ingest([f])
    return seeded_assistant


def ask(chat: ChatHandlers, question: str, site="", since="", until="", lang="vi"):
    """The last step of the streamed answer (chat, turns, input, cites, viewer, view, note),
    with the note as the first step set it (the question appearing)."""
    first, *_, last = chat.respond(
        question, [], lang, "hybrid", 5, False, "extractive", site, since, until
    )
    return (*last[:-1], first[-1])


def answer_of(step):
    return step[1][-1]["answer"]


def test_an_outlet_keeps_the_answer_to_its_articles(chat):
    q = "Nga và Triều Tiên ký hiệp định gì?"
    everything = answer_of(ask(chat, q))
    assert everything.found and {c.meta.get("site") for c in everything.citations} == {"Dân trí"}
    soha = answer_of(ask(chat, q, site="soha"))  # in any case
    assert soha.found and {c.meta.get("site") for c in soha.citations} == {"Soha"}
    assert soha.text != everything.text


def test_an_outlet_with_no_relevant_article_gives_the_honest_not_found(chat, with_cat):
    step = ask(chat, TREATY_Q, site="Tuổi Trẻ")
    answer = answer_of(step)
    assert not answer.found and answer.citations == () and answer.text == NOT_FOUND["vi"]
    assert NOT_FOUND["vi"] in step[0][-1]["content"].replace("\\", "")
    assert "Tuổi Trẻ" in step[-1] and "1 bài phù hợp" in step[-1]  # the note says so


def test_a_date_range_includes_and_excludes(chat, with_cat):
    june = answer_of(ask(chat, CAT_Q, since="1/6/2024", until="2024-06-30"))
    assert june.found and {c.title for c in june.citations} == {CAT["title"]}
    # the seeds have no publication date: outside any range
    assert not answer_of(ask(chat, TREATY_Q, since="2024-06-01")).found
    # a range that ends before the article was published (the answer is in the question's
    # language, the note in the page's)
    step = ask(chat, CAT_Q, until="31/5/2024", lang="en")
    assert not answer_of(step).found and answer_of(step).text == NOT_FOUND["vi"]
    assert step[-1] == "Citing only articles published until 2024-05-31: 0 match."


def test_the_filters_reach_the_assistant(chat, seeded_assistant, monkeypatch):
    seen = []
    real_ask = seeded_assistant.ask

    def spy(question, history=(), **kw):
        seen.append(kw["filters"])
        return real_ask(question, history, **kw)

    monkeypatch.setattr(seeded_assistant, "ask", spy)
    ask(chat, TREATY_Q, site="Dân trí", since="18.6.2024", until="")
    ask(chat, TREATY_Q)
    assert (seen[0].site, seen[0].date_from, seen[0].date_to) == ("Dân trí", "2024-06-18", None)
    assert seen[1] is None


@pytest.mark.parametrize(
    ("since", "until", "lang", "said"),
    [
        (
            "hôm qua",
            "",
            "vi",
            "⚠ «hôm qua» không phải là ngày: hãy viết 2024-06-18 hoặc 18/6/2024.",
        ),
        ("", "31/2/2024", "en", "⚠ “31/2/2024” is not a date: write 2024-06-18 or 18/6/2024."),
        (
            "2024-07-01",
            "1/6/2024",
            "en",
            "⚠ The start date (2024-07-01) is after the end date (1/6/2024).",
        ),
    ],
)
def test_a_bad_date_is_one_line_and_nothing_is_asked(
    chat, seeded_assistant, monkeypatch, since, until, lang, said
):
    monkeypatch.setattr(seeded_assistant, "ask", lambda *a, **kw: pytest.fail("asked"))
    steps = list(
        chat.respond(TREATY_Q, [], lang, "hybrid", 5, False, "extractive", "", since, until)
    )
    (only,) = steps
    *untouched, note = only
    # the conversation, the input (the question stays in it) and the panels are left alone
    assert all(isinstance(x, SKIP) for x in untouched)
    assert note.replace("\\", "") == said and "\n" not in note


def test_the_note_and_the_outlet_choices(chat, with_cat):
    assert chat.filter_note("", "", "", "vi") == ""
    note = chat.filter_note("Dân trí", "1/6/2024", "30/6/2024", "vi")
    assert (
        note == "Chỉ trích dẫn bài của **Dân trí**, đăng từ 1/6/2024 đến 30/6/2024: 0 bài phù hợp."
    )
    assert chat.filter_note("", "2024-06-01", "", "en") == (
        "Citing only articles published from 2024-06-01: 1 match."
    )
    assert chat.filter_note("", "", "abc", "en").startswith("⚠ “abc” is not a date")
    assert chat.site_choices("en") == [
        ("All outlets", ""),
        ("Dân trí", "Dân trí"),
        ("Soha", "Soha"),
        ("Tuổi Trẻ", "Tuổi Trẻ"),
    ]
    # the language and a change to the articles: the choices anew, the chosen outlet kept
    sites, note = chat.filters_view("vi", "Soha", "", "")
    assert sites["value"] == "Soha" and sites["choices"][0] == ("Tất cả các báo", "")
    assert note.startswith("Chỉ trích dẫn bài của **Soha**")
    sites, note = chat.filters_view("en", "Gone", "", "")  # its last article was deleted
    assert sites["value"] == "Gone" and ("Gone", "Gone") in sites["choices"]
    assert note.endswith(": 0 match.")
    assert chat.clear_filters() == ("", "", "", "")
