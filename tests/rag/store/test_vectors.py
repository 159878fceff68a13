"""rag.store.vectors: the VectorIndex interface, through its FAISS implementation (real FAISS):
build, append, deletes honoured at search, search, save and load."""

from __future__ import annotations

import numpy as np
import pytest

from rag.store.vectors import (
    HNSW_EF_SEARCH,
    HNSW_M,
    FaissVectors,
    VectorIndex,
    choose_kind,
    faiss_params,
)

DIM = 16


def unit_vectors(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def exact_top(queries: np.ndarray, vectors: np.ndarray, k: int, keep=None) -> np.ndarray:
    """Positions of the k best inner products (ties by position), over ``keep`` positions."""
    scores = queries @ vectors.T
    if keep is not None:
        scores[:, ~keep] = -np.inf
    return np.array([np.lexsort((np.arange(len(s)), -s))[:k] for s in scores])


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_build_append_delete_search_save_load(tmp_path, kind):
    vectors = unit_vectors(300, seed=0)
    queries = unit_vectors(6, seed=1)
    index: VectorIndex = FaissVectors.build(DIM, vectors[:200], kind=kind)
    assert isinstance(index, VectorIndex)
    assert (index.kind, index.d, index.ntotal) == (kind, DIM, 200)

    index.append(vectors[200:])
    index.append(np.zeros((0, DIM), dtype=np.float32))  # nothing to add
    assert index.ntotal == 300
    assert np.array_equal(index.vectors(), vectors)
    assert np.array_equal(index.reconstruct(250), vectors[250])

    dist, ids = index.search(queries, 10)
    expected = exact_top(queries, vectors, 10)
    assert dist.shape == ids.shape == (6, 10)
    if kind == "flat":
        assert np.array_equal(ids, expected)
        np.testing.assert_allclose(dist, np.take_along_axis(queries @ vectors.T, ids, 1), 1e-5)
    else:
        assert (
            np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, expected, strict=True)]) >= 0.9
        )

    # Deletes are a mask honoured at search: never returned, k live results still there.
    deleted = np.zeros(300, dtype=bool)
    deleted[expected[:, 0]] = True
    deleted[::7] = True
    dist, ids = index.search(queries, 10, deleted)
    assert ids.shape == (6, min(300, 10 + int(deleted.sum())))
    assert not deleted[ids[ids >= 0]].any()
    assert np.all(dist[ids < 0] == -np.inf)
    live = [row[row >= 0][:10] for row in ids]
    assert all(len(row) == 10 for row in live)
    if kind == "flat":
        assert np.array_equal(np.array(live), exact_top(queries, vectors, 10, keep=~deleted))
    assert np.array_equal(index.vectors(deleted), vectors[~deleted])

    index.save(tmp_path / "vectors.faiss")
    loaded = FaissVectors.load(tmp_path / "vectors.faiss")
    assert (loaded.kind, loaded.d, loaded.ntotal) == (kind, DIM, 300)
    assert np.array_equal(loaded.vectors(), vectors)
    for mask in (None, deleted):
        a, b = index.search(queries, 10, mask), loaded.search(queries, 10, mask)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    if kind == "hnsw":
        assert loaded.index.hnsw.efSearch == HNSW_EF_SEARCH


def test_an_empty_index(tmp_path):
    index = FaissVectors.build(DIM)
    assert index.ntotal == 0 and index.kind == "flat"
    assert index.vectors().shape == (0, DIM)
    index.save(tmp_path / "v.faiss")
    assert FaissVectors.load(tmp_path / "v.faiss").ntotal == 0


def test_kind_by_size_and_what_the_manifest_records():
    assert choose_kind(99, threshold=100) == "flat"
    assert choose_kind(100, threshold=100) == "hnsw"
    assert choose_kind(10**9, "flat", threshold=100) == "flat"
    assert choose_kind(1, "hnsw", threshold=100) == "hnsw"
    assert FaissVectors.build(DIM, unit_vectors(5, 2), threshold=5).kind == "hnsw"
    assert FaissVectors.build(DIM, unit_vectors(4, 2), threshold=5).kind == "flat"
    with pytest.raises(ValueError, match="unknown FAISS index kind"):
        choose_kind(1, "ivf")
    assert faiss_params(None, 5) is None
    assert faiss_params("flat", 5) == {"threshold": 5}
    assert faiss_params("hnsw", 5)["M"] == HNSW_M


def test_a_damaged_file_fails_to_load(tmp_path):
    (tmp_path / "v.faiss").write_bytes(b"not an index")
    with pytest.raises(RuntimeError):
        FaissVectors.load(tmp_path / "v.faiss")
