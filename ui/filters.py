"""The chat's source filters: an outlet and a publication date range, typed by a person.

``page_filters`` turns what the three controls hold into a rag.types.Filters, or raises
FilterError with the i18n key of a one-line message (a date that is not one, a range that ends
before it starts); ``filter_note`` is the line under the question box that says which filters
are on and how many articles they leave.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence

from rag.types import Filters
from ui import render
from ui.i18n import K, t

# Dates as the page writes them (ISO, as `rag ask --since` and /api/ask take them) and as a
# Vietnamese reader writes them: 2024-06-18, 18/6/2024, 18-06-2024, 18.6.2024.
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")


class FilterError(ValueError):
    """A filter a person typed that cannot be used; ``key`` and ``params`` word it."""

    def __init__(self, key: str, **params: str) -> None:
        super().__init__(key)
        self.key = key
        self.params = params

    def message(self, lang: str) -> str:
        return t(self.key, lang, **self.params)


def parse_day(text: str | None) -> str | None:
    """'2024-06-18', '18/6/2024' (or with - or .) -> '2024-06-18'; None for nothing typed.
    Raises FilterError for anything else, a day that does not exist included."""
    text = " ".join((text or "").split())
    if not text:
        return None
    m = _ISO.fullmatch(text)
    if m:
        y, mo, d = m.groups()
    else:
        m = _DMY.fullmatch(text)
        if not m:
            raise FilterError(K.filter_bad_date, text=text)
        d, mo, y = m.groups()
    try:
        return datetime.date(int(y), int(mo), int(d)).isoformat()
    except ValueError:
        raise FilterError(K.filter_bad_date, text=text) from None


def page_filters(site: str | None, date_from: str | None, date_to: str | None) -> Filters:
    """The controls' values -> Filters (empty when nothing is set). Raises FilterError."""
    start, end = parse_day(date_from), parse_day(date_to)
    if start and end and start > end:
        raise FilterError(K.filter_reversed, start=date_from.strip(), end=date_to.strip())
    return Filters(site=(site or "").strip() or None, date_from=start, date_to=end)


def sites(articles: Sequence[dict]) -> list[str]:
    """The outlets of the indexed articles, each once, in alphabetical order."""
    from rag.tokens import fold_accents

    names: dict[str, str] = {}
    for a in articles:
        site = (a.get("site") or "").strip()
        if site:
            names.setdefault(site.casefold(), site)
    return sorted(names.values(), key=lambda s: (fold_accents(s.casefold()), s))


def site_choices(articles: Sequence[dict], lang: str) -> list[tuple[str, str]]:
    """The outlet dropdown's choices: every outlet ("" first, meaning all of them)."""
    return [(t(K.filter_all_sites, lang), ""), *((s, s) for s in sites(articles))]


def filter_note(
    articles: Sequence[dict],
    site: str | None,
    date_from: str | None,
    date_to: str | None,
    lang: str,
) -> str:
    """Markdown: which filters are on and how many articles they leave; the one-line reason
    when a date cannot be used; "" when no filter is set."""
    try:
        filters = page_filters(site, date_from, date_to)
    except FilterError as exc:
        return f"⚠ {render.md_escape(exc.message(lang))}"
    if not filters:
        return ""
    what = []
    if filters.site:
        what.append(t(K.filter_of_site, lang, site=f"**{render.md_escape(filters.site)}**"))
    start = render.news_date(filters.date_from, lang)
    end = render.news_date(filters.date_to, lang)
    if start and end:
        what.append(t(K.filter_between, lang, start=start, end=end))
    elif start:
        what.append(t(K.filter_since, lang, date=start))
    elif end:
        what.append(t(K.filter_until, lang, date=end))
    n = sum(1 for a in articles if filters.allows(a.get("site"), a.get("date")))
    return t(K.filter_active, lang, what=", ".join(what), n=n)
