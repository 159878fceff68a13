"""The pure render functions: links, highlights, the source viewer, and that article text is
always shown as text (XSS payloads render as characters, never as elements)."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.types import Answer, Article, Citation, IngestReport, Skipped
from ui import render

XSS = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1">',
    "<svg onload=alert(1)>",
    '"><a href="javascript:alert(1)">x</a>',
    "[click](javascript:alert(1))",
    "${alert(1)} {{constructor.constructor('alert(1)')()}}",
    "<iframe srcdoc='<script>alert(1)</script>'>",
    "**bold** _it_ `code` # heading",
]

# What our own markup may contain; anything else in the output came from article text.
ALLOWED_TAGS = {
    "div",
    "span",
    "mark",
    "article",
    "header",
    "a",
    "blockquote",
    "h3",
    "p",
    "b",
    "code",
    "details",
    "summary",
}
ALLOWED_ATTRS = {
    "class", "id", "href", "title", "data-cite", "data-turn", "target", "rel", "tabindex", "lang",
}  # fmt: skip


class Structure(HTMLParser):
    """Collects the tags, attributes and text of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(fragment: str) -> Structure:
    p = Structure()
    p.feed(fragment)
    p.close()
    return p


def assert_safe(fragment: str) -> Structure:
    s = parse(fragment)
    for tag, attrs in s.tags:
        assert tag in ALLOWED_TAGS, f"unexpected <{tag}> in {fragment[:200]}"
        assert set(attrs) <= ALLOWED_ATTRS, f"unexpected attribute in <{tag} {attrs}>"
        href = attrs.get("href")
        if href is not None:
            assert href.startswith(("#rag-cite-", "http://", "https://", "docs")), href
    return s


def article(text: str, title: str = "Tiêu đề", source: str = "vnexpress.net", date=None):
    return Article(id="a1", title=title, text=text, source=source, date=date)


def cite_for(art: Article, start: int, end: int, quoted: str, n: int = 1, **kw) -> Citation:
    """A citation of art.text[start:end] quoting the sentence ``quoted`` inside it."""
    h = art.text.index(quoted, start)
    return Citation(
        n=n,
        article_id=art.id,
        title=art.title,
        source=art.source,
        text=art.text[start:end],
        start=start,
        end=end,
        score=1.0,
        date=art.date,
        highlights=((h, h + len(quoted)),),
        **kw,
    )


TREATY = (
    "Nga và Triều Tiên ký hiệp ước.\n"
    "Văn kiện mới sẽ thay thế hiệp ước ký năm 1961. "
    "Ông Ushakov cho biết thêm chi tiết.\n"
    "Đoạn cuối bài."
)


def treaty_answer(**kw) -> tuple[Answer, Article, Citation]:
    art = article(TREATY)
    start = TREATY.index("Văn kiện")
    end = TREATY.index("Đoạn cuối")
    c = cite_for(art, start, end, "Văn kiện mới sẽ thay thế hiệp ước ký năm 1961.")
    text = "Văn kiện mới sẽ thay thế hiệp ước ký năm 1961. [1]"
    return Answer("Hiệp ước thay thế gì?", text, True, (c,), **kw), art, c


# ---- chat bubbles -----------------------------------------------------------------------


def test_each_known_citation_becomes_a_link_to_its_turn():
    answer, _, _ = treaty_answer()
    md = render.answer_markdown(answer, turn=3)
    assert "[\\[1\\]](#rag-cite-3-1 " in md
    assert md.count("#rag-cite-") == 1


def test_unknown_citation_numbers_stay_plain_text():
    answer, _, c = treaty_answer()
    md = render.linkify_citations("a [1] b [7]", {1: c}, 0)
    assert "#rag-cite-0-1" in md and "#rag-cite-0-7" not in md
    assert "\\[7\\]" in md


def test_rewritten_query_is_shown_under_a_follow_up_and_warnings_after():
    answer, _, _ = treaty_answer(
        rewritten_query="Hiệp ước Nga Triều Tiên thay thế văn kiện nào?",
        warnings=("model X could not be loaded",),
    )
    md = render.answer_markdown(answer, 0, "en")
    first, *_, last = md.split("\n\n")
    assert first.startswith("*↪ Understood as") and "Triều Tiên" in first
    assert "could not be loaded" in last


