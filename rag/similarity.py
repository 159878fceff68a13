"""How close in meaning a question is to each candidate sentence of an answer, by the
embedding model.

Terms alone cannot tell "Putin tặng Kim món quà gì?" (what Putin gave) from "Putin được tặng
gì" (what Putin received): both sentences hold the question's words. The model can, and it
also meets an English question in a Vietnamese sentence. Sentence vectors are cached by text
across questions (a passage's sentences are encoded once per process), so a question costs
one query encoding plus the sentences no earlier question brought up.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

CACHE_SIZE = 50_000  # sentence vectors kept (384 floats each: ~77 MB at most)


class SentenceSimilarity:
    def __init__(self, encoder, cache_size: int = CACHE_SIZE) -> None:
        self.encoder = encoder
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._size = cache_size
        self._lock = threading.Lock()  # guards _cache
        self._encoding = threading.Lock()  # one encode at a time

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
