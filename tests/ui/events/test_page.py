"""ui.events.page: the language switch and the page load."""

from __future__ import annotations

import pytest

gr = pytest.importorskip("gradio")

from rag.types import Answer, Citation  # noqa: E402
from tests.ui.events.conftest import event  # noqa: E402
from ui.browser_state import turn_to_json  # noqa: E402

SKIP = type(gr.skip())


def a_turn() -> dict:
    cite = Citation(
        n=1,
        article_id="a1",
        title="T",
        source="s",
        text="Hiệp ước 1961.",
        start=0,
        end=14,
        score=0.5,
    )
    answer = Answer(question="Q?", text="Hiệp ước 1961 [1].", found=True, citations=(cite,))
    return {"question": "Q?", "answer": answer, "error": None}


def test_the_language_switch_relabels_every_worded_component(page):
    switch = event(page, "switch_language")
    out = switch.fn("en", [a_turn()], None, "bm25", "")
    lang, header, status, chat, cites, viewer, counts, table, *updates = out
    assert lang == "en" and 'data-lang="en"' in header and "Retrieval" in status
    assert chat[0]["content"] == "Q\\?"  # markdown-escaped
    assert 'data-turn="0"' in cites and "Sources" in cites
    assert "Source article" in viewer and "article(s)" in counts
    assert table["headers"][0] == "Title"
    assert len(switch.outputs) == len(out)
    assert all(u["__type__"] == "update" for u in updates)
    labels = [u.get("label") or u.get("value") for u in updates]
    assert {"Chat", "Articles", "Settings", "Send", "Language"} <= set(labels)
    # an unknown language: Vietnamese
    assert switch.fn("fr", [], None, "hybrid", "")[0] == "vi"


def test_the_page_load_brings_back_what_the_browser_saved(page):
    restore = event(page, "restore")
    saved = {
        "lang": "en",
        "mode": "bm25",
        "top_k": 7,
        "rerank": True,
        "answer_mode": "extractive",
        "turns": [turn_to_json(a_turn())],
    }
    out = restore.fn(saved, "hybrid")
    assert len(out) == len(restore.outputs)
    turns, lang, radio, mode, top_k, rerank, answer_mode, chat, cites, copy, status = out[:11]
    assert turns[0]["answer"].citations[0].title == "T" and lang == radio == "en"
    assert (mode, top_k, answer_mode) == ("bm25", 7, "extractive")
    assert rerank is False  # no reranker model loads in the tests
    assert chat[1]["content"].startswith("Hiệp ước 1961") and 'data-turn="0"' in cites
    assert "rag-copy-data" in copy and "bm25" in status


def test_a_damaged_or_missing_save_starts_afresh(page):
    restore = event(page, "restore")
    for saved in (None, {}, {"turns": [{"nonsense": 1}], "top_k": 99, "answer_mode": "llm"}):
        turns, lang, _, mode, top_k, _, answer_mode, *_ = restore.fn(saved, "dense")
        assert turns == [] and lang == "vi" and mode == "dense"
        assert isinstance(top_k, SKIP) and isinstance(answer_mode, SKIP)


def test_the_page_load_brings_back_the_source_filters(page):
    restore = event(page, "restore")
    saved = {"lang": "en", "filters": {"site": "Dân trí", "date_from": "1/6/2024", "date_to": ""}}
    *_, site, since, until, note, box = restore.fn(saved, "hybrid")
    assert [c.elem_id for c in restore.outputs[-5:-1]] == [
        "rag-filter-site",
        "rag-filter-from",
        "rag-filter-to",
        "rag-filter-note",
    ]
    assert site["value"] == "Dân trí" and site["choices"][0] == ("All outlets", "")
    assert ("Soha", "Soha") in site["choices"] and (since, until) == ("1/6/2024", "")
    assert note == "Citing only articles of **Dân trí**, published from 2024-06-01: 0 match."
    assert box == {"__type__": "update", "open": True}
    # nothing saved: every outlet, no dates, no note, the box as it was
    *_, site, since, until, note, box = restore.fn({}, "hybrid")
    assert site["value"] == "" and (since, until, note) == ("", "", "")
    assert isinstance(box, SKIP)


def test_the_table_keeps_its_order_through_the_language_switch(page):
    switch = event(page, "switch_language")
    table = switch.fn("en", [], None, "hybrid", "", "added")[7]
    assert table["headers"][1:3] == ["Outlet", "Date"]
    assert [r[-1] for r in table["data"]] == [
        r[-1] for r in switch.fn("en", [], None, "hybrid", "", "newest")[7]["data"]
    ]  # the seeds have no date: newest first is the order they were added in
