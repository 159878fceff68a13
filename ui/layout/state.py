"""The page's per-browser state: gr.State values (one copy per open page) and the browser's
saved copy (gr.BrowserState, localStorage)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import gradio as gr


@dataclass(frozen=True)
class PageState:
    lang: gr.State
    turns: gr.State
    view: gr.State  # [turn, n] of the open citation
    ratings: gr.State  # turn -> feedback row id
    last_feedback: gr.State
    selected_id: gr.State
    deleted: gr.State  # [Article, undo deadline] right after a delete
    gen: gr.State  # the index generation this page last showed
    saved: gr.BrowserState


def build_state(lang: str, generation: int | None, secret: str) -> PageState:
    import gradio as gr

    return PageState(
        lang=gr.State(lang),
        turns=gr.State([]),
        view=gr.State(None),
        ratings=gr.State({}),
        last_feedback=gr.State(None),
        selected_id=gr.State(None),
        deleted=gr.State(None),
        gen=gr.State(generation),
        saved=gr.BrowserState({}, storage_key="rag-vi-news", secret=secret),
    )
