"""The articles tab: upload and index files, search the table of articles, select one to
read or delete it (asked first, then undoable for a few seconds)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ui import render
from ui.i18n import K, t
from ui.uploads import UPLOAD_SUFFIXES

if TYPE_CHECKING:
    import gradio as gr

    from ui.layout.labels import Labels


@dataclass(frozen=True)
class CorpusTab:
    tab: gr.Tab
    upload: gr.File
    ingest_btn: gr.Button
    ingest_report: gr.Markdown
    search: gr.Textbox
    order: gr.Dropdown  # the table's order: render.ORDERS
    counts: gr.Markdown
    refresh: gr.Button
    table: gr.Dataframe
    selected_md: gr.Markdown
    delete_btn: gr.Button
    confirm_row: gr.Row  # "Delete …?" with yes and no
    confirm_md: gr.Markdown
    yes_btn: gr.Button
    no_btn: gr.Button
    undo_row: gr.Row  # "Deleted …" with Undo, for UNDO_S seconds
    undo_md: gr.Markdown
    undo_btn: gr.Button
    preview: gr.HTML


def build_corpus_tab(labels: Labels, counts: str, table: dict) -> CorpusTab:
    """``counts`` and ``table`` are the first values of the counts line and of the articles
    table (with its headers)."""
    import gradio as gr

    with labels.make(gr.Tab, {"label": K.tab_corpus}, id="corpus") as tab:
        with gr.Row():
            with gr.Column(scale=3):
                upload = labels.make(
                    gr.File,
                    {"label": K.upload_label},
                    file_count="multiple",
                    file_types=list(UPLOAD_SUFFIXES),
                    type="filepath",
                    elem_id="rag-upload",
                    height=140,
                )
            with gr.Column(scale=2):
                ingest_btn = labels.make(
                    gr.Button, {"value": K.ingest}, variant="primary", elem_id="rag-ingest"
                )
                ingest_report = gr.Markdown("", elem_id="rag-ingest-report")
        with gr.Row():
            search = labels.make(
                gr.Textbox,
                {"label": K.search_articles, "placeholder": K.search_placeholder},
                scale=4,
                elem_id="rag-search",
            )
            order = labels.make_with(
                gr.Dropdown,
                lambda lang: {
                    "label": t(K.sort_label, lang),
                    "choices": [(t(render.ORDER_KEYS[o], lang), o) for o in render.ORDERS],
                },
                value=render.DEFAULT_ORDER,
                scale=2,
                min_width=200,
                elem_id="rag-sort",
            )
            counts_md = gr.Markdown(counts, elem_id="rag-counts")
            refresh = labels.make(gr.Button, {"value": K.refresh}, size="sm", scale=1)
        table_df = gr.Dataframe(
            value=table,
            headers=list(table["headers"]),
            datatype=["str", "str", "str", "str", "number", "str"],
            interactive=False,
            wrap=True,
            elem_id="rag-articles",
            max_height=420,
            column_widths=["36%", "11%", "10%", "21%", "8%", "14%"],
        )
        with gr.Row(equal_height=True):
            selected_md = labels.make(
                gr.Markdown, {"value": K.selected_none}, elem_id="rag-selected"
            )
            delete_btn = labels.make(
                gr.Button, {"value": K.delete}, variant="stop", size="sm", scale=0, min_width=200
            )
        # Delete asks first, then offers Undo for a few seconds.
        with gr.Row(visible=False, equal_height=True, elem_id="rag-confirm") as confirm_row:
            confirm_md = gr.Markdown("")
            yes_btn = labels.make(
                gr.Button,
                {"value": K.delete_yes},
                variant="stop",
                size="sm",
                scale=0,
                min_width=100,
                elem_id="rag-delete-yes",
            )
            no_btn = labels.make(
                gr.Button,
                {"value": K.delete_no},
                size="sm",
                scale=0,
                min_width=100,
                elem_id="rag-delete-no",
            )
        with gr.Row(visible=False, equal_height=True, elem_id="rag-undo") as undo_row:
            undo_md = gr.Markdown("")
            undo_btn = labels.make(
                gr.Button,
                {"value": K.undo},
                size="sm",
                scale=0,
                min_width=120,
                elem_id="rag-undo-btn",
            )
        preview = gr.HTML("", elem_id="rag-preview", padding=True)
    return CorpusTab(
        tab=tab,
        upload=upload,
        ingest_btn=ingest_btn,
        ingest_report=ingest_report,
        search=search,
        order=order,
        counts=counts_md,
        refresh=refresh,
        table=table_df,
        selected_md=selected_md,
        delete_btn=delete_btn,
        confirm_row=confirm_row,
        confirm_md=confirm_md,
        yes_btn=yes_btn,
        no_btn=no_btn,
        undo_row=undo_row,
        undo_md=undo_md,
        undo_btn=undo_btn,
        preview=preview,
    )
