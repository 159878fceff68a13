"""Escaping and the small formatting pieces the answer, the cards and the viewer share:
``esc`` for HTML, ``md_escape`` for a chat bubble's markdown, the citation anchors
``#rag-cite-<turn>-<n>``, news dates, and the line naming an article's source."""

from __future__ import annotations

import html
import re
import string
from urllib.parse import urlparse

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


def news_date(date: str | None, lang: str = "vi") -> str | None:
    """An ISO date as a reader of the page's language writes it ("2024-06-18" -> "18/6/2024"
    in Vietnamese); anything else as it is."""
    if not date:
        return None
    m = re.match(r"^(\d{4})-(\d{2})-(\d{2})", date)
    if not m or lang != "vi":
        return date[:10] if m else date
    return f"{int(m.group(3))}/{int(m.group(2))}/{m.group(1)}"


def source_text(source: str | None, date: str | None) -> str:
    return ", ".join(x for x in (source or "", date or "") if x)


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
