"""The fast lexical paths give exactly what the straightforward ones gave.

normalize(), tokenize(), document_tokens(), the fusion's best-sentence coverage and the
streaming BM25 build were rewritten for speed; the fusion weights and the evaluation figures
were fitted on the old outputs, so the new ones must be the same strings, the same sets, the same
floats. The references below are the former implementations, kept here as the definition.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag import fusion
from rag.bm25 import BM25_B, BM25_K1, BM25Index
from rag.bm25s_adapter import Reference
from rag.chunk import chunk_text
from rag.sentences import split_sentences
from rag.tokens import (
    _QUOTES,
    _TONE_MARKS,
    FOLD_PREFIX,
    TITLE_WEIGHT,
    document_tokens,
    fold_accents,
    normalize,
    query_terms,
    tokenize,
)

REPO = Path(__file__).resolve().parents[2]

# ---- the references -------------------------------------------------------------------------
_OLD_TONE = re.compile(rf"(?<![qQ])([oOuU])([aeyAEY])([{_TONE_MARKS}])(?![^\W\d_]|[\u0300-\u036f])")
_TOKEN = re.compile(r"\d+(?:[.,/:-]\d+)*%?|[^\W_]+", re.UNICODE)


def ref_normalize(text: str) -> str:
    text = unicodedata.normalize("NFD", text.translate(_QUOTES))
    text = _OLD_TONE.sub(r"\1\3\2", text)
    return unicodedata.normalize("NFC", text).lower()


def ref_tokenize(text: str, bigrams: bool = True) -> list[str]:
    norm = ref_normalize(text)
    tokens: list[str] = []
    prev_end = -10
    prev = ""
    for m in _TOKEN.finditer(norm):
        tok = m.group()
        tokens.append(tok)
        if bigrams and prev and norm[prev_end : m.start()].isspace():
            tokens.append(f"{prev}_{tok}")
        prev, prev_end = tok, m.end()
    return tokens


def ref_document_tokens(title: str, text: str) -> list[str]:
    tokens = ref_tokenize(text)
    if title and not text.startswith(title):
        tokens = ref_tokenize(title) * max(1, TITLE_WEIGHT) + tokens
    return tokens + [FOLD_PREFIX + f for t in tokens if (f := fold_accents(t)) != t]


def ref_coverage(shares: dict[str, float], texts: list[str]) -> np.ndarray:
    folded = any(t.startswith(FOLD_PREFIX) for t in shares)
    out = np.zeros(len(texts), dtype=np.float32)
    if not shares:
        return out
    for i, text in enumerate(texts):
        best = 0.0
        for s, e in split_sentences(text):
            toks = set(ref_tokenize(text[s:e]))
            if folded:
                toks |= {FOLD_PREFIX + fold_accents(t) for t in toks}
            best = max(best, sum(v for t, v in shares.items() if t in toks))
        out[i] = best
    return out


def ref_bm25(docs: list[tuple[str, str]]) -> Reference:
    """bm25s's own index over the reference tokens (read through rag.bm25s_adapter)."""
    return Reference((ref_document_tokens(*d) for d in docs), k1=BM25_K1, b=BM25_B)


# ---- data -----------------------------------------------------------------------------------
def seed_texts() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted((REPO / "seeds").glob("*.txt"))]


def seed_passages() -> list[tuple[str, str]]:
    out = []
    for text in seed_texts():
        title = text.splitlines()[0][:80]
        out += [(title, text[s:e]) for s, e in chunk_text(text, 400, 80)]
    return out


def seed_questions() -> list[str]:
    lines = (REPO / "eval" / "seeds_qa.jsonl").read_text(encoding="utf-8").splitlines()
    qs = [json.loads(line)["question"] for line in lines if line.strip()]
    # Typed without diacritics, and in old-style tone placement: the other query paths.
    return qs + [fold_accents(q) for q in qs[:15]] + ["Hoà bình và thuý ở đâu?", "quả QUÁ"]


# Vietnamese-ish text: letters with precomposed and decomposed tones, old-style pairs, digits
# with separators, quotes and dashes the normalizer unifies, white space of several kinds,
# punctuation, and a few troublemakers (final sigma, dotted capital I, "_", lone marks).
_ALPHABET = (
    "aăâbcdđeêghiklmnoôơpqrstuưvxyAĂÂĐEÊOÔƠUƯYQ"
    "àáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵÀÁÝỲ"
    "0123456789.,/:-%_!?…“”‘’–—«»\"'()"
    " \n\t\u00a0\u2000\u3000" + _TONE_MARKS + "\u0302\u0306\u031b" + "ΣΑİ"
)
_WORDS = st.sampled_from(
    "hoà hòa thuý thúy quả qủa quệ QUÀ huệ tuệ thuế khoẻ uỷ oà Oá tuý hiệp ước 1.000 19/6 54% 3,5 ΑΣ. "
    "hoa\u0300 u\u0301y o\u0323a".split()
)
vietnamese_ish = st.lists(
    st.one_of(st.text(alphabet=_ALPHABET, max_size=12), _WORDS), max_size=30
).map(" ".join)


