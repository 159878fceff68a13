"""Hits -> a short extractive Answer in which every sentence carries its [n].

The answer is made of sentences of the retrieved passages, chosen by how much of the question's
information they cover (idf-weighted syllables and syllable bigrams), so nothing is invented and
every sentence can be traced to its passage. When the best sentence covers too little of the
question, the answer says nothing was found instead of citing noise.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rag.lexical import (
    detect_language,
    fold_accents,
    normalize,
    query_terms,
    syllables,
)
from rag.types import Answer, Citation, Hit

NOT_FOUND = {
    "vi": "Không tìm thấy thông tin trả lời câu hỏi này trong các bài báo đã lưu.",
    "en": "I could not find information that answers this question in the indexed articles.",
}
# Below this share of the question's idf weight covered by the best sentence, abstain.
# Calibrated on the tuning half of eval/seeds_qa.jsonl (odd ids): the best hit + abstention.
MIN_COVERAGE = 0.35
# English questions meet Vietnamese passages only through names and numbers (rag.lexical
# EN_OTHER_WEIGHT), so even a right sentence covers less of them: a threshold of their own,
# set between the covers of the answerable and unanswerable English tuning questions.
MIN_COVERAGE_EN = 0.22
MAX_SENTENCES = 2
# List questions may need more sentences to give the whole list.
MAX_SENTENCES_LIST = 3
# Syllable-set Jaccard above which sentences of two articles are the same fact, cited together.
SAME_FACT = 0.6

# Interrogatives and function words: they shape a question but never appear in its answer,
# so they do not count toward how much of the question a sentence covers.
QUESTION_WORDS = frozenset(
    "gì nào những các ai đâu bao nhiêu khi sao thế nào là của có không được đã và hay "
    "hoặc thì mà ở tại với cho về này đó kia nhỉ vậy ạ chứ what which who whom whose "
    "when where why how many much is are was were the a an of to in on for and or did "
    "does do that this with by from as at ".split()
)
_SENT_END = re.compile(r"(?<=[.!?…])[\"”’)]*\s+|\n+")


@dataclass(frozen=True)
class Meaning:
    """How a model's cosine between the question and a sentence adds to the sentence's term
    coverage when sentences are ranked: ``weight`` * (cosine - floor) / (1 - floor) above the
    floor (English questions over Vietnamese sentences reach lower cosines: a floor of their
    own). The answer abstains unless its best sentence covers the question's terms as before
    (MIN_COVERAGE) or reaches ``confident`` cosine (``confident_en`` for English)."""

    weight: float
    floor: float
    floor_en: float
    confident: float
    confident_en: float

    def sure(self, cosine: float, lang: str) -> bool:
        return cosine >= (self.confident_en if lang == "en" else self.confident)

    def bonus(self, cosine: float, lang: str) -> float:
        floor = self.floor_en if lang == "en" else self.floor
        return self.weight * max(0.0, cosine - floor) / (1 - floor)


# Fitted per model on the tuning half of eval/seeds_qa.jsonl (eval/README.md has the figures
# and the command); a model not listed is not used for sentences (the tiny test models, the
# English MiniLM, whose cosines on Vietnamese mean little).
MEANING: dict[str, Meaning] = {
    "intfloat/multilingual-e5-small": Meaning(3.0, 0.8, 0.65, 0.95, 0.8),
}


def meaning_for(model: str | None) -> Meaning | None:
    if model is None:
        return None
    from embeddings.encoder import stands_for

    return MEANING.get(stands_for(model))


# The same subject, then the verb in the passive voice ("Putin được tặng": received) or not.
OPPOSITE_VOICE = 0.5  # what is left of a sentence's score when it tells the event the other way
# ... and of a sentence with none of the question's own words (its verbs and common nouns: the
# names around them are context): "Putin và Kim ký hiệp ước" does not say what Putin gave Kim.
MISSING_FOCUS = 0.6
MISSING_TYPE = 0.6  # ... and of one without what a typed question asks for (a place, a date)


_TITLES = frozenset(
    "tổng thống|chủ tịch|thủ tướng|bộ trưởng|ngoại trưởng|thứ trưởng|tổng thư|bí thư|trợ lý|"
    "giám đốc|phát ngôn|đại sứ|tướng quân".split("|")
)


def focus_words(question: str) -> set[str]:
    """The question's words written in lower case that are not question or function words nor
    the rest of a title ("Tổng thống"): "tặng", "món", "quà" of "Tổng thống Putin tặng Chủ
    tịch Kim Jong Un món quà gì?"."""
    words = re.findall(r"[^\W\d_]+", question)
    skip = QUESTION_WORDS | {fold_accents(w) for w in QUESTION_WORDS}
    out = set()
    for i, w in enumerate(words):
        low = normalize(w)
        if i == 0 or not w.islower() or low in skip or len(w) < 2:
            continue
        if not words[i - 1].islower() and f"{normalize(words[i - 1])} {low}" in _TITLES:
            continue
        out.add(low)
    return out


