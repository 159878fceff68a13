"""ui.handlers.chat on a real Assistant, without a browser: streaming, follow-ups, errors,
opening a citation."""

from __future__ import annotations

import pytest

gr = pytest.importorskip("gradio")

from ui.handlers.chat import ChatHandlers  # noqa: E402
from ui.options import PageOptions  # noqa: E402

TREATY_Q = "Hiệp ước mới thay thế những văn kiện nào?"
# Answered in two sentences (a claim and its "Cụ thể, …"): something to stream.
TRADE_Q = "Ông Putin nói gì về kim ngạch thương mại hai nước, kèm số liệu cụ thể?"


class Event:
    """What Gradio passes to a handler: the attributes the handlers read."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


@pytest.fixture()
def chat(seeded_assistant, tiny_settings) -> ChatHandlers:
    return ChatHandlers(seeded_assistant, PageOptions.of(seeded_assistant, tiny_settings))


def run(
    chat: ChatHandlers, question: str, turns=None, lang="vi", rerank=False, answer="extractive"
):
    return list(chat.respond(question, turns or [], lang, "hybrid", 5, rerank, answer))


def test_answer_streams_in_after_the_question_appears(chat):
    steps = run(chat, TRADE_Q)
    first, *middle, last = steps
    # The question shows at once, with a "searching" bubble, and the input is cleared.
    messages, _, cleared, *_ = first
    assert messages[-2]["content"].startswith("Ông") and "Đang tìm" in messages[-1]["content"]
    assert cleared == ""
    # Then the answer grows sentence by sentence...
    partial = [step[0][-1]["content"] for step in middle]
    assert partial and all(len(a) < len(b) for a, b in zip(partial, partial[1:], strict=False))
    # ...and the last step has the whole answer, the turn stored, and the citations panel.
    messages, turns, _, cites, viewer, view, note = last
    assert "Cụ thể" in messages[-1]["content"] and "54" in messages[-1]["content"]
    assert "#rag-cite-0-1" in messages[-1]["content"]
    assert turns[0]["answer"].found and 'data-turn="0"' in cites and view is None


def test_follow_up_sends_the_earlier_turns(chat, seeded_assistant, monkeypatch):
    *_, last = run(chat, TREATY_Q)
    turns = last[1]
    seen = {}
    real_ask = seeded_assistant.ask

    def spy(question, history=(), **kw):  # records what the page passes, then asks for real
        seen["history"] = list(history)
        return real_ask(question, history, **kw)

    monkeypatch.setattr(seeded_assistant, "ask", spy)
    *_, last = run(chat, "Hiệp ước được ký ở đâu?", turns)
    assert seen["history"] == [(TREATY_Q, turns[0]["answer"].text)]
    assert len(last[1]) == 2


def test_the_settings_reach_the_assistant_as_declared(chat, seeded_assistant, monkeypatch):
    """Assistant.ask's declared options: rerank only where a reranker model loads (else the
    pipeline's own setting, None), the answer mode, top-k and retriever."""
    calls = []
    real_ask = seeded_assistant.ask

    def spy(question, history=(), **kw):
        calls.append(kw)
        return real_ask(question, history, **kw)

    monkeypatch.setattr(seeded_assistant, "ask", spy)
    run(chat, TREATY_Q, rerank=True, answer="extractive")
    run(chat, TREATY_Q, rerank=True, answer="")
    offered = chat.options.can_rerank
    assert calls[0] == {
        "top_k": 5,
        "mode": "hybrid",
        "rerank": True if offered else None,
        "answer_mode": "extractive",
        "filters": None,
    }
    assert calls[1]["answer_mode"] is None


def test_no_reranker_model_leaves_the_pipeline_setting(seeded_assistant, monkeypatch):
    options = PageOptions(can_rerank=False, rerank_reason="no model", answer_modes=("extractive",))
    chat = ChatHandlers(seeded_assistant, options)
    calls = []
    real_ask = seeded_assistant.ask
    monkeypatch.setattr(
        seeded_assistant, "ask", lambda q, h=(), **kw: calls.append(kw) or real_ask(q, h, **kw)
    )
    run(chat, TREATY_Q, rerank=True)
    assert calls[0]["rerank"] is None


def test_errors_show_in_the_chat_not_as_a_crash(chat):
    *_, last = run(chat, "x" * 2500)
    assert last[1][0]["answer"] is None
    assert "is 2\\,500 characters long" in last[0][-1]["content"]  # markdown-escaped comma


def test_an_empty_question_changes_nothing(chat):
    (only,) = run(chat, "   ")
    assert all(isinstance(x, type(gr.skip())) for x in only)


def test_opening_a_citation_renders_the_viewer(chat):
    *_, last = run(chat, TREATY_Q)
    turns = last[1]
    cites, viewer, view = chat.open_citation(turns, "vi", Event(_data={"turn": 0, "n": 1}))
    assert view == [0, 1] and "rag-selected" in cites
    assert "rag-target" in viewer and "1961" in viewer.split("rag-target")[1][:400]
    missing = chat.open_citation(turns, "vi", Event(_data={"turn": 5, "n": 1}))
    assert all(isinstance(x, type(gr.skip())) for x in missing)


def test_panels_follow_the_open_citation_or_the_last_answer(chat):
    *_, last = run(chat, TREATY_Q)
    turns = last[1]
    cites, viewer = chat.panels(turns, [0, 1], "en")
    assert "rag-selected" in cites and "rag-target" in viewer and "Sources" in cites
    cites, viewer = chat.panels(turns, None, "en")
    assert 'data-turn="0"' in cites and "rag-selected" not in cites and "rag-target" not in viewer
    cites, _ = chat.panels([], None, "vi")
    assert "Các đoạn được trích dẫn sẽ hiện ở đây." in cites


def test_clear_starts_afresh(chat):
    messages, turns, cites, viewer, view, ratings = chat.clear("en")
    assert messages == [] and turns == [] and view is None and ratings == {}
    assert "The cited passages will appear here." in cites
