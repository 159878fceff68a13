"""A question analysed once into a ``Query`` that retrieval, fusion and answer composition all
read: its language, weighted BM25 terms, what kind of answer it asks for, its sub-questions and,
once encoded, its vector.

The analysis is general grammar of Vietnamese and English questions (interrogatives, "bao
nhiêu X", "ngày nào"), not anything learnt from the evaluation sets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from rag.errors import InputError
from rag.tokens import detect_language, fold_accents, normalize, query_terms

if TYPE_CHECKING:
    import numpy as np

MAX_QUESTION_CHARS = 2000
# Terminal escape sequences (colours, cursor moves) pasted with a question: removed whole, so
# that "\x1b[31m" leaves no "[31m" behind once the control characters are dropped.
_ANSI_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")

# Interrogatives and function words: they shape a question but never appear in its answer,
# so they do not count toward how much of the question a sentence covers.
QUESTION_WORDS = frozenset(
    "gì nào những các ai đâu bao nhiêu khi sao thế nào là của có không được đã và hay "
    "hoặc thì mà ở tại với cho về này đó kia nhỉ vậy ạ chứ what which who whom whose "
    "when where why how many much is are was were the a an of to in on for and or did "
    "does do that this with by from as at ".split()
)

# The kind of answer a question asks for, from its interrogative: a sentence that holds such a
# thing answers it better.
_QTYPES = (
    (
        "number",
        re.compile(
            r"\bbao nhiêu\b|\bmấy\b|\bbao lâu\b|\bhow (many|much|long)\b|"
            r"\bwhat (percentage|number)\b",
            re.I,
        ),
    ),
    (
        "date",
        re.compile(
            r"\bkhi nào\b|\bbao giờ\b|\blúc nào\b|\b(năm|ngày|tháng|thời điểm) nào\b|"
            r"\bwhen\b|\b(what|which) (year|date|day|month)\b",
            re.I,
        ),
    ),
    (
        "place",
        re.compile(
            r"\bở đâu\b|\bđâu\b|\bnơi nào\b|\b(thành phố|nước|quốc gia|vùng|tỉnh) nào\b|"
            r"\bwhere\b|\b(which|what) (city|country|region|place)\b",
            re.I,
        ),
    ),
    ("person", re.compile(r"\bai\b|\bwho(m)?\b", re.I)),
    ("list", re.compile(r"\b(những|các)\b.*\b(nào|gì)\b", re.I)),
)
# What a date question asks for: "ngày nào" a day, "năm nào" a year; "khi nào" any date.
_DATE_GRAIN = (
    ("day", re.compile(r"\bngày nào\b|\bngày bao nhiêu\b|\b(what|which) (date|day)\b", re.I)),
    ("year", re.compile(r"\bnăm nào\b|\bnăm bao nhiêu\b|\b(what|which) year\b", re.I)),
)
# "bao nhiêu X" / "mấy X": the thing counted, which the answer writes after its number
# ("24 năm", "hơn 1.000 lao động"); "phần trăm" is written "%".
_COUNTED = re.compile(r"\b(?:bao nhiêu|mấy)\s+([^\W\d_]+)(?:\s+([^\W\d_]+))?", re.I)
# Words that follow "bao nhiêu" without being what it counts ("ăn bao nhiêu trong một ngày").
_NOT_COUNTED = frozenset("trong trên dưới ngoài từ tới đến vào ra khi để thì mà so".split())
# Words said before a person's name ("ông Kim", "bà Harris"): a title, not what is asked.
_HONORIFICS = frozenset("ông bà anh chị ngài cô".split())
# Question words only as half of an interrogative: "thế" of "thế nào", not of "thay thế".
_PAIRED = {"thế": "nào"}
_TITLES = frozenset(
    "tổng thống|chủ tịch|thủ tướng|bộ trưởng|ngoại trưởng|thứ trưởng|tổng thư|bí thư|trợ lý|"
    "giám đốc|phát ngôn|đại sứ|tướng quân".split("|")
)
# Where a question of two questions divides: "và", ";", "còn", "and", when both sides ask.
_PART_SPLIT = re.compile(r"\s*[,;]?\s+(?:và|còn|and)\s+|\s*;\s*", re.I)
_ASKS = re.compile(
    r"\b(gì|nào|ai|đâu|sao|bao nhiêu|mấy|bao giờ|what|which|who|whom|when|where|why|how)\b"
    r"|\b(chưa|không)\s*$",
    re.I,
)


def clean_question(question: str) -> str:
    """A question as the pipeline takes it, or InputError saying what is wrong with it."""
    from rag.clean import normalize_unicode

    if not isinstance(question, str):
        raise InputError("the question must be text")
    q = " ".join(normalize_unicode(_ANSI_ESCAPE.sub("", question)).split())
    if not q:
        raise InputError(
            'the question is empty: type a question, e.g. "Hiệp ước mới thay thế những văn kiện nào?"'
        )
    if len(q) > MAX_QUESTION_CHARS:
        raise InputError(
            f"the question is {len(q):,} characters long; ask in at most {MAX_QUESTION_CHARS:,}"
        )
    return q


def question_type(question: str) -> str:
    for name, pattern in _QTYPES:
        if pattern.search(question):
            return name
    return "other"


def date_grain(question: str) -> str:
    for grain, pattern in _DATE_GRAIN:
        if pattern.search(question):
            return grain
    return "any"


def counted_noun(question: str) -> str | None:
    """The normalized syllable a "bao nhiêu"/"mấy" question counts ("năm", "lao", "usd"), "%"
    for "phần trăm", None when it counts nothing named ("tăng bao nhiêu?")."""
    m = _COUNTED.search(normalize(question))
    if not m:
        return None
    first, second = m.group(1), m.group(2)
    if first == "phần" and second == "trăm":
        return "%"
    if first in QUESTION_WORDS or first in _NOT_COUNTED:
        return None
    return first


def focus_words(question: str) -> set[str]:
    """The question's words written in lower case that are not question or function words nor
    the rest of a title ("Tổng thống"): "tặng", "món", "quà" of "Tổng thống Putin tặng Chủ
    tịch Kim Jong Un món quà gì?"."""
    words = re.findall(r"[^\W\d_]+", question)
    skip = QUESTION_WORDS | {fold_accents(w) for w in QUESTION_WORDS}
    out = set()
    for i, w in enumerate(words):
        low = normalize(w)
        if i == 0 or not w.islower() or len(w) < 2:
            continue
        if low in skip and not (
            low in _PAIRED and (i + 1 == len(words) or normalize(words[i + 1]) != _PAIRED[low])
        ):
            continue
        if not words[i - 1].islower() and f"{normalize(words[i - 1])} {low}" in _TITLES:
            continue
        if low in _HONORIFICS and i + 1 < len(words) and not words[i + 1].islower():
            continue  # "ông" of "ông Kim": part of the name, said of anyone
        out.add(low)
    return out


