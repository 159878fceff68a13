"""Pure render functions: Answer, Citation, Article -> the markdown and HTML the page shows.

Every piece of article text (titles, sources, passages, whole articles) goes through
``html.escape`` in this package and nowhere else, so an article holding ``<script>`` or
``<img onerror=...>`` is shown as those characters and runs nothing. The chat bubbles are
markdown (Gradio's Chatbot renders them), so text bound for a bubble is also escaped for
markdown: an article's ``*`` or ``[x](y)`` stays literal instead of becoming emphasis or a link.

Citation links are plain anchors ``#rag-cite-<turn>-<n>``; ui/static/cite.js turns a click on
one into a request for the source viewer (no inline handlers, nothing for a sanitizer to strip).

One module per job, each importing only those listed before it:

- ``text``: escaping (``esc``, ``md_escape``), the citation anchors, dates, the source line;
- ``highlight``: a passage with its quoted sentences marked, the part of it a card shows;
- ``citations``: the citations panel, one card per cited article;
- ``answer``: the chat bubbles, the copy button's plain text, streaming prefixes;
- ``viewer``: the source viewer and the articles tab's article preview;
- ``status``: the status line and the pipeline's standing warnings;
- ``corpus``: the upload report and the articles table (search, order, rows).

Callers use the names re-exported here (``render.answer_markdown``, ...).
"""

from __future__ import annotations

from ui.render.answer import (
    CITE_MARK,
    answer_markdown,
    answer_plain,
    chat_messages,
    linkify_citations,
    space_citations,
    stream_prefixes,
)
from ui.render.citations import citation_card, citations_html, group_by_article
from ui.render.corpus import (
    DEFAULT_ORDER,
    ORDER_KEYS,
    ORDERS,
    TABLE_HEADERS,
    TABLE_ID_COLUMN,
    article_rows,
    filter_articles,
    ingest_report_markdown,
    sort_articles,
)
from ui.render.highlight import CARD_CONTEXT, excerpt_span, highlight_html
from ui.render.status import short_model, status_html, status_warnings
from ui.render.text import (
    cite_href,
    esc,
    md_escape,
    news_date,
    parse_cite_href,
    source_line,
    source_text,
)
from ui.render.viewer import article_html, article_meta, locate_passage, source_html

__all__ = [
    "CARD_CONTEXT",
    "CITE_MARK",
    "DEFAULT_ORDER",
    "ORDERS",
    "ORDER_KEYS",
    "TABLE_HEADERS",
    "TABLE_ID_COLUMN",
    "answer_markdown",
    "answer_plain",
    "article_html",
    "article_meta",
    "article_rows",
    "chat_messages",
    "cite_href",
    "citation_card",
    "citations_html",
    "esc",
    "excerpt_span",
    "filter_articles",
    "group_by_article",
    "highlight_html",
    "ingest_report_markdown",
    "linkify_citations",
    "locate_passage",
    "md_escape",
    "news_date",
    "parse_cite_href",
    "short_model",
    "sort_articles",
    "source_html",
    "source_line",
    "source_text",
    "space_citations",
    "status_html",
    "status_warnings",
    "stream_prefixes",
]
