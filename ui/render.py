"""Pure render functions: Answer, Citation, Article -> the markdown and HTML the page shows.

Every piece of article text (titles, sources, passages, whole articles) goes through
``html.escape`` here and nowhere else, so an article holding ``<script>`` or
``<img onerror=...>`` is shown as those characters and runs nothing. The chat bubbles are
markdown (Gradio's Chatbot renders them), so text bound for a bubble is also escaped for
markdown: an article's ``*`` or ``[x](y)`` stays literal instead of becoming emphasis or a link.

Citation links are plain anchors ``#rag-cite-<turn>-<n>``; ui/assets/app.js turns a click on
one into a request for the source viewer (no inline handlers, nothing for a sanitizer to strip).
"""

from __future__ import annotations

import html
import re
import string
from collections.abc import Iterable, Sequence
from urllib.parse import urlparse

from rag.types import Answer, Article, Citation, IngestReport
from ui.i18n import K, t

CITE_MARK = re.compile(r"\[(\d{1,3})\]")
# Every ASCII punctuation character may be backslash-escaped in CommonMark; '&' and ';' are
# left alone because html.escape has already turned '&', '<', '>' into entities.
_MD_SPECIAL = re.compile(
    "([" + re.escape(string.punctuation.replace("&", "").replace(";", "")) + "])"
)


def esc(text: object) -> str:
    """HTML-escape any value for use in element content or a quoted attribute."""
    return html.escape("" if text is None else str(text), quote=True)


