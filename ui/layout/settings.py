"""The settings tab: retriever, top-k, reranking and answer mode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ui.i18n import K, t

if TYPE_CHECKING:
    import gradio as gr

    from rag.settings import Settings
    from ui.layout.labels import Labels
    from ui.options import PageOptions


@dataclass(frozen=True)
class SettingsTab:
    tab: gr.Tab
    title: gr.Markdown
    mode: gr.Radio
    top_k: gr.Slider
    rerank: gr.Checkbox
    answer_mode: gr.Radio


def build_settings_tab(labels: Labels, settings: Settings, options: PageOptions) -> SettingsTab:
    import gradio as gr

    def rerank_words(lang: str) -> dict:
        # Offered only when a reranker model loads here; otherwise off, saying why.
        if options.can_rerank:
            info = t(K.rerank_info, lang)
        else:
            info = t(K.rerank_no_model, lang, model=settings.reranker_model)
        return {"label": t(K.rerank, lang), "info": info}

    offers_llm = len(options.answer_modes) > 1
    answer_info = K.answer_mode_info if offers_llm else K.llm_unconfigured
    with labels.make(gr.Tab, {"label": K.tab_settings}, id="settings") as tab:
        title = labels.make_with(
            gr.Markdown, lambda lang: {"value": f"## {t(K.settings_title, lang)}"}
        )
        mode = labels.make(
            gr.Radio,
            {"label": K.retriever, "info": K.retriever_info},
            choices=["hybrid", "bm25", "dense"],
            value=settings.retriever,
            elem_id="rag-mode",
        )
        top_k = labels.make(
            gr.Slider,
            {"label": K.top_k},
            minimum=1,
            maximum=20,
            value=min(settings.top_k, 20),
            step=1,
            elem_id="rag-topk",
        )
        rerank = labels.make_with(
            gr.Checkbox,
            rerank_words,
            value=settings.rerank and options.can_rerank,
            interactive=options.can_rerank,
            elem_id="rag-rerank",
        )
        answer_mode = labels.make(
            gr.Radio,
            {"label": K.answer_mode, "info": answer_info},
            choices=list(options.answer_modes),
            value="extractive",
            interactive=offers_llm,
        )
    return SettingsTab(
        tab=tab, title=title, mode=mode, top_k=top_k, rerank=rerank, answer_mode=answer_mode
    )
