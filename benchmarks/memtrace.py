"""Runs the `rag` CLI (e.g. `rag serve`) with tracemalloc on, for benchmarks/load_test.py
--trace-memory: each SIGUSR1 writes what the process holds, and what grew since the previous
signal, to DIR/dump-N.json.

    python benchmarks/memtrace.py DIR serve --index INDEX --port 7861

A dump holds: VmRSS, the threads, what tracemalloc traces (the Python heap and every
allocation made through Python's allocators, numpy arrays included), glibc's malloc totals
(mallinfo2: bytes in use and bytes free but kept in the arenas), the source lines whose traced
memory grew most since the previous dump, and the object types whose count grew most (after a
full gc). The difference between RSS and the traced memory is native memory (FAISS, torch,
SQLite) and malloc's arenas.

RAG_MEMTRACE_FRAMES (default 1): frames kept per allocation; more show who called, slower; 0
leaves tracemalloc off (RSS, malloc totals and object counts only, at full speed).
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import signal
import sys
import threading
import tracemalloc
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOP = 25


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def malloc_totals() -> dict[str, int]:
    """glibc's mallinfo2 over every arena, in KiB: heap bytes obtained by malloc (``arena``),
    in use (``in_use``), free but kept (``free``), and mmapped blocks (``mmapped``)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        fn = libc.mallinfo2
    except (OSError, AttributeError):
        return {}
    fn.restype = _MallInfo2
    m = fn()
    return {
        "arena_kib": m.arena // 1024,
        "in_use_kib": m.uordblks // 1024,
        "free_kib": m.fordblks // 1024,
        "mmapped_kib": m.hblkhd // 1024,
    }


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Tracer:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.n = 0
        self.prev: tracemalloc.Snapshot | None = None
        self.prev_types: Counter | None = None

    def dump(self, *_: object) -> None:
        gc.collect()
        types = Counter(type(o).__qualname__ for o in gc.get_objects())
        record: dict = {
            "n": self.n,
            "rss_kib": rss_kib(),
            "threads": threading.active_count(),
            "malloc": malloc_totals(),
            "objects": sum(types.values()),
        }
        if self.prev_types is not None:
            record["types_grew"] = dict((types - self.prev_types).most_common(TOP))
        self.prev_types = types
        if tracemalloc.is_tracing():
            self._traced(record)
        tmp = self.out / f".dump-{self.n}.json"
        tmp.write_text(json.dumps(record, indent=1))
        os.replace(tmp, self.out / f"dump-{self.n}.json")
        self.n += 1

    def _traced(self, record: dict) -> None:
        snap = tracemalloc.take_snapshot().filter_traces(
            [
                tracemalloc.Filter(False, tracemalloc.__file__),
                tracemalloc.Filter(False, "<frozen importlib._bootstrap*>"),
                tracemalloc.Filter(False, "<unknown>"),
            ]
        )
        traced, peak = tracemalloc.get_traced_memory()
        record["traced_kib"] = traced // 1024
        record["traced_peak_kib"] = peak // 1024
        if self.prev is not None:
            diff = snap.compare_to(self.prev, "lineno")
            record["grew"] = [
                {
                    "where": str(d.traceback),
                    "kib": round(d.size / 1024, 1),
                    "diff_kib": round(d.size_diff / 1024, 1),
                    "blocks": d.count,
                    "diff_blocks": d.count_diff,
                }
                for d in sorted(diff, key=lambda d: d.size_diff, reverse=True)[:TOP]
            ]
            record["shrank_kib"] = round(
                sum(d.size_diff for d in diff if d.size_diff < 0) / 1024, 1
            )
            record["grew_kib"] = round(sum(d.size_diff for d in diff if d.size_diff > 0) / 1024, 1)
        record["largest"] = [
            {"where": str(s.traceback), "kib": round(s.size / 1024, 1), "blocks": s.count}
            for s in snap.statistics("lineno")[:TOP]
        ]
        self.prev = snap


def main(argv: list[str]) -> None:
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    frames = int(os.environ.get("RAG_MEMTRACE_FRAMES", "1"))
    if frames > 0:
        tracemalloc.start(frames)
    tracer = Tracer(out)
    signal.signal(signal.SIGUSR1, tracer.dump)
    sys.path.insert(0, str(REPO))
    from rag.cli import cli

    cli.main(argv[1:], prog_name="rag")


if __name__ == "__main__":
    main(sys.argv[1:])
