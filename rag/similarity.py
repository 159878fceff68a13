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
        self._lock = threading.Lock()

    def _vectors(self, texts: Sequence[str]) -> list[np.ndarray]:
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            encoded = self.encoder.encode_passages(missing)
            with self._lock:
                for text, vec in zip(missing, encoded, strict=True):
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