def test_rewritten_query_identical_to_the_question_is_not_repeated():
    answer, _, _ = treaty_answer(rewritten_query="Hiệp ước thay thế gì?")
    assert "↪" not in render.answer_markdown(answer, 0)


def test_stream_prefixes_grow_and_end_at_citation_marks():
    text = "Câu một. [1] Câu hai. [2] Câu ba. [1]"
    prefixes = render.stream_prefixes(text)
    assert prefixes[-1] == text
    assert all(p.endswith("]") for p in prefixes)
    assert all(len(a) < len(b) for a, b in zip(prefixes, prefixes[1:], strict=False))
    assert render.stream_prefixes("Một. Hai. Ba.") == ["Một.", "Một. Hai.", "Một. Hai. Ba."]


def test_chat_messages_alternate_and_show_errors_and_pending():
    answer, _, _ = treaty_answer()
    turns = [
        {"question": "q1 <b>", "answer": answer, "error": None},
        {"question": "q2", "answer": None, "error": "the question is empty"},
    ]
    msgs = render.chat_messages(turns, "vi", pending=("q3", "…"))
    assert [m["role"] for m in msgs] == ["user", "assistant"] * 3
    assert msgs[0]["content"] == "q1 &lt;b&gt;"
    assert "the question is empty" in msgs[3]["content"]
    assert msgs[-1]["content"] == "…"


def test_parse_cite_href():
    assert render.parse_cite_href("#rag-cite-3-12") == (3, 12)
    assert render.parse_cite_href("3-1") == (3, 1)
    for bad in ("", "#rag-cite-x-1", "javascript:alert(1)", "#rag-cite-1"):
        assert render.parse_cite_href(bad) is None


# ---- markdown escaping ------------------------------------------------------------------


def commonmark(md: str) -> str:
    markdown_it = pytest.importorskip("markdown_it")
    return markdown_it.MarkdownIt("commonmark", {"html": True}).render(md)


@pytest.mark.parametrize("payload", XSS)
def test_md_escape_renders_payloads_as_literal_text(payload):
    out = commonmark(render.md_escape(payload))
    s = parse(out)
    assert [t for t, _ in s.tags] == ["p"]  # no element but the paragraph
    assert "".join(s.text).strip() == payload


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=80))
def test_md_escape_round_trips_any_single_line(text):
    text = " ".join(text.split())
    out = commonmark(render.md_escape(text))
    s = parse(out)
    assert all(t == "p" for t, _ in s.tags)
    assert " ".join("".join(s.text).split()) == text


# ---- highlights, cards, viewer ----------------------------------------------------------


def test_highlight_html_marks_offsets_and_merges_overlaps():
    text = "abcdefghij"
    out = render.highlight_html(text, 100, [(102, 105), (104, 107), (200, 210)])
    assert out == 'ab<mark class="rag-hl">cdefg</mark>hij'


def test_highlight_html_escapes_inside_and_outside_marks():
    text = "<b>x</b> & <i>y</i>"
    out = render.highlight_html(text, 0, [(0, 8)])
    assert out == '<mark class="rag-hl">&lt;b&gt;x&lt;/b&gt;</mark> &amp; &lt;i&gt;y&lt;/i&gt;'


def test_a_card_reads_like_news_outlet_byline_date_then_headline():
    art = article(TREATY, title="Nga, Triều Tiên sắp ký hiệp định", date="2024-06-18")
    start, end = TREATY.index("Văn kiện"), TREATY.index("Đoạn cuối")
    quoted = "Văn kiện mới sẽ thay thế hiệp ước ký năm 1961."
    meta = {"site": "Dân trí", "byline": "Minh <Phương>"}
    card = render.citation_card([cite_for(art, start, end, quoted, meta=meta)], 0, lang="vi")
    assert_safe(card)
    meta_html = card.split('<div class="rag-meta">', 1)[1].split("</div>", 1)[0]
    line = html.unescape(re.sub(r"<[^>]+>", "", meta_html))
    assert line.startswith("Dân trí · Minh <Phương> · 18/6/2024")
    english = render.citation_card([cite_for(art, start, end, quoted, meta=meta)], 0, lang="en")
    assert "2024-06-18" in english
    plain = render.answer_plain(
        Answer("q", "Văn kiện mới [1]", True, (cite_for(art, start, end, quoted, meta=meta),)),
        lang="vi",
    )
    assert "Nga, Triều Tiên sắp ký hiệp định — Dân trí, 18/6/2024" in plain


