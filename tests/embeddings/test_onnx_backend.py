"""The ONNX Runtime backend: the same model exported from the local folder, fp32 and int8,
giving the vectors torch gives (cosine), and `rag ingest` running on it (the batch job on it:
tests/rag/jobs/test_onnx_job.py)."""

from __future__ import annotations

import numpy as np
import pytest

from embeddings.backends import load_for_backend
from rag.errors import InputError
from tests.news_corpus import corpus_records


@pytest.fixture(autouse=True)
def _onnx_cache(monkeypatch, onnx_cache):
    monkeypatch.setenv("RAG_ONNX_CACHE", str(onnx_cache))


def _passages(seeds_dir) -> list[str]:
    return [r["text"][:600] for r in corpus_records(seeds_dir)]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _encoders(model_dir):
    return tuple(
        load_for_backend(str(model_dir), backend) for backend in ("torch", "onnx", "onnx-int8")
    )


def test_onnx_gives_the_torch_vectors(tiny_model_dir, seeds_dir, onnx_cache):
    torch_enc, onnx_enc, int8_enc = _encoders(tiny_model_dir)
    texts = _passages(seeds_dir)
    ref = torch_enc.encode_passages(texts)
    fp32 = onnx_enc.encode_passages(texts)
    assert onnx_enc.dim == torch_enc.dim and onnx_enc.model_id == torch_enc.model_id
    assert _cosines(fp32, ref).min() > 0.9999
    assert int8_enc.quantized and int8_enc.path.name == "model_int8.onnx"
    # A tiny random model is harsher on int8 than a trained one (see benchmarks/README.md for
    # MiniLM); it must still point the same way.
    assert _cosines(int8_enc.encode_passages(texts), ref).mean() > 0.95
    # Exported once, then reused from the cache.
    assert sorted(p.name for p in onnx_cache.rglob("*.onnx")) == ["model.onnx", "model_int8.onnx"]


def test_int8_graph_follows_the_recipe(tiny_model_dir):
    """The fused graph (one Attention per layer) quantized to int8 everywhere except the FFN
    output projections of the first half of the layers, which stay fp32 MatMuls."""
    import onnx

    from embeddings.onnx import fp32_nodes

    _, onnx_enc, int8_enc = _encoders(tiny_model_dir)
    layers = _load_config(tiny_model_dir)["num_hidden_layers"]
    fp32_graph = onnx.load(str(onnx_enc.path)).graph
    assert sum(n.op_type == "Attention" for n in fp32_graph.node) == layers
    kept = fp32_nodes(onnx_enc.path)
    assert len(kept) == (layers + 1) // 2
    assert all("/output/dense/" in k and "attention" not in k for k in kept)
    nodes = {n.name: n.op_type for n in onnx.load(str(int8_enc.path)).graph.node}
    assert all(nodes[k] == "MatMul" for k in kept)
    assert sum(t == "QAttention" for t in nodes.values()) == layers
    # Every other projection with weights runs on int8 (attention output, FFN input, the rest
    # of the FFN outputs; Q/K/V are inside QAttention).
    weighted = sum(t in ("MatMulInteger", "DynamicQuantizeMatMul") for t in nodes.values())
    assert weighted == 3 * layers - len(kept)


def _load_config(model_dir) -> dict:
    import json

    return json.loads(next(model_dir.rglob("config.json")).read_text())


def test_onnx_queries_carry_the_query_prompt(tiny_model_dir):
    torch_enc, onnx_enc, _ = _encoders(tiny_model_dir)
    q = ["Hiệp ước mới thay thế những văn kiện nào?"]
    assert _cosines(onnx_enc.encode_queries(q), torch_enc.encode_queries(q)).min() > 0.9999


@pytest.mark.slow
def test_minilm_int8_stays_close_to_torch(minilm_dir, seeds_dir):
    """The real all-MiniLM-L6-v2: fp32 ONNX equals torch; int8 stays at cosine >= 0.99 for
    every passage (the product's bar; benchmarks/README.md has the figures on VNTC and XQuAD)."""
    torch_enc, onnx_enc, int8_enc = _encoders(minilm_dir)
    texts = _passages(seeds_dir)[:24]
    ref = torch_enc.encode_passages(texts)
    assert _cosines(onnx_enc.encode_passages(texts), ref).min() > 0.9999
    assert _cosines(int8_enc.encode_passages(texts), ref).min() >= 0.99


def _index_vectors(assistant) -> np.ndarray:
    snap = assistant._current_snapshot()
    return snap.faiss.reconstruct_n(0, snap.size)


def test_ingest_on_onnx_builds_the_torch_index(tiny_model_dir, seeds_dir, tmp_path):
    """RAG_EMBED_BACKEND / `rag ingest --backend`: passages encoded by ONNX Runtime land in the
    same index as torch's (fp32: the same vectors; int8: close), and questions still find them."""
    from rag.pipeline import Assistant
    from rag.settings import Settings

    built = {}
    for backend in ("torch", "onnx", "onnx-int8"):
        settings = Settings.load(
            env={"RAG_EMBED_BACKEND": backend},
            index_dir=tmp_path / backend,
            embed_model=str(tiny_model_dir),
        )
        a = Assistant(settings)
        report = a.ingest([seeds_dir])
        assert report.added == 5
        manifest = a._current_snapshot().manifest
        assert manifest["settings"]["embed_backend"] == backend
        built[backend] = (a, _index_vectors(a))
    ref = built["torch"][1]
    assert _cosines(built["onnx"][1], ref).min() > 0.9999
    assert _cosines(built["onnx-int8"][1], ref).mean() > 0.95
    q = "Hiệp ước mới thay thế những văn kiện nào?"
    torch_hits = [h.chunk.article_id for h in built["torch"][0].search(q, k=3, mode="dense")]
    onnx_hits = [h.chunk.article_id for h in built["onnx"][0].search(q, k=3, mode="dense")]
    assert onnx_hits == torch_hits
    for a, _ in built.values():
        a.close()


def test_an_unknown_embedding_backend_is_a_one_line_error():
    from rag.settings import Settings

    with pytest.raises(InputError, match="unknown embedding backend 'gpu'.*onnx-int8"):
        Settings.load(env={"RAG_EMBED_BACKEND": "gpu"})