def _subject_verbs(text: str) -> set[tuple[str, str, bool]]:
    """(subject word, verb, passive) for each word pair "X v" / "X được v" of ``text``."""
    words = syllables(normalize(text))
    out = set()
    for i in range(len(words) - 1):
        if words[i + 1] in ("được", "bị") and i + 2 < len(words):
            out.add((words[i], words[i + 2], True))
        elif words[i] not in ("được", "bị"):
            out.add((words[i], words[i + 1], False))
    return out


def opposite_voice(question: str, sentence: str) -> bool:
    """Whether ``sentence`` tells the question's event the other way round: "Putin tặng Kim
    món quà gì?" (what Putin gave) against "… Putin được tặng gì" (what Putin received): the
    same subject before the same verb, active in one and passive in the other."""
    if "được" not in (question + sentence).lower() and "bị" not in (question + sentence).lower():
        return False
    asked = _subject_verbs(question)
    told = _subject_verbs(sentence)
    return any(
        (subj, verb, not passive) in told for subj, verb, passive in asked if passive
    ) or any((subj, verb, True) in told for subj, verb, passive in asked if not passive)


@dataclass(frozen=True)
class Sentence:
    hit_index: int
    start: int  # article offsets
    end: int
    text: str
    score: float
    coverage: float = 0.0  # the score from the question's terms alone
    cosine: float = 0.0  # with the question, by the model (0 without one)


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


# The kind of answer a question asks for, from its interrogative (general Vietnamese and
# English grammar, not the evaluation questions): a sentence that holds such a thing scores more.
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
_NUMBER = re.compile(
    r"\d|\b(một|hai|ba|bốn|năm|sáu|bảy|tám|chín|mười|trăm|nghìn|ngàn|triệu|tỷ|"
    r"one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|billion)\b",
    re.I,
)
_DATE = re.compile(r"\b\d{1,2}[/-]\d{1,2}\b|\b(1[0-9]|20)\d\d\b|\b(ngày|tháng|năm) \d+", re.I)
TYPE_BONUS = 0.15
# What a date question asks for: "ngày nào" a day, "năm nào" a year; "khi nào" any date.
_DATE_GRAIN = (
    ("day", re.compile(r"\bngày nào\b|\bngày bao nhiêu\b|\b(what|which) (date|day)\b", re.I)),
    ("year", re.compile(r"\bnăm nào\b|\bnăm bao nhiêu\b|\b(what|which) year\b", re.I)),
)
_DATE_BY_GRAIN = {
    "day": re.compile(r"\b\d{1,2}[/-]\d{1,2}\b|\bngày \d{1,2}\b", re.I),
    "year": re.compile(r"\b(1[0-9]|20)\d\d\b"),
}
# "bao nhiêu X" / "mấy X": the thing counted, which the answer writes after its number
# ("24 năm", "hơn 1.000 lao động"); "phần trăm" is written "%".
_COUNTED = re.compile(r"\b(?:bao nhiêu|mấy)\s+([^\W\d_]+)(?:\s+([^\W\d_]+))?", re.I)
_VI_NUMBER_WORDS = frozenset(
    "một hai ba bốn năm sáu bảy tám chín mười mươi trăm nghìn ngàn vạn triệu tỷ tỉ chục "
    "hàng vài mấy nửa".split()
)
# Words that follow "bao nhiêu" without being what it counts ("ăn bao nhiêu trong một ngày").
_NOT_COUNTED = frozenset("trong trên dưới ngoài từ tới đến vào ra khi để thì mà so".split())
NUMBER_WINDOW = 3  # syllables between a number and the thing it counts ("hơn 1.000 lao động")


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