def md_escape(text: str) -> str:
    """Text -> markdown that renders as exactly that text (no HTML, no markdown syntax)."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def cite_href(turn: int, n: int) -> str:
    return f"#rag-cite-{int(turn)}-{int(n)}"


def parse_cite_href(value: str) -> tuple[int, int] | None:
    """'#rag-cite-3-1' (or 'rag-cite-3-1', or '3-1') -> (3, 1); None for anything else."""
    m = re.fullmatch(r"#?(?:rag-cite-)?(\d{1,6})-(\d{1,3})", (value or "").strip())
    return (int(m.group(1)), int(m.group(2))) if m else None


# ---- chat bubbles --------------------------------------------------------------------------


def answer_markdown(answer: Answer, turn: int, lang: str = "vi") -> str:
    """The assistant's bubble: the rewritten question (for a follow-up) and the answer with
    each ``[n]`` a link to its citation. Warnings are not repeated here: the status line shows
    the pipeline's standing warnings once (see ``status_warnings``); an answer keeps only its
    own (``answer_notes``)."""
    known = {c.n: c for c in answer.citations}
    parts: list[str] = []
    if answer.rewritten_query and answer.rewritten_query.strip() != answer.question.strip():
        parts.append(
            f"*↪ {md_escape(t(K.rewritten, lang))}: “{md_escape(answer.rewritten_query)}”*"
        )
    parts.append(linkify_citations(answer.text, known, turn))
    for w in answer.warnings:
        parts.append(f"*⚠ {md_escape(w)}*")
    return "\n\n".join(p for p in parts if p)


# A run of markers "[1][2]" reads as one token; the answer shows "[1] [2]".
_CITE_RUN = re.compile(r"(\[\d{1,3}\])(?=\[\d{1,3}\])")


def space_citations(text: str) -> str:
    return _CITE_RUN.sub(r"\1 ", text)


def linkify_citations(text: str, citations: dict[int, Citation], turn: int) -> str:
    """Escape ``text`` for markdown and turn each ``[n]`` naming a known citation into a link."""
    text = space_citations(text)
    out: list[str] = []
    pos = 0
    for m in CITE_MARK.finditer(text):
        n = int(m.group(1))
        if n not in citations:
            continue
        out.append(md_escape(text[pos : m.start()]))
        title = citations[n].title.replace("\\", "\\\\").replace('"', '\\"')
        title = html.escape(title, quote=False)
        out.append(f'[\\[{n}\\]]({cite_href(turn, n)} "{title}")')
        pos = m.end()
    out.append(md_escape(text[pos:]))
    return "".join(out)


def group_by_article(citations: Iterable[Citation]) -> list[list[Citation]]:
    """Citations grouped by article, in the order each article is first cited."""
    groups: dict[str, list[Citation]] = {}
    for c in citations:
        groups.setdefault(c.article_id, []).append(c)
    return list(groups.values())


def source_text(source: str | None, date: str | None) -> str:
    return ", ".join(x for x in (source or "", date or "") if x)


def answer_plain(answer: Answer, lang: str = "vi") -> str:
    """What the copy button copies: the answer as plain text with its ``[n]``, then the
    sources (one line per article: its numbers, headline, source, date). No markdown."""
    lines = [space_citations(answer.text).strip()]
    if answer.citations:
        lines += ["", f"{t(K.citations, lang)}:"]
        for group in group_by_article(answer.citations):
            nums = " ".join(f"[{c.n}]" for c in group)
            first = group[0]
            where = source_text(first.meta.get("site") or first.source, news_date(first.date, lang))
            lines.append(f"{nums} {first.title}" + (f" — {where}" if where else ""))
    return "\n".join(lines)


def stream_prefixes(text: str) -> list[str]:
    """Growing prefixes of an answer for streaming it into the page: one more sentence (ending
    at its ``[n]``) each time, so a citation link is never cut in half."""
    cuts = [m.end() for m in CITE_MARK.finditer(text)]
    if not cuts:
        cuts = [m.end() for m in re.finditer(r"[.!?…](?=\s)", text)]
    prefixes = [text[:c] for c in cuts if 0 < c < len(text)]
    prefixes.append(text)
    return list(dict.fromkeys(prefixes))


def chat_messages(
    turns: Sequence[dict], lang: str = "vi", pending: tuple[str, str] | None = None
) -> list[dict]:
    """Gradio Chatbot messages (openai style) for the turns so far.

    ``turns`` holds {"question": str, "answer": Answer | None, "error": str | None};
    ``pending`` is (question, partial bubble markdown) for the turn being streamed."""
    messages: list[dict] = []
    for i, turn in enumerate(turns):
        messages.append({"role": "user", "content": md_escape(turn["question"])})
        if turn.get("answer") is not None:
            content = answer_markdown(turn["answer"], i, lang)
        else:
            content = f"*⚠ {md_escape(t(K.error, lang))}: {md_escape(turn.get('error') or '')}*"
        messages.append({"role": "assistant", "content": content})
    if pending is not None:
        messages.append({"role": "user", "content": md_escape(pending[0])})
        messages.append({"role": "assistant", "content": pending[1]})
    return messages


# ---- citations panel -----------------------------------------------------------------------


def _merge(spans: Iterable[tuple[int, int]], lo: int, hi: int) -> list[tuple[int, int]]:
    """Clip spans to [lo, hi), drop empty ones, merge overlaps; sorted."""
    clipped = sorted((max(lo, s), min(hi, e)) for s, e in spans if min(hi, e) > max(lo, s))
    merged: list[tuple[int, int]] = []
    for s, e in clipped:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def highlight_html(
    text: str,
    offset: int,
    highlights: Iterable[tuple[int, int]],
    *,
    passage: tuple[int, int] | None = None,
    target_first: bool = False,
) -> str:
    """``text`` (which starts at article offset ``offset``) as escaped HTML, with the
    ``highlights`` (article offsets) in <mark> and the optional ``passage`` span in a
    <span class="rag-passage">. With ``target_first`` the first highlight (or the passage when
    there is none) carries class rag-target, which the viewer scrolls into view."""
    end = offset + len(text)
    marks = _merge(highlights, offset, end)
    pspan = _merge([passage], offset, end) if passage else []
    cuts = sorted({offset, end, *(x for span in marks + pspan for x in span)})
    pieces: list[str] = []
    target_done = not target_first
    target_on_passage = target_first and not marks
    for a, b in zip(cuts, cuts[1:], strict=False):
        seg = esc(text[a - offset : b - offset])
        in_mark = any(s <= a < e for s, e in marks)
        in_passage = any(s <= a < e for s, e in pspan)
        if in_mark:
            cls = "rag-hl"
            if not target_done:
                cls += " rag-target"
                target_done = True
            seg = f'<mark class="{cls}">{seg}</mark>'
        if in_passage:
            cls = "rag-passage"
            if target_on_passage and not target_done:
                cls += " rag-target"
                target_done = True
            seg = f'<span class="{cls}">{seg}</span>'
        pieces.append(seg)
    return "".join(pieces)


def news_date(date: str | None, lang: str = "vi") -> str | None:
    """An ISO date as a reader of the page's language writes it ("2024-06-18" -> "18/6/2024"
    in Vietnamese); anything else as it is."""
    if not date:
        return None
    m = re.match(r"^(\d{4})-(\d{2})-(\d{2})", date)
    if not m or lang != "vi":
        return date[:10] if m else date
    return f"{int(m.group(3))}/{int(m.group(2))}/{m.group(1)}"


def source_line(
    source: str | None,
    date: str | None,
    lang: str = "vi",
    site: str | None = None,
    byline: str | None = None,
    url: str | None = None,
) -> str:
    """'site · byline · date · source' as HTML, what is known of it. The article's ``url``
    (or an http(s) source) is a link, opened in a new tab without a referrer; anything else (a
    file path, a name) is plain text."""
    bits = []
    if site:
        bits.append(f'<span class="rag-site">{esc(site)}</span>')
    if byline:
        bits.append(f'<span class="rag-byline">{esc(byline)}</span>')
    if date:
        bits.append(f'<span class="rag-date">{esc(news_date(date, lang))}</span>')
    if url and _is_web(url):
        source = url
    if source:
        parsed = urlparse(source)
        if _is_web(source):
            bits.append(
                f'<a href="{esc(source)}" target="_blank" rel="noopener noreferrer nofollow">'
                f"{esc(parsed.netloc)}</a>"
            )
        else:
            bits.append(f'<span class="rag-src" title="{esc(source)}">{esc(_short(source))}</span>')
    return " · ".join(bits)


def _is_web(address: str) -> bool:
    parsed = urlparse(address)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def _short(source: str, limit: int = 48) -> str:
    """A long file path shortened to its tail, which is the informative part."""
    return source if len(source) <= limit else "…" + source[-(limit - 1) :]


CARD_CONTEXT = 180  # characters of the passage kept on each side of the quoted sentences


def excerpt_span(c: Citation, context: int = CARD_CONTEXT) -> tuple[int, int]:
    """The part of a passage a card shows (article offsets): the quoted sentences with about
    ``context`` characters around them, cut at spaces; the whole passage when it is short or
    quotes nothing. The source viewer always shows everything."""
    marks = _merge(c.highlights, c.start, c.end)
    if not marks or c.end - c.start <= 2 * context + (marks[-1][1] - marks[0][0]):
        return c.start, c.end
    lo, hi = max(c.start, marks[0][0] - context), min(c.end, marks[-1][1] + context)
    if lo > c.start:
        cut = c.text.find(" ", lo - c.start, marks[0][0] - c.start)
        lo = c.start + cut + 1 if cut >= 0 else lo
    if hi < c.end:
        cut = c.text.rfind(" ", marks[-1][1] - c.start, hi - c.start)
        hi = c.start + cut if cut >= 0 else hi
    return lo, hi


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


# ---- source viewer -------------------------------------------------------------------------


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


# ---- status, corpus ------------------------------------------------------------------------


def status_warnings(
    info: dict, lang: str = "vi", extra: Sequence[str] = ()
) -> list[tuple[str, str]]:
    """The pipeline's standing warnings as (what it means for the reader, in ``lang``; the
    technical line, for the details toggle). The pipeline words them in English for the
    logs and the CLI; the page says what they mean in its own language."""
    out: list[tuple[str, str]] = []
    warning = info.get("warning")
    if warning:
        in_use = info.get("model_in_use")
        wanted = info.get("configured_model") or ""
        if not in_use:
            summary = t(K.warn_bm25_only, lang)
        elif "could not be loaded" in warning or (wanted and wanted != in_use):
            wanted_name = _wanted_model(warning) or wanted
            summary = t(K.warn_fallback, lang, model=short_model(in_use), wanted=wanted_name)
        else:
            summary = t(K.warn_other, lang)
        out.append((summary, warning))
    for w in extra:
        out.append((t(K.warn_rerank_off, lang), w))
    return out


def _wanted_model(warning: str) -> str | None:
    """The model the index was meant for, named in the pipeline's fallback warning."""
    m = re.search(r"because (\S+) could not be loaded", warning) or re.search(
        r"(?:model |^)(\S+) could not be loaded", warning
    )
    return short_model(m.group(1)) if m else None


