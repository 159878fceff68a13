"""Time to add 10 articles into a large index against adding them into an empty one.

Real VNTC articles, chunked as `rag ingest` does, real SQLite / FAISS / BM25 segments; the
vectors are precomputed (random unit vectors of the tiny model's size, 384 by default), so the
figure is the index's own cost, not the encoder's. Each "add" is what `rag ingest` does around
the encoder: open the current snapshot, write the new segment and manifest, load the new
snapshot (sharing the loaded segments). The baseline (into an empty index) is measured in the
same run.

    .venv/bin/python benchmarks/ingest_growth.py --articles 33759 --json growth.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from rag.chunk import chunk_article
from rag.store import Store
from rag.types import Article

VNTC = Path(__file__).resolve().parents[2] / "shared" / "data" / "vntc" / "vntc_train.jsonl.gz"
SETTINGS = {"chunk_size": 900, "chunk_overlap": 150}


def articles(n: int, skip: int = 0):
    with gzip.open(VNTC, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i < skip:
                continue
            if i >= skip + n:
                return
            r = json.loads(line)
            yield Article(r["id"], r["title"], r["text"], "vntc")


def chunked(items):
    out = []
    for a in items:
        chunks = chunk_article(a, SETTINGS["chunk_size"], SETTINGS["chunk_overlap"])
        if chunks:
            out.append((a, chunks))
    return out


def unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def write(store: Store, add, dim: int, seed: int, reuse=None):
    """One `rag ingest` minus the encoder; returns (seconds, new snapshot)."""
    t0 = time.perf_counter()
    base = store.open(reuse=reuse) if store.exists() else None
    n = sum(len(c) for _, c in add)
    with store.lock():
        store.write_generation(
            base=base,
            add=add,
            vectors=unit_vectors(n, dim, seed),
            model="precomputed",
            dim=dim,
            settings_info=SETTINGS,
        )
    snap = store.open(reuse=base)
    seconds = time.perf_counter() - t0
    if base is not None:
        base.close()
    return seconds, snap


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=33_759, help="articles in the large index")
    ap.add_argument("--build-batch", type=int, default=4_000, help="articles per build segment")
    ap.add_argument("--adds", type=int, default=5, help="timed adds of 10 articles each")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    # The timed articles come after the large index's (VNTC holds 33,759: the large index then
    # takes the first 33,759 - 10 * adds).
    n_large = min(args.articles, 33_759 - 10 * args.adds)
    tail = chunked(articles(10 * args.adds, skip=n_large))
    assert len(tail) == 10 * args.adds, "not enough articles after the large index's"
    with tempfile.TemporaryDirectory() as tmp:
        # Baseline: 10 articles into an empty index (a fresh index each time).
        empty = []
        for i in range(args.adds):
            s, snap = write(Store(Path(tmp) / f"empty{i}"), tail[10 * i : 10 * i + 10], args.dim, i)
            snap.close()
            empty.append(s)
        big = Store(Path(tmp) / "big")
        t0 = time.perf_counter()
        snap = None
        for start in range(0, n_large, args.build_batch):
            batch = chunked(articles(min(args.build_batch, n_large - start), skip=start))
            _, new = write(big, batch, args.dim, 1000 + start, reuse=snap)
            snap = new
        build = time.perf_counter() - t0
        passages = snap.live
        segments = len(snap.segments)
        snap.close()
        large = []  # a fresh process each time (`rag ingest`): the base snapshot is loaded
        for i in range(args.adds):
            s, new = write(big, tail[10 * i : 10 * i + 10], args.dim, 50 + i)
            new.close()
            large.append(s)
        served = []  # the base already loaded (`rag serve`): its segments are shared
        snap = big.open()
        for i in range(args.adds):
            with big.lock():
                t0 = time.perf_counter()
                big.write_generation(
                    base=snap,
                    add=tail[10 * i : 10 * i + 10],
                    vectors=unit_vectors(
                        sum(len(c) for _, c in tail[10 * i : 10 * i + 10]), args.dim, 90 + i
                    ),
                    model="precomputed",
                    dim=args.dim,
                    settings_info=SETTINGS,
                )
            new = big.open(reuse=snap)
            served.append(time.perf_counter() - t0)
            snap.close()
            snap = new
        snap.close()
    result = {
        "large_index_passages": passages,
        "large_index_segments": segments,
        "build_seconds": round(build, 1),
        "add10_into_empty_s": [round(x, 3) for x in empty],
        "add10_into_large_s": [round(x, 3) for x in large],
        "median_empty_s": round(statistics.median(empty), 3),
        "median_large_s": round(statistics.median(large), 3),
        "ratio_large_over_empty": round(statistics.median(large) / statistics.median(empty), 2),
        "add10_into_large_loaded_s": [round(x, 3) for x in served],
        "ratio_loaded_over_empty": round(statistics.median(served) / statistics.median(empty), 2),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
