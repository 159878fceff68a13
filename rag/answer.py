"""Hits -> a short extractive Answer in which every sentence carries its [n].

The answer is made of sentences of the retrieved passages, chosen by how much of the question's
information they cover (idf-weighted syllables and syllable bigrams), so nothing is invented and
every sentence can be traced to its passage. When the best sentence covers too little of the
question, the answer says nothing was found instead of citing noise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from rag.fusion import coverage_terms, sentence_tokens
from rag.query import QUESTION_WORDS, Query, as_query
from rag.sentences import continues, split_sentences
from rag.tokens import FOLD_PREFIX, detect_language, fold_accents, normalize, syllables
from rag.types import Answer, Citation, Hit

NOT_FOUND = {
    "vi": "Không tìm thấy thông tin trả lời câu hỏi này trong các bài báo đã lưu.",
    "en": "I could not find information that answers this question in the indexed articles.",
}
# Below this share of the question's idf weight covered by the best sentence, abstain.
# Calibrated on the tuning half of eval/seeds_qa.jsonl (odd ids): the best hit + abstention.
MIN_COVERAGE = 0.35
# English questions meet Vietnamese passages only through names and numbers (rag.tokens
# EN_OTHER_WEIGHT), so even a right sentence covers less of them: a threshold of their own,
# set between the covers of the answerable and unanswerable English tuning questions.
MIN_COVERAGE_EN = 0.22
MAX_SENTENCES = 2
# List questions may need more sentences to give the whole list.
MAX_SENTENCES_LIST = 3
# Syllable-set Jaccard above which sentences of two articles are the same fact, cited together.
SAME_FACT = 0.6
# With the articles' text at hand, a passage's candidate sentences also include the sentence
# just before its start in its article (the lead of a passage that opens "Cụ thể, …").
SENTENCE_BEFORE = True


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


# Added to the rank (not the score) of the sentences of the first hit when sentences are chosen
# by meaning, in hybrid mode: its retrieval ranks the gold passage first for 0.96 of xquad-vi's
# questions, more often than the best sentence by terms and cosine comes from it. Fitted on the
# xquad-vi, xquad-en-vi and seeds tuning halves together (benchmarks/fit_first_passage.py;
# eval/README.md, "What is fitted", item 11).
TOP_PASSAGE = 0.4


# What each candidate sentence is ranked by when a model's cosines are at hand (the order of
# SentenceRanker's weights): the share of the question's information it covers in syllables,
# in bigrams within a phrase and in bigrams that join a question word to its neighbour; the
# type it asks for held or missing; the event told the other way; focus words and pairs held;
# the cosine, and both it and the coverage against the best candidate's; the passage's rank;
# its place and length; how much it says beyond the question; English questions' own slopes;
# its coverage and score as the rules above give them.
RANK_FEATURES = (
    "unigrams",
    "bigrams",
    "junctions",
    "has_type",
    "missing_type",
    "opposite_voice",
    "focus",
    "no_focus",
    "focus_pairs",
    "cosine",
    "cosine_to_best",
    "coverage_to_best",
    "first_passage",
    "passage_rank",
    "lead",
    "length",
    "new_words",
    "before_passage",
    "english_cosine",
    "english_coverage",
    "cosine_above_floor",
    "coverage",
    "score",
)


@dataclass(frozen=True)
class SentenceRanker:
    """A linear score over the standardized RANK_FEATURES, fitted as a conditional logit (the
    candidates of one question compete for holding its answer) on the tuning halves of
    xquad-vi, xquad-en-vi and the seeds (benchmarks/fit_sentence_ranker.py)."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]

    def score(self, features: Sequence[float]) -> float:
        return sum(
            w * (f - m) / d
            for w, f, m, d in zip(self.weights, features, self.mean, self.scale, strict=True)
        )