def status_html(
    info: dict, lang: str = "vi", mode: str | None = None, extra_warnings: Sequence[str] = ()
) -> str:
    """One line: embedding model in use, index size, retrieval mode; below it, each standing
    warning once, in the page's language, with the technical line behind a details toggle."""
    model = info.get("model_in_use") or info.get("index_model")
    model_txt = (
        f'<code title="{esc(model)}">{esc(short_model(model))}</code>'
        if model
        else esc(t(K.status_none, lang))
    )
    if info.get("exists") and info.get("articles"):
        size = t(K.status_articles, lang, n=info.get("articles", 0), chunks=info.get("chunks", 0))
    else:
        size = t(K.status_empty, lang)
    items = [
        f"<span><b>{esc(t(K.status_model, lang))}:</b> {model_txt}</span>",
        f'<span id="rag-status-size"><b>{esc(t(K.status_index, lang))}:</b> {esc(size)}</span>',
        f"<span><b>{esc(t(K.status_mode, lang))}:</b> {esc(mode or info.get('mode') or info.get('retriever') or '')}</span>",
        f'<span><a href="docs" target="_blank" rel="noopener">{esc(t(K.api_link, lang))}</a></span>',
    ]
    warns = "".join(
        f'<details class="rag-warn"><summary>⚠ {esc(summary)} '
        f'<span class="rag-details-label">({esc(t(K.details, lang))})</span></summary>'
        f'<code class="rag-warn-detail" lang="en">{esc(detail)}</code></details>'
        for summary, detail in status_warnings(info, lang, extra_warnings)
    )
    return f'<div class="rag-status">{" · ".join(items)}</div>{warns}'


