"""The ONNX Runtime backend: the same model exported from the local folder, fp32 and int8,
giving the vectors torch gives (cosine), and the batch job running on it."""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from embeddings.batch import EmbedJob, load_job_encoder, read_shards, run_job, vectors_of
from rag.errors import InputError
from tests.embeddings.conftest import corpus_records


@pytest.fixture(autouse=True)
def _onnx_cache(monkeypatch, onnx_cache):
    monkeypatch.setenv("RAG_ONNX_CACHE", str(onnx_cache))


def _passages(seeds_dir) -> list[str]:
    return [r["text"][:600] for r in corpus_records(seeds_dir)]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _encoders(model_dir, tmp_path):
    job = EmbedJob(inputs=("x",), out_dir=tmp_path, model=str(model_dir))
    return (
        load_job_encoder(job),
        load_job_encoder(EmbedJob(**{**job.__dict__, "backend": "onnx"})),
        load_job_encoder(EmbedJob(**{**job.__dict__, "backend": "onnx-int8"})),
    )


def test_onnx_gives_the_torch_vectors(tiny_model_dir, seeds_dir, tmp_path, onnx_cache):
    torch_enc, onnx_enc, int8_enc = _encoders(tiny_model_dir, tmp_path)
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


def test_int8_graph_follows_the_recipe(tiny_model_dir, tmp_path):
    """The fused graph (one Attention per layer) quantized to int8 everywhere except the FFN
    output projections of the first half of the layers, which stay fp32 MatMuls."""
    import onnx

    from embeddings.onnx import fp32_nodes

    _, onnx_enc, int8_enc = _encoders(tiny_model_dir, tmp_path)
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


def test_onnx_queries_carry_the_query_prompt(tiny_model_dir, tmp_path):
    torch_enc, onnx_enc, _ = _encoders(tiny_model_dir, tmp_path)
    q = ["Hiệp ước mới thay thế những văn kiện nào?"]
    assert _cosines(onnx_enc.encode_queries(q), torch_enc.encode_queries(q)).min() > 0.9999


def test_job_on_onnx_matches_torch_job(tmp_path, corpus_jsonl, tiny_model_dir):
    jobs = {
        backend: EmbedJob(
            inputs=(str(corpus_jsonl),),
            out_dir=tmp_path / backend,
            model=str(tiny_model_dir),
            backend=backend,
            shard_size=16,
        )
        for backend in ("torch", "onnx")
    }
    for job in jobs.values():
        run_job(job, progress=False)
    a, b = (read_shards(j.out_dir) for j in jobs.values())
    assert a.drop_columns(["embedding"]).equals(b.drop_columns(["embedding"]))
    assert _cosines(vectors_of(a), vectors_of(b)).min() > 0.9999


def _int8_job(out, corpus, model) -> EmbedJob:
    return EmbedJob(
        inputs=(str(corpus),), out_dir=out, model=str(model), backend="onnx-int8", shard_size=16
    )


@contextmanager
def _fingerprint(job: EmbedJob):
    """The fingerprint in the job's job.json, to edit in place (as an older release wrote it)."""
    job_file = Path(job.out_dir) / "job.json"
    state = json.loads(job_file.read_text())
    yield state["fingerprint"]
    job_file.write_text(json.dumps(state))


def test_resume_refuses_a_job_from_another_onnx_recipe(tmp_path, corpus_jsonl, tiny_model_dir):
    """A job started by code that built its int8 graph another way cannot be finished exactly:
    resume says so instead of mixing the two kinds of vectors."""
    job = _int8_job(tmp_path / "job", corpus_jsonl, tiny_model_dir)
    run_job(job, progress=False, stop_after_shards=1)
    with _fingerprint(job) as saved:
        del saved["onnx_recipe"]  # as written before the recipe was recorded
    with pytest.raises(InputError, match="onnx_recipe"):
        run_job(job, resume=True, progress=False)


def test_a_finished_job_from_another_onnx_recipe_still_builds_its_index(
    tmp_path, corpus_jsonl, tiny_model_dir
):
    """A finished job needs no encoding, so a newer release's recipe (or a setting it added)
    does not stop `--resume --build-index`; a shard lost since must not be re-encoded under the
    new recipe, and a setting the user changed is still refused."""
    from embeddings.batch import build_index

    job = _int8_job(tmp_path / "job", corpus_jsonl, tiny_model_dir)
    first = run_job(job, progress=False)
    with _fingerprint(job) as saved:
        saved["onnx_recipe"] -= 1  # as if made by an older release,
        del saved["batch_tokens"]  # from before the token cap was recorded
    shards = read_shards(job.out_dir)

    again = run_job(job, resume=True, progress=False)
    assert again.shards_reused == first.shards and again.manifest["timings"]["shards_encoded"] == 0
    assert read_shards(job.out_dir).equals(shards)
    assert (build_index(job) / "CURRENT").exists()

    with pytest.raises(InputError, match="batch_size"):
        run_job(replace(job, batch_size=8), resume=True, progress=False)

    lost = sorted((tmp_path / "job" / "shards").glob("part-*.parquet"))[-1]
    lost.unlink()
    with pytest.raises(InputError, match="older release"):
        run_job(job, resume=True, progress=False)
    assert not lost.exists()


@pytest.mark.slow
def test_minilm_int8_stays_close_to_torch(minilm_dir, seeds_dir, tmp_path):
    """The real all-MiniLM-L6-v2: fp32 ONNX equals torch; int8 stays at cosine >= 0.99 for
    every passage (the product's bar; benchmarks/README.md has the figures on VNTC and XQuAD)."""
    torch_enc, onnx_enc, int8_enc = _encoders(minilm_dir, tmp_path)
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
