"""Security of the served app, against a real `rag serve` subprocess on loopback: it binds
127.0.0.1, upload names with ../ write nothing outside a private folder, bad questions get a
clear 4xx, secrets (RAG_AUTH, the LLM key) never appear in responses or the server's log."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"
KEY = "sk-test-Zq8vYh2LmN4pW7rT"
USER, PASSWORD = "admin", "hunter2-Xk9bV3cQ"

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_model_dir):
    import httpx

    work = tmp_path_factory.mktemp("served")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(
        HF_HUB_OFFLINE="1",
        RAG_EMBED_MODEL=str(tiny_model_dir),
        RAG_LLM_API_KEY=KEY,
        RAG_AUTH=f"{USER}:{PASSWORD}",
        PYTHONUNBUFFERED="1",
    )
    index = work / "index"
    subprocess.run(
        [sys.executable, "-m", "rag.cli", "ingest", str(SEEDS), "--index", str(index)],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    port = _free_port()
    log = work / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "serve", "--index", str(index), "--port", str(port)],
            cwd=work,  # uploads must not land here (nor anywhere else outside a temp folder)
            env={**env, "PYTHONPATH": str(REPO)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=url, auth=(USER, PASSWORD), timeout=60)
    deadline = time.monotonic() + 300
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if client.get("/api/health").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.5)
    yield {"url": url, "port": port, "client": client, "log": log, "work": work, "pid": proc.pid}
    client.close()
    proc.terminate()
    proc.wait(15)


def _listening(port: int) -> set[str]:
    """Local addresses listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, p = local.split(":")
            if int(p, 16) == port and state == "0A":  # LISTEN
                found.add(addr)
    return found


def test_the_server_listens_on_loopback_only(server):
    addrs = _listening(server["port"])
    assert addrs == {"0100007F"}, addrs  # 127.0.0.1, and no 0.0.0.0 / :: socket


def test_the_api_needs_the_password_and_never_echoes_it(server):
    import httpx

    anonymous = httpx.post(f"{server['url']}/api/ask", json={"question": "Hiệp ước?"})
    assert anonymous.status_code == 401
    wrong = httpx.get(f"{server['url']}/api/health", auth=(USER, "nope"))
    assert wrong.status_code == 401
    texts = [anonymous.text, wrong.text]
    for path in ("/api/health", "/api/articles", "/openapi.json"):
        r = server["client"].get(path)
        assert r.status_code == 200, path
        texts.append(r.text)
    r = server["client"].post("/api/ask", json={"question": "Hiệp ước mới thay thế gì?"})
    texts.append(r.text)
    for text in texts:
        assert PASSWORD not in text and KEY not in text


def test_upload_names_with_dot_dot_write_nothing_outside(server, tmp_path):
    marker = f"evil-{uuid.uuid4().hex[:8]}"
    article = (SEEDS / "000_67af0a77a16df922.txt").read_bytes()
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr(f"../../{marker}-zip.txt", article + b"\nzip")
        zf.writestr(f"/tmp/{marker}-abs.txt", article + b"\nabs")
    files = [
        ("files", (f"../../../{marker}-a.txt", article + b"\na", "text/plain")),
        ("files", (f"..\\..\\{marker}-b.txt", article + b"\nb", "text/plain")),
        ("files", (f"/etc/{marker}-c.txt", article + b"\nc", "text/plain")),
        ("files", ("../archive.zip", zipped.getvalue(), "application/zip")),
    ]
    r = server["client"].post("/api/ingest", files=files)
    assert r.status_code == 200, r.text
    assert r.json()["added"] == 5
    roots = {server["work"], server["work"].parent, REPO, Path("/tmp"), Path("/etc"), Path.cwd()}
    escaped = [p for root in roots for p in root.glob(f"**/{marker}*") if "pytest" not in str(p)]
    escaped += [p for root in roots for p in root.glob(f"{marker}*")]
    assert escaped == [], escaped
    # The temporary upload folder is gone too.
    assert not [p for p in Path("/tmp").glob("rag-api-*") if any(p.rglob(f"{marker}*"))]


@pytest.mark.parametrize(
    "question",
    ["", "   ", "\x00\x07\x1b", "x" * 100_000],
    ids=["empty", "whitespace", "controls", "100k"],
)
def test_bad_questions_get_a_clear_4xx_and_the_server_keeps_answering(server, question):
    r = server["client"].post("/api/ask", json={"question": question})
    assert r.status_code in (400, 422), r.text
    body = r.json()
    message = body["error"]  # one shape for every mistake, request validation included
    assert isinstance(message, str) and message and "\n" not in message, body
    ok = server["client"].post("/api/ask", json={"question": "Hiệp ước mới thay thế gì?"})
    assert ok.status_code == 200


def test_the_server_log_holds_no_secret(server):
    server["client"].get("/api/health")
    log = server["log"].read_text(errors="replace")
    assert "127.0.0.1" in log  # the log is the server's own output
    assert PASSWORD not in log and KEY not in log
