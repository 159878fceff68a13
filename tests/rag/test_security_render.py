"""Article text is never rendered as HTML: an article full of markup goes through the real
pipeline (load, clean, chunk, index, answer) and every render function of the page, and comes
out as text (escaped), never as elements or attributes the browser would run."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from rag.pipeline import Assistant
from rag.settings import Settings
from rag.types import Article

HOSTILE = """Tin nóng về hiệp ước Bình Nhưỡng
Hiệp ước Bình Nhưỡng <script>alert("xss")</script> được ký ngày 19/6 tại thủ đô.
Hiệp ước Bình Nhưỡng có <img src=x onerror="alert(1)"> hiệu lực ngay <b onmouseover=alert(2)>hôm nay</b>.
Hiệp ước Bình Nhưỡng [liên kết](javascript:alert(3)) và <iframe src="https://evil.example"></iframe> được công bố.
Hiệp ước Bình Nhưỡng ![ảnh](x" onerror="alert(4)) <style>body{display:none}</style> có mười điều khoản.
"""
BAD_TAGS = {"script", "img", "iframe", "style", "object", "embed", "svg", "math", "form"}


class _Elements(HTMLParser):
    """Every element and attribute a browser would build from the markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def live_markup(html: str, markdown: bool) -> list[str]:
    """What in ``html`` would run or render as markup of the article's making: dangerous
    elements, event-handler attributes, javascript: URLs, unescaped markdown links to them."""
    parser = _Elements()
    parser.feed(html)
    parser.close()
    bad = [f"<{tag}>" for tag, _ in parser.found if tag in BAD_TAGS]
    for tag, attrs in parser.found:
        bad += [f"<{tag} {k}=...>" for k in attrs if k.lower().startswith("on")]
        bad += [
            f"<{tag} {k}={v}>"
            for k, v in attrs.items()
            if v and v.strip().lower().startswith(("javascript:", "https://evil"))
        ]
    if markdown:  # in HTML, "](javascript:" is just text; in markdown it would be a link
        bad += re.findall(r"(?<!\\)\]\(javascript:", html)
    return bad


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, tiny_model_dir):
    work = tmp_path_factory.mktemp("xss")
    (work / "hostile.txt").write_text(HOSTILE, encoding="utf-8")
    a = Assistant(Settings.load(env={}, index_dir=work / "index", embed_model=str(tiny_model_dir)))
    report = a.ingest([work / "hostile.txt"])
    assert report.added == 1
    yield a
    a.close()


def test_markup_survives_into_the_article_as_text(hostile):
    (meta,) = hostile.articles()
    article = hostile.article(meta["id"])
    assert "<script>" in article.text  # kept as the article's own characters, not dropped


def test_no_render_function_emits_article_markup(hostile):
    render = pytest.importorskip("ui.render")
    answer = hostile.ask("Hiệp ước Bình Nhưỡng được ký ngày nào và có hiệu lực khi nào?")
    assert answer.found and answer.citations
    assert any("<" in c.text for c in answer.citations)  # the hostile text was cited
    (meta,) = hostile.articles()
    article: Article = hostile.article(meta["id"])
    outputs = {
        "answer_markdown": render.answer_markdown(answer, 0, "vi"),
        "citations_html": render.citations_html(answer, 0, "vi", selected=1),
        "source_html": render.source_html(article, answer.citations[0], "vi"),
        "article_html": render.article_html(article, "vi"),
        "chat_messages": str(
            render.chat_messages([{"question": HOSTILE, "answer": answer, "error": None}], "vi")
        ),
    }
    for name, html in outputs.items():
        assert live_markup(html, markdown=name in ("answer_markdown", "chat_messages")) == [], name
    assert "&lt;script&gt;" in outputs["source_html"]  # shown, as text
