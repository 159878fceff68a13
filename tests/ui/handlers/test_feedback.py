"""ui.handlers.feedback: 👍/👎 stored at once, updated on a second click, corrections."""

from __future__ import annotations

import pytest

gr = pytest.importorskip("gradio")

from ui.handlers.chat import ChatHandlers  # noqa: E402
from ui.handlers.feedback import FeedbackHandlers  # noqa: E402
from ui.options import PageOptions  # noqa: E402

TREATY_Q = "Hiệp ước mới thay thế những văn kiện nào?"


class Event:
    def __init__(self, **kw):
        self.__dict__.update(kw)


@pytest.fixture()
def answered(seeded_assistant, tiny_settings) -> list[dict]:
    chat = ChatHandlers(seeded_assistant, PageOptions.of(seeded_assistant, tiny_settings))
    *_, last = chat.respond(TREATY_Q, [], "vi", "hybrid", 5, False, "extractive")
    return last[1]


def test_likes_are_stored_and_updated_and_corrections_attached(answered, tiny_settings):
    feedback = FeedbackHandlers(tiny_settings)
    turns = answered
    ratings, fid, msg, _ = feedback.like(turns, {}, "vi", 5, Event(index=1, liked=True))
    assert "👍" in msg and ratings == {"0": fid}
    ratings, fid2, msg, box = feedback.like(
        turns, ratings, "en", 5, Event(index=[1, 0], liked=False)
    )
    assert fid2 == fid and "👎" in msg
    status, cleared = feedback.correct("Hiệp ước năm 1961, 2000 và 2001", fid, "en")
    assert "Saved" in status and cleared == ""
    (row,) = feedback.store.rows()
    assert row["rating"] == -1 and row["correction"] == "Hiệp ước năm 1961, 2000 và 2001"
    assert "Rate an answer" in feedback.correct("x", None, "en")[0]
    assert "Type the correct answer" in feedback.correct("  ", fid, "en")[0]


def test_a_like_on_the_question_bubble_or_nothing_is_ignored(answered, tiny_settings):
    feedback = FeedbackHandlers(tiny_settings)
    out = feedback.like(answered, {}, "vi", 5, Event(index=4, liked=True))
    assert all(isinstance(x, type(gr.skip())) for x in out)
    assert feedback.store.rows() == []
