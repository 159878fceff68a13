"""ui.layout.settings: what the settings tab offers follows this server's options."""

from __future__ import annotations

import pytest

gr = pytest.importorskip("gradio")

from rag.settings import Settings  # noqa: E402
from tests.ui.layout.helpers import build, english, fields, relabelled  # noqa: E402
from ui.layout.settings import SettingsTab, build_settings_tab  # noqa: E402
from ui.options import PageOptions  # noqa: E402

ALL = PageOptions(can_rerank=True, rerank_reason=None, answer_modes=("extractive", "llm"))
LEAST = PageOptions(can_rerank=False, rerank_reason="no model", answer_modes=("extractive",))


@pytest.fixture()
def settings(tmp_path) -> Settings:
    return Settings.load(env={}, index_dir=tmp_path / "index", top_k=30, rerank=True)


def test_everything_offered(settings):
    tab, labels = build(build_settings_tab, settings, ALL)
    assert isinstance(tab, SettingsTab)
    assert relabelled(tab, labels) == set(fields(tab))
    assert tab.mode.value == settings.retriever and tab.top_k.value == 20  # at most 20
    assert tab.rerank.value is True and tab.rerank.interactive is True
    assert tab.rerank.info.startswith("Chính xác hơn")
    assert tab.answer_mode.choices == [("extractive", "extractive"), ("llm", "llm")]
    assert tab.answer_mode.interactive is True
    assert english(tab, labels, "answer_mode")["info"].startswith("extractive = quote")
    assert english(tab, labels, "title")["value"] == "## Retrieval and answer settings"


def test_no_reranker_model_and_no_llm_say_why(settings):
    tab, labels = build(build_settings_tab, settings, LEAST)
    assert tab.rerank.value is False and tab.rerank.interactive is False
    assert settings.reranker_model in tab.rerank.info
    assert english(tab, labels, "rerank") == {
        "__type__": "update",
        "label": "Rerank with a cross-encoder",
        "info": f"Unavailable: the reranker model {settings.reranker_model} cannot be loaded "
        "on this machine.",
    }
    assert tab.answer_mode.interactive is False
    assert english(tab, labels, "answer_mode")["info"].startswith("No LLM endpoint configured")
