"""Time to add 10 articles into a large index against adding them into an empty one.

Real VNTC articles, chunked as `rag ingest` does, real SQLite / FAISS / BM25 segments; the
vectors are precomputed (random unit vectors of the tiny model's size, 384 by default), so the
figure is the index's own cost, not the encoder's. Each "add" is what `rag ingest` does around
the encoder: open the current snapshot, write the new segment and manifest, load the new
snapshot (sharing the loaded segments). The baseline (into an empty index) is measured in the
same run.

``--base INDEX``: the large index is an existing one (e.g. built by `rag embed --build-index`),
written into through a hard-linked copy (segments are immutable, so INDEX is never changed);
the adds and the baseline then record its model and dimension, and the timed articles are the
last ones of VNTC under their VNTC ids (the index's ids are content hashes: new articles to it).
The fresh adds report where their time goes: opening the base, writing, opening the new one.

    .venv/bin/python benchmarks/ingest_growth.py --articles 33759 --json growth.json
    .venv/bin/python benchmarks/ingest_growth.py --base /path/to/vntc/index
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
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


def write(store: Store, add, dim: int, seed: int, reuse=None, model="precomputed", phases=None):
    """One `rag ingest` minus the encoder; returns (seconds, new snapshot). ``phases``: a list
    to append (open the base, write the generation, open the new one) seconds to."""
    vectors = unit_vectors(sum(len(c) for _, c in add), dim, seed)
    t0 = time.perf_counter()
    base = store.open(reuse=reuse) if store.exists() else None
    t1 = time.perf_counter()
    with store.lock():
        store.write_generation(
            base=base,
            add=add,
            vectors=vectors,
            model=model,
            dim=dim,
            settings_info=SETTINGS,
        )
    t2 = time.perf_counter()
    snap = store.open(reuse=base)
    t3 = time.perf_counter()
    if phases is not None:
        phases.append((t1 - t0, t2 - t1, t3 - t2))
    if base is not None:
        base.close()
    return t3 - t0, snap


def linked_copy(src: Path, dst: Path) -> None:
    """A copy of an index whose files are hard links (a writer replaces files, never edits)."""
    shutil.copytree(src, dst, copy_function=os.link, ignore=shutil.ignore_patterns(".write.lock"))


def chunked_from(skip: int, n: int):
    """The first ``n`` articles with text from line ``skip`` on, chunked."""
    out = []
    for a in articles(33_759, skip=skip):
        out += chunked([a])
        if len(out) == n:
            break
    return out


def last_articles(n: int):
    """The last ``n`` articles of VNTC with text, chunked."""
    with gzip.open(VNTC, "rt", encoding="utf-8") as fh:
        total = sum(1 for _ in fh)
    return chunked_from(total - 2 * n, 2 * n)[-n:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=33_759, help="articles in the large index")
    ap.add_argument("--build-batch", type=int, default=4_000, help="articles per build segment")
    ap.add_argument("--adds", type=int, default=5, help="timed adds of 10 articles each")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--base", type=Path, help="an existing index as the large one (copied)")
    ap.add_argument("--tmp", type=Path, help="folder for the indexes (default: the system's)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    model = "precomputed"
    if args.base is not None:
        manifest = Store(args.base).open()
        model, args.dim = manifest.model, int(manifest.manifest["dim"])
        manifest.close()
        tail = last_articles(10 * args.adds)
    else:
        # The timed articles come after the large index's (VNTC holds 33,759: the large index
        # then takes the first 33,759 - 10 * adds).
        n_large = min(args.articles, 33_759 - 10 * args.adds)
        tail = chunked_from(n_large, 10 * args.adds)
    assert len(tail) == 10 * args.adds, "not enough articles after the large index's"
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        big = Store(Path(tmp) / "big")
        t0 = time.perf_counter()
        if args.base is not None:
            linked_copy(args.base, big.root)
            snap = big.open()
        else:
            snap = None
            for start in range(0, n_large, args.build_batch):
                batch = chunked(articles(min(args.build_batch, n_large - start), skip=start))
                _, new = write(big, batch, args.dim, 1000 + start, reuse=snap, model=model)
                snap = new
        build = time.perf_counter() - t0
        passages = snap.live
        segments = len(snap.segments)
        snap.close()
        # Each round adds the same 10 articles into a new empty index (the baseline) and into
        # the large one from a fresh start (`rag ingest`: the base snapshot is loaded),
        # alternately, so that other jobs' load falls on both alike.
        empty, large = [], []
        phases: list[tuple[float, float, float]] = []
        for i in range(args.adds):
            add = tail[10 * i : 10 * i + 10]
            s, new = write(Store(Path(tmp) / f"empty{i}"), add, args.dim, i, model=model)
            new.close()
            empty.append(s)
            s, new = write(big, add, args.dim, 50 + i, model=model, phases=phases)
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
                    model=model,
                    dim=args.dim,
                    settings_info=SETTINGS,
                )
            new = big.open(reuse=snap)
            served.append(time.perf_counter() - t0)
            snap.close()
            snap = new
        snap.close()
    result = {
        "base": str(args.base) if args.base is not None else None,
        "model": model,
        "large_index_passages": passages,
        "large_index_segments": segments,
        ("copy_seconds" if args.base is not None else "build_seconds"): round(build, 1),
        "add10_into_empty_s": [round(x, 3) for x in empty],
        "add10_into_large_s": [round(x, 3) for x in large],
        "median_empty_s": round(statistics.median(empty), 3),
        "median_large_s": round(statistics.median(large), 3),
        "ratio_large_over_empty": round(statistics.median(large) / statistics.median(empty), 2),
        "into_large_median_phases_s": {
            name: round(statistics.median(p[j] for p in phases), 3)
            for j, name in enumerate(("open_base", "write", "open_new"))
        },
        "add10_into_large_loaded_s": [round(x, 3) for x in served],
        "ratio_loaded_over_empty": round(statistics.median(served) / statistics.median(empty), 2),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
