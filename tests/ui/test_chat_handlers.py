"""The page's handlers (ui.app.ChatUI) on a real Assistant, without a browser: streaming,
follow-ups, opening a citation, feedback, upload and delete."""

from __future__ import annotations

from pathlib import Path

import pytest

gr = pytest.importorskip("gradio")

from ui.app import ChatUI  # noqa: E402

TREATY_Q = "Hiệp ước mới thay thế những văn kiện nào?"


class Event:
    """What Gradio passes to a handler: the attributes the handlers read."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


@pytest.fixture()
def chat(seeded_assistant, tiny_settings) -> ChatUI:
    return ChatUI(seeded_assistant, tiny_settings)


def run(chat: ChatUI, question: str, turns=None, lang="vi"):
    return list(chat.respond(question, turns or [], lang, "hybrid", 5, False, "extractive"))


def test_answer_streams_in_after_the_question_appears(chat):
    steps = run(chat, TREATY_Q)
    first, *middle, last = steps
    # The question shows at once, with a "searching" bubble, and the input is cleared.
    messages, _, cleared, *_ = first
    assert messages[-2]["content"].startswith("Hi") and "Đang tìm" in messages[-1]["content"]
    assert cleared == ""
    # Then the answer grows sentence by sentence...
    partial = [step[0][-1]["content"] for step in middle]
    assert partial and all(len(a) < len(b) for a, b in zip(partial, partial[1:], strict=False))
    # ...and the last step has the whole answer, the turn stored, and the citations panel.
    messages, turns, _, cites, viewer, view = last
    assert "1961" in messages[-1]["content"] and "#rag-cite-0-1" in messages[-1]["content"]
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


def test_errors_show_in_the_chat_not_as_a_crash(chat):
    *_, last = run(chat, "x" * 2500)
    assert last[1][0]["answer"] is None
    assert "is 2\\,500 characters long" in last[0][-1]["content"]  # markdown-escaped comma


def test_opening_a_citation_renders_the_viewer(chat):
    *_, last = run(chat, TREATY_Q)
    turns = last[1]
    cites, viewer, view = chat.open_citation(turns, "vi", Event(_data={"turn": 0, "n": 1}))
    assert view == [0, 1] and "rag-selected" in cites
    assert "rag-target" in viewer and "1961" in viewer.split("rag-target")[1][:400]
    missing = chat.open_citation(turns, "vi", Event(_data={"turn": 5, "n": 1}))
    assert all(isinstance(x, type(gr.skip())) for x in missing)


def test_likes_are_stored_and_updated_and_corrections_attached(chat):
    *_, last = run(chat, TREATY_Q)
    turns = last[1]
    ratings, fid, msg, _ = chat.like(turns, {}, "vi", 5, Event(index=1, liked=True))
    assert "👍" in msg and ratings == {"0": fid}
    ratings, fid2, msg, box = chat.like(turns, ratings, "en", 5, Event(index=[1, 0], liked=False))
    assert fid2 == fid and "👎" in msg
    status, cleared = chat.correct("Hiệp ước năm 1961, 2000 và 2001", fid, "en")
    assert "Saved" in status and cleared == ""
    (row,) = chat.feedback.rows()
    assert row["rating"] == -1 and row["correction"] == "Hiệp ước năm 1961, 2000 và 2001"
    assert "Rate an answer" in chat.correct("x", None, "en")[0]


def test_upload_then_reupload_then_delete(chat, tmp_path: Path):
    f = tmp_path / "meo.txt"
    f.write_text("Mèo Mướp\n\nCon mèo Mướp thích ăn cá kho.\n", encoding="utf-8")
    report, cleared, table, counts, status = chat.ingest([str(f)], "vi", "", "hybrid")
    rows = table["data"]
    assert table["headers"][0] == "Tiêu đề"
    assert "Đã thêm 1 bài" in report and cleared is None
    assert rows[0][1] == "meo.txt" and "6 bài" in counts and "6 bài" in status
    report, *_ = chat.ingest([str(f)], "en", "", "hybrid")
    assert "already indexed: nothing to do" in report
    bad = tmp_path / "x.pdf"
    bad.write_bytes(b"%PDF")
    report, *_ = chat.ingest([str(bad)], "vi", "", "hybrid")
    assert "không được hỗ trợ" in report
    article_id = rows[0][-1]
    selected, label, preview = chat.select_article(rows, "vi", Event(row_value=rows[0]))
    assert selected == article_id and "Mèo Mướp" in preview
    out = chat.delete(article_id, "vi", "", "hybrid")
    _, _, msg, deleted, _, selected, table, counts, status, gen, preview = out
    rows = table["data"]
    assert "Đã xoá" in msg and "5 bài" in counts and article_id not in [r[-1] for r in rows]
    assert deleted[0].id == article_id and selected is None
    # Undo (within its window) puts the same article back
    _, kept, msg, table, counts, *_ = chat.undo(deleted, "vi", "", "hybrid")
    rows = table["data"]
    assert "Đã khôi phục" in msg and kept is None and "6 bài" in counts
    assert article_id in [r[-1] for r in rows]
