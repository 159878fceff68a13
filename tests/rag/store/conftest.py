"""A small index written through Store without any model: articles chunked by hand, random unit
vectors, so that the store is tested alone."""

from __future__ import annotations

import numpy as np
import pytest

from rag.store import Store
from rag.types import Article, Chunk

DIM = 8


def article(i: int, passages: int = 2) -> tuple[Article, list[Chunk]]:
    """Article ``a{i}`` with ``passages`` passages of Vietnamese text."""
    parts = [f"Hiệp ước số {i} đoạn {j} được ký tại Hà Nội ngày 19/6." for j in range(passages)]
    text = " ".join(parts)
    chunks, start = [], 0
    for j, p in enumerate(parts):
        chunks.append(Chunk(f"a{i}", j, p, start, start + len(p), f"Tin {i}"))
        start += len(p) + 1
    return Article(f"a{i}", f"Tin {i}", text, source="test", site="Báo thử"), chunks


def vectors_for(add, seed: int) -> np.ndarray:
    n = sum(len(c) for _, c in add)
    x = np.random.default_rng(seed).normal(size=(n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def write(store: Store, add, *, delete=(), seed: int = 0, model: str | None = "m") -> str:
    """One generation: ``add`` as a new segment, ``delete`` as tombstones."""
    base = store.open() if store.exists() else None
    try:
        with store.lock():
            return store.write_generation(
                base=base,
                add=add,
                vectors=vectors_for(add, seed) if model else None,
                delete=delete,
                model=model,
                dim=DIM if model else None,
                settings_info={"chunk_size": 900, "chunk_overlap": 150},
            )
    finally:
        if base is not None:
            base.close()


@pytest.fixture()
def three_segments(tmp_path) -> Store:
    """Segments of 2, 1 and 2 articles (2 passages each, a3 with 3), a2 deleted."""
    store = Store(tmp_path / "index", faiss_threshold=5)
    write(store, [article(0), article(1)], seed=0)
    write(store, [article(2)], seed=1)
    write(store, [article(3, passages=3), article(4)], seed=2)
    write(store, [], delete=["a2", "a0"])
    return store
