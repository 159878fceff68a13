"""Load test of the served chat: POST /api/ask and Gradio client calls at once, on loopback,
while uploads and deletes switch the index's generations.

Bounded on every side: a fixed number of requests per round, a fixed number of rounds, a
per-request timeout and a wall-clock limit after which it stops by itself. It only ever talks to
a server it started itself on 127.0.0.1.

Each round sends ``--asks`` POST /api/ask at ``--concurrency``: the ten QUESTIONS in rotation,
every ``--malformed-every``-th one replaced by a malformed question (blank, or 5,000
characters), which must be refused with a 4xx. Beside them run ``--gradio`` Gradio client calls
and, with ``--switch`` (the default), one writer that uploads a new one-paragraph article
(POST /api/ingest) and deletes it again (DELETE /api/articles/ID) until the round's asks are
done: every upload and every delete is a new generation.

Reports, per round: HTTP status counts, 5xx, errors (any unexpected status, exception or
malformed body), answers that cite articles of no single committed generation, latency
p50/p95/p99 for each path, the generation switches, and after the round the server's RSS, open
file descriptors, threads, and the index files it holds open (and how many of them are deleted
files, i.e. superseded generations still held); and the server's peak RSS (VmHWM). The first
rounds warm up (models, caches, malloc arenas of the worker threads); memory growth is measured
from the end of the warm-up to the end of the last round. ``--trace-memory DIR`` runs the server
under tracemalloc (benchmarks/memtrace.py) and adds, per round, what grew in its heap.

    .venv/bin/python benchmarks/load_test.py --concurrency 50 --asks 400 --rounds 6
    .venv/bin/python benchmarks/load_test.py --asks 100 --rounds 2 --no-switch --json out.json

The index is built once from seeds/ in a temporary folder with the configured model
(RAG_EMBED_MODEL; offline, the local fallback all-MiniLM-L6-v2), unless --index is given.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
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
# Questions the API must refuse with a 4xx (never answer, never fail with a 5xx).
MALFORMED = [" \n\t ", ((QUESTIONS[0] + " ") * 200)[:5000]]


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


def article_jsonl(tag: str) -> bytes:
    """A new one-paragraph article (its id is a hash of its text, so ``tag`` makes it new),
    on the subject of the seeds' questions so that answers cite it while it is indexed."""
    text = (
        f"Hiệp ước mới số {tag} thay thế những văn kiện cũ về hợp tác và biên giới. "
        f"Văn kiện số {tag} được Nga và Triều Tiên ký tại Bình Nhưỡng sau nhiều vòng đàm phán."
    )
    record = {"title": f"Hiệp ước số {tag}", "text": text, "source": f"load-{tag}"}
    return (json.dumps(record, ensure_ascii=False) + "\n").encode()


