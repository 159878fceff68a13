"""Load test of the served chat: POST /api/ask and Gradio client calls at once, on loopback.

Bounded on every side: a fixed number of requests per round, a fixed number of rounds, a
per-request timeout and a wall-clock limit after which it stops by itself. It only ever talks to
a server it started itself on 127.0.0.1.

Reports, per round: errors, latency p50/p95/p99 for each path, throughput, and the server's RSS
after the round; and the server's peak RSS (VmHWM). The first rounds warm up (models, caches,
malloc arenas of the worker threads: RSS climbs for ~1,500 requests, then stays flat); memory
growth is measured from the end of the warm-up to the end of the last round.

    .venv/bin/python benchmarks/load_test.py                      # 500 asks x 6 rounds, c=20
    .venv/bin/python benchmarks/load_test.py --asks 100 --rounds 2 --json out.json

The index is built once from seeds/ in a temporary folder with the configured model
(RAG_EMBED_MODEL; offline, the local fallback all-MiniLM-L6-v2), unless --index is given.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"
QUESTIONS = [
    "Hiệp ước mới thay thế những văn kiện nào?",
    "Putin và Kim Jong Un ký hiệp ước ở đâu?",
    "Which agreements does the treaty replace?",
    "Nga và Triều Tiên cam kết gì khi một bên bị tấn công?",
    "Hiệp ước được ký vào ngày nào?",
    "Ông Ushakov nói gì về hiệp ước?",
    "Mỹ phản ứng thế nào?",
    "hiep uoc moi thay the nhung van kien nao",
    "What did Russia and North Korea sign?",
    "Tuyên bố Bình Nhưỡng năm nào?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def server_env(model: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RAG_AUTH", "RAG_HOST")}
    env.setdefault("HF_HUB_OFFLINE", "1")
    env["PYTHONUNBUFFERED"] = "1"
    if model:
        env["RAG_EMBED_MODEL"] = model
    return env


def build_index(index: Path, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "rag.cli", "ingest", str(REPO / "seeds"), "--index", str(index)],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        timeout=900,
    )


@dataclass
class Server:
    proc: subprocess.Popen
    url: str

    @property
    def pid(self) -> int:
        return self.proc.pid

    def memory(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak) of the server process, in KiB (Linux /proc)."""
        out = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
        return out

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_server(index: Path, env: dict[str, str], timeout: float = 300) -> Server:
    """`rag serve` on 127.0.0.1 and a free port; returns once /api/health answers."""
    import httpx

    port = free_port()
    log = open(index.parent / f"serve-{port}.log", "wb")  # noqa: SIM115 - lives with the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "serve", "--index", str(index)]
        + ["--host", LOOPBACK, "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://{LOOPBACK}:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see {log.name}")
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return Server(proc, url)
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"server did not answer within {timeout:.0f} s; see {log.name}")


@dataclass
class Round:
    round: int
    asks: int
    gradio_calls: int
    errors: int
    error_samples: list[str] = field(default_factory=list)
    seconds: float = 0.0
    api_ms: dict[str, float] = field(default_factory=dict)
    gradio_ms: dict[str, float] = field(default_factory=dict)
    rss_kib: int = 0
    peak_kib: int = 0


def percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {}
    qs = statistics.quantiles(samples, n=100, method="inclusive") if len(samples) > 1 else []

    def q(p: int) -> float:
        return round(qs[p - 1] if qs else samples[0], 1)

    return {"p50": q(50), "p95": q(95), "p99": q(99), "max": round(max(samples), 1)}


def run_round(
    server: Server,
    number: int,
    *,
    asks: int,
    concurrency: int,
    gradio_calls: int,
    gradio_concurrency: int,
    deadline: float,
    seed: int = 0,
) -> Round:
    """``asks`` POST /api/ask at ``concurrency`` while ``gradio_calls`` Gradio client calls run
    beside them; every failure (status, exception, malformed body) counts as an error."""
    import httpx
    from gradio_client import Client

    rng = random.Random(seed * 1000 + number)
    errors: list[str] = []
    api_ms: list[float] = []
    gradio_ms: list[float] = []
    lock = threading.Lock()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    http = httpx.Client(base_url=server.url, timeout=60, limits=limits)

    def one_ask(i: int) -> None:
        body = {"question": rng.choice(QUESTIONS), "mode": rng.choice(["hybrid", "bm25", None])}
        if time.monotonic() > deadline:
            raise TimeoutError("wall-clock limit reached")
        t0 = time.perf_counter()
        r = http.post("/api/ask", json={k: v for k, v in body.items() if v is not None})
        ms = (time.perf_counter() - t0) * 1000
        data = r.json()
        if r.status_code != 200 or "answer" not in data or "citations" not in data:
            raise RuntimeError(f"ask {i}: HTTP {r.status_code} {str(data)[:200]}")
        with lock:
            api_ms.append(ms)

    clients = [Client(server.url, verbose=False) for _ in range(gradio_concurrency)]

    def one_gradio(i: int) -> None:
        if time.monotonic() > deadline:
            raise TimeoutError("wall-clock limit reached")
        t0 = time.perf_counter()
        data = clients[i % len(clients)].predict(
            rng.choice(QUESTIONS), 5, "hybrid", api_name="/ask"
        )
        ms = (time.perf_counter() - t0) * 1000
        if not isinstance(data, dict) or "citations" not in data:
            raise RuntimeError(f"gradio {i}: unexpected {str(data)[:200]}")
        with lock:
            gradio_ms.append(ms)

    t0 = time.perf_counter()
    with (
        ThreadPoolExecutor(concurrency) as pool,
        ThreadPoolExecutor(gradio_concurrency) as gpool,
    ):
        futures = [pool.submit(one_ask, i) for i in range(asks)]
        futures += [gpool.submit(one_gradio, i) for i in range(gradio_calls)]
        for f in as_completed(futures):
            exc = f.exception()
            if exc is not None:
                errors.append(f"{type(exc).__name__}: {exc}"[:300])
    seconds = time.perf_counter() - t0
    http.close()
    for c in clients:
        c.close()
    mem = server.memory()
    return Round(
        round=number,
        asks=asks,
        gradio_calls=gradio_calls,
        errors=len(errors),
        error_samples=errors[:5],
        seconds=round(seconds, 2),
        api_ms=percentiles(api_ms),
        gradio_ms=percentiles(gradio_ms),
        rss_kib=mem["VmRSS"],
        peak_kib=mem["VmHWM"],
    )


