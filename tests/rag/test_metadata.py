"""Article metadata (outlet, byline, credited sources, headline, date) from the text, JSONL
fields and HTML metadata, carried through the index to the citations."""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path

import pytest

from rag.load import load_bytes, load_paths, parse_record
from rag.metadata import extract, outlet, split_title

SEEDS = {
    # file stem: (title, site, byline, credit)
    "000_67af0a77a16df922": (None, None, None, None),
    "002_858d1fe95258136e": (None, None, "Huyền Lê", "TASS, AFP, Reuters"),
    "003_debd4b012952dac9": (
        "Nga, Triều Tiên sắp ký hiệp định đối tác chiến lược toàn diện",
        "Dân trí",
        "Minh Phương",
        "RT",
    ),
    "004_43dc0896c6e506a4": (
        "Nga thực hiện bước đi mới đối với Triều Tiên",
        "Soha",
        "Phạm Nghĩa",
        "Người Lao động",
    ),
}


@pytest.fixture(scope="module")
def seed_articles(seeds_dir: Path) -> dict:
    return {Path(a.source).stem: a for a in load_paths([seeds_dir])}


@pytest.mark.parametrize("stem", sorted(SEEDS))
def test_the_seeds_name_their_outlet_byline_and_credits(seed_articles, stem):
    title, site, byline, credit = SEEDS[stem]
    article = seed_articles[stem]
    if title is not None:
        assert article.title == title  # the headline line, not the first sentence
    assert (article.site, article.byline, article.credit) == (site, byline, credit)


def test_a_place_in_parentheses_is_not_an_outlet():
    meta = extract("Cháy lớn ở chợ\n(Bình Phước) - Sáng nay một vụ cháy lớn xảy ra ở chợ.")
    assert meta.site is None
    assert extract("Cháy lớn ở chợ\n(NLĐ) - Sáng nay một vụ cháy lớn.").site == "Người Lao Động"


def test_outlets_by_name_abbreviation_and_domain():
    assert outlet("NLĐ") == outlet("nld.com.vn") == outlet("Người Lao động") == "Người Lao Động"
    assert outlet("https://www.dantri.com.vn/the-gioi/x.htm") == "Dân trí"
    assert outlet("Hà Nội") is None


def test_a_dateline_gives_the_publication_date_and_an_event_date_does_not():
    assert extract("Thứ tư, 19/6/2024 10:30\nTin chính\nNội dung.").date == "2024-06-19"
    assert (
        extract(
            "Tin chính\nHai bên ký hiệp ước ngày 19/6/2024 tại Bình Nhưỡng, theo hãng tin TASS và các nguồn khác."
        ).date
        is None
    )


