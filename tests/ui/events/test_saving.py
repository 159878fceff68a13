"""ui.events.saving: what is saved in the browser after each change."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("gradio")

from ui.browser_state import SAVED_TURNS  # noqa: E402
from ui.events.saving import save  # noqa: E402


def test_save_keeps_the_settings_and_the_last_turns():
    turns = [{"question": f"q{i}", "answer": None, "error": "x"} for i in range(SAVED_TURNS + 3)]
    value, copy = save(turns, "en", "bm25", 4, 1, "extractive")
    assert {k: value[k] for k in ("lang", "mode", "top_k", "rerank", "answer_mode")} == {
        "lang": "en",
        "mode": "bm25",
        "top_k": 4,
        "rerank": True,
        "answer_mode": "extractive",
    }
    assert (
        len(value["turns"]) == SAVED_TURNS
        and value["turns"][-1]["question"] == f"q{SAVED_TURNS + 2}"
    )
    json.dumps(value)  # what localStorage keeps is JSON
    assert 'id="rag-copy-data"' in copy and "Assistant" in copy.replace("&quot;", '"')


def test_save_with_no_conversation():
    value, copy = save(None, "vi", "hybrid", 5, False, "extractive")
    assert value["turns"] == [] and "Tr\\u1ee3 l\\u00fd" in copy  # "Trợ lý", in JSON
