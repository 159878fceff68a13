"""Vietnamese-aware text normalization and BM25 (bm25s).

The same normalize() runs on passages at indexing time and on questions at query time, so both
sides meet on one form: NFC, lower case, one tone-mark placement ("hoà" = "hòa", "thuý" = "thúy"),
unified quotes and dashes. Tokens are syllables (Vietnamese writes one syllable per space) plus
syllable bigrams, which stand in for the two-syllable words most Vietnamese words are
("hiệp ước", "triều tiên"), without a word segmenter. Numbers stay whole: "1.000", "19/6", "54%".

Each passage also carries an accent-folded field ("~hiep", "~hiep_uoc", only for the tokens that
folding changes), so a question typed without diacritics ("hiep uoc thay the") still finds
"hiệp ước thay thế". The title is a field of its own, counted TITLE_WEIGHT times.

Questions are scored with per-term weights (``query_terms``): bigrams count less than syllables
(fitted), and in an English question only the terms that cross languages, numbers and names
(capitalised words), keep their full weight: the other English words meet Vietnamese syllables
by accident ("an", "do", "to"). In a Vietnamese question the names and numbers count double
(VI_NAME_WEIGHT): "Super Bowl 50", "Nixon", "Đông Đức" tell passages apart more than the words
around them, which news on other subjects shares.
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from collections import Counter
from collections.abc import Iterable
from itertools import pairwise
from pathlib import Path

import numpy as np

# Fitted on the tuning split of xquad-vi (benchmarks/fit_retrieval.py; see eval/README.md).
BM25_K1 = 0.9
BM25_B = 0.4
BIGRAM_WEIGHT = 0.5
# In an English question: weight of a word that is neither a number nor a name.
EN_OTHER_WEIGHT = 0.3
# In a Vietnamese question: weight of the syllables of names (capitalised words other than the
# first) and numbers. Fitted on the xquad-vi tuning split (grid 1.0-4.0, best R@1 and MRR@10 at
# 2.0: 0.898/0.934 -> 0.905/0.939); held-out half 0.939/0.965 -> 0.954/0.972.
VI_NAME_WEIGHT = 2.0
TITLE_WEIGHT = 1
FOLD_PREFIX = "~"

_TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"  # grave, acute, tilde, hook above, dot below
# Old-style placement puts the tone on the second vowel of an open "oa", "oe", "uy" syllable
# ("hoà", "thuý"); new style on the first ("hòa", "thúy"). Decomposed, move it to the first.
# Not after "q", where the "u" belongs to the consonant ("quà", "quả", "quý" are written so in
# either style), and not onto a vowel with a mark of its own ("huệ", "thuế": the tone sits on
# the "ê" in either style), hence no combining mark may follow the tone.
_OLD_TONE = re.compile(rf"(?<![qQ])([oOuU])([aeyAEY])([{_TONE_MARKS}])(?![^\W\d_]|[\u0300-\u036f])")
_QUOTE_MAP = {
    "“": '"',
    "”": '"',
    "„": '"',
    "«": '"',
    "»": '"',
    "‘": "'",
    "’": "'",
    "‚": "'",
    "–": "-",
    "—": "-",
    "‒": "-",
    "−": "-",
    "…": "...",
}
_QUOTES = str.maketrans(_QUOTE_MAP)
# A number with its inner separators and unit ("1.000", "19/6", "54%", "3,5") or a word.
_TOKEN_RE = r"\d+(?:[.,/:-]\d+)*%?|[^\W_]+"
_TOKEN = re.compile(_TOKEN_RE, re.UNICODE)
# A run of tokens separated by white space only: the tokens that bigrams join. Scanning for runs
# finds the same tokens as scanning for tokens (same start positions, same greedy matches).
_RUN = re.compile(rf"(?:{_TOKEN_RE})(?:\s+(?:{_TOKEN_RE}))*")
_VI_LETTERS = re.compile(r"[ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ]")
# Unaccented Vietnamese function words, to recognise a question typed without diacritics.
_VI_FOLDED = frozenset(
    "nhung nao gi bao nhieu khi dau cua la khong ai duoc voi cho ve thi sao nhu the may "
    "co cac mot nguoi nam ngay nay da se dang".split()
)


def _old_tone_words() -> re.Pattern:
    """The white-space-delimited words of an NFC text in which _OLD_TONE may match once the
    text is decomposed (a superset: the "q" before and a mark after are left to _OLD_TONE):
    those holding an o/u followed by a precomposed a/e/y whose decomposition is the letter and
    one tone mark, not followed by a letter (the lookahead of _OLD_TONE), or an uncomposed tone
    mark. In NFD the matched o/u carries no mark, so NFC leaves it bare; an a/e/y with a tone
    mark right after it always composes, and one with more marks after the tone ("ệ") never
    matches; a letter's decomposition starts with a letter. Every precomposed Latin letter lies
    in U+00C0..U+1EFF. tests/rag/test_lexical_speed.py checks these facts over all of Unicode."""
    plain = []
    for c in map(chr, range(0xC0, 0x1F00)):
        d = unicodedata.normalize("NFD", c)
        if len(d) == 2 and d[0] in "aeyAEY" and d[1] in _TONE_MARKS:
            plain.append(c)
    hint = rf"[oOuU][{''.join(plain)}](?![^\W\d_])|[{_TONE_MARKS}]"
    # (?<!\S): only a word's start begins the search, so each word is scanned once.
    return re.compile(rf"(?<!\S)\S*?(?:{hint})\S*")


_OLD_TONE_WORD = _old_tone_words()
_QUOTE_CHARS = re.compile(f"[{''.join(_QUOTE_MAP)}]")


def _retone(word: re.Match) -> str:
    return unicodedata.normalize(
        "NFC", _OLD_TONE.sub(r"\1\3\2", unicodedata.normalize("NFD", word.group()))
    )


def normalize(text: str) -> str:
    """NFC, quotes and dashes unified, one tone placement, lower case.

    Defined as NFC(move-the-tone(NFD(unified text))).lower(); computed faster with the same
    result: normalization never joins or reorders across white space (white space has no
    combining class and takes part in no composition), so the decompose / move / recompose
    round trip runs on the few words that can hold an old-style placement, and NFC alone
    handles the rest. ASCII text is already in every normal form and has nothing to unify."""
    if text.isascii():
        return text.lower()
    if _QUOTE_CHARS.search(text):
        text = _QUOTE_CHARS.sub(lambda m: _QUOTE_MAP[m.group()], text)
    text = unicodedata.normalize("NFC", text)
    return _OLD_TONE_WORD.sub(_retone, text).lower()


def fold_accents(text: str) -> str:
    """ "hiệp ước" -> "hiep uoc": for queries typed without diacritics."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def detect_language(text: str) -> str:
    """'vi' or 'en': Vietnamese letters decide; without them, Vietnamese function words."""
    low = text.lower()
    if _VI_LETTERS.search(low):
        return "vi"
    words = re.findall(r"[a-z]+", fold_accents(low))
    hits = sum(1 for w in words if w in _VI_FOLDED)
    return "vi" if words and hits >= max(2, len(words) // 3) else "en"


def is_folded_vietnamese(text: str) -> bool:
    """Vietnamese typed without diacritics ("hiep uoc thay the nhung van kien nao")."""
    return not _VI_LETTERS.search(text.lower()) and detect_language(text) == "vi"


def syllables(text: str) -> list[str]:
    return _TOKEN.findall(normalize(text))


def token_runs(text: str) -> list[str]:
    """The normalized text's runs of tokens with only white space between them ("a b, c d" ->
    "a b", "c d"): tokenize() joins the neighbours of a run into bigrams, never across runs."""
    return _RUN.findall(normalize(text))


def tokenize(text: str, bigrams: bool = True) -> list[str]:
    """Syllables plus bigrams of adjacent syllables (not across punctuation): "a b, c" ->
    a, b, a_b, c. A bigram joins two tokens with only white space between them, so the text
    is cut into runs of such tokens with one regex pass, and each run's tokens are its
    white-space-separated parts (a token holds no white space; regex \\s and str.split() both
    ask str.isspace())."""
    if not bigrams:
        return _TOKEN.findall(normalize(text))
    tokens: list[str] = []
    for run in token_runs(text):
        parts = run.split()
        tokens.append(parts[0])
        if len(parts) > 1:
            # Each later token is followed by its bigram with the one before it.
            pairs = [None] * (2 * len(parts) - 2)
            pairs[0::2] = parts[1:]
            pairs[1::2] = map("_".join, pairwise(parts))
            tokens += pairs
    return tokens


def document_tokens(title: str, text: str, title_weight: int = TITLE_WEIGHT) -> list[str]:
    """What BM25 indexes for a passage: its tokens, the title's tokens title_weight times, and
    the accent-folded form of every token that folding changes."""
    tokens = tokenize(text)
    if title and not text.startswith(title):
        tokens = tokenize(title) * max(1, title_weight) + tokens
    folded = [
        FOLD_PREFIX + f
        for t, f in zip(tokens, map(_FOLDS.__getitem__, tokens), strict=True)
        if f != t
    ]
    return tokens + folded


class _FoldCache(dict):
    """fold_accents by token, remembered: tokens repeat (Zipf), folding is slow in Python.
    Emptied when full, so it stays a few tens of MB however large the corpus."""

    limit = 1 << 18

    def __missing__(self, token: str) -> str:
        if len(self) >= self.limit:
            self.clear()
        # A bigram folds as its two syllables do: folding works character by character, and
        # "_" (a base character) keeps the marks of one side from moving to the other.
        a, sep, b = token.partition("_")
        folded = self[token] = self[a] + sep + self[b] if sep else fold_accents(token)
        return folded


_FOLDS = _FoldCache()


class _Vocabulary(dict):
    """token -> id, a new token getting the next id."""

    def __missing__(self, token: str) -> int:
        i = self[token] = len(self)
        return i


def _names_and_numbers(question: str) -> set[str]:
    """Normalized syllables of a question's numbers and names: words written with a capital
    letter other than the first word of the question (in an English question, what crosses
    languages)."""
    out = set()
    for i, m in enumerate(re.finditer(r"\d[\d.,/:%-]*|[^\W\d_]+", question)):
        w = m.group()
        if w[0].isdigit() or (i > 0 and w[0].isupper()):
            out.update(tokenize(w, bigrams=False))
    return out


def query_terms(question: str) -> dict[str, float]:
    """The question's BM25 terms with their weights (see the module docstring)."""
    tokens = list(dict.fromkeys(tokenize(question)))
    if is_folded_vietnamese(question):
        # Unaccented words may be written so (names, numbers) or folded: ask both fields.
        tokens += [FOLD_PREFIX + t for t in tokens]
    english = detect_language(question) == "en"
    names = _names_and_numbers(question)
    out = {}
    for t in tokens:
        parts = t.lstrip(FOLD_PREFIX).split("_")
        w = BIGRAM_WEIGHT if len(parts) > 1 else 1.0
        named = all(p in names for p in parts)
        if english and not named:
            w *= EN_OTHER_WEIGHT
        elif not english and named:
            w *= VI_NAME_WEIGHT
        out[t] = w
    if english:
        # Names, dates and units written the Vietnamese way ("North Korea" -> "Triều Tiên",
        # "June 19" -> "19/6"): they are what an English question shares with the passages.
        from rag.crosslingual import vietnamese_forms

        for phrase in vietnamese_forms(question):
            for t in tokenize(phrase):
                out[t] = max(out.get(t, 0.0), BIGRAM_WEIGHT if "_" in t else 1.0)
    return out


class BM25Index:
    """bm25s over document_tokens(); scores for the whole corpus come back as one array so
    that fusion can combine them with dense scores."""

    def __init__(self, model) -> None:
        self._model = model

    @classmethod
    def build(
        cls, docs: Iterable[str | tuple[str, str]], k1: float = BM25_K1, b: float = BM25_B
    ) -> BM25Index:
        """``docs``: passages as text, or as (title, text) to give the title its weight; any
        iterable (a SQLite cursor streams). Each passage becomes (token id, count) pairs as it
        comes, so memory holds the vocabulary and two int32 per distinct token of a passage,
        never the token lists: 111k VNTC passages took 8.6 GB as lists of strings handed to
        bm25s. The scores are bm25s's own ("lucene" BM25, its formulas step by step, see
        _bm25_matrix) and the model is a bm25s.BM25, saved and loaded by bm25s."""
        import bm25s

        vocab = _Vocabulary()
        ids = array("i")  # distinct token ids of each passage, passage after passage
        tfs = array("i")  # their counts in the passage
        nnz = array("q")  # distinct tokens per passage
        lengths = array("q")  # tokens per passage
        for d in docs:
            tokens = (document_tokens(*d) if isinstance(d, tuple) else document_tokens("", d)) or [
                ""
            ]
            counts = Counter(map(vocab.__getitem__, tokens))
            ids.extend(counts.keys())
            tfs.extend(counts.values())
            nnz.append(len(counts))
            lengths.append(len(tokens))
        if not lengths:
            return cls(None)
        model = bm25s.BM25(k1=k1, b=b)
        model.scores = _bm25_matrix(
            np.frombuffer(ids, dtype=np.int32),
            np.frombuffer(tfs, dtype=np.int32),
            np.frombuffer(nnz, dtype=np.int64),
            np.frombuffer(lengths, dtype=np.int64),
            len(vocab),
            model,
        )
        # As bm25s.BM25.index(create_empty_token=True): "" is in the vocabulary, without a
        # column unless a passage had no token.
        vocab = dict(vocab)
        vocab.setdefault("", len(vocab))
        model.nonoccurrence_array = None  # only BM25L and BM25+ have one
        model.vocab_dict = vocab
        model.unique_token_ids_set = set(vocab.values())
        return cls(model)

    def known(self, terms: Iterable[str]) -> set[str]:
        """The terms that some indexed passage contains."""
        vocab = self._model.vocab_dict if self._model is not None else {}
        return {t for t in terms if t in vocab}

    @property
    def size(self) -> int:
        if self._model is None:
            return 0
        return int(self._model.scores["num_docs"])

    def scores(self, query: str | dict[str, float]) -> np.ndarray:
        """BM25 score of every passage for ``query`` (a question, or the weighted terms of
        query_terms), float32 in corpus order."""
        if self._model is None:
            return np.zeros(0, dtype=np.float32)
        terms = query_terms(query) if isinstance(query, str) else query
        vocab = self._model.vocab_dict
        found = [(vocab[t], w) for t, w in terms.items() if t in vocab and w > 0]
        n = self.size
        if not found:
            return np.zeros(n, dtype=np.float32)
        # The index is a term -> (passage, score) sparse matrix: gather each term's column and
        # add them up with its weight in one bincount.
        sc = self._model.scores
        data, indices, indptr = sc["data"], sc["indices"], sc["indptr"]
        cols = [slice(int(indptr[i]), int(indptr[i + 1])) for i, _ in found]
        rows = np.concatenate([indices[c] for c in cols])
        vals = np.concatenate(
            [data[c] * np.float32(w) for c, (_, w) in zip(cols, found, strict=True)]
        )
        return np.bincount(rows, weights=vals, minlength=n).astype(np.float32)

    def save(self, directory: Path) -> None:
        if self._model is not None:
            # allow_pickle stays False: an index directory never holds pickles.
            self._model.save(str(directory), show_progress=False)

    @classmethod
    def load(cls, directory: Path, mmap: bool = False) -> BM25Index:
        import bm25s

        if not (directory / "params.index.json").exists():
            return cls(None)
        model = bm25s.BM25.load(str(directory), mmap=mmap, allow_pickle=False, show_progress=False)
        return cls(model)


def _bm25_matrix(ids, tfs, nnz, lengths, n_vocab: int, model, block: int = 1 << 22) -> dict:
    """The term -> (passage, score) CSC matrix that bm25s.BM25.index builds from token lists
    (bm25s 0.3: scoring._build_scores_and_indices_for_matrix and BM25._np_csc), computed from
    (passage, token id, count) triples with the same float operations in the same order, so
    every score is the same float32 (tests/rag/test_lexical_speed.py compares)."""
    from bm25s.scoring import _select_idf_scorer

    if model.method not in ("lucene", "robertson"):
        raise ValueError(f"_bm25_matrix computes the lucene/robertson tf part, not {model.method}")
    n_docs = len(lengths)
    avg_len = lengths.mean()  # as bm25s: the mean of an int64 array, a numpy float64
    df = np.bincount(ids, minlength=n_vocab)
    # bm25s computes each idf with math.log in Python and stores it as float32; numpy's log may
    # differ in the last bit, so the same function runs here, once per distinct df.
    idf_of = _select_idf_scorer(model.idf_method or model.method)
    uniq, inverse = np.unique(df, return_inverse=True)
    idf = np.array([idf_of(int(x), N=n_docs) for x in uniq], dtype=model.dtype)[inverse]
    rows = np.repeat(np.arange(n_docs, dtype=np.int32), nnz)
    data = np.empty(len(ids), dtype=model.dtype)
    k1, b = model.k1, model.b
    for s in range(0, len(ids), block):
        e = min(s + block, len(ids))
        tf = tfs[s:e].astype(np.float32)
        # bm25s per passage: tf / (k1 * ((1 - b) + b * l_d / l_avg) + tf), l_d a Python int,
        # l_avg a numpy float64: float64 throughout, times the float32 idf, stored as float32.
        length = lengths[rows[s:e]].astype(np.float64)
        data[s:e] = idf[ids[s:e]] * (tf / (k1 * ((1 - b) + b * length / avg_len) + tf))
    # Column-major order, rows ascending within a column: a stable sort by column of entries
    # already in row order (bm25s sorts on (column, row) keys: the same order, keys are unique).
    order = np.argsort(ids, kind="stable")
    indptr = np.zeros(n_vocab + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    return {"data": data[order], "indices": rows[order], "indptr": indptr, "num_docs": n_docs}


def top_k(scores: np.ndarray, k: int, min_score: float = 0.0) -> list[tuple[int, float]]:
    """Indices and values of the k best scores above min_score, best first, ties by index."""
    if scores.size == 0 or k <= 0:
        return []
    k = min(k, scores.size)
    idx = np.argpartition(-scores, k - 1)[:k]
    idx = idx[np.lexsort((idx, -scores[idx]))]
    return [(int(i), float(scores[i])) for i in idx if scores[i] > min_score]


def idf_weights(index: BM25Index, tokens: Iterable[str]) -> dict[str, float]:
    """BM25 idf of each token over the indexed passages (unknown tokens get the maximum:
    a word no passage contains is as informative as a word can be)."""
    toks = list(dict.fromkeys(tokens))
    model = index._model
    n = index.size
    max_idf = float(np.log(1 + (n + 0.5) / 0.5)) if n else 1.0
    if model is None:
        return dict.fromkeys(toks, 1.0)
    vocab = model.vocab_dict
    indptr = model.scores["indptr"]
    out = {}
    for t in toks:
        i = vocab.get(t)
        if i is None:
            # An unseen bigram is usually a chance junction of two words, not a term, and an
            # unseen folded form is a word folding leaves as it is: no weight for either.
            out[t] = 0.0 if "_" in t or t.startswith(FOLD_PREFIX) else max_idf
            continue
        df = float(indptr[i + 1] - indptr[i])
        out[t] = float(np.log(1 + (n - df + 0.5) / (df + 0.5)))
    return out