def test_vntc_titles_that_run_into_the_lead_give_headline_and_outlet():
    from rag.datasets import data_dir

    data = data_dir() / "vntc" / "vntc_train.jsonl.gz"
    if not data.exists():
        pytest.skip(f"VNTC not found at {data}")
    split = 0
    with gzip.open(data, "rt", encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            if n >= 300:
                break
            article = parse_record(line, source="vntc", line_no=n + 1)
            rec = json.loads(line)
            if "(NLĐ) -" in rec["title"] and hasattr(article, "site"):
                split += 1
                assert article.site == "Người Lao Động"
                assert rec["title"].startswith(article.title) and "(NLĐ)" not in article.title
    assert split >= 10
    assert split_title("Giá vàng tăng") == ("Giá vàng tăng", None)


def test_jsonl_fields_win_over_what_the_text_suggests():
    rec = {
        "title": "Tin A",
        "text": "(Dân trí) - Nội dung bài báo đủ dài để không bị coi là rác.",
        "site": "Báo Mẫu",
        "author": "Lê Văn A",
        "url": "https://example.vn/a",
        "date": "2024-06-19",
    }
    a = parse_record(json.dumps(rec, ensure_ascii=False), source="x.jsonl", line_no=1)
    assert (a.site, a.byline, a.url, a.date) == (
        "Báo Mẫu",
        "Lê Văn A",
        "https://example.vn/a",
        "2024-06-19",
    )


def test_html_metadata_from_trafilatura():
    html = """<html><head><title>Giá lúa tăng mạnh</title>
    <meta property="og:site_name" content="Báo Nông Nghiệp">
    <meta name="author" content="Trần Bình">
    <meta property="article:published_time" content="2024-05-02T08:00:00+07:00">
    <link rel="canonical" href="https://nongnghiep.example.vn/gia-lua.html"></head>
    <body><article><h1>Giá lúa tăng mạnh</h1>
    <p>Giá lúa tại Đồng bằng sông Cửu Long tăng mạnh trong tuần qua do nhu cầu xuất khẩu cao.</p>
    <p>Nhiều thương lái cho biết họ thu mua với giá cao hơn tuần trước từ 300 đến 500 đồng mỗi
    kilôgam, và nông dân phấn khởi vì vụ mùa bội thu.</p></article></body></html>"""
    (a,) = list(load_bytes(html.encode(), suffix=".html", source="up.html"))
    assert a.site == "Báo Nông Nghiệp"
    assert a.byline == "Trần Bình"
    assert a.date == "2024-05-02"
    assert a.url == "https://nongnghiep.example.vn/gia-lua.html"


def test_citations_and_the_articles_table_carry_the_metadata(seeded_assistant):
    answer = seeded_assistant.ask("Nga và Triều Tiên sắp ký hiệp định gì?")
    by_title = {c.title: c.to_dict() for c in answer.citations}
    dantri = by_title.get("Nga, Triều Tiên sắp ký hiệp định đối tác chiến lược toàn diện")
    assert dantri is not None, list(by_title)
    assert (dantri["site"], dantri["byline"], dantri["credit"]) == ("Dân trí", "Minh Phương", "RT")
    rows = {r["title"]: r for r in seeded_assistant.articles()}
    assert rows["Nga thực hiện bước đi mới đối với Triều Tiên"]["site"] == "Soha"


def test_an_index_written_before_the_metadata_column_still_reads(seeded_assistant, seeds_dir):
    snap = seeded_assistant.store.open()
    db = sqlite3.connect(snap.segments[0].gen_dir / "rows.sqlite")
    try:
        db.execute("ALTER TABLE articles DROP COLUMN meta")
        db.commit()
    finally:
        db.close()
    snap.close()
    old = seeded_assistant.store.open()
    try:
        assert all("site" not in r for r in old.articles())
        assert old.article(old.articles()[0]["id"]).site is None
    finally:
        old.close()


def test_searches_filtered_by_outlet_and_publication_date(tmp_path, tiny_settings, seeds_dir):
    from rag.pipeline import Assistant
    from rag.types import Filters

    dated = tmp_path / "dated.jsonl"
    records = [
        {"id": "a", "title": "Hiệp ước ký ngày 19/6", "site": "Báo A", "date": "2024-06-19",
         "text": "Hai nước ký hiệp ước đối tác chiến lược toàn diện tại Bình Nhưỡng ngày 19/6."},
        {"id": "b", "title": "Hiệp ước có hiệu lực", "site": "Báo B", "date": "2024-12-04",
         "text": "Hiệp ước đối tác chiến lược toàn diện giữa hai nước chính thức có hiệu lực."},
    ]  # fmt: skip
    dated.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n")
    assistant = Assistant(tiny_settings)
    try:
        assistant.ingest([seeds_dir, dated])
        q = "hiệp ước đối tác chiến lược toàn diện"
        everything = {h.chunk.article_id for h in assistant.search(q, k=10)}
        dantri = assistant.search(q, k=5, filters=Filters(site="dân trí"))
        assert dantri and {h.meta["site"] for h in dantri} == {"Dân trí"}
        december = assistant.search(q, k=5, filters=Filters(date_from="2024-12-01"))
        assert [h.date for h in december] == ["2024-12-04"]
        june = assistant.ask(q, filters=Filters(date_from="2024-06-01", date_to="2024-06-30"))
        assert {c.date for c in june.citations} == {"2024-06-19"}
        assert len(everything) > 2  # the filters removed something
        assert assistant.search(q, k=5, filters=Filters(site="Không có")) == []
    finally:
        assistant.close()
