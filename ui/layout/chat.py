"""The chat tab: the conversation with its input, the source filters, the feedback box, and
beside them the source viewer above the citations panel."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ui import render
from ui.i18n import EXAMPLES, K, t
from ui.layout.header import static

if TYPE_CHECKING:
    import gradio as gr

    from ui.layout.labels import Labels


@dataclass(frozen=True)
class ChatTab:
    tab: gr.Tab
    chatbot: gr.Chatbot
    msg: gr.Textbox
    send: gr.Button
    clear: gr.Button
    filter_note: gr.Markdown  # which filters are on, or why a date cannot be used
    filter_box: gr.Accordion
    site: gr.Dropdown  # "" = every outlet
    date_from: gr.Textbox
    date_to: gr.Textbox
    filter_clear: gr.Button
    fb_status: gr.Markdown
    fb_box: gr.Accordion
    fb_hint: gr.Markdown
    correction: gr.Textbox
    fb_send: gr.Button
    viewer: gr.HTML
    cites: gr.HTML


def build_chat_tab(labels: Labels, site_choices: Sequence[tuple[str, str]] = ()) -> ChatTab:
    """``site_choices``: the outlet filter's first choices, (label, outlet) with ("all", "")
    first (ui.filters.site_choices; the page load and every change to the articles bring
    them up to date)."""
    import gradio as gr

    lang = labels.lang
    with labels.make(gr.Tab, {"label": K.tab_chat}, id="chat") as tab, gr.Row():
        with gr.Column(scale=3, min_width=420):
            chatbot = labels.make(
                gr.Chatbot,
                {"label": K.chat_label, "placeholder": K.chat_placeholder},
                elem_id="rag-chat",
                height=560,
                show_label=False,
                examples=[{"text": q} for q in EXAMPLES],
                feedback_options=("Like", "Dislike"),
                latex_delimiters=[],
                buttons=["copy"],
                sanitize_html=True,
            )
            with gr.Row(equal_height=True):
                msg = labels.make(
                    gr.Textbox,
                    {"label": K.question_label, "placeholder": K.input_placeholder},
                    show_label=False,
                    scale=8,
                    elem_id="rag-input",
                    autofocus=True,
                    max_length=2000,
                    submit_btn=False,
                    container=False,
                )
                send = labels.make(
                    gr.Button,
                    {"value": K.send},
                    variant="primary",
                    scale=1,
                    min_width=90,
                    elem_id="rag-send",
                )
            with gr.Row():
                clear = labels.make(gr.Button, {"value": K.clear}, size="sm", variant="secondary")
            # Outside the accordion, so it shows while the accordion is closed.
            filter_note = gr.Markdown("", elem_id="rag-filter-note")
            with labels.make(
                gr.Accordion, {"label": K.filter_title}, open=False, elem_id="rag-filters"
            ) as filter_box:
                with gr.Row():
                    # Its choices follow the articles and the language: ui.events.chat.
                    site = labels.make(
                        gr.Dropdown,
                        {"label": K.filter_site},
                        choices=list(site_choices) or [(t(K.filter_all_sites, lang), "")],
                        value="",
                        scale=2,
                        min_width=180,
                        elem_id="rag-filter-site",
                    )
                    date_from = labels.make(
                        gr.Textbox,
                        {"label": K.filter_from, "placeholder": K.filter_date_placeholder},
                        scale=1,
                        min_width=150,
                        max_length=40,
                        value="",
                        elem_id="rag-filter-from",
                    )
                    date_to = labels.make(
                        gr.Textbox,
                        {"label": K.filter_to, "placeholder": K.filter_date_placeholder},
                        scale=1,
                        min_width=150,
                        max_length=40,
                        value="",
                        elem_id="rag-filter-to",
                    )
                filter_clear = labels.make(
                    gr.Button, {"value": K.filter_clear}, size="sm", elem_id="rag-filter-clear"
                )
            # Outside the accordion: a closed accordion's content is not in the page.
            fb_status = gr.Markdown("", elem_id="rag-feedback-status")
            with labels.make(gr.Accordion, {"label": K.feedback_title}, open=False) as fb_box:
                fb_hint = labels.make(gr.Markdown, {"value": K.feedback_hint})
                correction = labels.make(
                    gr.Textbox,
                    {"label": K.correction_label, "placeholder": K.correction_placeholder},
                    lines=2,
                    elem_id="rag-correction",
                )
                fb_send = labels.make(gr.Button, {"value": K.send_correction}, size="sm")
        with gr.Column(scale=2, min_width=340):
            # The viewer sits above the list, so the article opens where the eye already is,
            # without scrolling the page.
            viewer = gr.HTML(
                render.source_html(None, None, lang),
                elem_id="rag-viewer",
                js_on_load=static("viewer.js"),
                padding=True,
            )
            cites = gr.HTML(
                render.citations_html(None, 0, lang),
                elem_id="rag-cites",
                js_on_load=static("cite.js"),
                padding=True,
            )
    return ChatTab(
        tab=tab,
        chatbot=chatbot,
        msg=msg,
        send=send,
        clear=clear,
        filter_note=filter_note,
        filter_box=filter_box,
        site=site,
        date_from=date_from,
        date_to=date_to,
        filter_clear=filter_clear,
        fb_status=fb_status,
        fb_box=fb_box,
        fb_hint=fb_hint,
        correction=correction,
        fb_send=fb_send,
        viewer=viewer,
        cites=cites,
    )
