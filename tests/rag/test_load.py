import codecs
import json
import unicodedata

import pytest

from rag.errors import InputError
from rag.load import decode_bytes, load_bytes, load_paths, parse_record
from rag.types import Article, Skipped

VI = "Hiệp ước mới thay thế các văn kiện ký năm 1961, 2000 và 2001. Thủ đô Bình Nhưỡng."
TONES = "\u0300\u0301\u0303\u0309\u0323"


def to_cp1258(text: str) -> bytes:
    """Windows-1258 keeps base letters precomposed and tone marks as combining characters."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        try:
            ch.encode("cp1258")
            out.append(ch)
        except UnicodeEncodeError:
            d = unicodedata.normalize("NFD", ch)
            tones = "".join(c for c in d if c in TONES)
            out.append(
                unicodedata.normalize("NFC", "".join(c for c in d if c not in TONES)) + tones
            )
    return "".join(out).encode("cp1258")


@pytest.mark.parametrize(
    "data",
    [
        VI.encode("utf-8"),
        codecs.BOM_UTF8 + VI.encode("utf-8"),
        codecs.BOM_UTF16_LE + VI.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + VI.encode("utf-16-be"),
        to_cp1258(VI + " Tổng thống Putin tặng bộ trà và xe hơi Aurus sang trọng."),
        unicodedata.normalize("NFD", VI).encode("utf-8"),
    ],
    ids=["utf8", "utf8-bom", "utf16le-bom", "utf16be-bom", "cp1258", "nfd"],
)
def test_decode_detects_encoding_and_normalizes_to_nfc(data):
    text = decode_bytes(data)
    assert text.startswith(VI)
    assert unicodedata.is_normalized("NFC", text)


def test_binary_is_skipped_with_reason():
    items = list(load_bytes(bytes(range(256)) * 40, suffix=".txt", source="x.txt"))
    assert len(items) == 1 and isinstance(items[0], Skipped)
    assert items[0].source == "x.txt"


def test_seed_folder_loads_five_articles_with_stable_ids(seeds_dir):
    first = [a for a in load_paths([seeds_dir]) if isinstance(a, Article)]
    second = [a for a in load_paths([seeds_dir]) if isinstance(a, Article)]
    assert len(first) == 5
    assert [a.id for a in first] == [a.id for a in second]
    assert all(a.source.endswith(".txt") and a.title for a in first)


def test_same_article_in_another_encoding_has_the_same_id(tmp_path, seeds_dir):
    src = sorted(seeds_dir.glob("*.txt"))[1]
    text = src.read_text(encoding="utf-8")
    (tmp_path / "a.txt").write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    (tmp_path / "b.txt").write_bytes(to_cp1258(text))
    ids = {a.id for a in load_paths([src, tmp_path])}
    assert len(ids) == 1


def test_missing_path_is_a_user_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        list(load_paths([tmp_path / "nope.txt"]))


def test_unsupported_and_empty_files_are_skipped(tmp_path):
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "b.txt").write_bytes(b"")
    (tmp_path / "c.txt").write_text(VI, encoding="utf-8")
    items = list(load_paths([tmp_path]))
    kinds = sorted(type(i).__name__ for i in items)
    assert kinds == ["Article", "Skipped", "Skipped"]
    reasons = " ".join(i.reason for i in items if isinstance(i, Skipped))
    assert "unsupported" in reasons and "empty" in reasons


def test_jsonl_records_and_bad_lines_by_number(tmp_path):
    path = tmp_path / "news.jsonl"
    lines = [
        json.dumps(
            {"id": "a1", "title": "Tiêu đề", "text": VI, "source": "vnx", "date": "2024-06-19"}
        ),
        "{not json",
        json.dumps({"id": "a2", "title": "Trống", "text": "   "}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"id": "a3", "text": "Bài thứ ba về Hà Nội."}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    items = list(load_paths([path]))
    articles = [i for i in items if isinstance(i, Article)]
    skipped = [i for i in items if isinstance(i, Skipped)]
    assert [a.title for a in articles] == ["Tiêu đề", "Bài thứ ba về Hà Nội."]
    assert articles[0].date == "2024-06-19" and articles[0].source == "vnx"
    assert articles[1].source.endswith("news.jsonl#a3")
    assert [s.line for s in skipped] == [2, 3, 4]


def test_jsonl_gz(tmp_path):
    import gzip

    path = tmp_path / "n.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "1", "title": "T", "text": VI}) + "\n")
    (article,) = list(load_paths([path]))
    assert article.text == VI


def test_html_main_text_without_scripts_or_navigation():
    html = f"""<html><head><title>Nga và Triều Tiên ký hiệp ước</title>
    <script>alert('x')</script></head><body>
    <nav><ul><li><a href="/">Trang chủ</a></li><li><a href="/tg">Thế giới</a></li></ul></nav>
    <article><h1>Nga và Triều Tiên ký hiệp ước</h1>
    <p>{VI}</p><p>Hai nhà lãnh đạo đã tổ chức họp báo sau lễ ký tại Bình Nhưỡng ngày 19/6.</p>
    <p>Ông Putin đánh giá hiệp ước là văn kiện đột phá, đưa quan hệ lên tầm cao mới.</p></article>
    <footer>© 2024 Báo Điện tử. Đường dây nóng: 0943 113 999</footer></body></html>"""
    (article,) = list(load_bytes(html.encode(), suffix=".html", source="page.html"))
    assert "1961, 2000 và 2001" in article.text
    assert "alert" not in article.text and "Trang chủ" not in article.text
    assert "0943" not in article.text
    assert article.title == "Nga và Triều Tiên ký hiệp ước"


def test_markdown_heading_becomes_title():
    md = f"# Hiệp ước Nga - Triều Tiên\n\n{VI} Xem [bài gốc](http://example.invalid)."
    (article,) = list(load_bytes(md.encode(), suffix=".md", source="a.md"))
    assert article.title == "Hiệp ước Nga - Triều Tiên"
    assert "bài gốc" in article.text and "http" not in article.text


def test_parse_record_rejects_huge_text():
    rec = json.dumps({"text": "a" * 2_000_001})
    out = parse_record(rec, source="big.jsonl", line_no=7)
    assert isinstance(out, Skipped) and out.line == 7
