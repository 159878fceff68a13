"""The index's stored sentence vectors: real SQLite files, keyed by model and text."""

from __future__ import annotations

import sqlite3
import threading

import numpy as np
import pytest

from rag.store import SentenceVectors
from rag.store.layout import SENTENCE_VECTORS


def unit(n: int, dim: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_vectors_come_back_for_their_texts_and_model_only(tmp_path):
    texts = ["Hiệp ước được ký tại Bình Nhưỡng.", "Ông Putin tặng xe Aurus.", "Câu thứ ba."]
    vecs = unit(3, 16)
    w = SentenceVectors(tmp_path, "model-a", 16, writable=True)
    w.put(texts[:2], vecs[:2])
    got = w.get(texts)
    assert set(got) == set(texts[:2])
    for t, v in zip(texts[:2], vecs[:2], strict=True):
        # Stored as float16: cosines move by well under 1e-3.
        assert got[t].dtype == np.float32 and np.allclose(got[t], v, atol=1e-3)
        assert abs(float(got[t] @ v) - 1.0) < 1e-3
    assert w.missing(texts + texts[:1]) == [texts[2]]
    assert SentenceVectors(tmp_path, "model-b", 16).get(texts) == {}
    assert w.count() == 2
    w.put(texts[:1], vecs[2:3])  # the same text again: replaced, not added
    assert w.count() == 2 and np.allclose(w.get(texts[:1])[texts[0]], vecs[2], atol=1e-3)
    w.close()


def test_a_reader_sees_nothing_before_the_file_and_everything_committed_after(tmp_path):
    reader = SentenceVectors(tmp_path, "m", 8)
    assert reader.get(["a"]) == {} and reader.count() == 0
    assert not (tmp_path / SENTENCE_VECTORS).exists()  # a reader creates nothing
    w = SentenceVectors(tmp_path, "m", 8, writable=True)
    w.put(["a", "b"], unit(2, 8))
    assert set(reader.get(["a", "b", "c"])) == {"a", "b"}
    with pytest.raises(RuntimeError, match="read-only"):
        reader.put(["c"], unit(1, 8))
    reader.close()
    w.close()


def test_readers_do_not_wait_for_a_writer_in_the_middle_of_a_transaction(tmp_path):
    w = SentenceVectors(tmp_path, "m", 8, writable=True)
    w.put(["old"], unit(1, 8))
    reader = SentenceVectors(tmp_path, "m", 8)
    raw = sqlite3.connect(tmp_path / SENTENCE_VECTORS)
    raw.execute("BEGIN IMMEDIATE")  # another writer holds the write lock, uncommitted
    raw.execute("INSERT INTO vectors VALUES (?, ?)", (b"k" * 16, b"\0" * 16))
    done = threading.Event()
    seen: dict = {}

    def read() -> None:
        seen.update(reader.get(["old"]))
        done.set()

    threading.Thread(target=read).start()
    assert done.wait(5), "a reader waited for an open write transaction"
    assert set(seen) == {"old"}
    raw.rollback()
    raw.close()
    reader.close()
    w.close()


def test_a_vector_of_another_size_is_not_used(tmp_path):
    w = SentenceVectors(tmp_path, "m", 8, writable=True)
    w.put(["a"], unit(1, 8))
    assert SentenceVectors(tmp_path, "m", 16).get(["a"]) == {}
    w.close()


def test_many_texts_are_read_in_several_queries(tmp_path):
    texts = [f"câu số {i}." for i in range(1234)]
    vecs = unit(len(texts), 4)
    w = SentenceVectors(tmp_path, "m", 4, writable=True)
    w.put(texts, vecs)
    got = w.get(texts)
    assert len(got) == len(texts)
    assert np.allclose(np.stack([got[t] for t in texts]), vecs, atol=1e-3)
    w.close()
