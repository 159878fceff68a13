"""Vietnamese-aware text normalization and BM25 (bm25s).

The same normalize() runs on passages at indexing time and on questions at query time, so both
sides meet on one form: NFC, lower case, one tone-mark placement ("hoà" = "hòa", "thuý" = "thúy"),
unified quotes and dashes. Tokens are syllables (Vietnamese writes one syllable per space) plus
syllable bigrams, which stand in for the two-syllable words most Vietnamese words are
("hiệp ước", "triều tiên"), without a word segmenter. Numbers stay whole: "1.000", "19/6", "54%".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

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


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFD", text.translate(_QUOTES))
    text = _OLD_TONE.sub(r"\1\3\2", text)
    return unicodedata.normalize("NFC", text).lower()


def fold_accents(text: str) -> str:
    """ "hiệp ước" -> "hiep uoc": for queries typed without diacritics."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


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


class BM25Index:
    """bm25s over tokenize(); scores for the whole corpus come back as one array so that
    fusion can combine them with dense scores."""

    def __init__(self, model) -> None:
        self._model = model

    @classmethod
    def build(cls, texts: Iterable[str], k1: float = 1.2, b: float = 0.75) -> BM25Index:
        import bm25s

        corpus = [tokenize(t) or [""] for t in texts]
        model = bm25s.BM25(k1=k1, b=b)
        if corpus:
            model.index(corpus, show_progress=False)
        return cls(model if corpus else None)

    @property
    def size(self) -> int:
        if self._model is None:
            return 0
        return int(self._model.scores["num_docs"])

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage for ``query`` (float32, corpus order)."""
        if self._model is None:
            return np.zeros(0, dtype=np.float32)
        vocab = self._model.vocab_dict
        ids = [vocab[t] for t in dict.fromkeys(tokenize(query)) if t in vocab]
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._model.get_scores_from_ids(ids), dtype=np.float32)

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
            # An unseen bigram is usually a chance junction of two words, not a term: no weight.
            out[t] = 0.0 if "_" in t else max_idf
            continue
        df = float(indptr[i + 1] - indptr[i])
        out[t] = float(np.log(1 + (n - df + 0.5) / (df + 0.5)))
    return out
