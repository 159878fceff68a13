"""What the page offers on this server, decided once when the page is built."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.pipeline import Assistant
    from rag.settings import Settings


@dataclass(frozen=True)
class PageOptions:
    """``can_rerank``: the reranker model loads here, so its checkbox is offered (loaded once,
    when the page is built, rather than on the first question); ``rerank_reason``: why not,
    otherwise. ``answer_modes``: "extractive", and "llm" when an LLM endpoint is configured."""

    can_rerank: bool
    rerank_reason: str | None
    answer_modes: tuple[str, ...]

    @classmethod
    def of(cls, assistant: Assistant, settings: Settings) -> PageOptions:
        reranker = assistant.reranker()
        available = reranker.available
        reason = None if available else (reranker.warning or settings.reranker_model)
        modes = ("extractive", "llm") if settings.llm_url else ("extractive",)
        return cls(can_rerank=available, rerank_reason=reason, answer_modes=modes)
