"""ui.layout.chat: the chat tab's components, and which of them the language switch
relabels."""

from __future__ import annotations

import dataclasses

import pytest

gr = pytest.importorskip("gradio")

from tests.ui.layout.helpers import build, english, fields, relabelled  # noqa: E402
from ui.i18n import EXAMPLES  # noqa: E402
from ui.layout.chat import ChatTab, build_chat_tab  # noqa: E402


def test_the_chat_tab_holds_its_components_frozen():
    tab, _ = build(build_chat_tab)
    assert isinstance(tab, ChatTab)
    assert all(isinstance(c, gr.blocks.Block) for c in fields(tab).values())
    with pytest.raises(dataclasses.FrozenInstanceError):
        tab.msg = None
    assert tab.chatbot.elem_id == "rag-chat" and tab.msg.elem_id == "rag-input"
    assert tab.send.elem_id == "rag-send" and tab.correction.elem_id == "rag-correction"
    assert tab.viewer.elem_id == "rag-viewer" and tab.cites.elem_id == "rag-cites"
    assert tab.chatbot.examples == [{"text": q} for q in EXAMPLES]
    assert tab.msg.max_length == 2000 and tab.fb_box.open is False


def test_every_label_follows_the_language_but_the_content_panels():
    tab, labels = build(build_chat_tab)
    # set by the handlers, in the page's language
    content = {"fb_status", "viewer", "cites", "filter_note"}
    assert relabelled(tab, labels) == set(fields(tab)) - content
    assert tab.tab.label == "Trò chuyện" and english(tab, labels, "tab") == {
        "__type__": "update",
        "label": "Chat",
    }
    assert english(tab, labels, "chatbot")["placeholder"].startswith("Ask in Vietnamese")
    assert english(tab, labels, "fb_send")["value"] == "Send feedback"
    assert "Source article" in build(build_chat_tab, lang="en")[0].viewer.value


def test_the_filters_start_with_every_outlet_and_no_dates():
    choices = [("Tất cả các báo", ""), ("Dân trí", "Dân trí"), ("Soha", "Soha")]
    tab, labels = build(build_chat_tab, choices)
    assert tab.site.value == "" and tab.site.choices == choices
    assert tab.date_from.value == "" and tab.date_to.value == "" and tab.filter_note.value == ""
    assert tab.filter_box.open is False and tab.filter_note.elem_id == "rag-filter-note"
    assert english(tab, labels, "filter_box")["label"] == "Filter sources"
    assert english(tab, labels, "site") == {"__type__": "update", "label": "Cite only this outlet"}
    assert english(tab, labels, "date_from")["placeholder"] == "e.g. 2024-06-18"
    # with no articles yet: only "all outlets"
    assert build(build_chat_tab, lang="en")[0].site.choices == [("All outlets", "")]