def focus_pairs(question: str) -> set[str]:
    """Adjacent pairs of the question's focus words ("thay thế", "văn kiện"): a sentence that
    holds both syllables apart ("thay đổi ... vị thế") does not say what the question asks."""
    focus = focus_words(question)
    words = [normalize(w) for w in re.findall(r"[^\W\d_]+", question)]
    return {f"{a} {b}" for a, b in zip(words, words[1:], strict=False) if a in focus and b in focus}


def split_question(question: str) -> list[str]:
    """The questions a compound question asks, or [question] when it asks one. Splits only
    where both sides hold an interrogative, so "Putin và Kim đã ký gì?" stays whole."""
    text = question.strip().rstrip("?").strip()
    for m in _PART_SPLIT.finditer(text):
        left, right = text[: m.start()].strip(" ,"), text[m.end() :].strip(" ,")
        if _ASKS.search(left) and _ASKS.search(right):
            return [left + "?", *split_question(right + "?")]
    return [question]


@dataclass(frozen=True)
class Query:
    """A question as every stage reads it. ``terms``: BM25 terms and their weights
    (rag.tokens.query_terms); ``kind``: number, date, place, person, list or other;
    ``grain``: day, year or any (date questions); ``counted``: what a "bao nhiêu" question
    counts; ``focus``: its own verbs and common nouns (Vietnamese questions); ``focus_pairs``:
    adjacent pairs of them ("thay thế"); ``words``: its
    normalized words; ``parts``: the questions of a compound question (empty for one);
    ``vector``: its embedding, once encoded (``with_vector``)."""

    text: str
    lang: str
    terms: dict[str, float] = field(compare=False, hash=False)
    kind: str = "other"
    grain: str = "any"
    counted: str | None = None
    focus: frozenset[str] = frozenset()
    focus_pairs: frozenset[str] = frozenset()
    words: frozenset[str] = frozenset()
    parts: tuple[Query, ...] = ()
    vector: np.ndarray | None = field(default=None, compare=False, hash=False, repr=False)

    def with_vector(self, vector: np.ndarray) -> Query:
        return replace(self, vector=vector)


def analyse(text: str) -> Query:
    """``text`` analysed once, for every stage after it."""
    lang = detect_language(text)
    kind = question_type(text)
    parts = split_question(text)
    return Query(
        text=text,
        lang=lang,
        terms=query_terms(text),
        kind=kind,
        grain=date_grain(text),
        counted=counted_noun(text) if kind == "number" else None,
        focus=frozenset(focus_words(text)) if lang == "vi" else frozenset(),
        focus_pairs=frozenset(focus_pairs(text)) if lang == "vi" else frozenset(),
        words=frozenset(normalize(w) for w in text.split()),
        parts=tuple(analyse(p) for p in parts) if len(parts) > 1 else (),
    )


def as_query(question: str | Query) -> Query:
    """A Query as it is; a question's text analysed (callers outside the pipeline: tests,
    benchmarks)."""
    return question if isinstance(question, Query) else analyse(question)
