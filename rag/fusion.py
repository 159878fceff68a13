"""Fusion: one learned linear score over a query's candidate passages.

Each candidate (the union of the lexical top RERANK_DEPTH and, in hybrid mode, the dense top
DENSE_DEPTH) gets three features:

- ``lexical``: its BM25 score divided by the best candidate's (so 1.0 for the BM25 winner);
- ``sentence``: the share of the question's information (idf-weighted question terms, question
  words left out) that its best single sentence covers: a proximity signal BM25 lacks, and the
  one that tells apart two passages of the same story;
- ``dense``: the cosine similarity of the query and passage vectors (hybrid only).

Then, in hybrid mode with a model that has a weight for it, the RESCORE_DEPTH best candidates
get a fourth, ``sentence_cosine``: the best cosine of the question's vector with one sentence of
the passage (rag.similarity, sentence vectors cached by text). A question asks about one
sentence, which the passage's vector averages away: on the xquad-en-vi tuning half this
sentence-level score alone ranks the gold passage first for 0.727 of the questions, the passage
vector for 0.625. The first stage's ten best are rescored: as well as rescoring every candidate
on the tuning halves, and cheap where the ingest stored the sentence vectors (a lookup each;
rag.store.sentence_vectors). Depth 10 against 5, summed tuning MRR@10 of the three sets: 2.722
against 2.713 (xquad-en-vi R@1 +3 questions, xquad-vi -1; eval/README.md, item 10).

The weights are fitted per embedding model (the one the index was built with) and question
language on the tuning split (the XQuAD articles whose title sorts in the first half;
`benchmarks/fit_retrieval.py`), and reported on the other half (eval/README.md). Rank fusion
(RRF) was measured and rejected: with the weak English fallback model it lets the dense model's
errors push BM25's right answer down, and with the multilingual e5 it ranks below the fitted
score. A fitted score cannot do that on the data it was fitted on, and the held-out half checks
that it does not elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from itertools import pairwise

import numpy as np

from rag.query import QUESTION_WORDS
from rag.sentences import split_sentences
from rag.tokens import FOLD_PREFIX, fold_accents, token_runs, tokenize

RERANK_DEPTH = 30
DENSE_DEPTH = 10
RESCORE_DEPTH = 10
FEATURES = ("lexical", "sentence", "dense", "sentence_cosine")

# Per embedding model (the model the index was built with): (mode, question language) -> weights
# of FEATURES (the last one read for the RESCORE_DEPTH best by the first three only), scaled so
# that the lexical weight is 1 (only the ratios matter for ranking),
# chosen on the tuning split of xquad-vi (Vietnamese questions) and xquad-en-vi (English
# questions) by benchmarks/fit_retrieval.py; the fits and their held-out figures are in
# eval/README.md. A model without weights of its own (a local or test model) gets the
# fallback's: its dense score counts for English questions only, where BM25 alone is weakest.
FALLBACK_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
WEIGHTS: dict[str, dict[tuple[str, str], tuple[float, float, float, float]]] = {
    # The English fallback model: Vietnamese hybrid gives the dense score no weight (its vectors
    # push news above the answer).
    FALLBACK_MODEL: {
        ("bm25", "vi"): (1.0, 0.35, 0.0, 0.0),
        ("bm25", "en"): (1.0, 3.0, 0.0, 0.0),
        ("hybrid", "vi"): (1.0, 0.35, 0.0, 0.0),
        ("hybrid", "en"): (1.0, 4.0, 4.0, 0.0),
    },
    # The multilingual model: fitted on the xquad-vi and xquad-vi+news tuning halves together
    # (Vietnamese) and on the xquad-en-vi tuning half (English).
    "intfloat/multilingual-e5-small": {
        ("bm25", "vi"): (1.0, 0.35, 0.0, 0.0),
        ("bm25", "en"): (1.0, 3.0, 0.0, 0.0),
        ("hybrid", "vi"): (1.0, 0.75, 12.0, 8.0),
        ("hybrid", "en"): (1.0, 1.4, 100.0, 100.0),
    },
}


def model_weights(model: str | None) -> dict[tuple[str, str], tuple[float, float, float, float]]:
    """The weight table of ``model``, an index's model id: a name, with or without a label in
    parentheses ("intfloat/multilingual-e5-small (4-bit weights ..., dequantized)"), or a local
    folder, matched by its last two path components, then its last; else the fallback's."""
    if model:
        name = re.sub(r"\s*\(.*\)\s*$", "", str(model)).replace("\\", "/").rstrip("/")
        parts = name.split("/")
        for key in (name, "/".join(parts[-2:]), parts[-1]):
            for known, table in WEIGHTS.items():
                if key in (known, known.rsplit("/", 1)[-1]):
                    return table
    return WEIGHTS[FALLBACK_MODEL]


