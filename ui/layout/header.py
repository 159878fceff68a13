"""Above the tabs: the title with the language switch, the status line, and the hidden data
that ui/static/copy.js reads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ui import render
from ui.i18n import LANG_CHOICES, K, gradio_words, t

if TYPE_CHECKING:
    import gradio as gr

    from ui.layout.labels import Labels

STATIC = Path(__file__).resolve().parent.parent / "static"


def static(name: str) -> str:
    """A file of ui/static (the page's CSS and scripts)."""
    return (STATIC / name).read_text(encoding="utf-8")


def header_html(lang: str) -> str:
    # data-words: Gradio's own strings in this language, for ui/static/i18n.js
    words = render.esc(json.dumps(gradio_words(lang)))
    return (
        f'<div id="rag-header" data-lang="{lang}" data-words="{words}">'
        f"<h1>{render.esc(t(K.title, lang))}</h1>"
        f"<p>{render.esc(t(K.subtitle, lang))}</p></div>"
    )


@dataclass(frozen=True)
class Header:
    title: gr.HTML
    lang_radio: gr.Radio
    status: gr.HTML
    copy_data: gr.HTML  # plain-text answers for the copy button (copy.js); hidden by CSS


def build_header(labels: Labels, status_html: str, copy_html: str) -> Header:
    import gradio as gr

    lang = labels.lang
    with gr.Row(equal_height=True):
        with gr.Column(scale=5):
            title = gr.HTML(header_html(lang), js_on_load=static("i18n.js"))
        with gr.Column(scale=1, min_width=240):
            lang_radio = labels.make(
                gr.Radio,
                {"label": K.language},
                choices=LANG_CHOICES,
                value=lang,
                show_label=False,
                elem_id="rag-lang",
                container=False,
            )
    status = gr.HTML(status_html, elem_id="rag-status-line")
    # Plain-text answers for the copy button and the bubbles' aria-labels (copy.js).
    copy_data = gr.HTML(copy_html, elem_id="rag-copy", js_on_load=static("copy.js"))
    return Header(title=title, lang_radio=lang_radio, status=status, copy_data=copy_data)