def test_citation_card_lists_number_title_source_date_passage_and_also_reported():
    art = article(TREATY, title="Hiệp ước <Nga>", date="2024-06-19")
    start, end = TREATY.index("Văn kiện"), TREATY.index("Đoạn cuối")
    c = cite_for(
        art, start, end, "Văn kiện mới sẽ thay thế hiệp ước ký năm 1961.",
        also_reported_by=("Báo A", "Báo <B>"),
    )  # fmt: skip
    card = render.citation_card([c], turn=2, lang="vi")
    s = assert_safe(card)
    text = "".join(s.text)
    assert "[1]" in text and "Hiệp ước <Nga>" in text and "19/6/2024" in text
    assert "Cũng được đưa tin bởi: Báo A; Báo <B>" in text
    marks = card.split('<mark class="rag-hl">')[1].split("</mark>")[0]
    assert marks == "Văn kiện mới sẽ thay thế hiệp ước ký năm 1961."
    assert 'data-cite="#rag-cite-2-1"' in card


def test_card_of_a_long_passage_shows_the_quoted_sentence_with_context():
    filler = "Câu đệm không liên quan gì cả. " * 40
    text = filler + "Câu trả lời nằm ở đây. " + filler
    art = article(text)
    c = cite_for(art, 0, len(text), "Câu trả lời nằm ở đây.")
    card = render.citation_card([c], 0)
    assert "Câu trả lời nằm ở đây." in card
    visible = "".join(parse(card).text)
    assert visible.count("Câu đệm") < 20  # a window, not the whole 2,500-character passage
    assert "… " in visible and " …" in visible


def test_source_viewer_shows_whole_article_with_the_cited_sentence_targeted():
    answer, art, c = treaty_answer()
    out = render.source_html(art, c, "vi")
    s = assert_safe(out)
    assert TREATY in "".join(s.text)  # every character of the article, in order
    target = out.split('class="rag-hl rag-target">')[1].split("</mark>")[0]
    assert target == "Văn kiện mới sẽ thay thế hiệp ước ký năm 1961."
    assert out.count("rag-target") == 1
    assert '<span class="rag-passage">' in out


def test_source_viewer_finds_a_passage_whose_offsets_moved():
    _, art, c = treaty_answer()
    moved = article("Một dòng mới ở đầu bài.\n" + TREATY)
    out = render.source_html(moved, c)
    target = out.split('class="rag-hl rag-target">')[1].split("</mark>")[0]
    assert target == "Văn kiện mới sẽ thay thế hiệp ước ký năm 1961."


def test_source_viewer_without_highlights_targets_the_passage():
    _, art, c = treaty_answer()
    from dataclasses import replace

    out = render.source_html(art, replace(c, highlights=()))
    assert "rag-passage rag-target" in out


def test_source_viewer_for_a_deleted_article_says_so_and_shows_the_passage():
    _, _, c = treaty_answer()
    out = render.source_html(None, c, "en")
    assert "no longer in the index" in out and "1961" in out


@pytest.mark.parametrize("payload", XSS)
def test_no_payload_becomes_markup_anywhere(payload):
    text = f"Mở đầu. {payload} Văn kiện mới sẽ thay thế hiệp ước {payload} năm 1961. Hết."
    art = article(text, title=f"Tiêu đề {payload}", source=payload, date=payload)
    quoted = f"Văn kiện mới sẽ thay thế hiệp ước {payload} năm 1961."
    c = cite_for(art, 0, len(text), quoted, also_reported_by=(payload,))
    answer = Answer("q", f"{quoted} [1]", True, (c,), rewritten_query=payload, warnings=(payload,))
    for fragment in (
        render.citation_card([c], 0),
        render.citations_html(answer, 0),
        render.source_html(art, c),
        render.article_html(art),
        render.status_html(
            {"exists": True, "articles": 1, "model_in_use": payload, "warning": payload}
        ),
    ):
        s = assert_safe(fragment)
        assert payload in "".join(s.text)
    bubble = commonmark(render.answer_markdown(answer, 0))
    s = parse(bubble)
    assert {t for t, _ in s.tags} <= {"p", "a", "em"}
    assert all(a.get("href", "").startswith("#rag-cite-") for t, a in s.tags if t == "a")


