"""The served page keeps a bounded number of Gradio sessions, each of bounded size.

Gradio keeps the state and a copy of the component config of every session it has seen (each
page load, each gradio_client.Client) until newer sessions push it out: with its default of
10,000 sessions, the server's memory grew ~100 KiB with every new visitor, up to ~1 GB.
"""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import pytest

import ui.app
from tests.ui.conftest import seeded, start_server

# What the sessions may hold at most (ui.app.SESSIONS of them): measured ~100 MB.
MAX_SESSIONS_MB = 200


def state_holder(app):
    """The StateHolder of the Gradio app that build_app mounted at /."""
    from gradio.routes import App

    (gradio_app,) = [r.app for r in app.routes if isinstance(getattr(r, "app", None), App)]
    return gradio_app.state_holder


@pytest.fixture()
def small_capacity_server(tmp_path: Path, tiny_model_dir: Path, seeds_dir: Path, monkeypatch):
    monkeypatch.setattr(ui.app, "SESSIONS", 4)
    settings, assistant = seeded(tmp_path, tiny_model_dir, seeds_dir)
    live = start_server(settings, assistant)
    yield live
    live.stop()
    assistant.close()


def test_the_oldest_sessions_are_dropped_past_the_capacity(small_capacity_server):
    from gradio_client import Client

    holder = state_holder(small_capacity_server.server.config.app)
    assert holder.capacity == 4
    hashes = []
    for _ in range(7):
        client = Client(small_capacity_server.url, verbose=False)
        answer = client.predict(
            "Hiệp ước mới thay thế những văn kiện nào?", 3, "bm25", api_name="/ask"
        )
        assert answer["citations"]
        hashes.append(client.session_hash)
        client.close()
    assert list(holder.session_data) == hashes[-4:]


def test_the_kept_sessions_fit_in_a_bounded_memory(tmp_path, tiny_model_dir, seeds_dir):
    """A session's state and config, measured on the real page, times ui.app.SESSIONS."""
    from gradio.state_holder import SessionState

    from ui.app import build_app

    settings, assistant = seeded(tmp_path, tiny_model_dir, seeds_dir)
    try:
        holder = state_holder(build_app(settings, assistant))
        assert holder.capacity == ui.app.SESSIONS < 10_000
        n = 20
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot()
            sessions = [SessionState(holder.blocks) for _ in range(n)]
            gc.collect()
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        per_session = sum(d.size_diff for d in after.compare_to(before, "filename")) / n
        assert len(sessions) == n
        print(f"one session: {per_session / 1024:.1f} KiB")
        assert per_session * ui.app.SESSIONS < MAX_SESSIONS_MB * 2**20, per_session
    finally:
        assistant.close()
