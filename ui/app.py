"""The web app: a Gradio Blocks page mounted on a FastAPI app that also serves /api/*.

``build_app(settings, assistant)`` returns the FastAPI application (what uvicorn runs; tests
start it on a free port); ``serve(settings)`` runs it. Everything shown goes through the pure
functions of ui.render; the handlers here only call the Assistant and pick what to render.
"""

import inspect
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import RagError
from rag.feedback import FeedbackStore, feedback_path
from ui import render
from ui.i18n import DEFAULT_LANG, EXAMPLES, LANG_CHOICES, LANGS, gradio_words, t
from ui.uploads import UPLOAD_SUFFIXES, UploadError, load_prepared, prepared_uploads

if TYPE_CHECKING:
    from fastapi import FastAPI

    from rag.pipeline import Assistant
    from rag.settings import Settings
    from rag.types import Answer

log = logging.getLogger(__name__)

# Pause between streamed sentences: long enough for the eye to follow the answer arriving,
# short enough that a two-sentence answer is complete well under a second.
STREAM_DELAY_S = 0.05
HISTORY_TURNS = 6  # earlier turns sent with a follow-up (for the rewritten standalone query)
STATIC = Path(__file__).parent / "static"
TABLE_HEADERS = ("col_title", "col_source", "col_date", "col_chunks", "col_id")
UNDO_S = 10  # how long a deleted article can be brought back
POLL_S = 3.0  # how often the page checks whether the articles changed (an API upload/delete)
SAVED_TURNS = 20  # turns kept in the browser's localStorage across reloads
# No `from __future__ import annotations` in this module: Gradio finds the event-data argument
# of a handler (gr.EventData, gr.LikeData, gr.SelectData) by evaluating its annotation, which
# fails for the string annotations that import makes (gradio is imported lazily, inside
# build_blocks). Names only imported for type checking are quoted instead.