# ---- normalize / tokenize -------------------------------------------------------------------
@settings(max_examples=600, deadline=None)
@given(vietnamese_ish)
def test_normalize_and_tokenize_equal_the_reference(text):
    assert normalize(text) == ref_normalize(text)
    assert tokenize(text) == ref_tokenize(text)
    assert tokenize(text, bigrams=False) == ref_tokenize(text, bigrams=False)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_normalize_and_tokenize_equal_the_reference_on_any_text(text):
    assert normalize(text) == ref_normalize(text)
    assert tokenize(text) == ref_tokenize(text)


@settings(max_examples=200, deadline=None)
@given(vietnamese_ish, vietnamese_ish)
def test_document_tokens_equal_the_reference(title, text):
    assert document_tokens(title, text) == ref_document_tokens(title, text)


def test_seed_articles_tokenize_as_the_reference():
    for text in seed_texts():
        pieces = [text, *text.splitlines(), text.upper()]
        for piece in pieces:
            assert normalize(piece) == ref_normalize(piece)
            assert tokenize(piece) == ref_tokenize(piece)
        title = text.splitlines()[0]
        assert document_tokens(title, text[200:]) == ref_document_tokens(title, text[200:])


def test_old_tone_placements_still_move():
    # The fast path must not skip the words that need the slow one.
    assert normalize("Hoà bình, THUÝ, khoẻ") == ref_normalize("Hoà bình, THUÝ, khoẻ")
    assert normalize("hoà") == normalize("hòa")
    assert normalize("“x” — y…") == '"x" - y...'


def test_the_unicode_facts_the_fast_normalize_relies_on():
    """rag.tokens._old_tone_words: checked over every code point, not assumed."""
    letter = re.compile(r"[^\W\d_]")
    toned_outside = []
    bad_letters = []
    for cp in range(sys.maxunicode + 1):
        c = chr(cp)
        d = unicodedata.normalize("NFD", c)
        toned = len(d) > 1 and d[0] in "aeyAEY" and any(m in _TONE_MARKS for m in d[1:])
        if toned and not 0xC0 <= cp < 0x1F00:
            toned_outside.append(hex(cp))
        if letter.match(c) and (not letter.match(d[0]) or unicodedata.combining(d[0])):
            bad_letters.append(hex(cp))
        if c.isspace():
            assert unicodedata.combining(c) == 0
            assert unicodedata.normalize("NFC", c).isspace()
        decomposition = unicodedata.decomposition(c)
        if decomposition and not decomposition.startswith("<"):
            parts = [chr(int(x, 16)) for x in decomposition.split()]
            # White space is never half of a composition (U+2000 -> U+2002 is a singleton).
            assert len(parts) == 1 or not any(p.isspace() for p in parts), hex(cp)
    assert toned_outside == []
    assert bad_letters == []
    # Every a/e/y + tone mark composes.
    for base in "aeyAEY":
        for mark in _TONE_MARKS:
            assert len(unicodedata.normalize("NFC", base + mark)) == 1


# ---- the fusion's best-sentence coverage ----------------------------------------------------
def test_best_sentence_coverage_equals_the_reference():
    texts = [t for _, t in seed_passages()]
    met = 0
    for question in seed_questions():
        terms = query_terms(question)
        # Uneven idf-like weights, so that the order of the float sums matters.
        idf = {t: 1.0 + (len(t) * 7919 % 13) / 5 for t in terms}
        shares = fusion.coverage_terms(terms, idf)
        expected = ref_coverage(shares, texts)
        met += bool(expected.max() > 0)
        for _ in range(2):  # cold, then from the per-passage cache
            got = fusion.best_sentence_coverage(shares, texts)
            assert got.tobytes() == expected.tobytes(), question
    assert met >= 80  # the questions meet the seeds: the comparison is not of zeros


@settings(max_examples=150, deadline=None)
@given(vietnamese_ish, st.lists(vietnamese_ish, min_size=1, max_size=4))
def test_best_sentence_coverage_equals_the_reference_on_generated_text(question, texts):
    terms = query_terms(question)
    shares = fusion.coverage_terms(terms, dict.fromkeys(terms, 1.0))
    # Keys no token can be, to exercise every branch.
    shares.update({"a_b_c": 0.1, "x_": 0.1, "": 0.1})
    got = fusion.best_sentence_coverage(shares, texts)
    assert got.tobytes() == ref_coverage(shares, texts).tobytes()


