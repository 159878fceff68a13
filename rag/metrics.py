"""Evaluation metrics: pure functions over strings, relevance flags and scores. No LLM judge.

Text matching
-------------
``normalize_tokens`` is the one definition of "the same words" for every answer metric and for
the gold-passage rule. It is kept here, apart from the retriever's own normalization in
``rag.tokens``, on purpose: the yardstick must not move when the retriever's tokenizer changes.
It applies NFC, unifies quotes and dashes, lower-cases, puts Vietnamese tone marks in one place
("hoà" = "hòa", "thuý" = "thúy"), joins thousands separators ("1.000" = "1,000" = "1000"), and
keeps words and numbers as tokens (other punctuation, "%" included, separates tokens).
``strip_citations`` removes the "[n]" markers of an answer before it is compared.

Retrieval metrics and the gold-passage rule
-------------------------------------------
A retrieved passage is *relevant* to a question iff its article (or an article whose
near-duplicate passage was collapsed into it) is a gold article AND its text contains one of
the accepted answers after normalization. When no passage of any gold article contains an
accepted answer (a paraphrased answer, or one cut by a chunk boundary), every passage of a gold
article is relevant. ``relevant_flags`` applies the rule; ``n_relevant`` (the number of relevant
passages in the index, for the ideal ranking of nDCG) comes from the caller.

Recall@k is the share of questions with at least one relevant passage in the top k (the usual
"top-k accuracy" of open-domain QA: one relevant passage is enough to answer). MRR@10 is the mean
of 1/rank of the first relevant passage (0 past rank 10). nDCG@10 uses binary gains and an ideal
ranking of min(n_relevant, 10) relevant passages.

Ties: passages with equal scores have no order of their own, so each metric is the expected
value over all orders of tied passages (McSherry & Najork, ECIR 2008); an arbitrary tie-break
in the retriever can neither help nor hurt the figures. Pass ``scores=None`` to use the ranking
as given.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

K_VALUES = (1, 5, 10)
MRR_K = 10
NDCG_K = 10

_QUOTES = str.maketrans(
    {
        "“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'", "‚": "'",
        "–": "-", "—": "-", "‒": "-", "−": "-", "…": "...",
    }
)  # fmt: skip
_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")  # grave, acute, tilde, hook, dot below
# A number with its decimal or thousands separators ("1.000", "3,5") or a run of letters. Dates
# and ranges split ("19/6" -> 19 6, "1185-1226" -> 1185 1226) so that a year is found in a range.
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+|\d+")
_THOUSANDS = re.compile(r"\d{1,3}(?:[.,]\d{3})+")
_CITATION = re.compile(r"\[\d+(?:\s*[,;-]\s*\d+)*\]")


def _canonical_tone(token: str) -> str:
    """Move a syllable's tone mark to its end (decomposed), so that where a writer put the mark
    ("hoà" or "hòa") does not matter; vowel-shape marks (circumflex, breve, horn) stay put."""
    decomposed = unicodedata.normalize("NFD", token)
    tones = [c for c in decomposed if c in _TONE_MARKS]
    if not tones:
        return token
    base = "".join(c for c in decomposed if c not in _TONE_MARKS)
    return unicodedata.normalize("NFC", base + "".join(tones))


def normalize_tokens(text: str) -> list[str]:
    """The comparable tokens of ``text`` (see the module docstring)."""
    text = unicodedata.normalize("NFC", text).translate(_QUOTES).casefold()
    tokens = []
    for tok in _TOKEN.findall(text):
        if tok[0].isdigit():
            if _THOUSANDS.fullmatch(tok):
                tok = tok.replace(".", "").replace(",", "")
            tokens.append(tok)
        else:
            tokens.append(_canonical_tone(tok))
    return tokens


def normalize_text(text: str) -> str:
    """``normalize_tokens`` joined by single spaces."""
    return " ".join(normalize_tokens(text))


def strip_citations(text: str) -> str:
    """Drop "[1]", "[2, 3]" citation markers, which would otherwise split a quoted span."""
    return _CITATION.sub(" ", text)


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    """True iff one of ``answers`` appears in ``text`` as a whole run of tokens after
    normalization ("19/6" is found in "ngày 19/6." but not in "119/6")."""
    haystack = f" {normalize_text(text)} "
    for answer in answers:
        needle = normalize_text(answer)
        if needle and f" {needle} " in haystack:
            return True
    return False


def answer_hit(prediction: str, answers: Sequence[str]) -> bool:
    """An accepted answer appears in the answer text (citation markers ignored)."""
    return contains_answer(strip_citations(prediction), answers)


def token_f1(prediction: str, answers: Sequence[str]) -> float:
    """SQuAD-style token F1 against the best-matching accepted answer (0.0 with no answers)."""
    pred = normalize_tokens(strip_citations(prediction))
    best = 0.0
    for answer in answers:
        gold = normalize_tokens(answer)
        if not gold or not pred:
            continue
        common = sum((Counter(pred) & Counter(gold)).values())
        if common == 0:
            continue
        precision = common / len(pred)
        recall = common / len(gold)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def citation_precision(
    cited: Sequence[tuple[str, str]], answers: Sequence[str], gold_articles: Iterable[str]
) -> float | None:
    """Share of cited passages, given as (article_id, text), that contain an accepted answer or
    belong to a gold article. None when nothing is cited (precision is undefined)."""
    if not cited:
        return None
    gold = set(gold_articles)
    good = sum(
        1 for article_id, text in cited if article_id in gold or contains_answer(text, answers)
    )
    return good / len(cited)


def is_relevant(
    article_ids: Iterable[str],
    text: str,
    answers: Sequence[str],
    gold_articles: Iterable[str],
    *,
    any_gold_passage: bool = False,
) -> bool:
    """The gold-passage rule for one retrieved passage. ``article_ids``: the passage's article
    and those of near-duplicates collapsed into it. ``any_gold_passage``: no passage of a gold
    article contains an answer, so every gold-article passage counts."""
    gold = set(gold_articles)
    if not gold.intersection(article_ids):
        return False
    return any_gold_passage or contains_answer(text, answers)


def _tie_groups(n: int, scores: Sequence[float] | None) -> list[tuple[int, int]]:
    """(start, end) position ranges of hits that share a score, in rank order."""
    if scores is None:
        return [(i, i + 1) for i in range(n)]
    if len(scores) != n:
        raise ValueError("scores and relevance flags differ in length")
    groups = []
    start = 0
    for i in range(1, n + 1):
        if i == n or not math.isclose(scores[i], scores[start], rel_tol=1e-9, abs_tol=1e-12):
            groups.append((start, i))
            start = i
    return groups


def _sorted(relevant: Sequence[bool], scores: Sequence[float] | None):
    """Hits in descending score order (stable), so callers may pass them in any order."""
    if scores is None:
        return list(relevant), None
    if len(scores) != len(relevant):
        raise ValueError("scores and relevance flags differ in length")
    order = sorted(range(len(relevant)), key=lambda i: -scores[i])
    return [bool(relevant[i]) for i in order], [float(scores[i]) for i in order]


def _first_relevant_group(
    relevant: Sequence[bool], k: int, scores: Sequence[float] | None
) -> tuple[int, int, int] | None:
    """(start, end, relevant count) of the first tie group holding a relevant passage, or None
    when there is none before rank k: where recall and reciprocal rank are decided."""
    rel, sc = _sorted(relevant, scores)
    for start, end in _tie_groups(len(rel), sc):
        if start >= k:
            return None
        r = sum(rel[start:end])
        if r:
            return start, end, r
    return None


def recall_at_k(relevant: Sequence[bool], k: int, scores: Sequence[float] | None = None) -> float:
    """Probability that a relevant passage is in the top k (expected over tie orders)."""
    group = _first_relevant_group(relevant, k, scores)
    if group is None:
        return 0.0
    start, end, r = group
    if end <= k:
        return 1.0
    n, m = end - start, k - start  # m: tied passages that make the cut
    return 1.0 - math.comb(n - r, m) / math.comb(n, m)


def reciprocal_rank(
    relevant: Sequence[bool], k: int = MRR_K, scores: Sequence[float] | None = None
) -> float:
    """Expected 1/rank of the first relevant passage within the top k (0 if none)."""
    group = _first_relevant_group(relevant, k, scores)
    if group is None:
        return 0.0
    start, end, r = group
    n = end - start
    total = 0.0
    for j in range(n - r + 1):  # j: tied non-relevant passages ahead of the first relevant
        if start + j >= k:
            break
        p_first = math.comb(n - j - 1, r - 1) / math.comb(n, r)
        total += p_first / (start + j + 1)
    return total


def ndcg_at_k(
    relevant: Sequence[bool],
    n_relevant: int,
    k: int = NDCG_K,
    scores: Sequence[float] | None = None,
) -> float | None:
    """Binary-gain nDCG@k, expected over tie orders. ``n_relevant``: relevant passages in the
    whole index (at least those retrieved are counted). None when there is nothing relevant."""
    rel, sc = _sorted(relevant, scores)
    ideal_n = min(max(n_relevant, sum(rel)), k)
    if ideal_n == 0:
        return None
    dcg = 0.0
    for start, end in _tie_groups(len(rel), sc):
        share = sum(rel[start:end]) / (end - start)  # expected gain at each tied position
        for pos in range(start, min(end, k)):
            dcg += share / math.log2(pos + 2)
    ideal = sum(1.0 / math.log2(pos + 2) for pos in range(ideal_n))
    return dcg / ideal


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100, linear interpolation, as numpy's default); None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = math.floor(pos)
    high = math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the defined values; None when there are none."""
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None