# Fitted per model (benchmarks/fit_sentence_ranker.py prints these); eval/README.md, "What is
# fitted", item 12, has the figures. A model not listed quotes further sentences by the score
# rules alone.
# fmt: off
RANKERS: dict[str, SentenceRanker] = {
    "intfloat/multilingual-e5-small": SentenceRanker(
        mean=(
            0.0791, 0.01766, 0.003778, 0.199, 0.1338, 0.0004559, 0.5865, 0.174, 0.5463, 0.7916,
            -0.06206, -0.3711, 0.2032, 0.458, 0.2289, 3.299, 0.8061, 0.01749, 0.3603, 0.02022,
            0.06548, 0.1054, 0.7179,
        ),
        scale=(
            0.126, 0.04502, 0.01943, 0.3992, 0.3404, 0.02135, 0.4282, 0.3791, 0.4703, 0.0465,
            0.0356, 0.3173, 0.4024, 0.2919, 0.4201, 0.5543, 0.105, 0.1311, 0.3784, 0.07333,
            0.04875, 0.1719, 0.5174,
        ),
        weights=(
            -0.2522, 0.3461, 0.0102, 0.3192, -0.3743, -0.04772, 1.298, 0.07006, -0.4389, 0.8912,
            1.164, 0.1541, -0.1207, 0.9624, -0.1076, 0.1618, 0.004058, -0.3618, 0.8895, -0.07247,
            0.7952, 0.2845, -0.7542,
        ),
    ),
}
# fmt: on
# With a ranker, the answer also quotes the best sentence's passage's next-ranked sentence when
# the ranker gives it at least this share of the odds of holding the answer (no new citation).
SECOND_SHARE = 0.1


def ranker_for(model: str | None) -> SentenceRanker | None:
    if model is None:
        return None
    from embeddings.encoder import stands_for

    return RANKERS.get(stands_for(model))


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


# Tense and aspect words between a subject and its verb ("Putin đã tặng", "Kim sẽ được tặng").
_ASPECT = frozenset("đã sẽ đang vừa từng cũng".split())


def _subject_verbs(text: str) -> set[tuple[str, str, bool]]:
    """(subject word, verb, passive) for each word pair "X v" / "X được v" of ``text``, tense
    and aspect words left out."""
    words = [w for w in syllables(normalize(text)) if w not in _ASPECT]
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
    position: int = 0  # its place among the sentences of its passage
    focus: frozenset[str] = frozenset()  # the question's focus words it holds
    features: tuple[float, ...] = ()  # RANK_FEATURES (with a model's cosines only)
    rank: float = 0.0  # SentenceRanker's score, set by compose when the model has one


_NUMBER = re.compile(
    r"\d|\b(một|hai|ba|bốn|năm|sáu|bảy|tám|chín|mười|trăm|nghìn|ngàn|triệu|tỷ|"
    r"one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|billion)\b",
    re.I,
)
_DATE = re.compile(r"\b\d{1,2}[/-]\d{1,2}\b|\b(1[0-9]|20)\d\d\b|\b(ngày|tháng|năm) \d+", re.I)
TYPE_BONUS = 0.15
_DATE_BY_GRAIN = {
    "day": re.compile(r"\b\d{1,2}[/-]\d{1,2}\b|\bngày \d{1,2}\b", re.I),
    "year": re.compile(r"\b(1[0-9]|20)\d\d\b"),
}
_VI_NUMBER_WORDS = frozenset(
    "một hai ba bốn năm sáu bảy tám chín mười mươi trăm nghìn ngàn vạn triệu tỷ tỉ chục "
    "hàng vài mấy nửa".split()
)
NUMBER_WINDOW = 3  # syllables between a number and the thing it counts ("hơn 1.000 lao động")


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


def _has_type(query: Query, text: str) -> bool:
    """``text`` holds what ``query`` asks for (a number, a date of its grain, a place, a
    person)."""
    kind = query.kind
    if kind == "number":
        return bool(_NUMBER.search(text))
    if kind == "date":
        pattern = _DATE_BY_GRAIN.get(query.grain, _DATE)
        return bool(pattern.search(text))
    if kind == "place":
        return bool(_PLACE_STATED.search(text))
    if kind == "person":
        words = text.split()
        # A capitalised word the question does not already name (not the sentence's first).
        return any(w[:1].isupper() and normalize(w) not in query.words for w in words[1:])
    return False


