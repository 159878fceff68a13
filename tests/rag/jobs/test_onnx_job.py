"""The embedding job on the ONNX Runtime backends: the torch job's rows with vectors at cosine
0.9999, and the ONNX recipe as part of the job (a job of another recipe is not finished with
this one's vectors, a finished one still builds its index)."""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rag.errors import InputError
from rag.jobs import EmbedJob, build_index, read_shards, run_job, vectors_of


@pytest.fixture(autouse=True)
def _onnx_cache(monkeypatch, onnx_cache):
    monkeypatch.setenv("RAG_ONNX_CACHE", str(onnx_cache))


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


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
