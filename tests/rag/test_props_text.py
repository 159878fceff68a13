"""Properties over any text (hypothesis): cleaning and chunking keep exact offsets and lose
nothing, normalization is idempotent, and every [n] of any answer points to a listed citation
whose passage holds the cited sentence."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rag.answer import FROM_VIETNAMESE
from rag.chunk import chunk_article
from rag.clean import clean_text, normalize_unicode
from rag.load import content_id, decode_bytes
from rag.tokens import normalize, tokenize
from rag.types import Article

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
_SEED_TEXT = "\n".join(p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt")))
_WORDS = sorted(set(_SEED_TEXT.split()))

# Any Unicode (controls, combining marks, surrogates excluded), and Vietnamese-news-shaped text
# built from the seeds' own words, punctuation, newlines and odd whitespace: the second reaches
# the chunker's sentence and paragraph separators far more often than random code points do.
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=3000)
news_text = st.lists(
    st.one_of(
        st.sampled_from(_WORDS),
        st.sampled_from([". ", "? ", "! ", "… ", "\n", "\n\n", ", ", "; ", ' "', '" ', "\t"]),
        st.sampled_from(["\u200b", "\xa0", "\r\n", "\x00", "  ", "1.000", "19/6."]),
    ),
    max_size=900,
).map(" ".join)
texts = st.one_of(any_text, news_text)
sizes = st.tuples(st.integers(50, 1200), st.floats(0.0, 0.5)).map(
    lambda t: (t[0], int(t[0] * t[1]))
)
FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(raw=texts, size=sizes)
# A repetitive text: its second piece was once placed inside the first, dropping the rest.
@example(raw="0" * 51, size=(50, 0))
def test_chunks_are_exact_slices_of_the_cleaned_article_and_cover_it(raw, size):
    chunk_size, overlap = size
    text = clean_text(raw)
    article = Article(id=content_id("t", text), title="t", text=text)
    chunks = chunk_article(article, chunk_size, overlap)
    if not text.strip():
        assert chunks == []
        return
    covered = [False] * len(text)
    previous_start = -1
    for i, c in enumerate(chunks):
        assert c.index == i and c.article_id == article.id
        assert 0 <= c.start < c.end <= len(text)
        assert text[c.start : c.end] == c.text
        assert c.text == c.text.strip()
        assert c.start > previous_start  # in order, each starting after the one before
        previous_start = c.start
        for j in range(c.start, c.end):
            covered[j] = True
    lost = [ch for ch, cov in zip(text, covered, strict=True) if not cov and not ch.isspace()]
    assert lost == [], "chunking dropped article text"


@FAST
@given(raw=texts)
def test_normalization_is_idempotent(raw):
    once = normalize_unicode(raw)
    assert normalize_unicode(once) == once
    assert normalize(normalize(raw)) == normalize(raw)
    assert tokenize(normalize(raw)) == tokenize(raw)
    cleaned = clean_text(raw)
    assert normalize_unicode(cleaned) == cleaned  # cleaned text is already normal


@FAST
@given(raw=texts)
def test_cleaned_text_has_no_controls_or_invisibles(raw):
    cleaned = clean_text(raw)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]", cleaned)
    assert "\r" not in cleaned and "\n\n" not in cleaned


@FAST
@given(raw=texts, encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32"]))
def test_decoding_round_trips_every_unicode_encoding_with_a_mark(raw, encoding):
    raw = raw.replace("\x00", "")  # NUL bytes mean binary, by design
    data = raw.encode(encoding)  # utf-8-sig, utf-16 and utf-32 write a byte-order mark
    assert decode_bytes(data) == normalize_unicode(raw.removeprefix("\ufeff"))


# ---- answers -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def assistant(tmp_path_factory, tiny_model_dir):
    from rag.pipeline import Assistant
    from rag.settings import Settings

    root = tmp_path_factory.mktemp("props") / "index"
    a = Assistant(Settings.load(env={}, index_dir=root, embed_model=str(tiny_model_dir)))
    a.ingest([SEEDS])
    yield a
    a.close()


questions = st.one_of(
    st.lists(st.sampled_from(_WORDS), min_size=1, max_size=14).map(" ".join).map(lambda q: q + "?"),
    st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=200),
    st.sampled_from(
        [
            "Hiệp ước mới thay thế những văn kiện nào?",
            "Which agreements does the treaty replace?",
            "Putin và Kim Jong Un ký gì ngày 19/6?",
            "ai",
        ]
    ),
)
_MARK = re.compile(r"\[(\d+)\]")


def _squash(text: str) -> str:
    from rag.answer import quote_sentence

    # Compare as the answer quotes: an article's own "[3]" is quoted as "(3)".
    return " ".join(quote_sentence(text).split())


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(question=questions, mode=st.sampled_from(["bm25", "dense", "hybrid"]))
def test_every_citation_mark_points_to_a_passage_holding_its_sentence(assistant, question, mode):
    from rag.errors import InputError

    try:
        answer = assistant.ask(question, mode=mode)
    except InputError:
        assert not " ".join(normalize_unicode(question).split())  # only for empty questions
        return
    ns = [c.n for c in answer.citations]
    assert ns == list(range(1, len(ns) + 1))
    if not answer.found:
        assert not _MARK.search(answer.text)
        return
    # An English question answered from Vietnamese articles says so first: not a quote.
    text = answer.text.removeprefix(FROM_VIETNAMESE).lstrip()
    marks = list(_MARK.finditer(text))
    assert marks, "a found answer must cite"
    cursor = 0
    for m in marks:
        n = int(m.group(1))
        assert 1 <= n <= len(answer.citations), f"[{n}] cites nothing"
        sentence = text[cursor : m.start()].strip()
        cursor = m.end()
        if not sentence:  # "[1][2]": a second mark on the same sentence
            continue
        citation = answer.citations[n - 1]
        assert _squash(sentence) in _squash(citation.text), (sentence, citation.text)
        article = assistant.article(citation.article_id)
        assert article.text[citation.start : citation.end] == citation.text
