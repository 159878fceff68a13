"""Follow-up questions in a chat: rewrite them, with the conversation, into standalone queries.

"còn hiệp ước năm 2000 thì sao?" after "Hiệp ước năm 1961 được ký ở đâu?" means "Hiệp ước năm
2000 được ký ở đâu?"; "what did he give him?" after a question about Putin and Kim means "what
did Putin give Kim?". Without a language model the rewrite is done by two rules that cover the
common shapes, in the question's own language:

1. Ellipsis ("còn X thì sao?", "X thì sao?", "what about X?", "and X?"): X replaces the span of
   the previous question that shares the most words with it (the same head: "hiệp ước năm
   1961" -> "hiệp ước năm 2000"); else, when X is a name, the previous question's last name;
   else X is added to the previous question.
2. Pronouns (he/him/she/her/they/them/it, ông ấy/bà ấy/anh ấy/chị ấy/họ/nó): replaced, in order,
   by the names (capitalised word runs) of the previous question, then of the previous answer.

A question that is neither is standalone and left as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.lexical import fold_accents, normalize

_ELLIPSIS = [
    re.compile(
        r"^\s*(?:còn|vậy còn|thế còn)\s+(?P<x>.+?)\s*(?:thì sao|thì thế nào|thì sao nhỉ)?\s*\??\s*$",
        re.I,
    ),
    re.compile(r"^\s*(?P<x>.+?)\s+thì sao\s*\??\s*$", re.I),
    re.compile(r"^\s*(?:what|how)\s+about\s+(?P<x>.+?)\s*\??\s*$", re.I),
    re.compile(r"^\s*and\s+(?P<x>.+?)\s*\?\s*$", re.I),
]
_PRONOUNS_EN = re.compile(r"\b(he|him|she|her|they|them|it)\b", re.I)
_PRONOUNS_VI = re.compile(r"\b(ông ấy|bà ấy|anh ấy|chị ấy|ông ta|bà ta|họ|nó)\b", re.I)
# Capitalised words that start questions or sentences without naming anyone.
_NOT_NAMES = frozenset(
    "what which who whom whose when where why how did does do is are was were the a an in on "
    "and or ông bà anh chị theo trong tại sau khi ai nước hiệp tổng chủ".split()
)


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+|\d+(?:[.,/]\d+)*", text)


def _names(text: str) -> list[str]:
    """Runs of capitalised words, leaving out the question's first word and words capitalised
    by grammar ("What", "Ông", "Theo")."""
    out, run = [], []
    for m in re.finditer(r"[^\W\d_][\w'-]*", text):
        w = m.group()
        gap = text[run[-1][1] : m.start()] if run else " "
        is_name = w[0].isupper() and w.lower() not in _NOT_NAMES
        if is_name and gap.strip(" -") == "":
            run.append((w, m.end()))
            continue
        if run:
            out.append(" ".join(x for x, _ in run))
        run = [(w, m.end())] if is_name else []
    if run:
        out.append(" ".join(x for x, _ in run))
    return list(dict.fromkeys(out))


def _key(word: str) -> str:
    return fold_accents(normalize(word))


def _substitute(previous: str, x: str) -> str:
    """``previous`` with the span most like ``x`` replaced by ``x`` (or ``x`` added)."""
    prev_words = list(re.finditer(r"[^\W_]+|\d+(?:[.,/]\d+)*", previous))
    x_keys = {_key(w) for w in _words(x)}
    best = (0, None)
    n = max(1, len(_words(x)))
    for size in [n, n + 1, n - 1] if n > 1 else [n, n + 1]:
        for i in range(0, max(0, len(prev_words) - size) + 1):
            window = prev_words[i : i + size]
            overlap = sum(_key(w.group()) in x_keys for w in window)
            if overlap > best[0]:
                best = (overlap, (window[0].start(), window[-1].end()))
    if best[1] is None:
        names = _names(previous)
        if x[:1].isupper() and names:
            # A name asked about in place of a name: "còn Luhansk thì sao?" after "... Donbas?"
            at = previous.rfind(names[-1])
            return previous[:at] + x + previous[at + len(names[-1]) :]
        return f"{previous.rstrip(' ?')}, {x}?"
    s, e = best[1]
    return previous[:s] + x + previous[e:]


def rewrite(question: str, history: Sequence[tuple[str, str]]) -> str | None:
    """The standalone form of ``question`` given ``history`` ((user, assistant) turns, oldest
    first), or None when the question stands on its own (or there is no history)."""
    if not history:
        return None
    prev_q, prev_a = history[-1]
    prev_q = (prev_q or "").strip()
    if not prev_q:
        return None
    for pattern in _ELLIPSIS:
        m = pattern.match(question)
        if m and m.group("x").strip():
            return _substitute(prev_q, m.group("x").strip())
    names = _names(prev_q) + [n for n in _names(prev_a or "") if n not in _names(prev_q)]
    if not names:
        return None
    pronouns = _PRONOUNS_VI if _PRONOUNS_VI.search(question) else _PRONOUNS_EN
    if not pronouns.search(question):
        return None
    it = iter(names)
    seen: dict[str, str] = {}

    def swap(m: re.Match) -> str:
        word = m.group().lower()
        if word not in seen:
            seen[word] = next(it, m.group())
        return seen[word]

    out = pronouns.sub(swap, question)
    return out if out != question else None