@dataclass
class Server:
    proc: subprocess.Popen
    url: str
    index: Path
    trace_dir: Path | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def memory(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak) of the server process, in KiB, and its threads (Linux)."""
        out = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                out[key] = int(value.split()[0])
        return out

    def files(self) -> dict[str, int]:
        """Open file descriptors of the server: all, those on files of the index, and those
        on deleted index files (a superseded generation that something still holds)."""
        fds = index_fds = deleted = 0
        root = str(self.index.resolve())
        for fd in os.listdir(f"/proc/{self.pid}/fd"):
            try:
                target = os.readlink(f"/proc/{self.pid}/fd/{fd}")
            except OSError:
                continue  # closed meanwhile
            fds += 1
            if target.startswith(root):
                index_fds += 1
                deleted += target.endswith("(deleted)")
        return {"fds": fds, "index_fds": index_fds, "deleted_index_fds": deleted}

    def trace(self, timeout: float = 120) -> dict | None:
        """With --trace-memory: the server's next memtrace dump (what grew since the last)."""
        if self.trace_dir is None:
            return None
        n = len(list(self.trace_dir.glob("dump-*.json")))
        os.kill(self.pid, signal.SIGUSR1)
        target = self.trace_dir / f"dump-{n}.json"
        deadline = time.monotonic() + timeout
        while not target.exists():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                return None
            time.sleep(0.2)
        return json.loads(target.read_text())

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_server(
    index: Path, env: dict[str, str], timeout: float = 300, trace_dir: Path | None = None
) -> Server:
    """`rag serve` on 127.0.0.1 and a free port; returns once /api/health answers.
    ``trace_dir``: under benchmarks/memtrace.py (tracemalloc on, a dump per SIGUSR1)."""
    import httpx

    port = free_port()
    log = open(index.parent / f"serve-{port}.log", "wb")  # noqa: SIM115 - lives with the server
    if trace_dir is None:
        prefix = [sys.executable, "-m", "rag.cli"]
    else:
        prefix = [sys.executable, str(REPO / "benchmarks" / "memtrace.py"), str(trace_dir)]
    proc = subprocess.Popen(
        prefix + ["serve", "--index", str(index)] + ["--host", LOOPBACK, "--port", str(port)],
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
                return Server(proc, url, index, trace_dir)
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
    statuses: dict[str, int] = field(default_factory=dict)
    server_errors: int = 0
    malformed: int = 0
    switches: int = 0
    inconsistent: int = 0
    seconds: float = 0.0
    api_ms: dict[str, float] = field(default_factory=dict)
    gradio_ms: dict[str, float] = field(default_factory=dict)
    rss_kib: int = 0
    peak_kib: int = 0
    threads: int = 0
    fds: int = 0
    index_fds: int = 0
    deleted_index_fds: int = 0
    trace: dict | None = None


def percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {}
    qs = statistics.quantiles(samples, n=100, method="inclusive") if len(samples) > 1 else []

    def q(p: int) -> float:
        return round(qs[p - 1] if qs else samples[0], 1)

    return {"p50": q(50), "p95": q(95), "p99": q(99), "max": round(max(samples), 1)}


def consistent(cited: set[str], generations: list[set[str]]) -> bool:
    """Whether the articles an answer cites all belong to one committed generation."""
    return any(cited <= gen for gen in generations)


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
    switch: bool = False,
    malformed_every: int = 0,
    generations: list[set[str]] | None = None,
) -> Round:
    """``asks`` POST /api/ask at ``concurrency`` while ``gradio_calls`` Gradio client calls run
    beside them and, with ``switch``, a writer uploads and deletes an article until the asks
    are done; every failure (unexpected status, exception, malformed body) counts as an error.
    ``generations``: the article sets of the committed generations (the first one the base),
    to which the writer appends; every answer must cite articles of one of them."""
    import httpx
    from gradio_client import Client

    rng = random.Random(seed * 1000 + number)
    modes = [rng.choice(["hybrid", "bm25", None]) for _ in range(asks)]
    errors: list[str] = []
    api_ms: list[float] = []
    gradio_ms: list[float] = []
    statuses: Counter = Counter()
    cited: list[set[str]] = []
    lock = threading.Lock()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    http = httpx.Client(base_url=server.url, timeout=60, limits=limits)
    generations = generations if generations is not None else []
    n_malformed = 0

    def question(i: int) -> tuple[str, bool]:
        if malformed_every and i % malformed_every == malformed_every - 1:
            return MALFORMED[(i // malformed_every) % len(MALFORMED)], True
        return QUESTIONS[i % len(QUESTIONS)], False

    def one_ask(i: int) -> None:
        text, bad = question(i)
        body = {"question": text, **({"mode": modes[i]} if modes[i] else {})}
        if time.monotonic() > deadline:
            raise TimeoutError("wall-clock limit reached")
        t0 = time.perf_counter()
        r = http.post("/api/ask", json=body)
        ms = (time.perf_counter() - t0) * 1000
        with lock:
            statuses[str(r.status_code)] += 1
        data = r.json()
        if bad:
            if not (400 <= r.status_code < 500 and "error" in data):
                raise RuntimeError(f"malformed ask {i}: HTTP {r.status_code} {str(data)[:200]}")
            return
        if r.status_code != 200 or "answer" not in data or "citations" not in data:
            raise RuntimeError(f"ask {i}: HTTP {r.status_code} {str(data)[:200]}")
        with lock:
            api_ms.append(ms)
            cited.append({c["article_id"] for c in data["citations"]})

    clients = [Client(server.url, verbose=False) for _ in range(gradio_concurrency)]

    def one_gradio(i: int) -> None:
        if time.monotonic() > deadline:
            raise TimeoutError("wall-clock limit reached")
        t0 = time.perf_counter()
        data = clients[i % len(clients)].predict(
            QUESTIONS[i % len(QUESTIONS)], 5, "hybrid", api_name="/ask"
        )
        ms = (time.perf_counter() - t0) * 1000
        if not isinstance(data, dict) or "citations" not in data:
            raise RuntimeError(f"gradio {i}: unexpected {str(data)[:200]}")
        with lock:
            gradio_ms.append(ms)
            cited.append({c["article_id"] for c in data["citations"]})

    done = threading.Event()
    switches = 0

    def writer() -> None:
        """Upload a new article, delete it, again, until the readers are done."""
        nonlocal switches
        base = generations[0]
        k = 0
        with httpx.Client(base_url=server.url, timeout=120) as w:
            while not done.is_set() and time.monotonic() < deadline:
                tag = f"{seed}-{number}-{k}-{rng.randrange(1 << 30)}"
                k += 1
                files = {"files": (f"load-{tag}.jsonl", article_jsonl(tag), "application/jsonl")}
                r = w.post("/api/ingest", files=files)
                with lock:
                    statuses[f"ingest {r.status_code}"] += 1
                if r.status_code != 200 or len(r.json().get("added_ids", [])) != 1:
                    raise RuntimeError(f"ingest: HTTP {r.status_code} {r.text[:200]}")
                (new_id,) = r.json()["added_ids"]
                with lock:
                    generations.append(base | {new_id})
                    switches += 1
                r = w.delete(f"/api/articles/{new_id}")
                with lock:
                    statuses[f"delete {r.status_code}"] += 1
                if r.status_code != 200:
                    raise RuntimeError(f"delete {new_id}: HTTP {r.status_code} {r.text[:200]}")
                with lock:
                    generations.append(set(base))
                    switches += 1

    t0 = time.perf_counter()
    with (
        ThreadPoolExecutor(concurrency) as pool,
        ThreadPoolExecutor(max(1, gradio_concurrency)) as gpool,
        ThreadPoolExecutor(1) as wpool,
    ):
        futures = [pool.submit(one_ask, i) for i in range(asks)]
        futures += [gpool.submit(one_gradio, i) for i in range(gradio_calls)]
        w = wpool.submit(writer) if switch else None
        for f in as_completed(futures):
            exc = f.exception()
            if exc is not None:
                errors.append(f"{type(exc).__name__}: {exc}"[:300])
        done.set()
        if w is not None and (exc := w.exception()) is not None:
            errors.append(f"writer {type(exc).__name__}: {exc}"[:300])
    seconds = time.perf_counter() - t0
    n_malformed = sum(question(i)[1] for i in range(asks))
    http.close()
    for c in clients:
        c.close()
    inconsistent = [ids for ids in cited if not consistent(ids, generations)]
    errors += [f"inconsistent answer: cites {sorted(ids)}"[:300] for ids in inconsistent[:3]]
    mem = server.memory()
    files = server.files()
    return Round(
        round=number,
        asks=asks,
        gradio_calls=gradio_calls,
        errors=len(errors) + max(0, len(inconsistent) - 3),
        error_samples=errors[:5],
        statuses=dict(sorted(statuses.items())),
        server_errors=sum(n for k, n in statuses.items() if k.split()[-1].startswith("5")),
        malformed=n_malformed,
        switches=switches,
        inconsistent=len(inconsistent),
        seconds=round(seconds, 2),
        api_ms=percentiles(api_ms),
        gradio_ms=percentiles(gradio_ms),
        rss_kib=mem["VmRSS"],
        peak_kib=mem["VmHWM"],
        threads=mem.get("Threads", 0),
        **files,
        trace=server.trace(),
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
    switch: bool = False,
    malformed_every: int = 0,
    log=print,
) -> dict:
    import httpx

    deadline = time.monotonic() + max_seconds
    before = server.memory()
    base = {a["id"] for a in httpx.get(f"{server.url}/api/articles", timeout=60).json()}
    generations: list[set[str]] = [base]
    if server.trace_dir is not None:
        server.trace()  # the baseline the first round's growth is measured from
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
            switch=switch,
            malformed_every=malformed_every,
            generations=generations,
        )
        results.append(r)
        log(
            f"round {n}: {r.asks} asks + {r.gradio_calls} gradio in {r.seconds:.1f} s, "
            f"{r.switches} switches, statuses {r.statuses}, 5xx {r.server_errors}, "
            f"errors {r.errors}, inconsistent {r.inconsistent}, api {r.api_ms}, "
            f"gradio {r.gradio_ms}, rss {r.rss_kib / 1024:.0f} MiB, fds {r.fds} "
            f"(index {r.index_fds}, deleted {r.deleted_index_fds}), threads {r.threads}"
            + (f", malloc {r.trace['malloc']}" if r.trace else "")
            + (
                f", traced {r.trace['traced_kib'] / 1024:.1f} MiB"
                f" (+{r.trace.get('grew_kib', 0) / 1024:.2f} / "
                f"{r.trace.get('shrank_kib', 0) / 1024:.2f})"
                if r.trace and "traced_kib" in r.trace
                else ""
            )
        )
        for sample in r.error_samples:
            log(f"  {sample}")
        if time.monotonic() > deadline:
            break
    warm = results[min(warmup, len(results)) - 1]
    return {
        "rounds": [asdict(r) for r in results],
        "errors": sum(r.errors for r in results),
        "server_errors": sum(r.server_errors for r in results),
        "inconsistent": sum(r.inconsistent for r in results),
        "switches": sum(r.switches for r in results),
        "requests": sum(r.asks + r.gradio_calls for r in results),
        "statuses": dict(sum((Counter(r.statuses) for r in results), Counter())),
        "rss_start_kib": before["VmRSS"],
        "warmup_rounds": warmup,
        "rss_per_round_kib": [r.rss_kib for r in results],
        "fds_per_round": [r.fds for r in results],
        "rss_after_warmup_kib": warm.rss_kib,
        "rss_end_kib": results[-1].rss_kib,
        "growth_after_warmup_kib": results[-1].rss_kib - warm.rss_kib,
        "fd_growth_after_warmup": results[-1].fds - warm.fds,
        "peak_kib": server.memory()["VmHWM"],
        "concurrency": concurrency,
        "gradio_concurrency": gradio_concurrency,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--index", type=Path, help="Existing index (default: seeds/ in a temp dir).")
    ap.add_argument("--model", help="RAG_EMBED_MODEL for the index and the server.")
    ap.add_argument("--asks", type=int, default=500, help="POST /api/ask per round (500).")
    ap.add_argument("--concurrency", type=int, default=20, help="Concurrent asks (20).")
    ap.add_argument("--gradio", type=int, default=100, help="Gradio client calls per round (100).")
    ap.add_argument("--gradio-concurrency", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=6, help="Rounds of the above (6).")
    ap.add_argument(
        "--warmup", type=int, default=3, help="Rounds that warm up before memory is compared (3)."
    )
    ap.add_argument(
        "--switch",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="Upload and delete an article all through each round, switching generations (on).",
    )
    ap.add_argument(
        "--malformed-every",
        type=int,
        default=10,
        help="Every Nth ask is malformed (blank or 5,000 characters); 0: none (10).",
    )
    ap.add_argument("--max-seconds", type=float, default=900, help="Stop after this (900).")
    ap.add_argument(
        "--trace-memory",
        type=Path,
        metavar="DIR",
        help="Run the server under benchmarks/memtrace.py (tracemalloc, malloc totals, object "
        "counts); per round, what grew (dumps in DIR). RAG_MEMTRACE_FRAMES=0: no tracemalloc.",
    )
    ap.add_argument("--json", type=Path, help="Write the results here as JSON.")
    args = ap.parse_args(argv)
    if args.asks > 5000 or args.concurrency > 64 or args.rounds > 10:
        ap.error("bounded by design: --asks <= 5000, --concurrency <= 64, --rounds <= 10")
    if not 1 <= args.warmup < args.rounds:
        ap.error("--warmup must be at least 1 and less than --rounds")

    # A `timeout` or a kill of this script still stops the server it started (finally: below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    env = server_env(args.model)
    with tempfile.TemporaryDirectory(prefix="rag-load-") as tmp:
        index = args.index
        if index is None:
            index = Path(tmp) / "index"
            print(f"building an index of seeds/ in {index} ...", flush=True)
            build_index(index, env)
        server = start_server(index, env, trace_dir=args.trace_memory)
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
                switch=args.switch,
                malformed_every=args.malformed_every,
            )
            health = json.loads(
                __import__("httpx").get(f"{server.url}/api/health", timeout=10).text
            )
        finally:
            server.stop()
    result["model"] = health.get("model_in_use")
    result["index_chunks"] = health.get("chunks")
    print(
        f"\n{result['requests']} requests, {result['switches']} generation switches: "
        f"statuses {result['statuses']}; 5xx {result['server_errors']}; errors "
        f"{result['errors']}; inconsistent answers {result['inconsistent']}; peak RSS "
        f"{result['peak_kib'] / 1024:.0f} MiB; RSS after warm-up "
        f"{result['rss_after_warmup_kib'] / 1024:.0f} MiB -> end "
        f"{result['rss_end_kib'] / 1024:.0f} MiB "
        f"({result['growth_after_warmup_kib'] / 1024:+.1f} MiB); fds per round "
        f"{result['fds_per_round']}"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 1 if result["errors"] or result["server_errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
