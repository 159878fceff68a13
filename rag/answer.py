"""Hits -> a short extractive Answer in which every sentence carries its [n].

The answer is made of sentences of the retrieved passages, chosen by how much of the question's
information they cover (idf-weighted syllables and syllable bigrams), so nothing is invented and
every sentence can be traced to its passage. When the best sentence covers too little of the
question, the answer says nothing was found instead of citing noise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.lexical import fold_accents, idf_weights, normalize, tokenize
from rag.types import Answer, Citation, Hit

NOT_FOUND = {
    "vi": "Không tìm thấy thông tin trả lời câu hỏi này trong các bài báo đã lưu.",
    "en": "I could not find information that answers this question in the indexed articles.",
}
# Below this share of the question's idf weight covered by the best sentence, abstain.
MIN_COVERAGE = 0.3
MAX_SENTENCES = 2

_VI_LETTERS = re.compile(r"[ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ]")
# Unaccented Vietnamese question words, for questions typed without diacritics.
_VI_FOLDED = frozenset(
    "nhung nao gi bao nhieu khi dau cua la khong ai duoc voi cho ve thi sao ".split()
)
# Interrogatives and function words: they shape a question but never appear in its answer,
# so they do not count toward how much of the question a sentence covers.
QUESTION_WORDS = frozenset(
    "gì nào những các ai đâu bao nhiêu khi sao thế nào là của có không được đã và hay "
    "hoặc thì mà ở tại với cho về này đó kia nhỉ vậy ạ chứ what which who whom whose "
    "when where why how many much is are was were the a an of to in on for and or did "
    "does do that this with by from as at ".split()
)
_SENT_END = re.compile(r"(?<=[.!?…])[\"”’)]*\s+|\n+")


def detect_language(text: str) -> str:
    """'vi' or 'en': Vietnamese letters decide; without them, Vietnamese function words."""
    low = text.lower()
    if _VI_LETTERS.search(low):
        return "vi"
    words = re.findall(r"[a-z]+", fold_accents(low))
    hits = sum(1 for w in words if w in _VI_FOLDED)
    return "vi" if words and hits >= max(2, len(words) // 3) else "en"


@dataclass(frozen=True)
class Sentence:
    hit_index: int
    start: int  # article offsets
    end: int
    text: str
    score: float


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


def score_sentences(question: str, hits: list[Hit], idf: dict[str, float]) -> list[Sentence]:
    q_tokens = [
        t
        for t in dict.fromkeys(tokenize(question))
        if not all(part in QUESTION_WORDS for part in t.split("_"))
    ]
    total = sum(idf.get(t, 0.0) for t in q_tokens) or 1.0
    out = []
    for hi, hit in enumerate(hits):
        chunk = hit.chunk
        for s, e in split_sentences(chunk.text, chunk.start):
            text = chunk.text[s - chunk.start : e - chunk.start]
            toks = set(tokenize(text))
            covered = sum(idf.get(t, 0.0) for t in q_tokens if t in toks)
            # A small prior for the passage's rank breaks ties toward the better passage.
            score = covered / total + 0.02 / (1 + hi)
            out.append(Sentence(hi, s, e, text, score))
    return out


def compose(
    question: str,
    hits: list[Hit],
    idf: dict[str, float],
    *,
    mode: str,
    model: str | None,
    min_coverage: float = MIN_COVERAGE,
) -> Answer:
    lang = detect_language(question)
    if not hits:
        return Answer(question, NOT_FOUND[lang], False, mode=mode, model=model)
    sentences = score_sentences(question, hits, idf)
    if not sentences:
        return Answer(question, NOT_FOUND[lang], False, mode=mode, model=model)
    ranked = sorted(sentences, key=lambda s: (-s.score, s.hit_index, s.start))
    best = ranked[0]
    if best.score < min_coverage:
        return Answer(
            question, NOT_FOUND[lang], False, mode=mode, model=model, confidence=best.score
        )
    chosen = [best]
    seen_text = {normalize(best.text)}
    for s in ranked[1:]:
        if len(chosen) >= MAX_SENTENCES:
            break
        if s.score >= max(min_coverage, 0.8 * best.score) and normalize(s.text) not in seen_text:
            chosen.append(s)
            seen_text.add(normalize(s.text))
    # Keep the reading order of the passages: by hit, then position in the article.
    chosen.sort(key=lambda s: (s.hit_index, s.start))
    numbers: dict[int, int] = {}
    parts = []
    for s in chosen:
        n = numbers.setdefault(s.hit_index, len(numbers) + 1)
        parts.append(f"{s.text} [{n}]")
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
                highlights=tuple((s.start, s.end) for s in chosen if s.hit_index == hit_index),
            )
        )
    return Answer(
        question=question,
        text=" ".join(parts),
        found=True,
        citations=tuple(citations),
        mode=mode,
        model=model,
        confidence=min(1.0, best.score),
    )


def question_idf(index, question: str) -> dict[str, float]:
    return idf_weights(index, tokenize(question))
