"""Batch size on a CPU: sorted batches of 32 against smaller ones and the token cap, interleaved.

    python benchmarks/batch_cap.py [--n 128] [--rounds 6] [--backend torch|torch-bf16|onnx-int8]
                                   [--caps 1024,4096] [--model ...]

The same VNTC chunks as benchmarks/throughput.py (made as `rag embed` makes them), the same model
(the product's default, multilingual-e5-small), one process. Each round runs every variant once, in
alternating order (forward on even rounds, backward on odd ones), so a load that comes and goes
on these shared cores touches all of them alike; the figure is each variant's median time over
the rounds, as a speedup against batches of 32. Variants, all through
embeddings.batching.encode_sorted (length-sorted):

* b32   batches of 32 texts (the batch size), no token cap: `rag embed` before the cap
* b8, b4   batches of 8 / 4 texts
* cap   batches of at most 32 texts and CPU_BATCH_TOKENS padded tokens: the default on a CPU
* capN  the same with a cap of N padded tokens (``--caps``)

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.throughput import vntc_passages  # noqa: E402
from rag.settings import DEFAULT_MODEL  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--backend", default="torch")
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--caps", default="", help="more token caps to try, comma-separated")
    args = ap.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    from embeddings.backends import load_for_backend
    from embeddings.batching import CPU_BATCH_TOKENS, encode_sorted

    texts, _ = vntc_passages(args.n)
    encoder = load_for_backend(args.model, args.backend)
    encoder.encode_passages(texts[:32])  # first-call allocations (and the ONNX export), unclocked
    variants = {
        "b32": lambda: encode_sorted(encoder, texts, 32),
        "b8": lambda: encode_sorted(encoder, texts, 8),
        "b4": lambda: encode_sorted(encoder, texts, 4),
        "cap": lambda: encode_sorted(encoder, texts, 32, max_tokens=CPU_BATCH_TOKENS),
    }
    for cap in (int(c) for c in args.caps.split(",") if c):
        variants[f"cap{cap}"] = lambda cap=cap: encode_sorted(encoder, texts, 32, max_tokens=cap)
    runs: dict[str, list[float]] = {k: [] for k in variants}
    vectors: dict[str, np.ndarray] = {}
    load_start = os.getloadavg()[0]
    for r in range(args.rounds):
        for name in list(variants) if r % 2 == 0 else list(variants)[::-1]:
            t0 = time.perf_counter()
            vectors[name] = variants[name]()
            runs[name].append(time.perf_counter() - t0)
    median = {k: float(np.median(v)) for k, v in runs.items()}
    print(
        json.dumps(
            {
                "backend": args.backend,
                "passages": len(texts),
                "rounds": args.rounds,
                "cpu_batch_tokens": CPU_BATCH_TOKENS,
                "loadavg_start_end": [round(load_start, 2), round(os.getloadavg()[0], 2)],
                "texts_per_s": {k: round(len(texts) / v, 2) for k, v in median.items()},
                "speedup_vs_b32": {k: round(median["b32"] / v, 3) for k, v in median.items()},
                "max_abs_diff_to_b32": {
                    k: float(f"{np.abs(v - vectors['b32']).max():.2g}") for k, v in vectors.items()
                },
                "runs_s": {k: [round(x, 2) for x in v] for k, v in runs.items()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
