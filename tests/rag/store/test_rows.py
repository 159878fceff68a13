"""rag.store.rows: a segment's SQLite rows, written from articles or merged from segments."""

from __future__ import annotations

import json
import sqlite3
from types import SimpleNamespace

import numpy as np

from rag.store.rows import chunk_texts, merge_rows, row_meta, text_sha1, write_rows
from tests.rag.store.conftest import article


def _rows(directory):
    db = sqlite3.connect(directory / "rows.sqlite")
    try:
        chunks = db.execute("SELECT row, article_id, idx, text, text_sha1 FROM chunks").fetchall()
        articles = db.execute("SELECT id, meta FROM articles ORDER BY id").fetchall()
    finally:
        db.close()
    return chunks, articles


def test_rows_are_numbered_in_order(tmp_path):
    add = [article(0), article(1, passages=3)]
    assert write_rows(tmp_path, add) == (5, 2)
    chunks, articles = _rows(tmp_path)
    expected = [c for _, cs in add for c in cs]
    assert [r[0] for r in chunks] == list(range(5))
    assert [(r[1], r[2], r[3]) for r in chunks] == [
        (c.article_id, c.index, c.text) for c in expected
    ]
    assert all(r[4] == text_sha1(r[3]) for r in chunks)
    assert json.loads(articles[0][1]) == {"site": "Báo thử"}
    assert list(chunk_texts(tmp_path)) == [(c.title, c.text) for c in expected]


def test_a_merge_copies_the_live_rows_renumbered(tmp_path):
    first, second, merged = (tmp_path / n for n in ("a", "b", "m"))
    for d in (first, second, merged):
        d.mkdir()
    write_rows(first, [article(0), article(1)])
    write_rows(second, [article(2, passages=3)])
    gone = np.array([True, True, False, False])  # a0's rows
    parts = [(SimpleNamespace(gen_dir=first), 0, gone), (SimpleNamespace(gen_dir=second), 4, None)]
    assert merge_rows(merged, parts) == (5, 2)
    chunks, articles = _rows(merged)
    assert [r[0] for r in chunks] == list(range(5))
    assert [r[1] for r in chunks] == ["a1"] * 2 + ["a2"] * 3
    assert [a[0] for a in articles] == ["a1", "a2"]


def test_row_meta():
    assert row_meta(None) == row_meta("") == row_meta("not json") == row_meta("[1]") == {}
    assert row_meta('{"site": "X", "url": "", "other": 1, "byline": 7}') == {
        "site": "X",
        "byline": "7",
    }