def test_source_line_links_only_http_urls():
    assert 'href="https://vnexpress.net/a"' in render.source_line("https://vnexpress.net/a", None)
    js = render.source_line("javascript:alert(1)", None)
    assert "href" not in js and "javascript:alert(1)" in html.unescape(js)


# ---- status, corpus ---------------------------------------------------------------------


def test_status_line_names_model_size_mode_and_fallback_warning():
    info = {
        "exists": True,
        "articles": 5,
        "chunks": 14,
        "model_in_use": "/home/u/models/all-MiniLM-L6-v2",
        "mode": "hybrid",
        "warning": "intfloat/multilingual-e5-small could not be loaded; using all-MiniLM-L6-v2",
    }
    out = render.status_html(info, "en")
    text = "".join(assert_safe(out).text)
    assert "…/models/all-MiniLM-L6-v2" in text and "5 articles, 14 passages" in text
    assert "hybrid" in text and "could not be loaded" in text
    assert text.count("Using the fallback model all-MiniLM-L6-v2") == 0  # short_model keeps ids
    assert "Using the fallback model …/models/all-MiniLM-L6-v2 because " in text
    assert "intfloat/multilingual-e5-small could not be loaded: search by meaning" in text
    vi = "".join(assert_safe(render.status_html(info, "vi")).text)
    assert "Đang dùng mô hình dự phòng" in vi and "<details" in render.status_html(info, "vi")
    bm25 = render.status_html({"exists": True, "articles": 1, "warning": "x; BM25 only"}, "vi")
    assert "chỉ tìm theo từ khoá" in bm25
    assert "none (BM25 only)" in render.status_html({"exists": True, "articles": 0}, "en")


def test_ingest_report_says_when_a_reupload_changed_nothing():
    md = render.ingest_report_markdown(IngestReport(added=0, unchanged=1), "vi")
    assert "đã có trong chỉ mục" in md and "không có gì thay đổi" in md
    md = render.ingest_report_markdown(
        IngestReport(added=2, chunks=7, skipped=(Skipped("x.pdf", "unsupported file type .pdf"),)),
        "en",
    )
    assert "Added 2 article(s) (7 passages)" in md and "x\\.pdf" in md


def test_filter_articles_ignores_case_and_accents():
    arts = [
        {"id": "1", "title": "Hiệp ước Nga - Triều Tiên", "source": "a.txt"},
        {"id": "2", "title": "Giá vàng hôm nay", "source": "vnexpress.net"},
    ]
    assert [a["id"] for a in render.filter_articles(arts, "hiep uoc")] == ["1"]
    assert [a["id"] for a in render.filter_articles(arts, "VNEXPRESS vàng")] == ["2"]
    assert len(render.filter_articles(arts, "  ")) == 2


def test_article_rows_newest_first():
    rows = render.article_rows([{"id": "old", "title": "A"}, {"id": "new", "title": "B"}])
    assert [r[-1] for r in rows] == ["new", "old"]


# In the order they were added: two undated, three dated (two on the same day).
ADDED = [
    {"id": "u1", "title": "U1"},
    {"id": "d1", "title": "D1", "date": "2024-01-10", "site": "Dân trí"},
    {"id": "d2", "title": "D2", "date": "2024-06-20T08:30:00", "site": "Tuổi Trẻ"},
    {"id": "u2", "title": "U2", "date": "hôm qua"},  # not a date the table can place
    {"id": "d3", "title": "D3", "date": "2024-01-10", "source": "x.txt", "chunks": 3},
]


def test_article_rows_by_date_with_the_undated_last():
    ids = lambda order: [r[-1] for r in render.article_rows(ADDED, order)]  # noqa: E731
    # newest publication first; the same day and the undated: the latest added first
    assert ids("newest") == ["d2", "d3", "d1", "u2", "u1"]
    assert ids("oldest") == ["d3", "d1", "d2", "u2", "u1"]
    assert ids("added") == ["d3", "u2", "d2", "d1", "u1"]
    assert ids("nonsense") == ids("added") and render.DEFAULT_ORDER == "newest"
    rows = {r[-1]: r for r in render.article_rows(ADDED)}
    # title, outlet, date (its ISO day: sorts as text), source, passages, id
    assert rows["d3"] == ["D3", "", "2024-01-10", "x.txt", 3, "d3"]
    assert rows["d2"][1:3] == ["Tuổi Trẻ", "2024-06-20"] and rows["u2"][2] == "hôm qua"
    assert len(render.TABLE_HEADERS) == len(rows["d1"]) and render.TABLE_ID_COLUMN == 5


