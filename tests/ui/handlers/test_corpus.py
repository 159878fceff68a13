"""ui.handlers.corpus on a real Assistant: upload, re-upload, a refused file, select, delete
(asked first) and undo; the table, counts and status line that follow."""

from __future__ import annotations

from pathlib import Path

import pytest

gr = pytest.importorskip("gradio")

from ui.handlers.corpus import CorpusHandlers  # noqa: E402
from ui.options import PageOptions  # noqa: E402


class Event:
    def __init__(self, **kw):
        self.__dict__.update(kw)


@pytest.fixture()
def corpus(seeded_assistant, tiny_settings) -> CorpusHandlers:
    options = PageOptions.of(seeded_assistant, tiny_settings)
    return CorpusHandlers(seeded_assistant, tiny_settings, options)


def test_upload_then_reupload_then_delete(corpus, tmp_path: Path):
    f = tmp_path / "meo.txt"
    f.write_text("Mèo Mướp\n\nCon mèo Mướp thích ăn cá kho.\n", encoding="utf-8")
    report, cleared, table, counts, status = corpus.ingest([str(f)], "vi", "", "hybrid")
    rows = table["data"]
    assert table["headers"][0] == "Tiêu đề"
    assert "Đã thêm 1 bài" in report and cleared is None
    assert rows[0][3] == "meo.txt" and "6 bài" in counts and "6 bài" in status
    report, *_ = corpus.ingest([str(f)], "en", "", "hybrid")
    assert "already indexed: nothing to do" in report
    bad = tmp_path / "x.pdf"
    bad.write_bytes(b"%PDF")
    report, *_ = corpus.ingest([str(bad)], "vi", "", "hybrid")
    assert "không được hỗ trợ" in report
    article_id = rows[0][-1]
    selected, label, preview = corpus.select_article(rows, "vi", Event(row_value=rows[0]))
    assert selected == article_id and "Mèo Mướp" in preview
    out = corpus.delete(article_id, "vi", "", "hybrid")
    _, _, msg, deleted, _, selected, table, counts, status, gen, preview = out
    rows = table["data"]
    assert "Đã xoá" in msg and "5 bài" in counts and article_id not in [r[-1] for r in rows]
    assert deleted[0].id == article_id and selected is None
    # Undo (within its window) puts the same article back
    _, kept, msg, table, counts, *_ = corpus.undo(deleted, "vi", "", "hybrid")
    rows = table["data"]
    assert "Đã khôi phục" in msg and kept is None and "6 bài" in counts
    assert article_id in [r[-1] for r in rows]


def test_no_file_and_an_expired_undo_say_so(corpus):
    assert corpus.ingest([], "en", "", "hybrid")[0] == "No file selected."
    _, kept, msg, *rest = corpus.undo(None, "en", "", "hybrid")
    assert kept is None and msg == "Too late to undo." and len(rest) == 5


def test_delete_is_asked_first_and_can_be_cancelled(corpus):
    article_id = corpus.table("", "en")["data"][0][-1]
    row, question, _ = corpus.ask_delete(article_id, "en")
    assert row["visible"] is True and question.startswith("Delete “")
    row, said = corpus.cancel_delete("en")
    assert row["visible"] is False and said == "Cancelled: nothing was deleted."
    row, _, said = corpus.ask_delete(None, "en")
    assert row["visible"] is False and said.startswith("Select a row")


def test_table_search_headers_and_refresh(corpus):
    all_rows = corpus.table("", "en")
    assert all_rows["headers"] == ["Title", "Outlet", "Date", "Source", "Passages", "Id"]
    title = all_rows["data"][0][0]
    assert corpus.table(title, "en")["data"][0][0] == title
    table, counts, status = corpus.refresh("", "en", "bm25")
    assert table == all_rows and "article(s)" in counts and "bm25" in status


def test_the_timer_refreshes_only_after_a_change(corpus, tmp_path: Path):
    gen = corpus.generation()
    skip = type(gr.skip())
    out = corpus.refresh_if_changed(gen, "vi", "", "hybrid", None)
    assert all(isinstance(x, skip) for x in out)
    f = tmp_path / "a.txt"
    f.write_text("Tiêu đề\n\nMột bài mới về mèo.\n", encoding="utf-8")
    corpus.ingest([str(f)], "vi", "", "hybrid")
    new_gen, status, table, counts, undo_row, deleted = corpus.refresh_if_changed(
        gen, "vi", "", "hybrid", [object(), 0.0]
    )
    assert new_gen != gen and "6 bài" in counts and table["data"]
    assert undo_row["visible"] is False and deleted is None  # the undo offer expired
