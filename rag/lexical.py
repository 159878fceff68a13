"""Vietnamese-aware text normalization and BM25 over segment postings (bm25s formulas).

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

import hashlib
import re
import unicodedata
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
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


def _term_key(token: str) -> int:
    """A term's 64-bit key: each segment's vocabulary is a sorted array of keys (looked up by
    binary search, loaded without building a dict), the terms' UTF-8 kept beside them to
    confirm a match."""
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")


_PARTS = ("keys", "terms", "term_offsets", "indptr", "docs", "tfs", "lengths")


class Postings:
    """One segment's inverted index: raw term frequencies, no scores. Scores depend on the
    statistics of the whole collection (document count, mean length, document frequencies),
    which change as segments come and go, so they are computed at query time (BM25Index).

    Arrays (saved as .npy, no pickles): ``keys`` (uint64, sorted) and ``terms`` (UTF-8 bytes,
    split by ``term_offsets``) name the terms; ``indptr`` cuts ``docs`` (int32, ascending per
    term) and ``tfs`` (int32) into each term's postings; ``lengths`` (int64) is each passage's
    token count."""

    def __init__(self, keys, terms, term_offsets, indptr, docs, tfs, lengths) -> None:
        self.keys = keys
        self.terms = terms
        self.term_offsets = term_offsets
        self.indptr = indptr
        self.docs = docs
        self.tfs = tfs
        self.lengths = lengths

    @property
    def size(self) -> int:
        return len(self.lengths)

    def column(self, term: str) -> int | None:
        """The column of ``term``, or None."""
        key = np.uint64(_term_key(term))
        raw = term.encode()
        i = int(np.searchsorted(self.keys, key))
        while i < len(self.keys) and self.keys[i] == key:
            a, b = int(self.term_offsets[i]), int(self.term_offsets[i + 1])
            if self.terms[a:b].tobytes() == raw:
                return i
            i += 1
        return None

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(docs, tfs) of ``term``; None when no passage of the segment holds it."""
        j = self.column(term)
        if j is None:
            return None
        s = slice(int(self.indptr[j]), int(self.indptr[j + 1]))
        return self.docs[s], self.tfs[s]

    def vocabulary(self) -> list[str]:
        blob, off = self.terms.tobytes(), self.term_offsets.tolist()
        return [blob[off[i] : off[i + 1]].decode() for i in range(len(self.keys))]

    @classmethod
    def from_counts(cls, tokens: list[str], ids, tfs, nnz, lengths) -> Postings:
        """From (token id, count) pairs passage after passage: ``tokens`` names the ids,
        ``nnz`` counts each passage's distinct tokens, ``lengths`` its tokens."""
        ids = np.asarray(ids, dtype=np.int64)
        keys = np.fromiter((_term_key(t) for t in tokens), dtype=np.uint64, count=len(tokens))
        order = np.argsort(keys, kind="stable")
        rank = np.empty(len(tokens), dtype=np.int64)
        rank[order] = np.arange(len(tokens))
        cols = rank[ids]
        rows = np.repeat(np.arange(len(lengths), dtype=np.int32), np.asarray(nnz, dtype=np.int64))
        # Column-major, passages ascending within a column (entries already come in row order).
        by_col = np.argsort(cols, kind="stable")
        indptr = np.zeros(len(tokens) + 1, dtype=np.int64)
        np.cumsum(np.bincount(cols, minlength=len(tokens)), out=indptr[1:])
        encoded = [tokens[i].encode() for i in order]
        term_offsets = np.zeros(len(tokens) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=term_offsets[1:])
        return cls(
            keys[order],
            np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(),
            term_offsets,
            indptr,
            rows[by_col],
            np.asarray(tfs, dtype=np.int32)[by_col],
            np.asarray(lengths, dtype=np.int64),
        )

    @classmethod
    def build(cls, docs: Iterable[str | tuple[str, str]]) -> Postings:
        """``docs``: passages as text, or as (title, text) to give the title its weight; any
        iterable (a SQLite cursor streams). Each passage becomes (token id, count) pairs as it
        comes, so memory holds the vocabulary and two int32 per distinct token of a passage,
        never the token lists. A passage without tokens counts as one "" token (as bm25s)."""
        vocab = _Vocabulary()
        ids = array("i")
        tfs = array("i")
        nnz = array("q")
        lengths = array("q")
        for d in docs:
            tokens = (document_tokens(*d) if isinstance(d, tuple) else document_tokens("", d)) or [
                ""
            ]
            counts = Counter(map(vocab.__getitem__, tokens))
            ids.extend(counts.keys())
            tfs.extend(counts.values())
            nnz.append(len(counts))
            lengths.append(len(tokens))
        return cls.from_counts(
            list(vocab),
            np.frombuffer(ids, dtype=np.int32),
            np.frombuffer(tfs, dtype=np.int32),
            np.frombuffer(nnz, dtype=np.int64),
            np.frombuffer(lengths, dtype=np.int64),
        )

    @classmethod
    def merge(cls, parts: Sequence[tuple[Postings, np.ndarray | None]]) -> Postings:
        """One segment's postings from several, in order, keeping the passages where the mask
        is True (None: all): what a merge of segments writes, without tokenizing again."""
        vocab = _Vocabulary()
        ids, tfs, nnz, lengths = [], [], [], []
        for p, keep in parts:
            n = p.size
            keep = np.ones(n, dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
            new_doc = np.cumsum(keep) - 1
            col_of = np.array([vocab[t] for t in p.vocabulary()], dtype=np.int64)
            cols = np.repeat(col_of, np.diff(p.indptr))
            live = keep[p.docs]
            docs = new_doc[p.docs[live]]
            cols, tf = cols[live], p.tfs[live]
            # Back to passage order (the source is column-major).
            order = np.lexsort((cols, docs))
            ids.append(cols[order])
            tfs.append(tf[order])
            nnz.append(np.bincount(docs, minlength=int(keep.sum())))
            lengths.append(p.lengths[keep])

        def cat(xs, t):
            return np.concatenate(xs).astype(t) if xs else np.zeros(0, t)

        return cls.from_counts(
            list(vocab),
            cat(ids, np.int64),
            cat(tfs, np.int32),
            cat(nnz, np.int64),
            cat(lengths, np.int64),
        )

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for name in _PARTS:
            with open(directory / f"{name}.npy", "wb") as fh:
                np.save(fh, getattr(self, name), allow_pickle=False)

    @classmethod
    def load(cls, directory: Path) -> Postings:
        arrays = [np.load(directory / f"{n}.npy", allow_pickle=False) for n in _PARTS]
        p = cls(*arrays)
        v = len(p.keys)
        if (
            len(p.indptr) != v + 1
            or len(p.term_offsets) != v + 1
            or len(p.docs) != len(p.tfs)
            or (v and int(p.indptr[-1]) != len(p.docs))
            or (len(p.docs) and int(p.docs.max()) >= p.size)
        ):
            raise ValueError(f"inconsistent postings in {directory}")
        return p


class BM25Index:
    """BM25 ("lucene" variant, bm25s's formulas and float operations) over the postings of
    one or more segments, with the statistics of the whole collection: document count, mean
    length and document frequencies summed over the live passages of every segment, deleted
    passages left out. Scores for all positions come back as one array (deleted positions
    score 0), so that fusion can combine them with dense scores, and they equal, float for
    float, what a single index over the same live passages gives.

    ``parts``: (postings, deleted mask or None), in position order: part i's passages follow
    part i-1's."""

    def __init__(
        self,
        parts: Sequence[tuple[Postings, np.ndarray | None]] = (),
        k1: float = BM25_K1,
        b: float = BM25_B,
    ) -> None:
        self.k1, self.b = k1, b
        self._parts = []
        offset = 0
        total_len = 0
        live = 0
        for p, deleted in parts:
            if deleted is not None and not deleted.any():
                deleted = None
            self._parts.append([p, offset, deleted, None])
            offset += p.size
            keep = p.lengths if deleted is None else p.lengths[~deleted]
            total_len += int(keep.sum())
            live += len(keep)
        self._span = offset
        self.live = live
        # bm25s: the mean of an int64 array (exact integer sum, then one division).
        self._avg_len = np.float64(total_len) / np.float64(live) if live else np.float64(1.0)
        for part in self._parts:
            length = part[0].lengths.astype(np.float64)
            part[3] = k1 * ((1 - b) + b * length / self._avg_len)

    @classmethod
    def build(
        cls, docs: Iterable[str | tuple[str, str]], k1: float = BM25_K1, b: float = BM25_B
    ) -> BM25Index:
        """A one-segment index of ``docs`` (see Postings.build)."""
        p = Postings.build(docs)
        return cls([(p, None)] if p.size else [], k1, b)

    @property
    def size(self) -> int:
        """Positions scored (live and deleted passages)."""
        return self._span

    def _live_postings(self, term: str):
        """[(offset, docs, tfs, part)] of the live passages holding ``term``."""
        out = []
        for part in self._parts:
            p, offset, deleted, _ = part
            found = p.postings(term)
            if found is None:
                continue
            docs, tfs = found
            if deleted is not None:
                keep = ~deleted[docs]
                docs, tfs = docs[keep], tfs[keep]
            if len(docs):
                out.append((offset, docs, tfs, part))
        return out

    def df(self, term: str) -> int:
        return sum(len(d) for _, d, _, _ in self._live_postings(term))

    def known(self, terms: Iterable[str]) -> set[str]:
        """The terms that some indexed (live) passage contains."""
        return {t for t in terms if self._live_postings(t)}

    def idf(self, df: int) -> np.float32:
        """bm25s's lucene idf, computed by bm25s's own function (math.log), as float32."""
        from bm25s.scoring import _select_idf_scorer

        return np.float32(_select_idf_scorer("lucene")(int(df), N=self.live))

    def scores(self, query: str | dict[str, float]) -> np.ndarray:
        """BM25 score of every position for ``query`` (a question, or the weighted terms of
        query_terms), float32 in position order."""
        n = self._span
        if not self.live:
            return np.zeros(n, dtype=np.float32)
        terms = query_terms(query) if isinstance(query, str) else query
        rows, vals = [], []
        for t, w in terms.items():
            if w <= 0:
                continue
            found = self._live_postings(t)
            if not found:
                continue
            idf = self.idf(sum(len(d) for _, d, _, _ in found))
            for offset, docs, tfs, part in found:
                tf = tfs.astype(np.float32)
                # As bm25s: float64 tf part times the float32 idf, stored as float32.
                data = (idf * (tf / (part[3][docs] + tf))).astype(np.float32)
                rows.append(docs.astype(np.int64) + offset)
                vals.append(data * np.float32(w))
        if not rows:
            return np.zeros(n, dtype=np.float32)
        return np.bincount(np.concatenate(rows), weights=np.concatenate(vals), minlength=n).astype(
            np.float32
        )

    def save(self, directory: Path) -> None:
        """Save a one-segment index (what a segment holds)."""
        if len(self._parts) > 1:
            raise ValueError("only a one-segment BM25 index is saved; merge the postings first")
        if self._parts:
            self._parts[0][0].save(directory)

    @classmethod
    def load(cls, directory: Path) -> BM25Index:
        if not (directory / "keys.npy").exists():
            return cls([])
        return cls([(Postings.load(directory), None)])


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
    n = index.live
    max_idf = float(np.log(1 + (n + 0.5) / 0.5)) if n else 1.0
    if not n:
        return dict.fromkeys(toks, 1.0)
    out = {}
    for t in toks:
        df = index.df(t)
        if df == 0:
            # An unseen bigram is usually a chance junction of two words, not a term, and an
            # unseen folded form is a word folding leaves as it is: no weight for either.
            out[t] = 0.0 if "_" in t or t.startswith(FOLD_PREFIX) else max_idf
            continue
        out[t] = float(np.log(1 + (n - df + 0.5) / (df + 0.5)))
    return out
