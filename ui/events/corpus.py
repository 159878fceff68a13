"""The articles tab's events: index uploads, search and refresh the table, select, delete
(asked first) and undo; and a timer that shows changes made elsewhere (the HTTP API, another
page)."""

from typing import TYPE_CHECKING

from ui.events import PRIVATE

if TYPE_CHECKING:
    from ui.handlers.corpus import CorpusHandlers
    from ui.layout.corpus import CorpusTab
    from ui.layout.header import Header
    from ui.layout.settings import SettingsTab
    from ui.layout.state import PageState

POLL_S = 3.0  # how often the page checks whether the articles changed (an API upload/delete)


def wire_corpus(
    corpus: "CorpusTab",
    settings: "SettingsTab",
    header: "Header",
    state: "PageState",
    handlers: "CorpusHandlers",
) -> None:
    import gradio as gr

    lang, mode, search, order = state.lang, settings.mode, corpus.search, corpus.order

    def on_ingest(files, lang_v, query, mode_v, order_v, progress=gr.Progress()):
        return handlers.ingest(files, lang_v, query, mode_v, order_v, progress=progress)

    corpus.ingest_btn.click(
        on_ingest,
        [corpus.upload, lang, search, mode, order],
        [corpus.ingest_report, corpus.upload, corpus.table, corpus.counts, header.status],
        **PRIVATE,
    ).then(handlers.generation, None, [state.gen], **PRIVATE)
    search.change(handlers.table, [search, lang, order], [corpus.table], **PRIVATE)
    order.change(handlers.table, [search, lang, order], [corpus.table], **PRIVATE)
    corpus.refresh.click(
        handlers.refresh,
        [search, lang, mode, order],
        [corpus.table, corpus.counts, header.status],
        **PRIVATE,
    )

    def on_select(rows, lang_v, evt: gr.SelectData):
        return handlers.select_article(rows, lang_v, evt)

    corpus.table.select(
        on_select,
        [corpus.table, lang],
        [state.selected_id, corpus.selected_md, corpus.preview],
        **PRIVATE,
    )
    corpus.delete_btn.click(
        handlers.ask_delete,
        [state.selected_id, lang],
        [corpus.confirm_row, corpus.confirm_md, corpus.selected_md],
        **PRIVATE,
    )
    corpus.no_btn.click(
        handlers.cancel_delete, [lang], [corpus.confirm_row, corpus.selected_md], **PRIVATE
    )
    changed = [corpus.table, corpus.counts, header.status, state.gen, corpus.preview]
    corpus.yes_btn.click(
        handlers.delete,
        [state.selected_id, lang, search, mode, order],
        [
            corpus.confirm_row,
            corpus.undo_row,
            corpus.undo_md,
            state.deleted,
            corpus.selected_md,
            state.selected_id,
            *changed,
        ],
        **PRIVATE,
    )
    corpus.undo_btn.click(
        handlers.undo,
        [state.deleted, lang, search, mode, order],
        [corpus.undo_row, state.deleted, corpus.selected_md, *changed],
        **PRIVATE,
    )
    # Changes made elsewhere (the HTTP API, another tab) show up within POLL_S seconds.
    poll = gr.Timer(POLL_S)
    poll.tick(
        handlers.refresh_if_changed,
        [state.gen, lang, search, mode, state.deleted, order],
        [state.gen, header.status, corpus.table, corpus.counts, corpus.undo_row, state.deleted],
        show_progress="hidden",
        **PRIVATE,
    )
