"""Follow-up questions in a chat: rewrite them, with the conversation, into standalone queries.

"còn hiệp ước năm 2000 thì sao?" after "Hiệp ước năm 1961 được ký ở đâu?" means "Hiệp ước năm
2000 được ký ở đâu?"; "Nó được ký ở đâu?" after "Nga và Triều Tiên ký gì?" (answered "… ký
Hiệp ước Đối tác chiến lược toàn diện …") means "Hiệp ước Đối tác chiến lược toàn diện được ký
ở đâu?". Without a language model the rewrite is done by rules that cover the common shapes, in
the question's own language, on the standalone form of the previous question (so a third turn
builds on the second's rewrite):

1. Ellipsis ("còn X thì sao?", "X thì sao?", "what about X?", "and X?"): X replaces the span of
   the previous question that shares the most words with it (the same head: "hiệp ước năm
   1961" -> "hiệp ước năm 2000"); else, when X is a name, the previous question's last name;
   else X is added to the previous question.
2. A bare question phrase ("Vào ngày nào?", "Còn ở đâu?", "When?"): it replaces the question
   phrase of the previous question.
3. Pronouns for people (ông ấy, bà ấy, họ, he, him, she, they…): replaced by the names of the
   previous question (people first: names after a title such as "ông", "Tổng thống"), then of
   the previous answer.
4. Pronouns for things (nó, it): what the previous question asked for when it asked "gì" /
   "what" (the object the answer names after the question's verb), else the previous
   question's subject (the words before its verb).
5. A pronoun none of these resolves keeps the previous question's content beside it, so that
   retrieval still sees what the conversation is about.
6. So does a thing named with a demonstrative ("sắc lệnh đó", "chuyến đi này"), and a reply
   asked for with no object ("Ukraine đã phản ứng thế nào?", "How did Kim respond?"): what it
   refers to or replies to is in the previous question.

A question that is none of these is standalone and left as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.tokens import fold_accents, normalize

_ELLIPSIS = [
    re.compile(
        r"^\s*(?:còn|vậy còn|thế còn)\s+(?P<x>.+?)\s*(?:thì sao|thì thế nào|thì sao nhỉ)?\s*\??\s*$",
        re.I,
    ),
    re.compile(r"^\s*(?P<x>.+?)\s+thì sao\s*\??\s*$", re.I),
    re.compile(r"^\s*(?:what|how)\s+about\s+(?P<x>.+?)\s*\??\s*$", re.I),
    re.compile(r"^\s*and\s+(?P<x>.+?)\s*\?\s*$", re.I),
]
# Question phrases, longest first; a previous question's phrase is replaced by a bare one.
_WH_VI = (
    r"vào ngày nào|vào năm nào|vào thời điểm nào|vào lúc nào|ngày nào|năm nào|tháng nào|"
    r"khi nào|bao giờ|lúc nào|ở đâu|tại đâu|đâu|bao nhiêu|bao lâu|mấy|những gì|cái gì|gì|"
    r"những ai|ai|thế nào|như thế nào|ra sao|nào|tại sao|vì sao"
)
_WH_EN = r"how many|how much|how long|when|where|who|whom|what|which|why|how"
_BARE_VI = re.compile(
    rf"^\s*(?:còn|vậy|thế|và)?\s*(?P<wh>(?:vào|ở|tại)?\s*(?:{_WH_VI}))\s*(?:vậy|thế|nhỉ)?\s*\??\s*$",
    re.I,
)
_BARE_EN = re.compile(rf"^\s*(?:and|so)?\s*(?P<wh>{_WH_EN})\s*\??\s*$", re.I)
_WH_IN_VI = re.compile(rf"(?:\b(?:vào|ở|tại)\s+)?\b(?:{_WH_VI})\b", re.I)
_WH_IN_EN = re.compile(rf"\b(?:{_WH_EN})\b", re.I)

_PEOPLE_EN = re.compile(r"\b(he|him|she|her|they|them)\b", re.I)
_PEOPLE_VI = re.compile(r"\b(ông ấy|bà ấy|anh ấy|chị ấy|ông ta|bà ta|họ)\b", re.I)
_ASKS_WHO = re.compile(r"\b(?:ai|who|whom)\b|\b(?:trợ lý|người|nhà lãnh đạo|ông|bà) nào\b", re.I)
_THING_EN = re.compile(r"\b(it)\b", re.I)
_THING_VI = re.compile(r"\b(nó)\b", re.I)
# A noun then a demonstrative ("sắc lệnh đó", "chuyến đi này"); "that"/"this" before a noun.
_DEMONSTRATIVE = re.compile(
    r"\b[^\W\d_]+\s+(?:đó|này|ấy|kia)\b(?!\s*(?:là|\?))|\b(?:that|this|those|these)\s+[a-z]+",
    re.I,
)
# A reply with no object: the question ends at the verb and its question phrase.
_REPLY = re.compile(
    r"\b(?:phản ứng|đáp lại|đáp trả|phản hồi|trả lời)\s+(?:thế nào|như thế nào|ra sao|gì)"
    r"\s*\??\s*$|\b(?:react|respond|reply|answer)\s*\??\s*$",
    re.I,
)
# Capitalised words that start questions or sentences without naming anyone.
_NOT_NAMES = frozenset(
    "what which who whom whose when where why how did does do is are was were the a an in on "
    "and or ông bà anh chị theo trong tại sau khi ai nước hiệp tổng chủ".split()
)
# Words that mark a person's name after them.
_TITLES = re.compile(
    r"\b(?:ông|bà|anh|chị|tổng thống|chủ tịch|thủ tướng|lãnh đạo|nhà lãnh đạo|trợ lý|"
    r"president|leader|mr|mrs|ms)\.?\s+$",
    re.I,
)
# Where a noun phrase named after a verb ends: prepositions, time words, punctuation.
_PHRASE_END = frozenset(
    "sau tại ở vào ngày giữa với khi trong cho nhằm để theo từ hôm lúc do của là và".split()
)
# The first word of a Vietnamese predicate: auxiliaries and common verbs of news questions.
_PREDICATE = frozenset(
    "được đã sẽ đang có là bị từng không kéo diễn ký tặng gửi thay tăng nói cho biết mô công "
    "ủng phê hy nhằm mang đưa đạt bắt dự tổ thăm gặp".split()
)
_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*|\d+(?:[.,/]\d+)*")


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+|\d+(?:[.,/]\d+)*", text)


def _names(text: str) -> list[str]:
    """Runs of capitalised words, leaving out words capitalised by grammar ("What", "Ông",
    "Theo") and a question's capitalised first word when it stands alone ("Chuyến thăm…")."""
    out, run = [], []
    matches = list(re.finditer(r"[^\W\d_][\w'-]*", text))
    for m in matches:
        w = m.group()
        gap = text[run[-1][1] : m.start()] if run else " "
        is_name = w[0].isupper() and w.lower() not in _NOT_NAMES
        if is_name and gap.strip(" -") == "":
            run.append((w, m.end(), m.start()))
            continue
        if run:
            out.append(run)
        run = [(w, m.end(), m.start())] if is_name else []
    if run:
        out.append(run)
    names = []
    for r in out:
        if (
            len(r) == 1
            and r[0][2] == matches[0].start()
            and not _capitalised_elsewhere(text, r[0][0])
        ):
            continue
        names.append(" ".join(x for x, _, _ in r))
    return list(dict.fromkeys(names))


