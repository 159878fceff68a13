"""The articles: upload, list and search, select, delete (asked first, undone within UNDO_S
seconds); the status line and the counts that follow every change to the index."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import RagError
from ui import render
from ui.i18n import DEFAULT_LANG, K, t
from ui.uploads import UploadError, load_prepared, prepared_uploads

if TYPE_CHECKING:
    from rag.pipeline import Assistant
    from rag.settings import Settings
    from ui.options import PageOptions

UNDO_S = 10  # how long a deleted article can be brought back


class CorpusHandlers:
    def __init__(self, assistant: Assistant, settings: Settings, options: PageOptions) -> None:
        self.assistant = assistant
        self.settings = settings
        self.options = options

    # ---- what the page shows of the index ---------------------------------------------
    def table(self, query: str, lang: str = DEFAULT_LANG, order: str | None = None) -> dict:
        """The articles table in ``order`` (render.ORDERS; newest publication first by
        default), headers included: a value without them would bring back the headers the
        component was built with (Vietnamese) after a switch to English."""
        rows = render.filter_articles(self.assistant.articles(), query or "")
        return {
            "data": render.article_rows(rows, order or render.DEFAULT_ORDER),
            "headers": [t(h, lang) for h in render.TABLE_HEADERS],
        }

    def counts(self, lang: str) -> str:
        info = self.assistant.info()
        return t(K.articles_count, lang, n=info.get("articles", 0), chunks=info.get("chunks", 0))

    def status(self, lang: str, mode: str | None = None) -> str:
        reason = self.options.rerank_reason
        extra = [reason] if self.settings.rerank and reason else []
        return render.status_html(self.assistant.info(), lang, mode, extra)

    def generation(self) -> int | None:
        """Which index generation is live: it changes with every upload or delete, from the
        page or the HTTP API."""
        return self.assistant.store.current_generation()

    def refresh(self, query, lang, mode, order=None):
        """The Refresh button: table, counts and status line anew."""
        return self.table(query, lang, order), self.counts(lang), self.status(lang, mode)

    def refresh_if_changed(self, gen, lang, query, mode, deleted, order=None):
        """Timer tick: new status line, table and counts when the index changed since this
        page last looked; hides the undo offer when its time is up."""
        import gradio as gr

        now_gen = self.generation()
        changed = now_gen != gen
        expired = bool(deleted) and time.monotonic() > deleted[1]
        return (
            now_gen if changed else gr.skip(),
            self.status(lang, mode) if changed else gr.skip(),
            self.table(query, lang, order) if changed else gr.skip(),
            self.counts(lang) if changed else gr.skip(),
            gr.update(visible=False) if expired else gr.skip(),
            None if expired else gr.skip(),
        )

    # ---- upload ------------------------------------------------------------------------
    def ingest(self, files, lang, query, mode, order=None, progress=None):
        """Uploaded files -> index, with progress; the report says what was added, what was
        already there (re-upload: nothing happens), and what was skipped and why."""
        import gradio as gr

        paths = [Path(f) for f in (files or [])]
        if not paths:
            return t(K.ingest_none, lang), gr.skip(), gr.skip(), gr.skip(), gr.skip()

        def on_file(i: int, n: int, source: str) -> None:
            if progress is not None:
                progress((i, n), desc=t(K.ingest_reading, lang, name=source), unit="files")

        try:
            with prepared_uploads(
                [(p.name, p) for p in paths], self.settings.max_upload_mb
            ) as prep:
                items = list(load_prepared(prep, on_file))
                if progress is not None:
                    progress(0.95, desc=t(K.ingest_embedding, lang))
                report = self.assistant.ingest_articles(items)
        except UploadError as exc:
            msg = t(exc.key, lang, **exc.params) if exc.key else str(exc)
            return f"⚠ {render.md_escape(msg)}", gr.skip(), gr.skip(), gr.skip(), gr.skip()
        except RagError as exc:
            return f"⚠ {render.md_escape(str(exc))}", gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return (
            render.ingest_report_markdown(report, lang),
            None,
            self.table(query, lang, order),
            self.counts(lang),
            self.status(lang, mode),
        )

    # ---- select, delete, undo ----------------------------------------------------------
    def select_article(self, rows, lang, evt):
        import gradio as gr

        row = getattr(evt, "row_value", None)
        if not row:
            return gr.skip(), gr.skip(), gr.skip()
        article_id = str(row[-1])
        article = self.assistant.article(article_id)
        if article is None:
            return None, t(K.delete_missing, lang), render.article_html(None, lang)
        return (
            article_id,
            t(K.selected, lang, title=render.md_escape(article.title)),
            render.article_html(article, lang),
        )

    def ask_delete(self, article_id, lang):
        """First click on Delete: name the article and ask; nothing is deleted yet."""
        import gradio as gr

        article = self.assistant.article(article_id) if article_id else None
        if article is None:
            return gr.update(visible=False), gr.skip(), t(K.selected_none, lang)
        title = render.md_escape(article.title)
        return gr.update(visible=True), t(K.delete_confirm, lang, title=title), gr.skip()

    def cancel_delete(self, lang):
        """No to "Delete …?": the question goes away and nothing is deleted."""
        import gradio as gr

        return gr.update(visible=False), t(K.delete_cancelled, lang)

    def delete(self, article_id, lang, query, mode, order=None):
        """Confirmed: delete, and keep the article for UNDO_S seconds so Undo can re-add it."""
        import gradio as gr

        hide = gr.update(visible=False)
        article = self.assistant.article(article_id) if article_id else None
        if article is None or not self.assistant.delete(article_id):
            missing = (hide, hide, gr.skip(), None, t(K.delete_missing, lang), None)
            return missing + self._corpus(lang, query, mode, order)
        title = render.md_escape(article.title)
        return (
            hide,
            gr.update(visible=True),
            t(K.deleted_undo, lang, title=title, s=UNDO_S),
            [article, time.monotonic() + UNDO_S],
            t(K.selected_none, lang),
            None,
        ) + self._corpus(lang, query, mode, order)

    def undo(self, deleted, lang, query, mode, order=None):
        import gradio as gr

        hide = gr.update(visible=False)
        if not deleted or time.monotonic() > deleted[1]:
            return (hide, None, t(K.undo_expired, lang)) + (gr.skip(),) * 5
        article = deleted[0]
        try:
            self.assistant.ingest_articles([article])
        except RagError as exc:
            return (hide, None, f"⚠ {render.md_escape(str(exc))}") + (gr.skip(),) * 5
        msg = t(K.undone, lang, title=render.md_escape(article.title))
        return (hide, None, msg) + self._corpus(lang, query, mode, order)

    def _corpus(self, lang, query, mode, order):
        """(table, counts, status, generation, preview) after a change to the articles."""
        return (
            self.table(query, lang, order),
            self.counts(lang),
            self.status(lang, mode),
            self.generation(),
            "",
        )