# ---- the streaming BM25 build ---------------------------------------------------------------
def test_streamed_bm25_scores_equal_the_bm25s_build(tmp_path):
    docs = [*seed_passages(), ("", ""), ("Tiêu đề", "..."), ("", "Hoà bình THUÝ quả")]
    reference = ref_bm25(docs)
    built = BM25Index.build(iter(docs))  # a one-pass iterable, as a SQLite cursor is
    assert built.size == len(docs)
    (postings,) = [p for p, *_ in built._parts]
    assert set(postings.vocabulary()) == reference.vocabulary()
    built.save(tmp_path)
    loaded = BM25Index.load(tmp_path)
    questions = seed_questions()
    for q in questions + [p[1][:60] for p in docs[::7]]:
        terms = query_terms(q)
        expected = reference.weighted_scores(terms)
        assert np.array_equal(built.scores(terms), expected), q
        assert np.array_equal(loaded.scores(terms), expected), q
    # Every term's postings: the same passages, and each one alone scores as bm25s does.
    for term in reference.vocabulary():
        found = reference.postings(term)
        if found is None:
            continue  # bm25s's "" without a column
        ref_docs, ref_scores = found
        docs_, _ = postings.postings(term)
        assert np.array_equal(ref_docs, docs_), term
        got = built.scores({term: 1.0})[docs_]
        assert ref_scores.tobytes() == got.tobytes(), term


def test_empty_bm25_build():
    assert BM25Index.build(iter([])).size == 0
    assert BM25Index.build([""]).size == 1


def _bincount_scores(parts, terms) -> np.ndarray:
    """BM25 scores as they were summed before the per-term caches: every live posting of every
    term, segment after segment, concatenated, then one np.bincount (float64), as float32."""
    from rag import bm25s_adapter

    n = sum(p.size for p, _ in parts)
    lengths = [p.lengths if d is None else p.lengths[~d] for p, d in parts]
    live = sum(len(x) for x in lengths)
    mean = bm25s_adapter.mean_length(sum(int(x.sum()) for x in lengths), live)
    rows, vals = [], []
    for t, w in terms.items():
        if w <= 0:
            continue
        found, offset = [], 0
        for p, deleted in parts:
            got = p.postings(t)
            if got is not None:
                docs, tfs = got
                if deleted is not None:
                    docs, tfs = docs[~deleted[docs]], tfs[~deleted[docs]]
                if len(docs):
                    found.append((offset, docs, tfs, p))
            offset += p.size
        if not found:
            continue
        idf = bm25s_adapter.lucene_idf(sum(len(d) for _, d, _, _ in found), live)
        for offset, docs, tfs, p in found:
            norms = bm25s_adapter.length_norms(p.lengths, mean, BM25_K1, BM25_B)
            rows.append(docs.astype(np.int64) + offset)
            vals.append(bm25s_adapter.term_scores(idf, tfs, norms[docs]) * np.float32(w))
    if not rows:
        return np.zeros(n, dtype=np.float32)
    out = np.bincount(np.concatenate(rows), weights=np.concatenate(vals), minlength=n)
    return out.astype(np.float32)


@pytest.mark.parametrize("dense_share", [0, 4, 10**9], ids=["sparse", "common-dense", "all-dense"])
def test_bm25_scores_over_segments_equal_one_bincount_with_the_caches_cold_warm_and_full(
    monkeypatch, dense_share
):
    """Every term's scores kept sparse, the commonest as dense columns (the default), every
    term as a dense column: the same floats as one bincount."""
    import rag.bm25
    from rag.bm25 import Postings

    monkeypatch.setattr(rag.bm25, "DENSE_SHARE", dense_share)
    docs = [*seed_passages(), ("", ""), ("Tiêu đề", "...")]
    cuts = [0, len(docs) // 3, len(docs) // 2, len(docs)]
    parts = []
    for i, (lo, hi) in enumerate(zip(cuts, cuts[1:], strict=False)):
        p = Postings.build(iter(docs[lo:hi]))
        deleted = None
        if i == 1:  # tombstones in the middle segment
            deleted = np.zeros(p.size, dtype=bool)
            deleted[::3] = True
        parts.append((p, deleted))
    questions = seed_questions()
    weighted = [{t: 1.0 + (len(t) * 7919 % 13) / 5 for t in query_terms(q)} for q in questions[:20]]
    # The default budget, then one that evicts all the time.
    for entries, per_passage in ((rag.bm25.SCORED_ENTRIES, rag.bm25.SCORED_PER_PASSAGE), (40, 0)):
        monkeypatch.setattr(rag.bm25, "SCORED_ENTRIES", entries)
        monkeypatch.setattr(rag.bm25, "SCORED_PER_PASSAGE", per_passage)
        index = BM25Index(parts)
        dense = 0
        for _ in range(2):  # cold, then from the caches
            for terms in [query_terms(q) for q in questions] + weighted:
                expected = _bincount_scores(parts, terms)
                assert index.scores(terms).tobytes() == expected.tobytes(), terms
                # A sparse score is never 0 (lucene idf > 0); a dense column holds 0 where absent.
                dense += sum(bool((d == 0).any()) for data in index._scored.values() for d in data)
        assert index._scored_entries <= max(entries, per_passage * index.live)
        # The setting is what decides: no dense column when off, some when on.
        assert (dense > 0) == (dense_share > 0)