def _static(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


class ChatUI:
    """The handlers behind the page, bound to one Assistant. Per-browser state (the turns of
    the conversation, the open citation, feedback ids) lives in gr.State, not here."""

    def __init__(self, assistant: "Assistant", settings: "Settings") -> None:
        self.assistant = assistant
        self.settings = settings
        self.feedback = FeedbackStore(feedback_path(settings.index_dir))
        params = inspect.signature(assistant.ask).parameters
        # The reranker and the LLM answerer are options of the pipeline; the page offers them
        # only when this pipeline's ask() accepts them, and says so otherwise.
        self.can_rerank = "rerank" in params
        # Offered only when a reranker model actually loads (done once, here, rather than on
        # the first question); otherwise the checkbox is off and says why.
        self.rerank_reason: str | None = None
        if self.can_rerank and hasattr(assistant, "reranker"):
            reranker = assistant.reranker()
            if not reranker.available:
                self.can_rerank = False
                self.rerank_reason = reranker.warning or settings.reranker_model
        self.can_answer_mode = "answer_mode" in params
        self.answer_modes = ["extractive"] + (
            ["llm"] if settings.llm_url and self.can_answer_mode else []
        )

    # ---- chat --------------------------------------------------------------------------
    def ask(
        self, question: str, turns: list[dict], mode: str, top_k: float, rerank: bool, answer: str
    ) -> "Answer":
        history = [
            (turn["question"], turn["answer"].text)
            for turn in turns
            if turn.get("answer") is not None
        ][-HISTORY_TURNS:]
        kwargs: dict[str, Any] = {}
        if self.can_rerank:
            kwargs["rerank"] = bool(rerank)
        if self.can_answer_mode and answer:
            kwargs["answer_mode"] = answer
        answer = self.assistant.ask(
            question, history, top_k=int(top_k), mode=mode or None, **kwargs
        )
        return replace(answer, warnings=self.own_warnings(answer))

    def own_warnings(self, answer: "Answer") -> tuple[str, ...]:
        """The warnings that belong to this answer alone. The standing ones (fallback model,
        no vectors, reranker off) are shown once in the status line, not in every bubble."""
        standing = {self.assistant.model_warning(), self.rerank_reason}
        return tuple(
            w for w in answer.warnings if w not in standing and "retrieval is unavailable" not in w
        )

    def respond(self, message, turns, lang, mode, top_k, rerank, answer_mode):
        """Generator: the question appears at once, then the answer sentence by sentence, then
        the citations panel."""
        import gradio as gr

        question = " ".join((message or "").split())
        if not question:
            yield (gr.skip(),) * 6
            return
        turns = list(turns or [])
        turn = len(turns)
        pending = (question, f"*{render.md_escape(t('searching', lang))}*")
        yield render.chat_messages(turns, lang, pending), turns, "", gr.skip(), gr.skip(), None
        try:
            answer = self.ask(question, turns, mode, top_k, rerank, answer_mode)
        except RagError as exc:
            turns.append({"question": question, "answer": None, "error": str(exc)})
            yield (
                render.chat_messages(turns, lang),
                turns,
                gr.skip(),
                render.citations_html(None, turn, lang),
                render.source_html(None, None, lang),
                None,
            )
            return
        for prefix in render.stream_prefixes(answer.text)[:-1]:
            partial = replace(answer, text=prefix, warnings=())
            bubble = render.answer_markdown(partial, turn, lang)
            yield (render.chat_messages(turns, lang, (question, bubble)),) + (gr.skip(),) * 5
            time.sleep(STREAM_DELAY_S)
        turns.append({"question": question, "answer": answer, "error": None})
        yield (
            render.chat_messages(turns, lang),
            turns,
            gr.skip(),
            render.citations_html(answer, turn, lang),
            render.source_html(None, None, lang),
            None,
        )

    def citation(self, turns: list[dict], turn: int, n: int):
        """(answer, citation, article) for the [n] of a turn; None when there is no such one."""
        if not (0 <= turn < len(turns or [])):
            return None
        answer = turns[turn].get("answer")
        c = next((c for c in answer.citations if c.n == n), None) if answer else None
        if c is None:
            return None
        return answer, c, self.assistant.article(c.article_id)

    def open_citation(self, turns, lang, evt):
        import gradio as gr

        data = getattr(evt, "_data", None) or {}
        try:
            turn, n = int(data["turn"]), int(data["n"])
        except (KeyError, TypeError, ValueError):
            return gr.skip(), gr.skip(), gr.skip()
        found = self.citation(turns, turn, n)
        if found is None:
            return gr.skip(), gr.skip(), gr.skip()
        answer, c, article = found
        return (
            render.citations_html(answer, turn, lang, selected=n),
            render.source_html(article, c, lang),
            [turn, n],
        )

    def clear(self, lang):
        return (
            [],
            [],
            render.citations_html(None, 0, lang),
            render.source_html(None, None, lang),
            None,
            {},
        )

    # ---- feedback ----------------------------------------------------------------------
    def like(self, turns, ratings, lang, top_k, evt):
        """A 👍/👎 click on an answer: stored at once; a second click on the same answer
        updates its row instead of adding another."""
        import gradio as gr

        index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        turn = int(index) // 2  # messages alternate user, assistant
        if not (0 <= turn < len(turns or [])) or turns[turn].get("answer") is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        liked = evt.liked
        rating = 1 if liked is True or liked == "Like" else -1 if liked in (False, "Dislike") else 0
        ratings = dict(ratings or {})
        key = str(turn)
        if key in ratings:
            self.feedback.set_rating(ratings[key], rating)
        else:
            ratings[key] = self.feedback.add(turns[turn]["answer"], rating, top_k=int(top_k))
        msg = (
            t("thanks_up", lang, turn=turn + 1)
            if rating > 0
            else t("thanks_down", lang, turn=turn + 1)
            if rating < 0
            else t("feedback_removed", lang)
        )
        return ratings, ratings[key], msg, gr.update(open=True) if rating < 0 else gr.skip()

    def correct(self, text, feedback_id, lang):
        if feedback_id is None:
            return t("correction_needs_rating", lang), text
        if not (text or "").strip():
            return t("correction_empty", lang), text
        self.feedback.set_correction(int(feedback_id), text)
        return t("correction_saved", lang), ""

    # ---- corpus ------------------------------------------------------------------------
    def table(self, query: str, lang: str = DEFAULT_LANG) -> dict:
        """The articles table, headers included: a value without them would bring back the
        headers the component was built with (Vietnamese) after a switch to English."""
        rows = render.filter_articles(self.assistant.articles(), query or "")
        return {"data": render.article_rows(rows), "headers": [t(h, lang) for h in TABLE_HEADERS]}

    def counts(self, lang: str) -> str:
        info = self.assistant.info()
        return t("articles_count", lang, n=info.get("articles", 0), chunks=info.get("chunks", 0))

    def status(self, lang: str, mode: str | None = None) -> str:
        extra = [self.rerank_reason] if self.settings.rerank and self.rerank_reason else []
        return render.status_html(self.assistant.info(), lang, mode, extra)

    def generation(self) -> int | None:
        """Which index generation is live: it changes with every upload or delete, from the
        page or the HTTP API."""
        return self.assistant.store.current_generation()

    def refresh_if_changed(self, gen, lang, query, mode, deleted):
        """Timer tick: new status line, table and counts when the index changed since this
        page last looked; hides the undo offer when its time is up."""
        import gradio as gr

        now_gen = self.generation()
        changed = now_gen != gen
        expired = bool(deleted) and time.monotonic() > deleted[1]
        return (
            now_gen if changed else gr.skip(),
            self.status(lang, mode) if changed else gr.skip(),
            self.table(query, lang) if changed else gr.skip(),
            self.counts(lang) if changed else gr.skip(),
            gr.update(visible=False) if expired else gr.skip(),
            None if expired else gr.skip(),
        )

    def ingest(self, files, lang, query, mode, progress=None):
        """Uploaded files -> index, with progress; the report says what was added, what was
        already there (re-upload: nothing happens), and what was skipped and why."""
        import gradio as gr

        paths = [Path(f) for f in (files or [])]
        if not paths:
            return t("ingest_none", lang), gr.skip(), gr.skip(), gr.skip(), gr.skip()

        def on_file(i: int, n: int, source: str) -> None:
            if progress is not None:
                progress((i, n), desc=t("ingest_reading", lang, name=source), unit="files")

        try:
            with prepared_uploads(
                [(p.name, p) for p in paths], self.settings.max_upload_mb
            ) as prep:
                items = list(load_prepared(prep, on_file))
                if progress is not None:
                    progress(0.95, desc=t("ingest_embedding", lang))
                report = self.assistant.ingest_articles(items)
        except UploadError as exc:
            msg = t(exc.key, lang, **exc.params) if exc.key else str(exc)
            return f"⚠ {render.md_escape(msg)}", gr.skip(), gr.skip(), gr.skip(), gr.skip()
        except RagError as exc:
            return f"⚠ {render.md_escape(str(exc))}", gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return (
            render.ingest_report_markdown(report, lang),
            None,
            self.table(query, lang),
            self.counts(lang),
            self.status(lang, mode),
        )

    def select_article(self, rows, lang, evt):
        import gradio as gr

        row = getattr(evt, "row_value", None)
        if not row:
            return gr.skip(), gr.skip(), gr.skip()
        article_id = str(row[-1])
        article = self.assistant.article(article_id)
        if article is None:
            return None, t("delete_missing", lang), render.article_html(None, lang)
        return (
            article_id,
            t("selected", lang, title=render.md_escape(article.title)),
            render.article_html(article, lang),
        )

    def ask_delete(self, article_id, lang):
        """First click on Delete: name the article and ask; nothing is deleted yet."""
        import gradio as gr

        article = self.assistant.article(article_id) if article_id else None
        if article is None:
            return gr.update(visible=False), gr.skip(), t("selected_none", lang)
        title = render.md_escape(article.title)
        return gr.update(visible=True), t("delete_confirm", lang, title=title), gr.skip()

    def delete(self, article_id, lang, query, mode):
        """Confirmed: delete, and keep the article for UNDO_S seconds so Undo can re-add it."""
        import gradio as gr

        hide = gr.update(visible=False)
        article = self.assistant.article(article_id) if article_id else None
        if article is None or not self.assistant.delete(article_id):
            return (hide, hide, gr.skip(), None, t("delete_missing", lang), None) + self._corpus(
                lang, query, mode
            )
        title = render.md_escape(article.title)
        return (
            hide,
            gr.update(visible=True),
            t("deleted_undo", lang, title=title, s=UNDO_S),
            [article, time.monotonic() + UNDO_S],
            t("selected_none", lang),
            None,
        ) + self._corpus(lang, query, mode)

    def undo(self, deleted, lang, query, mode):
        import gradio as gr

        hide = gr.update(visible=False)
        if not deleted or time.monotonic() > deleted[1]:
            return (hide, None, t("undo_expired", lang)) + (gr.skip(),) * 5
        article = deleted[0]
        try:
            self.assistant.ingest_articles([article])
        except RagError as exc:
            return (hide, None, f"⚠ {render.md_escape(str(exc))}") + (gr.skip(),) * 5
        msg = t("undone", lang, title=render.md_escape(article.title))
        return (hide, None, msg) + self._corpus(lang, query, mode)

    def _corpus(self, lang, query, mode):
        """(table, counts, status, generation, preview) after a change to the articles."""
        return (
            self.table(query, lang),
            self.counts(lang),
            self.status(lang, mode),
            self.generation(),
            "",
        )


# ---- the browser's copy of the conversation and settings (localStorage) -------------------


def turn_to_json(turn: dict) -> dict:
    answer = turn.get("answer")
    return {
        "question": turn["question"],
        "answer": answer.to_dict() if answer is not None else None,
        "error": turn.get("error"),
    }


def turn_from_json(data: dict) -> dict:
    """Inverse of turn_to_json; raises KeyError/TypeError/ValueError on a damaged entry."""
    from rag.types import Answer, Citation

    a = data.get("answer")
    answer = None
    if a is not None:
        cites = tuple(
            Citation(
                n=int(c["n"]),
                article_id=str(c["article_id"]),
                title=str(c["title"]),
                source=str(c.get("source") or ""),
                text=str(c["text"]),
                start=int(c["start"]),
                end=int(c["end"]),
                score=float(c.get("score") or 0.0),
                date=c.get("date"),
                highlights=tuple((int(h[0]), int(h[1])) for h in c.get("highlights") or ()),
                also_reported_by=tuple(str(x) for x in c.get("also_reported_by") or ()),
            )
            for c in a.get("citations") or ()
        )
        retrieval = a.get("retrieval") or {}
        answer = Answer(
            question=str(a["question"]),
            text=str(a["answer"]),
            found=bool(a.get("found")),
            citations=cites,
            mode=str(retrieval.get("mode") or "hybrid"),
            model=retrieval.get("model"),
            confidence=float(a.get("confidence") or 0.0),
            rewritten_query=a.get("rewritten_query"),
            warnings=tuple(a.get("warnings") or ()),
        )
    return {"question": str(data["question"]), "answer": answer, "error": data.get("error")}


def copy_data_html(turns: list[dict], lang: str) -> str:
    """Hidden data for ui/static/copy.js: each answer as plain text (what the copy button
    copies) and the spoken names of the two speakers (the bubbles' aria-labels)."""
    plain = {
        str(i): render.answer_plain(turn["answer"], lang)
        for i, turn in enumerate(turns)
        if turn.get("answer") is not None
    }
    data = {"plain": plain, "you": t("you_said", lang), "bot": t("assistant_said", lang)}
    return f'<div id="rag-copy-data" data-copy="{render.esc(json.dumps(data))}"></div>'


def state_secret(settings: "Settings") -> str:
    """The key gr.BrowserState encrypts the saved conversation with, kept beside the index so
    a restarted server can still read what browsers saved (a fresh one would lose it)."""
    path = Path(settings.index_dir).resolve().parent / "ui-state.key"
    try:
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(32)
        path.write_text(key, encoding="utf-8")
        return key
    except OSError:
        return secrets.token_urlsafe(32)


def build_blocks(assistant: "Assistant", settings: "Settings"):
    """The page. Returns the gr.Blocks (not launched)."""
    import gradio as gr

    ui = ChatUI(assistant, settings)
    lang0 = DEFAULT_LANG
    relabel: list[tuple[Any, Callable[[str], Any]]] = []  # (component, lang -> gr.update)

    def header(lang: str) -> str:
        # data-words: Gradio's own strings in this language, for ui/static/i18n.js
        words = render.esc(json.dumps(gradio_words(lang)))
        return (
            f'<div id="rag-header" data-lang="{lang}" data-words="{words}">'
            f"<h1>{render.esc(t('title', lang))}</h1>"
            f"<p>{render.esc(t('subtitle', lang))}</p></div>"
        )

    def rerank_info(lang: str) -> str:
        if ui.can_rerank:
            return t("rerank_info", lang)
        if ui.rerank_reason:
            return t("rerank_no_model", lang, model=settings.reranker_model)
        return t("rerank_unavailable", lang)

    def on(component, **keys: str):
        """Register ``component`` for relabelling: each keyword names a property and the
        i18n key of its text."""
        relabel.append(
            (component, lambda lang: gr.update(**{p: t(k, lang) for p, k in keys.items()}))
        )
        return component

    with gr.Blocks(title=t("title", lang0), analytics_enabled=False) as demo:
        lang = gr.State(lang0)
        turns = gr.State([])
        view = gr.State(None)  # [turn, n] of the open citation
        ratings = gr.State({})  # turn -> feedback row id
        last_feedback = gr.State(None)
        selected_id = gr.State(None)
        deleted = gr.State(None)  # [Article, undo deadline] right after a delete
        gen = gr.State(ui.generation())  # the index generation this page last showed
        saved = gr.BrowserState({}, storage_key="rag-vi-news", secret=state_secret(settings))

        with gr.Row(equal_height=True):
            with gr.Column(scale=5):
                title_html = gr.HTML(header(lang0), js_on_load=_static("i18n.js"))
            with gr.Column(scale=1, min_width=240):
                lang_radio = on(
                    gr.Radio(
                        choices=LANG_CHOICES,
                        value=lang0,
                        label=t("language", lang0),
                        show_label=False,
                        elem_id="rag-lang",
                        container=False,
                    ),
                    label="language",
                )
        status = gr.HTML(ui.status(lang0, settings.retriever), elem_id="rag-status-line")
        # Plain-text answers for the copy button and the bubbles' aria-labels (copy.js);
        # hidden by CSS.
        copy_data = gr.HTML(
            copy_data_html([], lang0), elem_id="rag-copy", js_on_load=_static("copy.js")
        )

        with gr.Tabs():
            with gr.Tab(t("tab_chat", lang0), id="chat") as tab_chat, gr.Row():
                with gr.Column(scale=3, min_width=420):
                    chatbot = on(
                        gr.Chatbot(
                            elem_id="rag-chat",
                            label=t("chat_label", lang0),
                            height=560,
                            show_label=False,
                            placeholder=t("chat_placeholder", lang0),
                            examples=[{"text": q} for q in EXAMPLES],
                            feedback_options=("Like", "Dislike"),
                            latex_delimiters=[],
                            buttons=["copy"],
                            sanitize_html=True,
                        ),
                        placeholder="chat_placeholder",
                        label="chat_label",
                    )
                    with gr.Row(equal_height=True):
                        msg = on(
                            gr.Textbox(
                                label=t("question_label", lang0),
                                show_label=False,
                                placeholder=t("input_placeholder", lang0),
                                scale=8,
                                elem_id="rag-input",
                                autofocus=True,
                                max_length=2000,
                                submit_btn=False,
                                container=False,
                            ),
                            placeholder="input_placeholder",
                            label="question_label",
                        )
                        send = on(
                            gr.Button(
                                t("send", lang0),
                                variant="primary",
                                scale=1,
                                min_width=90,
                                elem_id="rag-send",
                            ),
                            value="send",
                        )
                    with gr.Row():
                        clear = on(
                            gr.Button(t("clear", lang0), size="sm", variant="secondary"),
                            value="clear",
                        )
                    # Outside the accordion: a closed accordion's content is not in the page.
                    fb_status = gr.Markdown("", elem_id="rag-feedback-status")
                    with gr.Accordion(t("feedback_title", lang0), open=False) as fb_box:
                        fb_hint = gr.Markdown(t("feedback_hint", lang0))
                        correction = on(
                            gr.Textbox(
                                label=t("correction_label", lang0),
                                placeholder=t("correction_placeholder", lang0),
                                lines=2,
                                elem_id="rag-correction",
                            ),
                            label="correction_label",
                            placeholder="correction_placeholder",
                        )
                        fb_send = on(
                            gr.Button(t("send_correction", lang0), size="sm"),
                            value="send_correction",
                        )
                    on(fb_box, label="feedback_title")
                    on(fb_hint, value="feedback_hint")
                with gr.Column(scale=2, min_width=340):
                    # The viewer sits above the list, so the article opens where the eye
                    # already is, without scrolling the page.
                    viewer = gr.HTML(
                        render.source_html(None, None, lang0),
                        elem_id="rag-viewer",
                        js_on_load=_static("viewer.js"),
                        padding=True,
                    )
                    cites = gr.HTML(
                        render.citations_html(None, 0, lang0),
                        elem_id="rag-cites",
                        js_on_load=_static("cite.js"),
                        padding=True,
                    )

            with gr.Tab(t("tab_corpus", lang0), id="corpus") as tab_corpus:
                with gr.Row():
                    with gr.Column(scale=3):
                        upload = on(
                            gr.File(
                                label=t("upload_label", lang0),
                                file_count="multiple",
                                file_types=list(UPLOAD_SUFFIXES),
                                type="filepath",
                                elem_id="rag-upload",
                                height=140,
                            ),
                            label="upload_label",
                        )
                    with gr.Column(scale=2):
                        ingest_btn = on(
                            gr.Button(t("ingest", lang0), variant="primary", elem_id="rag-ingest"),
                            value="ingest",
                        )
                        ingest_report = gr.Markdown("", elem_id="rag-ingest-report")
                with gr.Row():
                    search = on(
                        gr.Textbox(
                            label=t("search_articles", lang0),
                            placeholder=t("search_placeholder", lang0),
                            scale=4,
                            elem_id="rag-search",
                        ),
                        label="search_articles",
                        placeholder="search_placeholder",
                    )
                    counts = gr.Markdown(ui.counts(lang0), elem_id="rag-counts")
                    refresh = on(
                        gr.Button(t("refresh", lang0), size="sm", scale=1), value="refresh"
                    )
                table = gr.Dataframe(
                    value=ui.table("", lang0),
                    headers=[t(h, lang0) for h in TABLE_HEADERS],
                    datatype=["str", "str", "str", "number", "str"],
                    interactive=False,
                    wrap=True,
                    elem_id="rag-articles",
                    max_height=420,
                    column_widths=["42%", "26%", "10%", "8%", "14%"],
                )
                with gr.Row(equal_height=True):
                    selected_md = on(
                        gr.Markdown(t("selected_none", lang0), elem_id="rag-selected"),
                        value="selected_none",
                    )
                    delete_btn = on(
                        gr.Button(
                            t("delete", lang0), variant="stop", size="sm", scale=0, min_width=200
                        ),
                        value="delete",
                    )
                # Delete asks first, then offers Undo for UNDO_S seconds.
                with gr.Row(visible=False, equal_height=True, elem_id="rag-confirm") as confirm_row:
                    confirm_md = gr.Markdown("")
                    yes_btn = on(
                        gr.Button(
                            t("delete_yes", lang0),
                            variant="stop",
                            size="sm",
                            scale=0,
                            min_width=100,
                            elem_id="rag-delete-yes",
                        ),
                        value="delete_yes",
                    )
                    no_btn = on(
                        gr.Button(
                            t("delete_no", lang0),
                            size="sm",
                            scale=0,
                            min_width=100,
                            elem_id="rag-delete-no",
                        ),
                        value="delete_no",
                    )
                with gr.Row(visible=False, equal_height=True, elem_id="rag-undo") as undo_row:
                    undo_md = gr.Markdown("")
                    undo_btn = on(
                        gr.Button(
                            t("undo", lang0),
                            size="sm",
                            scale=0,
                            min_width=120,
                            elem_id="rag-undo-btn",
                        ),
                        value="undo",
                    )
                preview = gr.HTML("", elem_id="rag-preview", padding=True)

            with gr.Tab(t("tab_settings", lang0), id="settings") as tab_settings:
                settings_md = gr.Markdown(f"## {t('settings_title', lang0)}")
                relabel.append(
                    (settings_md, lambda lang: gr.update(value=f"## {t('settings_title', lang)}"))
                )
                mode = on(
                    gr.Radio(
                        choices=["hybrid", "bm25", "dense"],
                        value=settings.retriever,
                        label=t("retriever", lang0),
                        info=t("retriever_info", lang0),
                        elem_id="rag-mode",
                    ),
                    label="retriever",
                    info="retriever_info",
                )
                top_k = on(
                    gr.Slider(
                        1,
                        20,
                        value=min(settings.top_k, 20),
                        step=1,
                        label=t("top_k", lang0),
                        elem_id="rag-topk",
                    ),
                    label="top_k",
                )
                rerank = gr.Checkbox(
                    value=settings.rerank and ui.can_rerank,
                    label=t("rerank", lang0),
                    info=rerank_info(lang0),
                    interactive=ui.can_rerank,
                    elem_id="rag-rerank",
                )
                relabel.append(
                    (
                        rerank,
                        lambda lang: gr.update(label=t("rerank", lang), info=rerank_info(lang)),
                    )
                )
                answer_info = "answer_mode_info" if len(ui.answer_modes) > 1 else "llm_unconfigured"
                answer_mode = on(
                    gr.Radio(
                        choices=ui.answer_modes,
                        value="extractive",
                        label=t("answer_mode", lang0),
                        info=t(answer_info, lang0),
                        interactive=len(ui.answer_modes) > 1,
                    ),
                    label="answer_mode",
                    info=answer_info,
                )
        for tab, key in (
            (tab_chat, "tab_chat"),
            (tab_corpus, "tab_corpus"),
            (tab_settings, "tab_settings"),
        ):
            on(tab, label=key)

        # ---- events ----------------------------------------------------------------------
        private = {"api_visibility": "private"}
        chat_inputs = [msg, turns, lang, mode, top_k, rerank, answer_mode]
        chat_outputs = [chatbot, turns, msg, cites, viewer, view]
        save_inputs = [turns, lang, mode, top_k, rerank, answer_mode]

        def save(turns_v, lang_v, mode_v, top_k_v, rerank_v, answer_v):
            """The conversation and settings into localStorage (gr.BrowserState), and the
            plain-text copies of the answers for copy.js."""
            value = {
                "lang": lang_v,
                "mode": mode_v,
                "top_k": top_k_v,
                "rerank": bool(rerank_v),
                "answer_mode": answer_v,
                "turns": [turn_to_json(x) for x in (turns_v or [])][-SAVED_TURNS:],
            }
            return value, copy_data_html(turns_v or [], lang_v)

        def after(event):
            return event.then(save, save_inputs, [saved, copy_data], **private)

        after(msg.submit(ui.respond, chat_inputs, chat_outputs, **private))
        after(send.click(ui.respond, chat_inputs, chat_outputs, **private))

        def pick_example(evt: gr.SelectData):
            value = evt.value if isinstance(evt.value, dict) else {}
            return value.get("text", "")

        after(
            chatbot.example_select(pick_example, None, msg, **private).then(
                ui.respond, chat_inputs, chat_outputs, **private
            )
        )
        clear_outputs = [chatbot, turns, cites, viewer, view, ratings]
        after(clear.click(ui.clear, [lang], clear_outputs, **private))
        # the chat's own 🗑 button
        after(chatbot.clear(ui.clear, [lang], clear_outputs, **private))
        for setting in (top_k, rerank, answer_mode):
            setting.change(save, save_inputs, [saved, copy_data], **private)

        def on_cite(turns_v, lang_v, evt: gr.EventData):
            return ui.open_citation(turns_v, lang_v, evt)

        cites.cite(on_cite, [turns, lang], [cites, viewer, view], **private)

        def on_like(turns_v, ratings_v, lang_v, top_k_v, evt: gr.LikeData):
            return ui.like(turns_v, ratings_v, lang_v, top_k_v, evt)

        chatbot.like(
            on_like,
            [turns, ratings, lang, top_k],
            [ratings, last_feedback, fb_status, fb_box],
            **private,
        )
        fb_send.click(
            ui.correct, [correction, last_feedback, lang], [fb_status, correction], **private
        )

        def on_ingest(files, lang_v, query, mode_v, progress=gr.Progress()):
            return ui.ingest(files, lang_v, query, mode_v, progress)

        ingest_btn.click(
            on_ingest,
            [upload, lang, search, mode],
            [ingest_report, upload, table, counts, status],
            **private,
        ).then(ui.generation, None, [gen], **private)
        search.change(ui.table, [search, lang], [table], **private)
        refresh.click(
            lambda q, lang_v, mode_v: (
                ui.table(q, lang_v),
                ui.counts(lang_v),
                ui.status(lang_v, mode_v),
            ),
            [search, lang, mode],
            [table, counts, status],
            **private,
        )

        def on_select(rows, lang_v, evt: gr.SelectData):
            return ui.select_article(rows, lang_v, evt)

        table.select(on_select, [table, lang], [selected_id, selected_md, preview], **private)
        delete_btn.click(
            ui.ask_delete, [selected_id, lang], [confirm_row, confirm_md, selected_md], **private
        )
        no_btn.click(
            lambda lang_v: (gr.update(visible=False), t("delete_cancelled", lang_v)),
            [lang],
            [confirm_row, selected_md],
            **private,
        )
        corpus_outputs = [table, counts, status, gen, preview]
        yes_btn.click(
            ui.delete,
            [selected_id, lang, search, mode],
            [confirm_row, undo_row, undo_md, deleted, selected_md, selected_id, *corpus_outputs],
            **private,
        )
        undo_btn.click(
            ui.undo,
            [deleted, lang, search, mode],
            [undo_row, deleted, selected_md, *corpus_outputs],
            **private,
        )
        # Changes made elsewhere (the HTTP API, another tab) show up within POLL_S seconds.
        poll = gr.Timer(POLL_S)
        poll.tick(
            ui.refresh_if_changed,
            [gen, lang, search, mode, deleted],
            [gen, status, table, counts, undo_row, deleted],
            show_progress="hidden",
            **private,
        )
        mode.change(ui.status, [lang, mode], [status], **private).then(
            save, save_inputs, [saved, copy_data], **private
        )

        relabel_components = [c for c, _ in relabel]

        def switch_language(new_lang, turns_v, view_v, mode_v, query):
            new_lang = new_lang if new_lang in ("vi", "en") else DEFAULT_LANG
            answer = c = article = None
            turn = 0
            if view_v:
                found = ui.citation(turns_v, int(view_v[0]), int(view_v[1]))
                if found:
                    answer, c, article = found
                    turn = int(view_v[0])
            elif turns_v and turns_v[-1].get("answer") is not None:
                answer, turn = turns_v[-1]["answer"], len(turns_v) - 1
            return (
                new_lang,
                header(new_lang),
                ui.status(new_lang, mode_v),
                render.chat_messages(turns_v or [], new_lang),
                render.citations_html(answer, turn, new_lang, selected=c.n if c else None),
                render.source_html(article, c, new_lang),
                ui.counts(new_lang),
                ui.table(query, new_lang),
                *[fn(new_lang) for _, fn in relabel],
            )

        after(
            lang_radio.change(
                switch_language,
                [lang_radio, turns, view, mode, search],
                [
                    lang,
                    title_html,
                    status,
                    chatbot,
                    cites,
                    viewer,
                    counts,
                    table,
                    *relabel_components,
                ],
                **private,
            )
        )

        def restore(saved_v, mode_v):
            """Page load: the conversation, language and settings this browser saved, when
            there are any; setting the language radio relabels the page (its change event)."""
            saved_v = saved_v if isinstance(saved_v, dict) else {}
            try:
                turns_v = [turn_from_json(x) for x in saved_v.get("turns") or []]
            except (KeyError, TypeError, ValueError):
                turns_v = []  # saved by an older page, or damaged: start afresh
            lang_v = saved_v.get("lang") if saved_v.get("lang") in LANGS else DEFAULT_LANG
            mode_v = (
                saved_v.get("mode")
                if saved_v.get("mode") in ("hybrid", "bm25", "dense")
                else mode_v
            )
            top_k_v = saved_v.get("top_k")
            top_k_v = (
                int(top_k_v)
                if isinstance(top_k_v, (int, float)) and 1 <= top_k_v <= 20
                else gr.skip()
            )
            rerank_v = bool(saved_v.get("rerank")) and ui.can_rerank
            answer_v = saved_v.get("answer_mode")
            answer_v = answer_v if answer_v in ui.answer_modes else gr.skip()
            last = len(turns_v) - 1
            answer = turns_v[-1]["answer"] if turns_v else None
            return (
                turns_v,
                lang_v,
                lang_v,
                mode_v,
                top_k_v,
                rerank_v,
                answer_v,
                render.chat_messages(turns_v, lang_v),
                render.citations_html(answer, max(last, 0), lang_v),
                copy_data_html(turns_v, lang_v),
                ui.status(lang_v, mode_v),
                ui.table("", lang_v),
                ui.counts(lang_v),
                ui.generation(),
            )

        demo.load(
            restore,
            [saved, mode],
            [
                turns,
                lang,
                lang_radio,
                mode,
                top_k,
                rerank,
                answer_mode,
                chatbot,
                cites,
                copy_data,
                status,
                table,
                counts,
                gen,
            ],
            **private,
        )

        # ---- the Gradio client API (gradio_client.Client(...).predict(..., api_name=...)) ----
        def ask(question: str, top_k: int = 5, mode: str = "hybrid") -> dict:
            """Answer a question with citations; the same JSON as `rag ask --json`."""
            return assistant.ask(question, top_k=int(top_k), mode=mode or None).to_dict()

        def articles(query: str = "") -> list:
            """The indexed articles whose title, source or id contain the query's words."""
            return render.filter_articles(assistant.articles(), query)

        def health() -> dict:
            """What is indexed and which embedding model is in use."""
            return assistant.info()

        gr.api(ask, api_name="ask")
        gr.api(articles, api_name="articles")
        gr.api(health, api_name="health")
    return demo


def build_app(settings: "Settings", assistant: "Assistant | None" = None) -> "FastAPI":
    """The FastAPI application: /api/* (with /docs and /openapi.json) and the page at /."""
    import gradio as gr
    from fastapi import FastAPI

    from ui.api import install_docs, install_error_handlers, make_router

    if assistant is None:
        from rag.pipeline import Assistant

        assistant = Assistant.open(settings)
    app = FastAPI(
        title="rag-vi-news",
        version="0.1.0",
        description="Cited question answering over Vietnamese news. The chat page is at /.",
    )
    install_error_handlers(app)
    install_docs(app)
    app.include_router(make_router(assistant, settings))
    blocks = build_blocks(assistant, settings)
    auth = tuple(settings.auth.split(":", 1)) if settings.auth else None
    # System fonts: every desktop's UI font has the Vietnamese letters, while the theme's
    # bundled web font would fall back glyph by glyph ("Bài" drawn in two fonts).
    # Subdued text, the primary buttons and the stop (Delete) buttons one shade darker than the
    # theme's defaults: those fail WCAG AA contrast (2.6:1, 3.7:1 and 3.8:1, reported by
    # axe-core).
    theme = gr.themes.Default(
        primary_hue="blue",
        neutral_hue="slate",
        radius_size="md",
        font=[
            "system-ui",
            "-apple-system",
            "Segoe UI",
            "Roboto",
            "Noto Sans",
            "Helvetica Neue",
            "Arial",
            "sans-serif",
        ],
    ).set(
        body_text_color_subdued="*neutral_600",
        color_accent="*primary_600",
        link_text_color="*primary_700",
        link_text_color_hover="*primary_800",
        body_text_color_subdued_dark="*neutral_400",
        button_primary_background_fill="*primary_600",
        button_primary_background_fill_hover="*primary_700",
        button_primary_background_fill_dark="*primary_600",
        button_primary_background_fill_hover_dark="*primary_700",
        button_cancel_background_fill=gr.themes.colors.red.c600,
        button_cancel_background_fill_hover=gr.themes.colors.red.c700,
    )
    return gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        server_name=settings.host,
        server_port=settings.port,
        auth=auth,
        auth_message=t("title", DEFAULT_LANG) if auth else None,
        max_file_size=f"{settings.max_upload_mb}mb",
        footer_links=["api"],
        run_history=False,
        ssr_mode=False,
        mcp_server=False,
        theme=theme,
        css=_static("app.css"),
    )


