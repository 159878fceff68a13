"""rag.store.cache: the vectors of a write that has not committed yet."""

from __future__ import annotations

import numpy as np

from rag.store import VectorCache, text_sha1


def test_parts_add_up_and_a_torn_part_is_passed_over(tmp_path):
    cache = VectorCache(tmp_path, "model|torch")
    assert cache.load() == {}
    v = np.eye(3, dtype=np.float32)
    cache.add([text_sha1("a"), text_sha1("b")], v[:2])
    cache.add([text_sha1("c")], v[2:])
    (cache.dir / "part-000002.npz").write_bytes(b"cut short")
    found = cache.load()
    assert sorted(found) == sorted(text_sha1(t) for t in "abc")
    assert np.array_equal(found[text_sha1("c")], v[2])
    assert VectorCache(tmp_path, "other model").load() == {}
    cache.clear()
    assert cache.load() == {} and not cache.dir.exists()