def _is_number(token: str) -> bool:
    return token[0].isdigit() or token in _VI_NUMBER_WORDS


def states_count(noun: str, text: str) -> bool:
    """``text`` can answer "bao nhiêu <noun>": where it names the noun, a number stands within
    NUMBER_WINDOW syllables of it ("24 năm", "ở tuổi 39", "giải Grammy sáu lần"); where it does
    not name it (the answer may say it otherwise), it holds a number at all."""
    toks = syllables(text)
    if noun == "%":
        return any(t.endswith("%") for t in toks) or "phần trăm" in normalize(text)
    at = [j for j, t in enumerate(toks) if t == noun]
    if not at:
        return any(_is_number(t) for t in toks)
    return any(
        _is_number(toks[i])
        for j in at
        for i in range(max(0, j - NUMBER_WINDOW), min(len(toks), j + NUMBER_WINDOW + 1))
        if i != j
    )


# A place as a sentence states it: a name after a locative ("tại Bình Nhưỡng", "ở thủ đô Hà Nội").
_PLACE_STATED = re.compile(
    r"\b(?:tại|ở|đến|tới|in|at)\s+(?:(?:thủ đô|thành phố|tỉnh|vùng)\s+)?[A-ZÀ-ỸĐ]"
)


def _has_type(kind: str, text: str, question: str) -> bool:
    if kind == "number":
        return bool(_NUMBER.search(text))
    if kind == "date":
        pattern = _DATE_BY_GRAIN.get(date_grain(question), _DATE)
        return bool(pattern.search(text))
    if kind == "place":
        return bool(_PLACE_STATED.search(text))
    if kind == "person":
        q = {normalize(w) for w in question.split()}
        words = text.split()
        # A capitalised word the question does not already name (not the sentence's first).
        return any(w[:1].isupper() and normalize(w) not in q for w in words[1:])
    return False


def score_sentences(
    question: str,
    hits: list[Hit],
    idf: dict[str, float] | Callable,
    known: Callable[[list[str]], set[str]] | None = None,
    cosines: Callable | None = None,
    meaning: Meaning | None = None,
) -> list[Sentence]:
    from rag.fusion import coverage_terms, sentence_tokens

    terms = query_terms(question)
    weights = idf(list(terms)) if callable(idf) else idf
    shares = coverage_terms(terms, weights)
    folded = any(t.startswith("~") for t in shares)
    if folded and known is not None:
        # A question typed without diacritics: its words as typed ("hiep", "van") are in no
        # article; only their folded forms can be covered, so only those count.
        plain = [t for t in shares if not t.startswith("~")]
        indexed = known(plain)
        kept = {t: v for t, v in shares.items() if t.startswith("~") or t in indexed}
        total = sum(kept.values())
        shares = {t: v / total for t, v in kept.items()} if total > 0 else shares
    kind = question_type(question)
    counted = counted_noun(question) if kind == "number" else None
    if counted is not None and counted != "%" and known is not None and not known([counted]):
        # "bao nhiêu USD" where no article writes "USD": nothing here counts it.
        return []
    grain = _DATE_BY_GRAIN.get(date_grain(question)) if kind == "date" else None
    out = []
    candidates: list[tuple[int, int, int, str, float]] = []
    for hi, hit in enumerate(hits):
        chunk = hit.chunk
        for s, e in split_sentences(chunk.text, chunk.start):
            text = chunk.text[s - chunk.start : e - chunk.start]
            if counted is not None and not states_count(counted, text):
                # "bao nhiêu điều khoản?" is not answered by a sentence with no count of them.
                continue
            if grain is not None and not grain.search(text):
                # Nor "ngày nào?" by a sentence that names no day, however well it covers
                # the rest of the question.
                continue
            toks = sentence_tokens(text, folded)
            toks = toks[0] if len(toks) == 1 else set().union(*toks)
            covered = sum(v for t, v in shares.items() if t in toks)
            bonus = TYPE_BONUS if kind != "other" and _has_type(kind, text, question) else 0.0
            # A small prior for the passage's rank breaks ties toward the better passage.
            score = covered + bonus * covered + 0.02 / (1 + hi)
            candidates.append((hi, s, e, text, score))
    sims = None
    if cosines is not None and meaning is not None and candidates:
        sims = cosines([c[3] for c in candidates])
    lang = detect_language(question)
    focus = focus_words(question) if lang == "vi" else set()
    for i, (hi, s, e, text, score) in enumerate(candidates):
        factor = 1.0
        if kind in ("place", "person", "number", "date") and not _has_type(kind, text, question):
            factor *= MISSING_TYPE  # "ở đâu?" is not answered by a sentence with no place
        if opposite_voice(question, text):
            factor *= OPPOSITE_VOICE
        if focus:
            words = set(syllables(normalize(text)))
            if not focus & (words | {fold_accents(w) for w in words}):  # unaccented questions
                factor *= MISSING_FOCUS
        coverage = score * factor
        cosine = float(sims[i]) if sims is not None else 0.0
        if sims is not None:
            score = coverage + meaning.bonus(cosine, lang) * factor
        else:
            score = coverage
        out.append(Sentence(hi, s, e, text, score, coverage, cosine * factor))
    return out


