"""Query latency at VNTC size: p50/p95 of Assistant.search over 500 questions, model loaded,
for BM25 only, dense only and hybrid.

    python benchmarks/query_latency.py INDEX_DIR [--n 500] [--k 5]

Questions: the first N XQuAD-vi questions (../shared/data/xquad/xquad.vi.json): real Vietnamese
questions; whether their answers are in the index does not change the work a search does. The
first call of each mode is a warm-up and is not counted. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
XQUAD_VI = REPO.parent / "shared" / "data" / "xquad" / "xquad.vi.json"


def questions(n: int) -> list[str]:
    data = json.loads(XQUAD_VI.read_text(encoding="utf-8"))["data"]
    out = [qa["question"] for art in data for p in art["paragraphs"] for qa in p["qas"]]
    return out[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("index_dir", type=Path)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--modes", default="bm25,dense,hybrid")
    ap.add_argument("--threads", type=int, help="torch and FAISS threads (default: theirs)")
    args = ap.parse_args()
    if args.threads:
        import faiss
        import torch

        torch.set_num_threads(args.threads)
        faiss.omp_set_num_threads(args.threads)

    from rag.pipeline import Assistant
    from rag.settings import Settings

    assistant = Assistant(Settings.load(env={}, index_dir=args.index_dir))
    qs = questions(args.n)
    info = assistant.info()
    result = {
        "index_dir": str(args.index_dir),
        "chunks": info.get("chunks"),
        "faiss_index": info.get("faiss_index"),
        "model": info.get("model_in_use"),
        "questions": len(qs),
        "k": args.k,
        "threads": args.threads,
    }
    for mode in args.modes.split(","):
        assistant.search(qs[0], k=args.k, mode=mode)  # warm-up: loads, first allocations
        times = []
        for q in qs[1:]:
            t0 = time.perf_counter()
            assistant.search(q, k=args.k, mode=mode)
            times.append((time.perf_counter() - t0) * 1000)
        result[mode] = {
            "p50_ms": round(float(np.percentile(times, 50)), 2),
            "p95_ms": round(float(np.percentile(times, 95)), 2),
            "mean_ms": round(float(np.mean(times)), 2),
        }
    assistant.close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