def passage_sentences(
    hits: list[Hit], hi: int, article_text: Callable[[str], str | None] | None = None
) -> list[tuple[int, int, str]]:
    """(start, end, text) of the sentences an answer may quote for ``hits[hi]``, in article
    offsets. Without the article's text: the sentences of the passage as it is. With it
    (``article_text``: article id -> its text): whole sentences of the article, so one that
    straddles the passage's start or end is read whole, and (SENTENCE_BEFORE) the sentence
    just before the passage, unless another retrieved passage of the article holds it. The
    answer cites each of them with this passage, widened to the sentences it quotes
    (``compose``): the passage cited then holds every word the sentence states."""
    chunk = hits[hi].chunk
    text = article_text(chunk.article_id) if article_text is not None else None
    if not text or text[chunk.start : chunk.end] != chunk.text:
        return [
            (s, e, chunk.text[s - chunk.start : e - chunk.start])
            for s, e in split_sentences(chunk.text, chunk.start)
        ]
    # The passage's own sentences (as without the article: a closing quote at its end stays),
    # the first and last widened to the article's sentences they are part of.
    inside = split_sentences(chunk.text, chunk.start)
    spans = split_sentences(text)
    if inside:
        for s, e in spans:
            if s < chunk.start < e:
                inside[0] = (s, max(e, inside[0][1]))
            if s < chunk.end < e:
                inside[-1] = (min(s, inside[-1][0]), e)
    before = [(s, e) for s, e in spans if e <= chunk.start]
    if SENTENCE_BEFORE and before:
        s, e = before[-1]
        held = any(
            h.chunk.article_id == chunk.article_id and h.chunk.start <= s and e <= h.chunk.end
            for j, h in enumerate(hits)
            if j != hi
        )
        if not held:
            inside.insert(0, (s, e))
    return [(s, e, text[s:e]) for s, e in inside]


def score_sentences(
    question: str | Query,
    hits: list[Hit],
    idf: dict[str, float] | Callable,
    known: Callable[[list[str]], set[str]] | None = None,
    cosines: Callable | None = None,
    meaning: Meaning | None = None,
    article_text: Callable[[str], str | None] | None = None,
) -> list[Sentence]:
    query = as_query(question)
    terms = query.terms
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
    kind = query.kind
    counted = query.counted
    if counted is not None and counted != "%" and known is not None and not known([counted]):
        # "bao nhiêu USD" where no article writes "USD": nothing here counts it.
        return []
    grain = _DATE_BY_GRAIN.get(query.grain) if kind == "date" else None
    out = []
    candidates: list[tuple[int, int, int, str, float, int]] = []
    by_part: list[tuple[float, float, float]] = []  # coverage in syllables, bigrams, junctions
    for hi in range(len(hits)):
        for pos, (s, e, text) in enumerate(passage_sentences(hits, hi, article_text)):
            if counted is not None and not states_count(counted, text):
                # "bao nhiêu điều khoản?" is not answered by a sentence with no count of them.
                continue
            if grain is not None and not grain.search(text):
                # Nor "ngày nào?" by a sentence that names no day, however well it covers
                # the rest of the question.
                continue
            toks = sentence_tokens(text, folded)
            toks = toks[0] if len(toks) == 1 else set().union(*toks)
            parts = [0.0, 0.0, 0.0]
            for t, v in shares.items():
                if t in toks:
                    parts[_term_part(t)] += v
            covered = sum(parts)
            by_part.append((parts[0], parts[1], parts[2]))
            bonus = TYPE_BONUS if kind != "other" and _has_type(query, text) else 0.0
            # A small prior for the passage's rank breaks ties toward the better passage.
            score = covered + bonus * covered + 0.02 / (1 + hi)
            candidates.append((hi, s, e, text, score, pos))
    sims = None
    if cosines is not None and meaning is not None and candidates:
        sims = cosines([c[3] for c in candidates])
    lang = query.lang
    focus = query.focus
    pairs = query.focus_pairs
    asked = set(syllables(normalize(query.text)))
    named: list[dict[str, float]] = []  # RANK_FEATURES by name, with a model's cosines
    for i, (hi, s, e, text, score, pos) in enumerate(candidates):
        factor = 1.0
        held: frozenset[str] = frozenset()
        typed = kind in ("place", "person", "number", "date")
        has_type = typed and _has_type(query, text)
        if typed and not has_type:
            factor *= MISSING_TYPE  # "ở đâu?" is not answered by a sentence with no place
        opposite = opposite_voice(query.text, text)
        if opposite:
            factor *= OPPOSITE_VOICE
        words = set(syllables(normalize(text)))
        focus_held = pairs_held = 0
        if focus:
            held = focus & (words | {fold_accents(w) for w in words})  # unaccented questions
            focus_held = len(held)
            if not held:
                factor *= MISSING_FOCUS
            if pairs:
                joined = " ".join(syllables(normalize(text)))
                found = {p for p in pairs if f" {p} " in f" {joined} "}
                pairs_held = len(found)
                held = held | found
        coverage = score * factor
        cosine = float(sims[i]) if sims is not None else 0.0
        if sims is not None:
            score = coverage + meaning.bonus(cosine, lang) * factor
            english = float(lang == "en")
            named.append(
                {
                    "unigrams": by_part[i][0],
                    "bigrams": by_part[i][1],
                    "junctions": by_part[i][2],
                    "has_type": float(has_type),
                    "missing_type": float(typed and not has_type),
                    "opposite_voice": float(opposite),
                    "focus": focus_held / len(focus) if focus else 1.0,
                    "no_focus": float(bool(focus) and not focus_held),
                    "focus_pairs": pairs_held / len(pairs) if pairs else 1.0,
                    "cosine": cosine,
                    "first_passage": float(hi == 0),
                    "passage_rank": 1 / (1 + hi),
                    "lead": float(pos == 0),
                    "length": math.log(len(words) + 1),
                    "new_words": len(words - asked - QUESTION_WORDS) / max(1, len(words)),
                    "before_passage": float(s < hits[hi].chunk.start),
                    "english_cosine": english * cosine,
                    "english_coverage": english * coverage,
                    "cosine_above_floor": max(
                        0.0, cosine - (meaning.floor_en if lang == "en" else meaning.floor)
                    ),
                    "coverage": coverage,
                    "score": score,
                }
            )
        else:
            score = coverage
        out.append(Sentence(hi, s, e, text, score, coverage, cosine * factor, pos, held))
    if named:
        # Against the best candidate's, once all are scored.
        top_cosine = max(f["cosine"] for f in named)
        top_coverage = max(f["coverage"] for f in named)
        for f in named:
            f["cosine_to_best"] = f["cosine"] - top_cosine
            f["coverage_to_best"] = f["coverage"] - top_coverage
        out = [
            replace(s, features=tuple(f[name] for name in RANK_FEATURES))
            for s, f in zip(out, named, strict=True)
        ]
    return out


