"""Vietnamese-aware text normalization and the tokens BM25 indexes and asks for.

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
from itertools import pairwise

# Fitted on the tuning split of xquad-vi (benchmarks/fit_retrieval.py; see eval/README.md), with
# rag.bm25's k1 and b.
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
