"""How close in meaning a question is to each candidate sentence of an answer, by the
embedding model.

Terms alone cannot tell "Putin tặng Kim món quà gì?" (what Putin gave) from "Putin được tặng
gì" (what Putin received): both sentences hold the question's words. The model can, and it
also meets an English question in a Vietnamese sentence. Sentence vectors are cached by text
across questions (a passage's sentences are encoded once per process), and read from the
index's stored sentence vectors (rag.store.sentence_vectors, written at ingest by
``SentenceWriter``) before any is encoded, so a question costs one query encoding plus the
sentences neither holds.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from rag.sentences import split_sentences
from rag.store.sentence_vectors import SentenceVectors

CACHE_SIZE = 50_000  # sentence vectors kept (384 floats each: ~77 MB at most)


class SentenceSimilarity:
    def __init__(self, encoder, cache_size: int = CACHE_SIZE) -> None:
        self.encoder = encoder
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._size = cache_size
        self._lock = threading.Lock()  # guards _cache
        self._encoding = threading.Lock()  # one encode at a time
        self.stored: SentenceVectors | None = None  # the index's, read before encoding

    def use_stored(self, stored: SentenceVectors | None) -> None:
        """Read sentence vectors from ``stored`` (the index's) before encoding any."""
        if self.stored is not stored and self.stored is not None:
            self.stored.close()
        self.stored = stored

    def clear(self) -> None:
        """Forget every sentence vector (benchmarks time questions as if none were cached)."""
        with self._lock:
            self._cache.clear()

    def _missing(self, texts: Sequence[str]) -> list[str]:
        with self._lock:
            return [t for t in dict.fromkeys(texts) if t not in self._cache]

    def _vectors(self, texts: Sequence[str]) -> list[np.ndarray]:
        if self._missing(texts):
            # One thread encodes at a time, and looks again once its turn comes: concurrent
            # questions on one subject bring up the same sentences, which are then encoded
            # once, not once per thread. In groups small enough for the encoder to run them on
            # this thread alone (embeddings.encoder.SMALL_BATCH): request threads never start
            # thread teams of their own.
            from embeddings.encoder import SMALL_BATCH

            with self._encoding:
                missing = self._missing(texts)
                if missing and self.stored is not None:
                    found = self._read_stored(missing)
                    with self._lock:
                        self._cache.update(found)
                        while len(self._cache) > self._size:
                            self._cache.popitem(last=False)
                    missing = [t for t in missing if t not in found]
                for i in range(0, len(missing), SMALL_BATCH):
                    group = missing[i : i + SMALL_BATCH]
                    encoded = self.encoder.encode_passages(group)
                    with self._lock:
                        for text, vec in zip(group, encoded, strict=True):
                            self._cache[text] = vec
                        while len(self._cache) > self._size:
                            self._cache.popitem(last=False)
        with self._lock:
            out = []
            for t in texts:
                vec = self._cache.get(t)
                if vec is None:  # evicted meanwhile by another thread's batch
                    vec = self.encoder.encode_passages([t])[0]
                self._cache[t] = vec
                self._cache.move_to_end(t)
                out.append(vec)
            return out

    def _read_stored(self, texts: list[str]) -> dict[str, np.ndarray]:
        import sqlite3

        try:
            return self.stored.get(texts)
        except sqlite3.Error:
            return {}  # unreadable (being replaced, damaged): the sentences are encoded instead

    def for_question(
        self, question: str, vector: np.ndarray | None = None
    ) -> Callable[[Sequence[str]], np.ndarray]:
        """A function from sentences to their cosine with ``question`` (vectors are unit);
        ``vector``: the question's, when retrieval has encoded it already."""
        if vector is None:
            vector = self.encoder.encode_queries([question])
        q = np.asarray(vector, dtype=np.float32).reshape(-1)

        def cosines(texts: Sequence[str]) -> np.ndarray:
            if not texts:
                return np.zeros(0, dtype=np.float32)
            return np.asarray(self._vectors(texts), dtype=np.float32) @ q

        return cosines


def sentences_of(article_text: str, passages: Sequence[str]) -> list[str]:
    """The sentences questions will bring up for an article's passages: the article's own
    (the answers read whole sentences of the article, rag.answer.passage_sentences) and each
    passage's (retrieval's second stage reads the passage as it is, its edges cut mid-sentence
    where the chunks overlap), each once."""
    out = [article_text[s:e] for s, e in split_sentences(article_text)]
    for text in passages:
        out.extend(text[s:e] for s, e in split_sentences(text))
    return list(dict.fromkeys(out))


class SentenceWriter:
    """Stores the sentences of what an ingest adds, a batch of articles at a time. Storing is
    an optimization: a failure (full disk, unwritable index folder) stops it for the rest of
    the ingest, which goes on, and ``warning`` says why and what to do."""

    def __init__(
        self, encoder, root: Path, model: str, *, batch_size: int, batch_tokens: int | None
    ) -> None:
        self.encoder = encoder
        self.stored = SentenceVectors(root, model, encoder.dim, writable=True)
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        self.encoded = 0
        self.warning: str | None = None

    def add(self, articles: Sequence[tuple[str, Sequence[str]]]) -> None:
        """``articles``: (article text, its passages' texts) of one ingest batch."""
        import sqlite3

        from embeddings.batching import batch_tokens_for, encode_sorted

        if self.warning is not None:
            return
        texts = [t for text, passages in articles for t in sentences_of(text, passages)]
        try:
            # Those not stored yet, in length-sorted batches under the token cap (as passages).
            missing = self.stored.missing(texts)
            if missing:
                vectors = encode_sorted(
                    self.encoder,
                    missing,
                    max(1, self.batch_size),
                    max_tokens=batch_tokens_for(self.encoder, self.batch_tokens),
                )
                self.stored.put(missing, vectors)
            self.encoded += len(missing)
        except (sqlite3.Error, OSError) as exc:
            self.warning = (
                f"sentence vectors not stored at {self.stored.path} ({exc}): answers encode "
                "the sentences they read instead; once the folder is writable and has room, "
                "run `rag index sentences`"
            )
            self.close()

    def close(self) -> None:
        self.stored.close()
