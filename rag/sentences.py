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


# Openers that tie a sentence to the one before it in Vietnamese news: "Cụ thể, …" (the
# figures of the claim before), "Trước đó, …" (what came before the event just told), "Theo
# ông, …" (the person just named). Such a sentence is read after the one it continues.
CONNECTIVES = (
    "cụ thể",
    "trước đó",
    "sau đó",
    "ngoài ra",
    "bên cạnh đó",
    "đồng thời",
    "tuy nhiên",
    "theo đó",
    "do đó",
    "vì vậy",
    "vì thế",
    "trong khi đó",
    "khi đó",
    "lúc đó",
    "thêm vào đó",
    "hơn nữa",
    "mặt khác",
    "như vậy",
    "tức là",
    "nói cách khác",
    "nhờ đó",
    "qua đó",
    "từ đó",
    "ngay sau đó",
    "điều này",
    "đây là",
    "đó là",
    "theo ông,",
    "theo bà,",
    "theo họ,",
    "ông cũng",
    "bà cũng",
    "ông này",
    "bà này",
)
# "Theo ông, …" continues; "Theo ông Ushakov, …" names its source itself.
_CONTINUES = re.compile(r"^(?:" + "|".join(map(re.escape, CONNECTIVES)) + r")(?:\W|$)", re.I)


def continues(sentence: str) -> bool:
    """Whether ``sentence`` opens with a connective that continues the sentence before it."""
    return bool(_CONTINUES.match(sentence.lstrip(" \"“'(")))