# Where a question of two questions divides: "và", ";", "còn", "and", when both sides ask.
_PART_SPLIT = re.compile(r"\s*[,;]?\s+(?:và|còn|and)\s+|\s*;\s*", re.I)
_ASKS = re.compile(
    r"\b(gì|nào|ai|đâu|sao|bao nhiêu|mấy|bao giờ|what|which|who|whom|when|where|why|how)\b"
    r"|\b(chưa|không)\s*$",
    re.I,
)


def split_question(question: str) -> list[str]:
    """The questions a compound question asks, or [question] when it asks one. Splits only
    where both sides hold an interrogative, so "Putin và Kim đã ký gì?" stays whole."""
    text = question.strip().rstrip("?").strip()
    for m in _PART_SPLIT.finditer(text):
        left, right = text[: m.start()].strip(" ,"), text[m.end() :].strip(" ,")
        if _ASKS.search(left) and _ASKS.search(right):
            return [left + "?", *split_question(right + "?")]
    return [question]


def _same_place(a: Sentence, b: Sentence) -> bool:
    return a.hit_index == b.hit_index and a.start == b.start


def _same_fact(a: str, b: str) -> bool:
    """Two sentences that report the same fact in (nearly) the same words."""
    sa, sb = set(syllables(a)), set(syllables(b))
    return bool(sa and sb) and len(sa & sb) / len(sa | sb) >= SAME_FACT


_BRACKETED_NUMBER = re.compile(r"\[(\d+)\]")


def quote_sentence(text: str) -> str:
    """A sentence as the answer quotes it. An article's own "[3]" (a footnote, a reference)
    becomes "(3)": in an answer, "[n]" means only "see citation n"."""
    return _BRACKETED_NUMBER.sub(r"(\1)", text)


# An English question answered with Vietnamese sentences: said so, in English, before them.
FROM_VIETNAMESE = "From the Vietnamese articles (quoted in Vietnamese):"


def _introduced(text: str, lang: str) -> str:
    if lang == "en" and detect_language(text) == "vi":
        return f"{FROM_VIETNAMESE} {text}"
    return text