def _capitalised_elsewhere(text: str, word: str) -> bool:
    return len(re.findall(rf"(?<!^)\b{re.escape(word)}\b", text)) > 0


def _people(text: str) -> list[str]:
    """The names of ``text`` that follow a title ("ông Putin", "Tổng thống Vladimir Putin")."""
    out = []
    for name in _names(text):
        at = text.find(name)
        if at > 0 and _TITLES.search(text[:at]):
            out.append(name)
    return out


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


def _bare_question(question: str, previous: str) -> str | None:
    """ "Vào ngày nào?" after "Hiệp ước được ký ở đâu?" -> "Hiệp ước được ký vào ngày nào?"."""
    for bare, inside in ((_BARE_VI, _WH_IN_VI), (_BARE_EN, _WH_IN_EN)):
        m = bare.match(question)
        if not m:
            continue
        found = list(inside.finditer(previous))
        if not found:
            return None
        last = found[-1] if bare is _BARE_VI else found[0]
        wh = m.group("wh").strip().lower()
        if last.start() == 0:
            wh = wh[:1].upper() + wh[1:]
        return previous[: last.start()] + wh + previous[last.end() :]
    return None


def _asked_object(previous: str, answer: str) -> str | None:
    """What the answer names after the previous question's verb, when that question asked
    "… ký gì?" / "… ký hiệp ước gì?": "Hiệp ước Đối tác chiến lược toàn diện"."""
    m = re.search(r"\b(?:những gì|cái gì|gì|nào)\s*\??\s*$", previous, re.I)
    if not m or not answer:
        return None
    before = _words(previous[: m.start()])
    if not before:
        return None
    words = list(_WORD.finditer(answer))
    keys = [_key(w.group()) for w in words]
    for size in (2, 1):
        target = [_key(w) for w in before[-size:]]
        for i in range(len(keys) - size + 1):
            if keys[i : i + size] != target:
                continue
            first = words[i].group()
            # A noun ("hiệp ước") is part of the phrase; a verb ("ký") comes before it.
            start = i if size == 2 and first[:1].isupper() else i + size
            phrase = []
            for w in words[start : start + 10]:
                gap = answer[words[start].start() : w.start()]
                if phrase and (w.group().lower() in _PHRASE_END or re.search(r"[,.;:(“\"]", gap)):
                    break
                phrase.append(w)
            if phrase and phrase[0].group()[:1].isupper():
                return answer[phrase[0].start() : phrase[-1].end()]
    return None


