"""The source viewer (the whole article, the cited passage in view) and the articles tab's
preview of one article."""

from __future__ import annotations

from rag.types import Article, Citation
from ui.i18n import K, t
from ui.render.highlight import highlight_html
from ui.render.text import esc, source_line


def locate_passage(article: Article, c: Citation) -> tuple[int, int] | None:
    """Where the cited passage is in the article: its recorded span when the text there still
    matches, else the first place the passage text occurs; None if it is not there."""
    if 0 <= c.start < c.end <= len(article.text) and article.text[c.start : c.end] == c.text:
        return (c.start, c.end)
    found = article.text.find(c.text) if c.text else -1
    return (found, found + len(c.text)) if found >= 0 else None


def source_html(article: Article | None, c: Citation | None, lang: str = "vi") -> str:
    """The whole cleaned article with the cited passage tinted and its quoted sentences in
    <mark>; the first mark has class rag-target (the page scrolls it into view)."""
    head = f'<div class="rag-panel-head">{esc(t(K.source_viewer, lang))}</div>'
    if c is None:
        return f'<div class="rag-viewer rag-empty">{head}<p class="rag-hint">{esc(t(K.source_empty, lang))}</p></div>'
    if article is None:
        return (
            f'<div class="rag-viewer">{head}<p class="rag-hint">{esc(t(K.source_missing, lang))}</p>'
            f'<blockquote class="rag-text">{highlight_html(c.text, c.start, c.highlights, target_first=True)}</blockquote></div>'
        )
    span = locate_passage(article, c)
    highlights = c.highlights
    if span is not None and span[0] != c.start:
        shift = span[0] - c.start  # the passage moved: move its highlights with it
        highlights = tuple((s + shift, e + shift) for s, e in highlights)
    body = highlight_html(article.text, 0, highlights, passage=span, target_first=True)
    meta = article_meta(article, lang)
    return (
        f'<div class="rag-viewer">{head}'
        f'<h3 class="rag-article-title"><span class="rag-n">[{int(c.n)}]</span> {esc(article.title)}</h3>'
        + (f'<div class="rag-meta">{meta}</div>' if meta else "")
        + f'<div class="rag-article" tabindex="0">{body}</div></div>'
    )


def article_meta(article: Article, lang: str = "vi") -> str:
    """The line under an article's headline: site · byline · date · its address."""
    return source_line(
        article.source, article.date, lang, article.site, article.byline, article.url
    )


def article_html(article: Article | None, lang: str = "vi") -> str:
    """An article on its own (the corpus tab's preview): the headline, then site · byline ·
    date · its address (a link when it has a web address), then the cleaned text."""
    if article is None:
        return f'<p class="rag-hint">{esc(t(K.selected_none, lang))}</p>'
    meta = article_meta(article, lang)
    return (
        f'<div class="rag-viewer"><h3 class="rag-article-title">{esc(article.title)}</h3>'
        + (f'<div class="rag-meta">{meta}</div>' if meta else "")
        + f'<div class="rag-article">{esc(article.text)}</div></div>'
    )