def _term_part(term: str) -> int:
    """0 for a syllable, 1 for a bigram within a phrase, 2 for a bigram that joins a question
    word to its neighbour ("lược_đã", "năm_nào"): its idf says little about the answer."""
    parts = term.removeprefix(FOLD_PREFIX).split("_")
    if len(parts) == 1:
        return 0
    return 2 if any(p in QUESTION_WORDS for p in parts) else 1


def _memo(article_text: Callable[[str], str | None]) -> Callable[[str], str | None]:
    """``article_text`` read once per article for one answer."""
    seen: dict[str, str | None] = {}

    def read(article_id: str) -> str | None:
        if article_id not in seen:
            seen[article_id] = article_text(article_id)
        return seen[article_id]

    return read


def _same_place(a: Sentence, b: Sentence) -> bool:
    return a.hit_index == b.hit_index and a.start == b.start


def _same_fact(a: str, b: str) -> bool:
    """Two sentences that report the same fact in (nearly) the same words, and with the same
    numbers: "đạt 34 triệu USD" and "đạt 43 triệu USD" are two claims, each cited on its own."""
    sa, sb = set(syllables(a)), set(syllables(b))
    if not (sa and sb) or len(sa & sb) / len(sa | sb) < SAME_FACT:
        return False
    return {t for t in sa if any(c.isdigit() for c in t)} == {
        t for t in sb if any(c.isdigit() for c in t)
    }


def _next_in_article(a: Sentence, b: Sentence, hits: list[Hit]) -> bool:
    """``b`` is the sentence right after ``a`` in their article (in one passage or two)."""
    same = hits[a.hit_index].chunk.article_id == hits[b.hit_index].chunk.article_id
    return same and 0 < b.start - a.end <= 3  # a space, a line break, a closing quote


