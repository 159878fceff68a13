"""ui.events.*: which handler runs on which component, with which inputs and outputs."""

from __future__ import annotations

import pytest

gr = pytest.importorskip("gradio")

from tests.ui.events.conftest import event, events  # noqa: E402
from ui.events.corpus import POLL_S  # noqa: E402


def test_only_the_client_api_is_public(page):
    public = sorted(f.api_name for f in page.fns.values() if f.api_visibility != "private")
    assert public == ["articles", "ask", "health"]


def test_asking_streams_then_saves(page):
    respond = events(page, "respond")
    # Enter, Send, and an example question (after it fills the input)
    assert len(respond) == 3
    # the question, the conversation, four settings and three filters; the last output is
    # the filter note
    assert all(len(f.inputs) == 10 and len(f.outputs) == 7 for f in respond)
    assert all(f.outputs[-1].elem_id == "rag-filter-note" for f in respond)
    saves = events(page, "save")
    # after each ask, each new chat (two buttons), the language switch, on each of top-k,
    # rerank, answer mode and retriever, and on each filter: the outlet, each date (Enter and
    # leaving the box) and "Clear filters"
    assert len(saves) == 3 + 2 + 1 + 4 + 1 + 4 + 1
    assert all(len(f.inputs) == 9 for f in saves)
    assert all(f.outputs[0].__class__ is gr.BrowserState for f in saves)


def test_feedback_and_citations(page):
    like = event(page, "on_like")
    assert len(like.inputs) == 4 and like.collects_event_data
    assert event(page, "on_cite").collects_event_data
    correct = event(page, "correct")
    assert [type(c) for c in correct.outputs] == [gr.Markdown, gr.Textbox]


def test_articles_events(page):
    ingest = event(page, "on_ingest")
    assert ingest.tracks_progress and len(ingest.outputs) == 5
    assert len(event(page, "delete").outputs) == 11 and len(event(page, "undo").outputs) == 8
    tick = event(page, "refresh_if_changed")
    (timer,) = [b for b in page.blocks.values() if isinstance(b, gr.Timer)]
    assert timer.value == POLL_S and tick.show_progress == "hidden"
    assert event(page, "cancel_delete").inputs and event(page, "refresh").outputs


def test_a_new_retriever_shows_in_the_status_line(page):
    status = event(page, "status")
    assert [type(c) for c in status.inputs] == [gr.State, gr.Radio]
    assert [c.elem_id for c in status.outputs] == ["rag-status-line"]


def test_the_filters_follow_the_articles_and_the_language(page):
    view = events(page, "filters_view")
    # on a change of the index generation (an upload or delete, here or through the API) and
    # of the language
    triggers = [(type(page.blocks[t[0]]), t[1]) for f in view for t in f.targets]
    assert triggers == [(gr.State, "change")] * 2 and [len(f.inputs) for f in view] == [4, 4]
    assert all(
        [c.elem_id for c in f.outputs] == ["rag-filter-site", "rag-filter-note"] for f in view
    )
    notes = events(page, "filter_note")
    assert len(notes) == 5  # the outlet; each date on Enter and on leaving the box
    assert all([c.elem_id for c in f.outputs] == ["rag-filter-note"] for f in notes)
    clear = event(page, "clear_filters")
    assert [c.elem_id for c in clear.outputs][-1] == "rag-filter-note"