def compose(
    question: str,
    hits: list[Hit],
    idf: dict[str, float] | Callable,
    *,
    mode: str,
    model: str | None,
    min_coverage: float | None = None,
    titles: dict[str, str] | None = None,
    known: Callable[[list[str]], set[str]] | None = None,
    cosines: Callable | None = None,
) -> Answer:
    """The answer to ``question`` from ``hits``. ``idf``: a dict of term weights, or a function
    from terms to such a dict (Retriever.idf); ``titles``: article id -> title, for the
    "also reported by" line of hits that absorbed near-duplicates; ``known``: which of some
    terms the index holds at all (Retriever.known): "bao nhiêu USD" where no article writes
    "USD" has no answer here; ``cosines``: sentences -> their cosine with the question
    (rag.similarity), used for the models MEANING was fitted for."""
    lang = detect_language(question)
    meaning = meaning_for(model) if cosines is not None else None
    if min_coverage is None:
        min_coverage = MIN_COVERAGE_EN if lang == "en" else MIN_COVERAGE
    if not hits:
        return Answer(question, NOT_FOUND[lang], False, mode=mode, model=model)
    sentences = score_sentences(question, hits, idf, known, cosines, meaning)
    order_key = lambda s: (-s.score, s.hit_index, s.start)  # noqa: E731
    ranked = sorted(sentences, key=order_key)
    # A question of two questions ("... đã tới Moskva chưa, và ông Putin mong gì?"): the best
    # sentence for each part, so that one answer does not crowd out the other.
    parts = split_question(question)
    part_bests = []
    if len(parts) > 1:
        for part in parts:
            # Each part by its terms: the question's vector is the whole question's.
            scored = score_sentences(part, hits, idf, known)
            if scored:
                top = min(scored, key=order_key)
                if top.score >= min_coverage:
                    part_bests.append(top)
    if not ranked and not part_bests:
        return Answer(question, NOT_FOUND[lang], False, mode=mode, model=model)
    best = ranked[0] if ranked else part_bests[0]
    sure = best.coverage >= min_coverage or (
        meaning is not None and meaning.sure(best.cosine, lang)
    )
    if not sure:
        if not part_bests:
            return Answer(
                question,
                NOT_FOUND[lang],
                False,
                mode=mode,
                model=model,
                confidence=min(1.0, best.score),
            )
        best = part_bests[0]
    kind = question_type(question)
    typed = kind not in ("other", "list", "multi")
    limit = MAX_SENTENCES_LIST if kind == "list" else MAX_SENTENCES
    limit = max(limit, len(part_bests))
    chosen = [best]
    # The same fact reported by other articles: cited with the sentence, not repeated.
    also_cited: dict[int, list[Sentence]] = {0: []}
    for s in part_bests:
        if not any(_same_place(c, s) or _same_fact(c.text, s.text) for c in chosen):
            also_cited[len(chosen)] = []
            chosen.append(s)
    for s in ranked[1:]:
        if any(_same_place(c, s) for c in chosen):
            continue
        owner = next(
            (i for i, c in enumerate(chosen) if _same_fact(c.text, s.text)),
            None,
        )
        if owner is not None:
            if s.hit_index != chosen[owner].hit_index and s.score >= min_coverage:
                also_cited[owner].append(s)
            continue
        if len(chosen) < limit and s.score >= max(min_coverage, 0.8 * best.score):
            if typed and not _has_type(kind, s.text, question):
                # "ở đâu?" answered by a place: a second sentence that names none adds nothing.
                continue
            also_cited[len(chosen)] = []
            chosen.append(s)
    # Keep the reading order of the passages: by hit, then position in the article.
    order = sorted(range(len(chosen)), key=lambda i: (chosen[i].hit_index, chosen[i].start))
    numbers: dict[int, int] = {}
    highlights: dict[int, list[tuple[int, int]]] = {}
    parts = []
    for i in order:
        cited = [chosen[i], *also_cited[i]]
        marks = []
        for c in cited:
            n = numbers.setdefault(c.hit_index, len(numbers) + 1)
            highlights.setdefault(c.hit_index, []).append((c.start, c.end))
            if n not in marks:
                marks.append(n)
        quoted = quote_sentence(chosen[i].text)
        parts.append(quoted + " " + "".join(f"[{n}]" for n in sorted(marks)))
    titles = titles or {}
    citations = []
    for hit_index, n in numbers.items():
        hit = hits[hit_index]
        c = hit.chunk
        citations.append(
            Citation(
                n=n,
                article_id=c.article_id,
                title=c.title,
                source=hit.source,
                text=c.text,
                start=c.start,
                end=c.end,
                score=hit.score,
                date=hit.date,
                meta=hit.meta,
                highlights=tuple(highlights[hit_index]),
                also_reported_by=tuple(titles.get(a, a) for a in hit.also),
            )
        )
    return Answer(
        question=question,
        text=_introduced(" ".join(parts), lang),
        found=True,
        citations=tuple(citations),
        mode=mode,
        model=model,
        confidence=min(1.0, best.score),
    )
