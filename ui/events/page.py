"""Events of the whole page: the language switch relabels everything, and the page load
brings back what this browser saved."""

from typing import TYPE_CHECKING

from ui import render
from ui.browser_state import FILTER_FIELDS, copy_data_html, read_saved
from ui.events import PRIVATE
from ui.i18n import DEFAULT_LANG, LANGS
from ui.layout.header import header_html

if TYPE_CHECKING:
    from ui.events.saving import Saver
    from ui.handlers.chat import ChatHandlers
    from ui.handlers.corpus import CorpusHandlers
    from ui.layout.page import Page
    from ui.options import PageOptions


def wire_language(
    page: "Page", saver: "Saver", chat: "ChatHandlers", corpus: "CorpusHandlers"
) -> None:
    state, header = page.state, page.header

    def switch_language(new_lang, turns, view, mode, query, order=None):
        new_lang = new_lang if new_lang in LANGS else DEFAULT_LANG
        cites, viewer = chat.panels(turns, view, new_lang)
        return (
            new_lang,
            header_html(new_lang),
            corpus.status(new_lang, mode),
            render.chat_messages(turns or [], new_lang),
            cites,
            viewer,
            corpus.counts(new_lang),
            corpus.table(query, new_lang, order),
            *page.labels.updates(new_lang),
        )

    saver.after(
        header.lang_radio.change(
            switch_language,
            [
                header.lang_radio,
                state.turns,
                state.view,
                page.settings.mode,
                page.corpus.search,
                page.corpus.order,
            ],
            [
                state.lang,
                header.title,
                header.status,
                page.chat.chatbot,
                page.chat.cites,
                page.chat.viewer,
                page.corpus.counts,
                page.corpus.table,
                *page.labels.components,
            ],
            **PRIVATE,
        )
    )


def wire_restore(
    demo, page: "Page", chat: "ChatHandlers", corpus: "CorpusHandlers", options: "PageOptions"
) -> None:
    import gradio as gr

    state, header, settings = page.state, page.header, page.settings

    def restore(saved, mode, order=None):
        """Page load: the conversation, language, settings and source filters this browser
        saved, when there are any; setting the language radio relabels the page (its change
        event). The filters' box opens when a filter is on."""
        got = read_saved(saved, mode, options.can_rerank, options.answer_modes)
        turns, lang = got["turns"], got["lang"]
        site, since, until = (got["filters"][k] for k in FILTER_FIELDS)
        sites, note = chat.filters_view(lang, site, since, until)
        answer = turns[-1]["answer"] if turns else None
        return (
            turns,
            lang,
            lang,
            got["mode"],
            gr.skip() if got["top_k"] is None else got["top_k"],
            got["rerank"],
            gr.skip() if got["answer_mode"] is None else got["answer_mode"],
            render.chat_messages(turns, lang),
            render.citations_html(answer, max(len(turns) - 1, 0), lang),
            copy_data_html(turns, lang),
            corpus.status(lang, got["mode"]),
            corpus.table("", lang, order),
            corpus.counts(lang),
            corpus.generation(),
            sites,
            since,
            until,
            note,
            gr.update(open=True) if site or since or until else gr.skip(),
        )

    demo.load(
        restore,
        [state.saved, settings.mode, page.corpus.order],
        [
            state.turns,
            state.lang,
            header.lang_radio,
            settings.mode,
            settings.top_k,
            settings.rerank,
            settings.answer_mode,
            page.chat.chatbot,
            page.chat.cites,
            header.copy_data,
            header.status,
            page.corpus.table,
            page.corpus.counts,
            state.gen,
            page.chat.site,
            page.chat.date_from,
            page.chat.date_to,
            page.chat.filter_note,
            page.chat.filter_box,
        ],
        **PRIVATE,
    )
