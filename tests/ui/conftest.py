"""Fixtures for the web app tests: a real index of the seed articles (tiny local model, real
FAISS, SQLite and BM25) served by a real uvicorn server on a free port, and headless Chromium.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


@dataclass
class LiveServer:
    url: str
    assistant: object
    settings: object
    server: object
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def start_server(settings, assistant) -> LiveServer:
    """build_app(...) served by uvicorn in a thread, on a port the OS picks."""
    import uvicorn

    from ui.app import build_app

    app = build_app(settings, assistant)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=1
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    return LiveServer(f"http://127.0.0.1:{port}", assistant, settings, server, thread)


def seeded(tmp: Path, model_dir: Path, seeds_dir: Path, **overrides):
    from rag.pipeline import Assistant
    from rag.settings import Settings

    settings = Settings.load(
        env={}, index_dir=tmp / "index", embed_model=str(model_dir), **overrides
    )
    assistant = Assistant(settings)
    assistant.ingest([seeds_dir])
    return settings, assistant


@pytest.fixture(scope="module")
def live(tmp_path_factory, tiny_model_dir: Path, seeds_dir: Path) -> Iterator[LiveServer]:
    """The app over a fresh index of the seeds, one per test module (tests that add or delete
    articles do not leak into other modules)."""
    settings, assistant = seeded(tmp_path_factory.mktemp("ui"), tiny_model_dir, seeds_dir)
    server = start_server(settings, assistant)
    yield server
    server.stop()
    assistant.close()


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium through chromedriver (selenium). Skipped, saying why, where
    they are not installed (`make browser-deps` installs them as root); a failure under CI."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_bin = shutil.which("chromedriver")
    if not chromium or not driver_bin:
        why = "chromium and chromedriver are not installed: run `make browser-deps`"
        if os.environ.get("CI"):
            pytest.fail(why)  # .ci/run installs them: a skip there would hide a broken setup
        pytest.skip(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="rag-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--window-size=1400,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    # Every request the page makes, read back by tests that check nothing leaves the server.
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_bin), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
