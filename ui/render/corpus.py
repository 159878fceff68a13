"""The articles tab: what an upload did, and the table of articles (search, order, rows)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.types import IngestReport
from ui.i18n import K, t
from ui.render.text import _short, md_escape


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
    for w in report.warnings:
        summary.append("⚠ " + md_escape(w))
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
