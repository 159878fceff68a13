"""Sentence spans of a passage: the unit an answer quotes and fusion's proximity feature reads."""

from __future__ import annotations

import re

# A sentence ends at . ! ? … (with any closing quotes or brackets) before white space, or at a
# line break.
_SENT_END = re.compile(r"(?<=[.!?…])[\"”’)]*\s+|\n+")


def split_sentences(text: str, base: int = 0) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences of ``text``, shifted by ``base``."""
    spans = []
    pos = 0
    for m in _SENT_END.finditer(text):
        seg = text[pos : m.start()]
        if seg.strip():
            lead = len(seg) - len(seg.lstrip())
            spans.append((base + pos + lead, base + m.start()))
        pos = m.end()
    seg = text[pos:]
    if seg.strip():
        lead = len(seg) - len(seg.lstrip())
        spans.append((base + pos + lead, base + pos + len(seg.rstrip())))
    return spans