def serve(
    settings: "Settings", *, share: bool = False, assistant: "Assistant | None" = None
) -> None:
    """Run the app until interrupted, at http://<host>:<port>/ (default 127.0.0.1:7860)."""
    import uvicorn

    app = build_app(settings, assistant)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            timeout_graceful_shutdown=2,  # open event streams would hold Ctrl-C otherwise
        )
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.05)
    if not thread.is_alive():
        raise RagError(
            f"could not start the server on {settings.host}:{settings.port} (port in use?)"
        )
    shown = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    print(f"chat:     http://{shown}:{settings.port}/", flush=True)
    print(f"HTTP API: http://{shown}:{settings.port}/docs", flush=True)
    if share:
        _share(settings)
    try:
        while thread.is_alive():
            thread.join(0.5)
    except KeyboardInterrupt:
        server.should_exit = True
        thread.join(5)


def _share(settings: "Settings") -> None:
    """A public gradio.live link through Gradio's tunnel; it needs the internet, and says so
    plainly when there is none (the local server keeps running)."""
    import secrets

    from gradio import networking

    try:
        url = networking.setup_tunnel(
            local_host="127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host,
            local_port=settings.port,
            share_token=secrets.token_urlsafe(32),
            share_server_address=None,
            share_server_tls_certificate=None,
        )
        print(f"public:   {url}  (anyone with the link can use the chat; set RAG_AUTH)", flush=True)
    except Exception as exc:  # network errors of every kind: the tunnel is optional
        print(f"warning: no share link ({exc}); serving locally only", flush=True)
