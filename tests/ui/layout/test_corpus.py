"""ui.layout.corpus: the articles tab's components, built with the first table and counts."""

from __future__ import annotations

import pytest

gr = pytest.importorskip("gradio")

from tests.ui.layout.helpers import build, english, fields, relabelled  # noqa: E402
from ui.layout.corpus import CorpusTab, build_corpus_tab  # noqa: E402
from ui.uploads import UPLOAD_SUFFIXES  # noqa: E402

TABLE = {
    "data": [["Tiêu đề", "Dân trí", "2024-06-19", "nguồn", 3, "abc"]],
    "headers": list("ABCDEF"),
}


def test_the_articles_tab_starts_with_the_table_and_counts_given():
    tab, _ = build(build_corpus_tab, "5 bài · 40 đoạn", TABLE)
    assert isinstance(tab, CorpusTab)
    assert all(isinstance(c, gr.blocks.Block) for c in fields(tab).values())
    assert tab.counts.value == "5 bài · 40 đoạn"
    assert tab.table.value["headers"] == list("ABCDEF")
    assert tab.table.value["data"][0][-1] == "abc"
    assert tab.upload.file_types == list(UPLOAD_SUFFIXES)
    assert tab.confirm_row.visible is False and tab.undo_row.visible is False
    assert tab.yes_btn.elem_id == "rag-delete-yes" and tab.undo_btn.elem_id == "rag-undo-btn"


def test_every_label_follows_the_language_but_the_data():
    tab, labels = build(build_corpus_tab, "", TABLE)
    data = {"ingest_report", "counts", "table", "confirm_row", "confirm_md", "undo_row"}
    data |= {"undo_md", "preview"}
    assert relabelled(tab, labels) == set(fields(tab)) - data
    assert english(tab, labels, "tab")["label"] == "Articles"
    assert english(tab, labels, "search") == {
        "__type__": "update",
        "label": "Search articles",
        "placeholder": "Title, outlet, author, source or id…",
    }
    assert english(tab, labels, "order") == {
        "__type__": "update",
        "label": "Sort",
        "choices": [
            ("Date: newest first", "newest"),
            ("Date: oldest first", "oldest"),
            ("Recently added first", "added"),
        ],
    }
    assert tab.order.value == "newest"
    assert english(tab, labels, "delete_btn")["value"] == "Delete selected article"
