"""A small version of benchmarks/load_test.py: the served app (a real `rag serve` on loopback)
answers POST /api/ask and Gradio client calls at once with zero errors, and its memory does
not grow across rounds once warm (RSS after the warm-up round vs after the last round).

Latencies are printed, never asserted (speed is measured, not asserted)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Once warm, RSS stays within a few MiB (measured: flat for 2,400 requests after the warm-up in
# benchmarks/load_test.py); a leak of 100 KiB per request over the 288 measured requests
# would exceed this.
MAX_GROWTH_KIB = 24 * 1024


def _load_test_module():
    spec = importlib.util.spec_from_file_location("load_test", REPO / "benchmarks" / "load_test.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("load_test", module)  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_served_chat_holds_load_without_errors_or_memory_growth(tmp_path, tiny_model_dir):
    lt = _load_test_module()
    env = lt.server_env(str(tiny_model_dir))
    index = tmp_path / "index"
    lt.build_index(index, env)
    server = lt.start_server(index, env)
    try:
        result = lt.run_load(
            server,
            rounds=5,
            warmup=2,
            asks=80,
            concurrency=10,
            gradio_calls=16,
            gradio_concurrency=3,
            max_seconds=600,
        )
    finally:
        server.stop()
    print(json.dumps(result, indent=1))
    assert result["errors"] == 0, [r["error_samples"] for r in result["rounds"]]
    assert len(result["rounds"]) == 5 and result["requests"] == 5 * 96
    assert all(r["api_ms"] and r["gradio_ms"] for r in result["rounds"])
    assert result["growth_after_warmup_kib"] < MAX_GROWTH_KIB, result