def weights_for(mode: str, lang: str, model: str | None = None) -> np.ndarray:
    """The fusion weights of ``mode`` for a question in ``lang`` over an index built with
    ``model``."""
    table = model_weights(model)
    return np.asarray(table.get((mode, lang), table[(mode, "vi")]), dtype=np.float32)


def coverage_terms(terms: dict[str, float], idf: dict[str, float]) -> dict[str, float]:
    """The terms a sentence should cover, each with its share of the question's information:
    idf times the query weight, question words left out, shares summing to 1."""
    folded_words = {fold_accents(w) for w in QUESTION_WORDS}
    out = {}
    for t, w in terms.items():
        parts = t.removeprefix(FOLD_PREFIX).split("_")
        # A word written without diacritics ("nhung", "nao") is a question word when its
        # folded form is one ("những", "nào").
        if all(p in QUESTION_WORDS or (p == fold_accents(p) and p in folded_words) for p in parts):
            continue
        out[t] = w * idf.get(t, 0.0)
    total = sum(out.values())
    return {t: v / total for t, v in out.items() if v > 0} if total > 0 else {}


def sentence_tokens(text: str, folded: bool = False) -> list[set[str]]:
    """The token set of each sentence of ``text`` (with the folded field for a folded query)."""
    out = []
    for s, e in split_sentences(text):
        toks = set(tokenize(text[s:e]))
        if folded:
            toks |= {FOLD_PREFIX + fold_accents(t) for t in toks}
        out.append(toks)
    return out


@lru_cache(maxsize=2048)
def _sentence_runs(text: str) -> tuple[tuple[frozenset[str], tuple[str, ...]], ...]:
    """Per sentence of ``text``: its syllables, and its runs (rag.tokens.token_runs: the
    tokens that bigrams join). Cached by text: the passages that come back for one question
    come back for the next ones on the same subject, and for every mode of an evaluation
    (2048 passages of ~900 characters: some 25 MB at most)."""
    out = []
    for s, e in split_sentences(text):
        runs = tuple(token_runs(text[s:e]))
        out.append((frozenset(" ".join(runs).split()), runs))
    return tuple(out)


def sentence_runs_ahead(texts) -> None:
    """Split and tokenize ``texts`` into the cache best_sentence_coverage reads."""
    for text in texts:
        _sentence_runs(text)


def best_sentence_coverage(shares: dict[str, float], texts: Sequence[str]) -> np.ndarray:
    """For each text, the largest sum of ``shares`` over the terms that one of its sentences
    contains as tokenize() tokens (with every token's folded form when a share is folded)."""
    folded = any(t.startswith(FOLD_PREFIX) for t in shares)
    out = np.zeros(len(texts), dtype=np.float32)
    if not shares:
        return out
    items = list(shares.items())
    if folded:
        # Rare (questions typed without diacritics): every token's folded form is needed.
        for i, text in enumerate(texts):
            best = 0.0
            for toks in sentence_tokens(text, folded):
                best = max(best, sum(v for t, v in items if t in toks))
            out[i] = best
        return out
    # Which shares a sentence's token set holds, without building the set: a key without "_"
    # is a syllable; a key "a_b" the bigram of neighbours a, b in one run; no token has more
    # than one "_".
    singles = {t for t in shares if "_" not in t}
    doubles = [(t, *t.split("_")) for t in shares if t.count("_") == 1]
    for i, text in enumerate(texts):
        best = 0.0
        for syllables, runs in _sentence_runs(text):
            toks = singles & syllables  # a set: singles is one
            neighbours = None
            for t, a, b in doubles:
                if a in syllables and b in syllables:
                    if neighbours is None:
                        neighbours = {p for run in runs for p in pairwise(run.split())}
                    if (a, b) in neighbours:
                        toks.add(t)
            if toks:
                # The same sum, in the same order, as over the full token set: the same float.
                best = max(best, sum(v for t, v in items if t in toks))
        out[i] = best
    return out


def fuse(features: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """features: (candidates, n) -> one score per candidate, by the first n weights."""
    return features @ weights[: features.shape[1]]


def rescored(fused: np.ndarray, rows: Sequence[int], cosines, weight: float) -> np.ndarray:
    """``fused`` (first-stage scores of candidates ``rows``) with the sentence-cosine stage:
    the RESCORE_DEPTH best (ties by row) gain ``weight`` times their best sentence cosine
    (``cosines``: candidate indices -> those cosines); the others gain it times the lowest of
    those, so they keep their order and stay below every rescored candidate."""
    order = np.lexsort((np.asarray(rows), -fused))
    top = order[:RESCORE_DEPTH]
    sims = np.asarray(cosines(top), dtype=np.float32)
    out = fused + weight * (float(sims.min()) if sims.size else 0.0)
    out[top] = fused[top] + weight * sims
    return out
