"""What a question encodes on the request path (the question's vector, the sentences its answer
weighs) is encoded once even when many threads ask at once, and in groups small enough to run
on the calling thread alone (embeddings.encoder.SMALL_BATCH).

Before, 50 concurrent askers of one subject each encoded the same sentences: at the start of a
load test every request thread encoded them all, and each such thread kept an OpenMP team."""

from __future__ import annotations

import threading
import time
from collections import Counter

import numpy as np

from embeddings.encoder import SMALL_BATCH
from rag.similarity import SentenceSimilarity

THREADS = 12


class CountingEncoder:
    """Deterministic unit vectors per text; counts what it encodes, slowly enough for the
    threads to overlap."""

    model_id = "counting"
    dim = 8

    def __init__(self, inner=None) -> None:
        self.inner = inner
        self.encoded: Counter = Counter()
        self.calls: list[int] = []
        self._lock = threading.Lock()

    def _vecs(self, texts) -> np.ndarray:
        time.sleep(0.02)
        with self._lock:
            self.encoded.update(texts)
            self.calls.append(len(texts))
        if self.inner is not None:
            return self.inner(texts)
        out = np.stack([np.random.default_rng(len(t)).standard_normal(self.dim) for t in texts])
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)

    def encode_passages(self, texts, batch_size=None) -> np.ndarray:
        return self._vecs(list(texts))

    def encode_queries(self, texts) -> np.ndarray:
        return self._vecs(list(texts))


def run_at_once(fn, n: int = THREADS) -> list:
    start = threading.Barrier(n)
    results: list = [None] * n

    def one(i: int) -> None:
        start.wait(30)
        results[i] = fn(i)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    return results


def test_concurrent_answers_encode_each_sentence_once_in_small_groups():
    enc = CountingEncoder()
    sim = SentenceSimilarity(enc)
    sentences = [f"Câu số {i} nói về hiệp ước mới." for i in range(3 * SMALL_BATCH + 3)]

    def answer(i: int) -> np.ndarray:
        # Every thread weighs the same sentences, some in another order.
        texts = sentences if i % 2 else sentences[::-1]
        return sim.for_question("Hiệp ước?", np.ones(enc.dim, dtype=np.float32))(texts)

    results = run_at_once(answer)
    assert set(enc.encoded) == set(sentences)
    assert max(enc.encoded.values()) == 1, enc.encoded.most_common(3)
    assert max(enc.calls) <= SMALL_BATCH
    for i, cos in enumerate(results):
        assert np.allclose(cos, results[1] if i % 2 else results[0])
    # Cached: no more encoding.
    answer(0)
    assert sum(enc.encoded.values()) == len(sentences)


def test_concurrent_askers_of_one_question_encode_it_once(seeded_assistant):
    retriever = seeded_assistant.retriever()
    enc = CountingEncoder(retriever.encoder.encode_queries)
    retriever.encoder = enc
    questions = ["Hiệp ước mới thay thế những văn kiện nào?", "Which agreements does it replace?"]
    vectors = run_at_once(lambda i: retriever.query_vector(questions[i % 2]))
    assert enc.encoded == Counter({q: 1 for q in questions})
    for i, v in enumerate(vectors):
        assert v.shape == (1, retriever.snapshot.manifest["dim"])
        assert np.array_equal(v, vectors[i % 2])
