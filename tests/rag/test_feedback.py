"""Feedback in SQLite, and its export as a Q&A set for `rag eval`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from rag.feedback import FeedbackStore, export_feedback, feedback_path
from rag.types import Answer, Citation


def answer(question: str, text: str, passage: str, article_id: str = "art1") -> Answer:
    c = Citation(1, article_id, "Tiêu đề", "src.txt", passage, 0, len(passage), 0.9)
    return Answer(question, text, True, (c,), mode="hybrid", model="tiny")


def test_feedback_lives_beside_the_index_directory(tmp_path: Path):
    assert feedback_path(tmp_path / "index") == (tmp_path / "feedback.sqlite").resolve()


def test_ratings_and_corrections_are_stored(tmp_path: Path):
    store = FeedbackStore(tmp_path / "fb.sqlite")
    a = answer("Hiệp ước thay thế gì?", "Văn kiện năm 1961. [1]", "Văn kiện năm 1961.")
    fid = store.add(a, 1, top_k=5)
    assert store.set_rating(fid, -1)
    assert store.set_correction(fid, "  Hiệp ước   năm 1961 ")
    assert not store.set_correction(9999, "x")
    # Read back with plain sqlite3: the file is the record, not the object.
    with sqlite3.connect(tmp_path / "fb.sqlite") as db:
        row = db.execute("SELECT question, rating, correction, retrieval FROM feedback").fetchone()
    assert row[:3] == ("Hiệp ước thay thế gì?", -1, "Hiệp ước năm 1961")
    assert json.loads(row[3]) == {"mode": "hybrid", "model": "tiny", "top_k": 5}


def test_export_turns_feedback_into_qa_items(tmp_path: Path):
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    liked = store.add(
        answer("Hiệp ước thay thế gì?", "Văn kiện năm 1961. [1]", "Văn kiện năm 1961.", "a1"), 1
    )
    corrected = store.add(
        answer(
            "Putin tặng gì?", "Bộ trà. [1]", "Ông Putin tặng một chiếc xe Aurus và bộ trà.", "a2"
        ),
        -1,
    )
    store.set_correction(corrected, "một chiếc xe Aurus")
    store.add(answer("Which treaty?", "Something. [1]", "Something."), -1)  # 👎, no correction

    items = export_feedback(tmp_path / "index")  # an index dir finds its feedback file
    assert [i["id"] for i in items] == [f"feedback-{liked}", f"feedback-{corrected}"]
    first, second = items
    assert first["answers"] == ["Văn kiện năm 1961."] and first["article_ids"] == ["a1"]
    assert first["lang"] == "vi" and first["answerable"] and first["kind"] == "feedback"
    assert second["answers"] == ["một chiếc xe Aurus"] and second["article_ids"] == ["a2"]
    assert second["correction"] == "một chiếc xe Aurus" and second["rating"] == -1


def test_export_of_missing_file_is_empty(tmp_path: Path):
    assert export_feedback(tmp_path / "nothing.sqlite") == []
