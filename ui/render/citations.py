"""The citations panel: one card per cited article, with each of its cited passages under
its own ``[n]``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rag.types import Answer, Citation
from ui.i18n import K, t
from ui.render.highlight import excerpt_span, highlight_html
from ui.render.text import cite_href, esc, source_line


def group_by_article(citations: Iterable[Citation]) -> list[list[Citation]]:
    """Citations grouped by article, in the order each article is first cited."""
    groups: dict[str, list[Citation]] = {}
    for c in citations:
        groups.setdefault(c.article_id, []).append(c)
    return list(groups.values())


def citation_card(
    group: Sequence[Citation], turn: int, lang: str = "vi", selected: int | None = None
) -> str:
    """One card per article: its headline, source and date once, then each cited passage of
    it under its own ``[n]`` (the quoted sentences highlighted)."""
    first = group[0]
    chosen = any(c.n == selected for c in group)
    cls = "rag-card rag-selected" if chosen else "rag-card"
    nums = " ".join(
        f'<a class="rag-n" href="{cite_href(turn, c.n)}">[{int(c.n)}]</a>' for c in group
    )
    passages = []
    for c in group:
        lo, hi = excerpt_span(c)
        body = highlight_html(c.text[lo - c.start : hi - c.start], lo, c.highlights)
        body = ("… " if lo > c.start else "") + body + (" …" if hi < c.end else "")
        sel = " rag-selected" if c.n == selected else ""
        passages.append(
            f'<div class="rag-passage-item{sel}" id="rag-card-{int(turn)}-{int(c.n)}" '
            f'data-cite="{cite_href(turn, c.n)}">'
            + (f'<span class="rag-n">[{int(c.n)}]</span> ' if len(group) > 1 else "")
            + f'<blockquote class="rag-text">{body}</blockquote></div>'
        )
    also_names = list(dict.fromkeys(x for c in group for x in c.also_reported_by))
    also = ""
    if also_names:
        names = "; ".join(esc(x) for x in also_names)
        also = f'<div class="rag-also">{esc(t(K.also_reported, lang))}: {names}</div>'
    meta = source_line(
        first.source,
        first.date,
        lang,
        first.meta.get("site"),
        first.meta.get("byline"),
        first.meta.get("url"),
    )
    href = cite_href(turn, first.n)
    return (
        f'<article class="{cls}" data-cite="{href}">'
        f'<header>{nums} <span class="rag-title">{esc(first.title) or "—"}</span></header>'
        + (f'<div class="rag-meta">{meta}</div>' if meta else "")
        + "".join(passages)
        + also
        + f'<a class="rag-open" href="{href}">{esc(t(K.open_source, lang))} →</a>'
        "</article>"
    )


def citations_html(
    answer: Answer | None, turn: int, lang: str = "vi", selected: int | None = None
) -> str:
    """The panel listing the articles one answer cites, each with its cited passages."""
    head = f'<div class="rag-panel-head">{esc(t(K.citations, lang))}'
    if answer is None:
        return (
            f'<div class="rag-cites rag-empty">{head}</div>'
            f'<p class="rag-hint">{esc(t(K.citations_empty, lang))}</p></div>'
        )
    if not answer.citations:
        return (
            f'<div class="rag-cites rag-empty">{head}</div>'
            f'<p class="rag-hint">{esc(t(K.no_citations, lang))}</p></div>'
        )
    groups = group_by_article(answer.citations)
    cards = "".join(citation_card(g, turn, lang, selected=selected) for g in groups)
    return (
        f'<div class="rag-cites" data-turn="{int(turn)}">{head} '
        f'<span class="rag-count">({len(groups)})</span></div>{cards}</div>'
    )
