"""ui.options: what the page offers, from the Assistant's declared reranker and the
settings."""

from __future__ import annotations

from ui.options import PageOptions


class Reranker:
    def __init__(self, available: bool, warning: str | None = None) -> None:
        self.available = available
        self.warning = warning


class Assistant:
    def __init__(self, reranker: Reranker) -> None:
        self._reranker = reranker

    def reranker(self) -> Reranker:
        return self._reranker


def test_options_follow_the_reranker_and_the_llm_endpoint(tiny_settings):
    options = PageOptions.of(Assistant(Reranker(True)), tiny_settings)
    assert options == PageOptions(True, None, ("extractive",))
    llm = tiny_settings.__class__.load(
        env={}, index_dir=tiny_settings.index_dir, llm_url="http://x"
    )
    options = PageOptions.of(Assistant(Reranker(False, "could not load")), llm)
    assert options == PageOptions(False, "could not load", ("extractive", "llm"))
    options = PageOptions.of(Assistant(Reranker(False)), tiny_settings)
    assert options.rerank_reason == tiny_settings.reranker_model


def test_with_the_real_assistant(seeded_assistant, tiny_settings):
    options = PageOptions.of(seeded_assistant, tiny_settings)
    # no reranker model in the tests: off, with the reason
    assert options.can_rerank is False and options.rerank_reason
