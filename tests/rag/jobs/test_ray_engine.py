"""`--engine ray`: the same job on a local Ray instance writes the same shards as the local
engine (same rows, same vectors bit for bit), and resumes like it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.jobs import EmbedJob, read_shards, run_job, vectors_of

pytestmark = pytest.mark.ray
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_engine_writes_the_local_engine_shards(
    local_ray, tmp_path, corpus_jsonl, tiny_model_dir
):
    def job(name: str) -> EmbedJob:
        return EmbedJob(
            inputs=(str(corpus_jsonl),),
            out_dir=tmp_path / name,
            model=str(tiny_model_dir),
            chunk_size=300,
            chunk_overlap=50,
            shard_size=16,
            batch_size=4,
        )

    local = job("local")
    run_job(local, progress=False)

    on_ray = job("ray")
    # Two shards locally, stop; then --resume on Ray: a pool of two encoder actors does the
    # rest, and the result is the local engine's, bit for bit.
    run_job(on_ray, progress=False, stop_after_shards=2)
    report = run_job(on_ray, resume=True, progress=False, engine="ray",
                     ray_options={"workers": 2, "cpus_per_worker": 1})  # fmt: skip
    assert report.shards_reused == 2
    assert report.manifest["timings"]["shards_encoded"] == report.shards - 2 > 1

    a, b = read_shards(local.out_dir), read_shards(on_ray.out_dir)
    assert a.drop_columns(["embedding"]).equals(b.drop_columns(["embedding"]))
    np.testing.assert_array_equal(vectors_of(a), vectors_of(b))
    ma = json.loads((local.out_dir / "manifest.json").read_text())
    mb = json.loads((on_ray.out_dir / "manifest.json").read_text())
    assert mb["engine"] == "ray"
    for key in ("model", "dim", "query_prompt", "passage_prompt", "counts", "chunking"):
        assert ma[key] == mb[key], key


def _closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _embed_on_ray(corpus, out: Path, address: str, model=None, timeout: int = 120, **env):
    """The real CLI in a fresh process (no Ray started by another test), `--engine ray`."""
    import os

    model_args = ["--model", str(model)] if model else []
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", "embed", str(corpus), "--out", str(out), *model_args,
         "--engine", "ray", "--address", address],
        cwd=REPO, capture_output=True, text=True, timeout=timeout, env={**os.environ, **env},
    )  # fmt: skip


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_unreachable_cluster_is_one_line_and_writes_nothing(
    tmp_path, corpus_jsonl, tiny_model_dir, scheme
):
    """ray.init retries a closed port for ever: the job must say so at once, before it reads the
    inputs or creates --out. (A fresh process: no Ray already started by another test.)"""
    pytest.importorskip("ray")
    out = tmp_path / "out"
    address = f"{scheme}127.0.0.1:{_closed_port()}"
    proc = _embed_on_ray(corpus_jsonl, out, address, tiny_model_dir)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"error: cannot reach the Ray cluster at {address}"
    )
    assert "Traceback" not in proc.stderr
    assert not out.exists()


@pytest.fixture
def web_server():
    """A local HTTP/1.1 server: what listens on a wrong port (the dashboard, say)."""
    import threading
    from http.server import HTTPServer, SimpleHTTPRequestHandler

    server = HTTPServer(("127.0.0.1", 0), SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_an_address_where_something_else_listens_is_one_line(
    tmp_path, corpus_jsonl, tiny_model_dir, web_server, scheme
):
    """An open port that is not Ray's (ray.init would wait on it until killed)."""
    pytest.importorskip("ray")
    out = tmp_path / "out"
    address = f"{scheme}127.0.0.1:{web_server}"
    proc = _embed_on_ray(corpus_jsonl, out, address, tiny_model_dir)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: {address} answers, but not as a Ray cluster")
    assert not out.exists()


def test_a_silent_port_is_refused_and_a_real_gcs_is_accepted(local_ray, monkeypatch):
    from rag.errors import InputError
    from rag.jobs import ray_connect

    monkeypatch.setattr(ray_connect, "REACH_TIMEOUT_S", 0.5)
    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(InputError, match="not as a Ray cluster"):
            ray_connect.check_ray(address)
        # A cluster with TLS answers only a TLS handshake: the probe stands aside.
        monkeypatch.setenv("RAY_USE_TLS", "1")
        ray_connect.check_ray(address)
    monkeypatch.delenv("RAY_USE_TLS")
    ray_connect.check_ray(local_ray.get_runtime_context().gcs_address)  # the GCS of a real Ray


@pytest.mark.slow
def test_a_port_where_ray_waits_for_ever_ends_in_one_line(tmp_path, corpus_jsonl, tiny_model_dir):
    """A gRPC server that is not Ray's passes the probe, and ray.init waits on it without end
    (measured: still waiting after 300 s); the CLI gives up after RAG_RAY_CONNECT_TIMEOUT."""
    import time

    pytest.importorskip("ray")
    grpc = pytest.importorskip("grpc")
    from concurrent.futures import ThreadPoolExecutor

    server = grpc.server(ThreadPoolExecutor(max_workers=1))  # no services: every call fails
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    out = tmp_path / "out"
    address = f"127.0.0.1:{port}"
    t0 = time.monotonic()
    try:
        proc = _embed_on_ray(
            corpus_jsonl, out, address, tiny_model_dir, timeout=240, RAG_RAY_CONNECT_TIMEOUT="10"
        )
    finally:
        server.stop(0)
    assert proc.returncode == 2, proc.stderr
    assert time.monotonic() - t0 < 180
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: no answer from Ray at {address} after 10 s"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list((out / "shards").glob("part-*"))  # nothing half-written


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "the Ray connect timeout must be above 0 seconds, got 0.0"),
        ("-5", "the Ray connect timeout must be above 0 seconds, got -5.0"),
        ("soon", "RAG_RAY_CONNECT_TIMEOUT='soon' is not a valid value"),
    ],
)
def test_a_bad_connect_timeout_is_one_line(tmp_path, corpus_jsonl, value, message):
    proc = _embed_on_ray(corpus_jsonl, tmp_path / "o", "127.0.0.1:1", RAG_RAY_CONNECT_TIMEOUT=value)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"error: {message}"]
    assert not (tmp_path / "o").exists()