def test_filter_articles_finds_an_outlet_and_a_byline():
    arts = [
        {"id": "1", "title": "A", "site": "Dân trí", "byline": "Minh Phương"},
        {"id": "2", "title": "B", "site": "Soha"},
    ]
    assert [a["id"] for a in render.filter_articles(arts, "dan tri")] == ["1"]
    assert [a["id"] for a in render.filter_articles(arts, "minh phuong")] == ["1"]


def test_the_article_viewer_shows_site_byline_date_and_its_address():
    art = replace(
        article("Nội dung bài.", source="/data/tin.jsonl#7", date="2024-06-18"),
        site="Dân trí",
        byline="Minh Phương",
        url="https://dantri.com.vn/the-gioi/a.htm?x=1&y=2",
    )
    out = render.article_html(art, "vi")
    s = assert_safe(out)
    head, rest = out.split("</h3>", 1)
    assert "Tiêu đề" in head and rest.index("rag-meta") < rest.index("Nội dung bài.")
    meta = rest.split('<div class="rag-article">')[0]
    assert [x for x in s.text if x.strip()][1:6] == [
        "Dân trí",
        " · ",
        "Minh Phương",
        " · ",
        "18/6/2024",
    ]
    assert 'href="https://dantri.com.vn/the-gioi/a.htm?x=1&amp;y=2"' in meta
    assert 'rel="noopener noreferrer nofollow"' in meta and 'target="_blank"' in meta
    assert ">dantri.com.vn</a>" in meta and "tin.jsonl" not in meta  # the address, not the file
    assert "2024-06-18" in render.article_html(art, "en")
    # the same line in the chat's source viewer and on the citation card
    c = replace(cite_for(art, 0, len(art.text), "Nội dung bài."), meta=art.meta())
    assert meta.strip() in render.source_html(art, c, "vi")
    assert 'href="https://dantri.com.vn/' in render.citation_card([c], 0)


@pytest.mark.parametrize("payload", XSS)
def test_metadata_is_escaped_and_only_web_addresses_are_links(payload):
    art = replace(article("Nội dung."), site=payload, byline=payload, url=f"javascript:{payload}")
    s = assert_safe(render.article_html(art))
    assert "".join(s.text).count(payload) >= 2
    quoted = replace(art, url=f'https://x.vn/"{payload}')
    s = assert_safe(render.article_html(quoted))
    assert [a["href"] for t, a in s.tags if t == "a"] == [f'https://x.vn/"{payload}']


def test_adjacent_citations_are_spaced_in_the_bubble_and_the_plain_copy():
    answer, _, _ = treaty_answer()
    c1 = answer.citations[0]
    c2 = replace(c1, n=2, start=c1.start, highlights=())
    two = replace(answer, text="Văn kiện mới thay thế hiệp ước 1961.[1][2]", citations=(c1, c2))
    md = render.answer_markdown(two, 0)
    assert ") [\\[2\\]](#rag-cite-0-2" in md
    plain = render.answer_plain(two, "en")
    first, _, sources, line = plain.split("\n")
    assert first == "Văn kiện mới thay thế hiệp ước 1961.[1] [2]"
    assert sources == "Sources:" and line.startswith("[1] [2] " + c1.title)
    assert "\\" not in plain and "](" not in plain


def test_one_card_per_article_with_each_cited_passage():
    answer, _, _ = treaty_answer()
    c1 = answer.citations[0]
    c2 = replace(c1, n=2, highlights=())
    other = replace(c1, n=3, article_id="other", title="Bài khác")
    html_ = render.citations_html(replace(answer, citations=(c1, c2, other)), 0, selected=2)
    s = assert_safe(html_)
    assert html_.count('<article class="rag-card') == 2 and "(2)" in "".join(s.text)
    assert 'id="rag-card-0-1"' in html_ and 'id="rag-card-0-2"' in html_
    assert 'class="rag-passage-item rag-selected" id="rag-card-0-2"' in html_
