"""The web app: a Gradio Blocks page mounted on a FastAPI app that also serves /api/*.

``build_app(settings, assistant)`` returns the FastAPI application (what uvicorn runs; tests
start it on a free port); ``serve(settings)`` runs it. ``build_blocks`` composes the page:
ui.layout builds each part (header, chat, articles, settings), ui.events wires them to the
handlers of ui.handlers, and everything shown goes through the pure functions of ui.render.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from rag.errors import RagError
from ui.browser_state import copy_data_html, state_secret
from ui.events.chat import wire_chat, wire_feedback
from ui.events.client_api import install_client_api
from ui.events.corpus import wire_corpus
from ui.events.page import wire_language, wire_restore
from ui.events.saving import Saver
from ui.events.settings import wire_settings
from ui.handlers.chat import ChatHandlers
from ui.handlers.corpus import CorpusHandlers
from ui.handlers.feedback import FeedbackHandlers
from ui.i18n import DEFAULT_LANG, K, t
from ui.layout.chat import build_chat_tab
from ui.layout.corpus import build_corpus_tab
from ui.layout.header import build_header, static
from ui.layout.labels import Labels
from ui.layout.page import Page
from ui.layout.settings import build_settings_tab
from ui.layout.state import build_state
from ui.options import PageOptions
from ui.theme import theme

if TYPE_CHECKING:
    from fastapi import FastAPI

    from rag.pipeline import Assistant
    from rag.settings import Settings


# Gradio keeps the state and a copy of the component config of every session (each page load,
# each gradio_client.Client): ~100 KiB for this page, dropped only when newer sessions push it
# out, least recently used first. Its default keeps 10,000 (~1 GB, growing with every visitor
# until then); 1,000 (~100 MB) drops only a page that sat idle while 1,000 others were used.
# Such a page's next question starts a new conversation; reloading it restores the one saved in
# the browser.
SESSIONS = 1000


def build_blocks(assistant: Assistant, settings: Settings):
    """The page. Returns the gr.Blocks (not launched)."""
    import gradio as gr

    options = PageOptions.of(assistant, settings)
    chat = ChatHandlers(assistant, options)
    feedback = FeedbackHandlers(settings)
    corpus = CorpusHandlers(assistant, settings, options)
    lang = DEFAULT_LANG
    labels = Labels(lang)

    with gr.Blocks(title=t(K.title, lang), analytics_enabled=False) as demo:
        state = build_state(lang, corpus.generation(), state_secret(settings))
        header = build_header(
            labels, corpus.status(lang, settings.retriever), copy_data_html([], lang)
        )
        with gr.Tabs():
            chat_tab = build_chat_tab(labels, chat.site_choices(lang))
            corpus_tab = build_corpus_tab(labels, corpus.counts(lang), corpus.table("", lang))
            settings_tab = build_settings_tab(labels, settings, options)
        page = Page(state, header, chat_tab, corpus_tab, settings_tab, labels)

        saver = Saver.of(state, settings_tab, header, chat_tab)
        wire_chat(chat_tab, settings_tab, state, saver, chat)
        wire_feedback(chat_tab, settings_tab, state, feedback)
        wire_corpus(corpus_tab, settings_tab, header, state, corpus)
        wire_settings(settings_tab, header, state, saver, corpus)
        wire_language(page, saver, chat, corpus)
        wire_restore(demo, page, chat, corpus, options)
        install_client_api(assistant)
    return demo


def build_app(settings: Settings, assistant: Assistant | None = None) -> FastAPI:
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
    blocks.state_session_capacity = SESSIONS  # read when the Gradio app is created below
    auth = tuple(settings.auth.split(":", 1)) if settings.auth else None
    return gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        server_name=settings.host,
        server_port=settings.port,
        auth=auth,
        auth_message=t(K.title, DEFAULT_LANG) if auth else None,
        max_file_size=f"{settings.max_upload_mb}mb",
        footer_links=["api"],
        run_history=False,
        ssr_mode=False,
        mcp_server=False,
        theme=theme(),
        css=static("app.css"),
    )


def serve(settings: Settings, *, share: bool = False, assistant: Assistant | None = None) -> None:
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


def _share(settings: Settings) -> None:
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
