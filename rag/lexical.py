"""The lexical side of retrieval in one import: rag.tokens (Vietnamese-aware normalization and
the tokens BM25 indexes and asks for) and rag.bm25 (BM25 over segment postings, scored as bm25s
scores). Code of this package imports from those two; this module keeps ``from rag.lexical
import ...`` working for the modules that still use it."""

from rag.bm25 import BM25_B, BM25_K1, BM25Index, Postings, idf_weights, top_k
from rag.tokens import (
    BIGRAM_WEIGHT,
    EN_OTHER_WEIGHT,
    FOLD_PREFIX,
    TITLE_WEIGHT,
    VI_NAME_WEIGHT,
    detect_language,
    document_tokens,
    fold_accents,
    is_folded_vietnamese,
    normalize,
    query_terms,
    syllables,
    token_runs,
    tokenize,
)

__all__ = [
    "BIGRAM_WEIGHT",
    "BM25_B",
    "BM25_K1",
    "EN_OTHER_WEIGHT",
    "FOLD_PREFIX",
    "TITLE_WEIGHT",
    "VI_NAME_WEIGHT",
    "BM25Index",
    "Postings",
    "detect_language",
    "document_tokens",
    "fold_accents",
    "idf_weights",
    "is_folded_vietnamese",
    "normalize",
    "query_terms",
    "syllables",
    "token_runs",
    "tokenize",
    "top_k",
]
