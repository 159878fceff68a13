"""ui.layout.header and ui.layout.state: the parts above the tabs, and the per-browser
state."""

from __future__ import annotations

import json
import re

import pytest

gr = pytest.importorskip("gradio")

from tests.ui.layout.helpers import build, english, relabelled  # noqa: E402
from ui.layout.header import build_header, header_html, static  # noqa: E402
from ui.layout.state import PageState, build_state  # noqa: E402


def test_the_header_carries_gradios_words_in_its_language():
    html = header_html("en")
    assert 'data-lang="en"' in html and "<h1>News Q&amp;A</h1>" in html
    words = json.loads(re.search(r'data-words="([^"]*)"', html).group(1).replace("&quot;", '"'))
    assert words["Thả tệp vào đây"] == "Drop File Here"


def test_header_parts():
    header, labels = build(build_header, "<b>status</b>", "<div>copy</div>", tabs=False)
    assert relabelled(header, labels) == {"lang_radio"}
    assert english(header, labels, "lang_radio")["label"] == "Language"
    assert header.status.value == "<b>status</b>" and header.status.elem_id == "rag-status-line"
    assert header.copy_data.elem_id == "rag-copy"
    assert header.title.js_on_load == static("i18n.js")


def test_state_starts_empty():
    with gr.Blocks():
        state = build_state("vi", 7, "secret")
    assert isinstance(state, PageState)
    assert state.lang.value == "vi" and state.turns.value == [] and state.gen.value == 7
    assert isinstance(state.saved, gr.BrowserState)
    assert state.saved.storage_key == "rag-vi-news"
