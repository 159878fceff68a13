"""BM25 scoring speed over a large index, old code against new in one run: a question's
`BM25Index.scores` and `top_k`, the two ways in alternating blocks of the same questions.

    python benchmarks/bm25_speed.py INDEX_DIR [--baseline REV] [--n 400] [--block 25] [--k 40]

The old code is rag/bm25.py as it was at the git revision ``--baseline`` (loaded from git into
this process, over the same mapped segments); the new one is the working tree's. Each has its
own BM25Index (and so its own caches, filling as the questions come). Questions: the first N
XQuAD-vi questions, weighted as retrieval weighs them (rag.tokens.query_terms). Blocks of
``--block`` questions alternate, the order of the two flipping every block; the first two
blocks warm the caches and are not counted. The scores of every question are compared (they
must be the same floats) and so are the top ``--k`` (index and score). The index files are read
into the page cache first (as `rag serve` does). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
XQUAD_VI = REPO.parent / "shared" / "data" / "xquad" / "xquad.vi.json"


def old_bm25(rev: str) -> types.ModuleType:
    """rag/bm25.py as it was at ``rev``, as a module of its own."""
    src = subprocess.run(
        ["git", "show", f"{rev}:rag/bm25.py"], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout
    mod = types.ModuleType("old_bm25")
    mod.__file__ = f"{rev}:rag/bm25.py"
    sys.modules["old_bm25"] = mod
    exec(compile(src, mod.__file__, "exec"), mod.__dict__)  # noqa: S102
    return mod


def questions(n: int) -> list[str]:
    data = json.loads(XQUAD_VI.read_text())["data"]
    qs = [q["question"] for a in data for p in a["paragraphs"] for q in p["qas"]]
    return qs[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("index_dir", type=Path)
    ap.add_argument("--baseline", default="a3f47d9", help="git revision of the old rag/bm25.py")
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--block", type=int, default=25)
    ap.add_argument("--k", type=int, default=40)
    args = ap.parse_args()

    import rag.bm25 as new
    from rag.store import Store
    from rag.store.warm import WARM_SHARE, available_memory, segment_files, warm
    from rag.tokens import query_terms

    snapshot = Store(args.index_dir).open()
    t0 = time.perf_counter()
    read = warm(
        segment_files([seg.gen_dir for seg in snapshot.segments]),
        int(available_memory() * WARM_SHARE),
    )
    warmed = {"mib": round(read / 2**20), "seconds": round(time.perf_counter() - t0, 1)}
    parts = [(p[0], p[2]) for p in snapshot.bm25._parts]
    old = old_bm25(args.baseline)
    indexes = {"old": old.BM25Index(parts), "new": new.BM25Index(parts)}
    tops = {"old": old.top_k, "new": new.top_k}
    terms = [query_terms(q) for q in questions(args.n)]
    times: dict[str, list[float]] = {"old": [], "new": []}
    got: dict[str, dict[int, tuple]] = {"old": {}, "new": {}}
    same_scores = 0
    blocks = [range(i, min(i + args.block, len(terms))) for i in range(0, len(terms), args.block)]
    load = [os.getloadavg()[0]]
    for b, block in enumerate(blocks):
        order = ("old", "new") if b % 2 == 0 else ("new", "old")
        scores: dict[str, list[np.ndarray]] = {}
        for name in order:
            scores[name] = []
            for i in block:
                t = time.perf_counter()
                s = indexes[name].scores(terms[i])
                top = tops[name](s, args.k)
                if b >= 2:
                    times[name].append(time.perf_counter() - t)
                scores[name].append(s)
                got[name][i] = tuple(top)
        same_scores += sum(
            a.tobytes() == c.tobytes() for a, c in zip(scores["old"], scores["new"], strict=True)
        )
        load.append(os.getloadavg()[0])

    def stats(ts: list[float]) -> dict:
        ms = np.asarray(ts) * 1e3
        return {
            "p50_ms": round(float(np.median(ms)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2),
        }

    out = {
        "index_dir": str(args.index_dir),
        "positions": snapshot.size,
        "segments": len(parts),
        "questions": len(terms),
        "timed": len(times["new"]),
        "baseline": args.baseline,
        "warm": warmed,
        "old": stats(times["old"]),
        "new": stats(times["new"]),
        "same_scores": same_scores,
        "same_top_k": sum(got["old"][i] == got["new"][i] for i in got["old"]),
        "load": [round(min(load), 2), round(max(load), 2)],
    }
    out["p50_ratio_old_new"] = round(out["old"]["p50_ms"] / out["new"]["p50_ms"], 2)
    out["cached_entries_new"] = indexes["new"]._scored_entries
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