def short_model(model: str) -> str:
    """A model id as people read it: hub ids as they are, a local directory by its last two
    parts (the full path is in the tooltip)."""
    parts = [p for p in model.replace("\\", "/").split("/") if p]
    if model.startswith(("/", ".", "~")) or len(parts) > 2:
        return "…/" + "/".join(parts[-2:]) if len(parts) > 2 else model
    return model


def ingest_report_markdown(report: IngestReport, lang: str = "vi") -> str:
    """What an upload did, including the re-upload case ("already indexed: nothing to do")."""
    summary = []
    if report.added:
        summary.append("✓ " + t(K.ingest_added, lang, added=report.added, chunks=report.chunks))
    if report.unchanged:
        summary.append("• " + t(K.ingest_unchanged, lang, n=report.unchanged))
    if not report.added and not report.unchanged:
        summary.append("• " + t(K.ingest_nothing, lang))
    bullets = []
    if report.skipped:
        summary.append("⚠ " + t(K.ingest_skipped, lang, n=len(report.skipped)))
        for s in report.skipped[:20]:
            where = f"{s.source}:{s.line}" if s.line else s.source
            bullets.append(f"- {md_escape(_short(where, 60))}: {md_escape(s.reason)}")
        if len(report.skipped) > 20:
            bullets.append(f"- … (+{len(report.skipped) - 20})")
    text = "\n\n".join(summary)
    if bullets:
        text += "\n\n" + "\n".join(bullets)
    return text + "\n\n" + t(K.ingest_seconds, lang, s=report.seconds)


def filter_articles(articles: Sequence[dict], query: str) -> list[dict]:
    """Articles whose title, outlet, byline, source, date or id contain every word of
    ``query`` (case and accents ignored, so "hiep uoc" finds "Hiệp ước", "dan tri" the
    articles of Dân trí)."""
    from rag.tokens import fold_accents

    words = fold_accents(query.lower()).split()
    if not words:
        return list(articles)
    fields = ("title", "site", "byline", "source", "id", "date")
    out = []
    for a in articles:
        hay = fold_accents(" ".join(str(a.get(k) or "") for k in fields).lower())
        if all(w in hay for w in words):
            out.append(a)
    return out


# The articles table's column headers (i18n keys), in the order of article_rows' cells.
TABLE_HEADERS = (K.col_title, K.col_site, K.col_date, K.col_source, K.col_chunks, K.col_id)
TABLE_ID_COLUMN = len(TABLE_HEADERS) - 1
# How the table can be ordered (the sort control's values): by publication date, newest or
# oldest first (articles without a date last either way), or by when they were added.
ORDERS = ("newest", "oldest", "added")
DEFAULT_ORDER = "newest"
ORDER_KEYS = {"newest": K.sort_newest, "oldest": K.sort_oldest, "added": K.sort_added}


def sort_articles(articles: Sequence[dict], order: str = DEFAULT_ORDER) -> list[dict]:
    """``articles`` (in the order they were added) in the table's ``order``. Articles without
    a date come after the dated ones; within the same date, and among the undated, the most
    recently added first (an upload shows at the top of its group)."""
    latest_first = list(reversed(articles))
    if order not in ("newest", "oldest"):
        return latest_first
    dated = [a for a in latest_first if _day(a)]
    undated = [a for a in latest_first if not _day(a)]
    # stable, reverse=True included: equal dates keep the latest-added first
    dated.sort(key=_day, reverse=order == "newest")
    return dated + undated


def _day(article: dict) -> str:
    """The publication date's ISO day ('2024-06-18'), '' when unknown or not ISO."""
    date = str(article.get("date") or "")[:10]
    return date if re.fullmatch(r"\d{4}-\d{2}-\d{2}", date) else ""


def article_rows(articles: Sequence[dict], order: str = DEFAULT_ORDER) -> list[list]:
    """Rows for the articles table in ``order`` (see sort_articles): title, outlet, date
    (ISO, so it reads the same in both languages and sorts as text), source, passages, id."""
    return [
        [
            a.get("title") or "",
            a.get("site") or "",
            _day(a) or str(a.get("date") or ""),
            a.get("source") or "",
            a.get("chunks", 0),
            a["id"],
        ]
        for a in sort_articles(articles, order)
    ]
