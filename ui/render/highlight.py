"""Marking up a passage: the quoted sentences in <mark>, the cited passage tinted, and
which part of a passage a card shows."""

from __future__ import annotations

from collections.abc import Iterable

from rag.types import Citation
from ui.render.text import esc


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