def run_load(
    server: Server,
    *,
    rounds: int,
    asks: int,
    concurrency: int,
    gradio_calls: int,
    gradio_concurrency: int,
    max_seconds: float,
    warmup: int = 1,
    log=print,
) -> dict:
    deadline = time.monotonic() + max_seconds
    before = server.memory()
    results = []
    for n in range(1, rounds + 1):
        r = run_round(
            server,
            n,
            asks=asks,
            concurrency=concurrency,
            gradio_calls=gradio_calls,
            gradio_concurrency=gradio_concurrency,
            deadline=deadline,
        )
        results.append(r)
        log(
            f"round {n}: {r.asks} asks + {r.gradio_calls} gradio in {r.seconds:.1f} s, "
            f"errors {r.errors}, api {r.api_ms}, gradio {r.gradio_ms}, "
            f"rss {r.rss_kib / 1024:.0f} MiB"
        )
        if time.monotonic() > deadline:
            break
    warm = results[min(warmup, len(results)) - 1].rss_kib
    return {
        "rounds": [asdict(r) for r in results],
        "errors": sum(r.errors for r in results),
        "requests": sum(r.asks + r.gradio_calls for r in results),
        "rss_start_kib": before["VmRSS"],
        "warmup_rounds": warmup,
        "rss_per_round_kib": [r.rss_kib for r in results],
        "rss_after_warmup_kib": warm,
        "rss_end_kib": results[-1].rss_kib,
        "growth_after_warmup_kib": results[-1].rss_kib - warm,
        "peak_kib": server.memory()["VmHWM"],
        "concurrency": concurrency,
        "gradio_concurrency": gradio_concurrency,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, help="Existing index (default: seeds/ in a temp dir).")
    ap.add_argument("--model", help="RAG_EMBED_MODEL for the index and the server.")
    ap.add_argument("--asks", type=int, default=500, help="POST /api/ask per round (500).")
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--gradio", type=int, default=100, help="Gradio client calls per round.")
    ap.add_argument("--gradio-concurrency", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=6, help="Rounds of the above (6).")
    ap.add_argument(
        "--warmup", type=int, default=3, help="Rounds that warm up before memory is compared (3)."
    )
    ap.add_argument("--max-seconds", type=float, default=900, help="Stop after this (900).")
    ap.add_argument("--json", type=Path, help="Write the results here as JSON.")
    args = ap.parse_args(argv)
    if args.asks > 5000 or args.concurrency > 64 or args.rounds > 10:
        ap.error("bounded by design: --asks <= 5000, --concurrency <= 64, --rounds <= 10")
    if not 1 <= args.warmup < args.rounds:
        ap.error("--warmup must be at least 1 and less than --rounds")

    env = server_env(args.model)
    with tempfile.TemporaryDirectory(prefix="rag-load-") as tmp:
        index = args.index
        if index is None:
            index = Path(tmp) / "index"
            print(f"building an index of seeds/ in {index} ...", flush=True)
            build_index(index, env)
        server = start_server(index, env)
        try:
            print(f"server pid {server.pid} at {server.url}", flush=True)
            result = run_load(
                server,
                rounds=args.rounds,
                asks=args.asks,
                concurrency=args.concurrency,
                gradio_calls=args.gradio,
                gradio_concurrency=args.gradio_concurrency,
                max_seconds=args.max_seconds,
                warmup=args.warmup,
            )
            health = json.loads(
                __import__("httpx").get(f"{server.url}/api/health", timeout=10).text
            )
        finally:
            server.stop()
    result["model"] = health.get("model_in_use")
    result["index_chunks"] = health.get("chunks")
    print(
        f"\nerrors {result['errors']} of {result['requests']} requests; peak RSS "
        f"{result['peak_kib'] / 1024:.0f} MiB; RSS after warm-up "
        f"{result['rss_after_warmup_kib'] / 1024:.0f} MiB -> end "
        f"{result['rss_end_kib'] / 1024:.0f} MiB "
        f"({result['growth_after_warmup_kib'] / 1024:+.1f} MiB)"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