def _reading_order(chosen: list[Sentence], hits: list[Hit]) -> list[int]:
    """The order in which the answer quotes ``chosen`` (the best sentence first in the list):
    sentences that follow one another in an article stay together in reading order, so a
    continuation ("Cụ thể, …") never comes before the sentence it continues; the run that
    holds the best sentence comes first, the others in the order of their passages; the best
    sentence opens its run unless it continues the sentence before it."""
    by_place = sorted(range(len(chosen)), key=lambda i: (chosen[i].hit_index, chosen[i].start))
    after: dict[int, int] = {}
    for i in by_place:
        for j in by_place:
            if (
                j not in after
                and i not in after.values()
                and _next_in_article(chosen[j], chosen[i], hits)
            ):
                after[j] = i
                break
    # The best sentence leads unless it continues the one before it ("Cụ thể, …").
    lead = next((j for j, i in after.items() if i == 0), None)
    if lead is not None and not continues(chosen[0].text):
        del after[lead]
    runs = []
    for i in by_place:
        if i in after.values():
            continue  # inside the run of the sentence it follows
        run = [i]
        while run[-1] in after:
            run.append(after[run[-1]])
        runs.append(run)
    runs.sort(key=lambda run: 0 not in run)  # stable: the others keep their passage order
    return [i for run in runs for i in run]


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
    question: str | Query,
    hits: list[Hit],
    idf: dict[str, float] | Callable,
    *,
    mode: str,
    model: str | None,
    min_coverage: float | None = None,
    titles: dict[str, str] | None = None,
    known: Callable[[list[str]], set[str]] | None = None,
    cosines: Callable | None = None,
    article_text: Callable[[str], str | None] | None = None,
) -> Answer:
    """The answer to ``question`` from ``hits``. ``idf``: a dict of term weights, or a function
    from terms to such a dict (Retriever.idf); ``titles``: article id -> title, for the
    "also reported by" line of hits that absorbed near-duplicates; ``known``: which of some
    terms the index holds at all (Retriever.known): "bao nhiêu USD" where no article writes
    "USD" has no answer here; ``cosines``: sentences -> their cosine with the question
    (rag.similarity), used for the models MEANING was fitted for; ``article_text``: article id
    -> the article's text (or None), for whole sentences at a passage's edges and the sentence
    before it (``passage_sentences``)."""
    query = as_query(question)
    if article_text is not None:
        article_text = _memo(article_text)
    question = query.text
    lang = query.lang
    meaning = meaning_for(model) if cosines is not None else None
    if min_coverage is None:
        min_coverage = MIN_COVERAGE_EN if lang == "en" else MIN_COVERAGE
    if not hits:
        return Answer(question, NOT_FOUND[lang], False, mode=mode, model=model)
    sentences = score_sentences(query, hits, idf, known, cosines, meaning, article_text)
    order_key = lambda s: (-s.score, s.hit_index, s.start)  # noqa: E731
    # The fitted odds of holding the answer (hybrid retrieval's candidates, which it was
    # fitted on): whether a sentence beside the best one is worth quoting.
    ranker = ranker_for(model) if meaning is not None and mode == "hybrid" else None
    share: dict[tuple[int, int], float] = {}
    if ranker is not None and sentences:
        sentences = [replace(s, rank=ranker.score(s.features)) for s in sentences]
        top = max(s.rank for s in sentences)
        odds = sum(math.exp(s.rank - top) for s in sentences)
        share = {(s.hit_index, s.start): math.exp(s.rank - top) / odds for s in sentences}
    # Sentences by meaning rank hybrid retrieval's first passage ahead (TOP_PASSAGE); the
    # thresholds below read the scores without it.
    prior = TOP_PASSAGE if meaning is not None and mode == "hybrid" else 0.0
    ranked = sorted(
        sentences, key=lambda s: (-(s.score + prior * (s.hit_index == 0)), s.hit_index, s.start)
    )
    # A question of two questions ("... đã tới Moskva chưa, và ông Putin mong gì?"): the best
    # sentence for each part, so that one answer does not crowd out the other.
    part_bests = []
    if query.parts:
        for part in query.parts:
            # Each part by its terms: the question's vector is the whole question's.
            scored = score_sentences(part, hits, idf, known, article_text=article_text)
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
    kind = query.kind
    typed = kind not in ("other", "list", "multi")
    limit = MAX_SENTENCES_LIST if kind == "list" else MAX_SENTENCES
    limit = max(limit, len(part_bests))

    def sure_alone(s: Sentence) -> bool:
        # A sentence the answer would quote on its own: by its terms or by its meaning.
        return s.coverage >= min_coverage or (meaning is not None and meaning.sure(s.cosine, lang))

    by_place = {(s.hit_index, s.position): s for s in sentences}

    def continuation(s: Sentence) -> Sentence | None:
        # The next sentence of the passage when it continues ``s`` ("Cụ thể, …") and would be
        # quoted on its own.
        nxt = by_place.get((s.hit_index, s.position + 1))
        if nxt is not None and continues(nxt.text) and sure_alone(nxt):
            return nxt
        return None

    # The best sentence's continuation ("Trước đó, …") holds every focus word and pair it
    # holds, and more: the continuation answers; the best sentence was its context.
    nxt = next((s for s in sentences if _next_in_article(best, s, hits)), None)
    if nxt is not None and continues(nxt.text) and sure_alone(nxt) and best.focus < nxt.focus:
        best = nxt
    chosen = [best]
    # The same fact reported by other articles: cited with the sentence, not repeated.
    also_cited: dict[int, list[Sentence]] = {0: []}
    for s in part_bests:
        if not any(_same_place(c, s) or _same_fact(c.text, s.text) for c in chosen):
            also_cited[len(chosen)] = []
            chosen.append(s)
    # A chosen sentence's continuation ("Cụ thể, năm 2023, kim ngạch … tăng 9 lần") comes with
    # it: the figures of the claim just quoted.
    for c in list(chosen):
        nxt = continuation(c)
        if (
            nxt is not None
            and len(chosen) < limit
            and not any(_same_place(x, nxt) or _same_fact(x.text, nxt.text) for x in chosen)
        ):
            also_cited[len(chosen)] = []
            chosen.append(nxt)

    def adds_to_answer(s: Sentence) -> bool:
        # The rules of any sentence beside the best: what a typed question asks for ("ở đâu?"
        # answered by a place: a sentence that names none adds nothing), a tenth of the fitted
        # odds where there are some, and more of a list tells the same event (a sentence that
        # misses a word or pair of the question the best sentence holds is off it: "hiệp ước
        # là văn kiện đột phá" beside "… văn kiện mới sẽ thay thế …"; only for lists: on
        # XQuAD, the second sentence of other questions often holds the answer in other words).
        if typed and not _has_type(query, s.text):
            return False
        if share and share[(s.hit_index, s.start)] < SECOND_SHARE:
            return False
        return not (kind == "list" and not best.focus <= s.focus)

    for s in ranked:
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
            if not sure_alone(s):
                # Near the best by its cosine alone: the model finds most sentences of an
                # article on its topic; one the answer would not quote alone adds nothing.
                continue
            if not adds_to_answer(s):
                continue
            also_cited[len(chosen)] = []
            chosen.append(s)
    if ranker is not None and len(chosen) < limit:
        # The ranker torn between two sentences of the best one's passage: quote both (the
        # passage is cited already).
        second = max(
            (s for s in sentences if s.hit_index == best.hit_index and not _same_place(s, best)),
            key=lambda s: s.rank,
            default=None,
        )
        if (
            second is not None
            and adds_to_answer(second)
            and not any(_same_place(c, second) or _same_fact(c.text, second.text) for c in chosen)
        ):
            also_cited[len(chosen)] = []
            chosen.append(second)
    order = _reading_order(chosen, hits)
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
        marked = highlights[hit_index]
        start = min(c.start, *(s for s, _ in marked))
        end = max(c.end, *(e for _, e in marked))
        # A sentence read from the article beyond the passage's edge: the passage cited is
        # widened to hold it, so every citation holds what its sentence states.
        text = c.text
        if (start, end) != (c.start, c.end) and article_text is not None:
            text = article_text(c.article_id)[start:end]
        citations.append(
            Citation(
                n=n,
                article_id=c.article_id,
                title=c.title,
                source=hit.source,
                text=text,
                start=start,
                end=end,
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
