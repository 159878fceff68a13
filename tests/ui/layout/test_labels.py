"""ui.layout.labels: a worded component starts in the page's first language and follows the
language switch; each key is given once, where the component is made."""

from __future__ import annotations

import pytest

gr = pytest.importorskip("gradio")

from ui.i18n import K, t  # noqa: E402
from ui.layout.labels import Labels  # noqa: E402


def test_make_starts_in_the_first_language_and_updates_to_another():
    with gr.Blocks():
        labels = Labels("vi")
        send = labels.make(gr.Button, {"value": K.send}, variant="primary")
        box = labels.make(
            gr.Textbox, {"label": K.question_label, "placeholder": K.input_placeholder}, lines=2
        )
        title = labels.make_with(
            gr.Markdown, lambda lang: {"value": f"## {t(K.settings_title, lang)}"}
        )
    assert send.value == "Gửi" and send.variant == "primary"
    assert box.label == "Câu hỏi" and box.placeholder.startswith("Nhập câu hỏi") and box.lines == 2
    assert title.value == "## Cài đặt tìm kiếm và trả lời"
    assert labels.components == [send, box, title]
    assert labels.updates("en") == [
        {"__type__": "update", "value": "Send"},
        {
            "__type__": "update",
            "label": "Question",
            "placeholder": "Type a question and press Enter…",
        },
        {"__type__": "update", "value": "## Retrieval and answer settings"},
    ]
    assert labels.updates("vi")[0]["value"] == "Gửi"


def test_an_unknown_key_fails_where_the_component_is_made():
    with gr.Blocks(), pytest.raises(KeyError):
        Labels("vi").make(gr.Button, {"value": "no_such_key"})
