"""Reading a snapshot's segment files into the page cache before questions need them.

Segments are memory-mapped (FAISS vectors and graph, BM25 postings), so a page is read from
disk the first time a question touches it: an HNSW search jumps across its whole file, one
4 KiB read at a time. Measured on a 226 MiB HNSW segment not in the page cache: 50 ms a search
until its pages are in, 0.5 ms after; reading the file through once took 0.8 s, and
posix_fadvise(WILLNEED) read nothing ahead here. So a server reads its segments once, in a
background thread, as Lucene's MMapDirectory does with preload: vectors first, then postings,
then rows, within a share of the memory available (the page cache keeps what fits; reading
more would push out what was read first)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from rag.store.layout import POSTINGS, ROWS, VECTORS

log = logging.getLogger(__name__)
# Of the memory available when warming starts: what the page cache may be asked to hold.
WARM_SHARE = 0.5
_BLOCK = 8 << 20


def available_memory() -> int:
    """MemAvailable from /proc/meminfo (bytes); physical memory where there is none."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0


def segment_files(segment_dirs: Sequence[Path]) -> list[Path]:
    """The files of these segments in the order a question needs them most: every segment's
    vectors, then its postings' document and count arrays, the rest of the postings, rows."""
    out = [d / VECTORS for d in segment_dirs]
    out += [d / POSTINGS / name for d in segment_dirs for name in ("docs.npy", "tfs.npy")]
    for d in segment_dirs:
        rest = sorted((d / POSTINGS).glob("*.npy")) if (d / POSTINGS).is_dir() else []
        out += [p for p in rest if p.name not in ("docs.npy", "tfs.npy")]
    out += [d / ROWS for d in segment_dirs]
    return out


def warm(paths: Iterable[Path], budget: int, stop: threading.Event | None = None) -> int:
    """Read ``paths`` through, in order, until ``budget`` bytes are read or ``stop`` is set;
    the bytes read. A file that is gone (a merge replaced its segment) or unreadable is
    skipped: warming only saves time, it never fails a server."""
    done = 0
    buf = bytearray(_BLOCK)
    view = memoryview(buf)
    for path in paths:
        if done >= budget or (stop is not None and stop.is_set()):
            break
        try:
            with open(path, "rb", buffering=0) as fh:
                while done < budget and not (stop is not None and stop.is_set()):
                    n = fh.readinto(view[: min(_BLOCK, budget - done)])
                    if not n:
                        break
                    done += n
        except OSError as exc:
            log.debug("not warming %s: %s", path, exc)
    return done
