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
by accident ("an", "do", "to").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

# Fitted on the tuning split of xquad-vi (benchmarks/fit_retrieval.py; see eval/README.md).
BM25_K1 = 0.9
BM25_B = 0.4
BIGRAM_WEIGHT = 0.5
# In an English question: weight of a word that is neither a number nor a name.
EN_OTHER_WEIGHT = 0.3
TITLE_WEIGHT = 1
FOLD_PREFIX = "~"

_TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"  # grave, acute, tilde, hook above, dot below
# Old-style placement puts the tone on the second vowel of an open "oa", "oe", "uy" syllable
# ("hoà", "thuý"); new style on the first ("hòa", "thúy"). Decomposed, move it to the first.
_OLD_TONE = re.compile(rf"([oOuU])([aeyAEY])([{_TONE_MARKS}])(?![^\W\d_])")
_QUOTES = str.maketrans(
    {
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
)
# A number with its inner separators and unit ("1.000", "19/6", "54%", "3,5") or a word.
_TOKEN = re.compile(r"\d+(?:[.,/:-]\d+)*%?|[^\W_]+", re.UNICODE)
_VI_LETTERS = re.compile(r"[ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ]")
# Unaccented Vietnamese function words, to recognise a question typed without diacritics.
_VI_FOLDED = frozenset(
    "nhung nao gi bao nhieu khi dau cua la khong ai duoc voi cho ve thi sao nhu the may "
    "co cac mot nguoi nam ngay nay da se dang".split()
)


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFD", text.translate(_QUOTES))
    text = _OLD_TONE.sub(r"\1\3\2", text)
    return unicodedata.normalize("NFC", text).lower()


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


def tokenize(text: str, bigrams: bool = True) -> list[str]:
    """Syllables plus bigrams of adjacent syllables (not across punctuation)."""
    norm = normalize(text)
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


def document_tokens(title: str, text: str, title_weight: int = TITLE_WEIGHT) -> list[str]:
    """What BM25 indexes for a passage: its tokens, the title's tokens title_weight times, and
    the accent-folded form of every token that folding changes."""
    tokens = tokenize(text)
    if title and not text.startswith(title):
        tokens = tokenize(title) * max(1, title_weight) + tokens
    folded = [FOLD_PREFIX + f for t in tokens if (f := fold_accents(t)) != t]
    return tokens + folded


def _names_and_numbers(question: str) -> set[str]:
    """Normalized syllables of an English question that cross languages: numbers, and words
    written with a capital letter other than the first word of the question."""
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
    keep = _names_and_numbers(question) if english else set()
    out = {}
    for t in tokens:
        parts = t.lstrip(FOLD_PREFIX).split("_")
        w = BIGRAM_WEIGHT if len(parts) > 1 else 1.0
        if english and not all(p in keep for p in parts):
            w *= EN_OTHER_WEIGHT
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
        """``docs``: passages as text, or as (title, text) to give the title its weight."""
        import bm25s

        corpus = [
            (document_tokens(*d) if isinstance(d, tuple) else document_tokens("", d)) or [""]
            for d in docs
        ]
        model = bm25s.BM25(k1=k1, b=b)
        if corpus:
            model.index(corpus, show_progress=False)
        return cls(model if corpus else None)

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

    def top(self, query: str, k: int) -> list[tuple[int, float]]:
        s = self.scores(query)
        return top_k(s, k)

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


def top_k(scores: np.ndarray, k: int, min_score: float = 0.0) -> list[tuple[int, float]]:
    """Indices and values of the k best scores above min_score, best first, ties by index."""
    if scores.size == 0 or k <= 0:
        return []
    k = min(k, scores.size)
    idx = np.argpartition(-scores, k - 1)[:k]
    idx = idx[np.lexsort((idx, -scores[idx]))]
    return [(int(i), float(scores[i])) for i in idx if scores[i] > min_score]


def overlap_terms(query_tokens: Sequence[str], text_tokens: Sequence[str]) -> set[str]:
    return set(query_tokens) & set(text_tokens)


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
