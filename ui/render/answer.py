"""The chat: the assistant's bubble (each ``[n]`` a link to its citation), the text the copy
button copies, the prefixes an answer is streamed in, and the Chatbot's messages."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from rag.types import Answer, Citation
from ui.i18n import K, t
from ui.render.citations import group_by_article
from ui.render.text import cite_href, md_escape, news_date, source_text

CITE_MARK = re.compile(r"\[(\d{1,3})\]")


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