def _subject(previous: str) -> str | None:
    """The words of the previous question before its predicate: "Hiệp ước Nga - Triều Tiên"
    of "Hiệp ước Nga - Triều Tiên được ký vào ngày nào?" (after a leading "Theo X,")."""
    clause = previous.split(",", 1)[1] if previous.lower().startswith("theo ") else previous
    words = list(_WORD.finditer(clause))
    for i, w in enumerate(words):
        if i and w.group().lower() in _PREDICATE:
            if 2 <= i <= 10:
                return clause[words[0].start() : words[i - 1].end()].strip()
            return None
    return None


def _context(previous: str) -> str:
    """The previous question without its question phrase, to keep beside a follow-up."""
    text = _WH_IN_EN.sub(" ", _WH_IN_VI.sub(" ", previous))
    text = re.sub(r"\b(?:did|does|do|is|are|was|were)\b", " ", text, flags=re.I)
    return re.sub(r"\s+", " ", text).strip(" ?")


def _standalone(question: str, history: Sequence[tuple[str, str]]) -> str:
    return rewrite(question, history) or question


def rewrite(question: str, history: Sequence[tuple[str, str]]) -> str | None:
    """The standalone form of ``question`` given ``history`` ((user, assistant) turns, oldest
    first), or None when the question stands on its own (or there is no history)."""
    if not history:
        return None
    prev_q, prev_a = history[-1]
    if not (prev_q or "").strip():
        return None
    prev_q = _standalone(prev_q.strip(), history[:-1])
    prev_a = prev_a or ""
    bare = _bare_question(question, prev_q)
    if bare:
        return bare
    for pattern in _ELLIPSIS:
        m = pattern.match(question)
        if m and m.group("x").strip():
            return _substitute(prev_q, m.group("x").strip())
    out = question
    people = _PEOPLE_VI if _PEOPLE_VI.search(question) else _PEOPLE_EN
    if people.search(out):
        known = {_key(w) for w in _words(prev_q)}
        asked = [
            n
            for n in _people(prev_a) + _names(prev_a)
            if not any(_key(w) in known for w in _words(n))
        ]
        names = _people(prev_q) + _names(prev_q)
        # "Trợ lý nào …?" / "Who …?" asked for a person: the pronoun is the one answered.
        names = (asked + names) if _ASKS_WHO.search(prev_q) else (names + asked)
        names = list(dict.fromkeys(names))
        it = iter(names)
        seen: dict[str, str] = {}

        def swap(m: re.Match) -> str:
            word = m.group().lower()
            if word not in seen:
                seen[word] = next(it, m.group())
            return seen[word]

        out = people.sub(swap, out)
    thing = _THING_VI if _THING_VI.search(out) else _THING_EN
    if thing.search(out):
        referent = _asked_object(prev_q, prev_a) or _subject(prev_q)
        if referent:
            out = thing.sub(lambda m: referent, out, count=1)
            out = out[:1].upper() + out[1:]
        else:
            out = f"{out.rstrip()} ({_context(prev_q)})"
    elif out == question and (_DEMONSTRATIVE.search(out) or _REPLY.search(out)):
        out = f"{out.rstrip()} ({_context(prev_q)})"
    return out if out != question else None
