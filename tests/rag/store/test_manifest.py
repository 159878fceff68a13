"""rag.store.manifest: what a generation's manifest records."""

from __future__ import annotations

from rag.store.layout import FORMAT, TOKENIZER
from rag.store.manifest import index_kind, new_manifest, read_manifest, write_manifest


def test_the_faiss_kind_of_an_index():
    flat, hnsw = {"faiss_index": "flat"}, {"faiss_index": "hnsw"}
    assert index_kind([], None) is None and index_kind([{"faiss_index": None}], None) is None
    assert index_kind([], "m") == "flat"
    assert index_kind([flat, flat], "m") == "flat" and index_kind([hnsw], "m") == "hnsw"
    assert index_kind([flat, hnsw], "m") == "mixed"


def test_a_manifest_round_trip(tmp_path):
    entries = [{"name": "seg-000002", "articles": 3, "deleted": ["x"], "live_rows": 7}]
    m = new_manifest(
        "gen-000005",
        entries,
        model="m",
        dim=8,
        threshold=10,
        next_segment=3,
        settings_info={"chunk_size": 900},
    )
    assert (m["format"], m["tokenizer"], m["generation"]) == (FORMAT, TOKENIZER, "gen-000005")
    assert m["counts"] == {"articles": 2, "chunks": 7}
    assert m["faiss_index"] == "flat" and m["faiss_params"] == {"threshold": 10}
    assert {"rag", "bm25s", "faiss-cpu"} <= set(m["versions"])
    write_manifest(tmp_path, m)
    assert read_manifest(tmp_path) == m
