"""One question from the shell: the wall time of `rag ask` against that of
``python -c "import sentence_transformers"`` (what a torch path costs before any work), measured
in the same run, alternating.

    python benchmarks/shell_ask.py [--index DIR] [--runs 5] [--question TEXT]

Without ``--index``, ../shared/seeds (or seeds/) is ingested first into a temporary index (not
timed). Each round runs both commands once, as fresh processes, in alternating order, and the
figures are medians over the rounds. A last, untimed `rag ask` run in-process reports which of
torch, transformers and sentence_transformers it imported (none, when the torch-free question
encoder of embeddings.light is in use). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO.parent / "shared" / "seeds"
QUESTION = "Hiệp ước mới thay thế những văn kiện nào?"
HEAVY = ("torch", "transformers", "sentence_transformers")
# Runs `rag ask` in this process, then says which heavy modules it imported.
PROBE = (
    "import json, sys; from rag.cli import cli; cli(sys.argv[1:], standalone_mode=False); "
    f"print('IMPORTED', json.dumps([m for m in {HEAVY!r} if m in sys.modules]), file=sys.stderr)"
)


def wall(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=REPO, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, help="an index (default: seeds, ingested first)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--question", default=QUESTION)
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    py = sys.executable
    tmp = None
    index = args.index
    if index is None:
        tmp = tempfile.TemporaryDirectory(prefix="shell_ask_")
        index = Path(tmp.name) / "index"
        seeds = SEEDS if SEEDS.is_dir() else REPO / "seeds"
        subprocess.run(
            [py, "-m", "rag.cli", "ingest", str(seeds), "--index", str(index), "--json"],
            env=env,
            cwd=REPO,
            check=True,
            capture_output=True,
        )
    ask = [py, "-m", "rag.cli", "ask", args.question, "--index", str(index)]
    imports = [py, "-c", "import sentence_transformers"]
    wall(ask, env)  # first run: the OS file cache, the ONNX session's files
    wall(imports, env)
    times: dict[str, list[float]] = {"rag_ask": [], "import_sentence_transformers": []}
    for r in range(args.runs):
        pair = [("rag_ask", ask), ("import_sentence_transformers", imports)]
        for name, cmd in pair if r % 2 == 0 else pair[::-1]:
            times[name].append(wall(cmd, env))
    probe = subprocess.run(
        [py, "-c", PROBE, "ask", args.question, "--index", str(index)],
        env=env,
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    imported = next(
        json.loads(line.removeprefix("IMPORTED "))
        for line in probe.stderr.splitlines()
        if line.startswith("IMPORTED ")
    )
    ask_s = statistics.median(times["rag_ask"])
    import_s = statistics.median(times["import_sentence_transformers"])
    print(
        json.dumps(
            {
                "index": str(args.index) if args.index else "seeds (temporary)",
                "question": args.question,
                "runs": args.runs,
                "loadavg": round(os.getloadavg()[0], 2),
                "rag_ask_median_s": round(ask_s, 3),
                "import_sentence_transformers_median_s": round(import_s, 3),
                "ratio": round(ask_s / import_s, 3),
                "runs_s": {k: [round(t, 3) for t in v] for k, v in times.items()},
                "rag_ask_imported": imported,
                "answer_head": probe.stdout.strip().splitlines()[0][:120] if probe.stdout else "",
            },
            ensure_ascii=False,
            indent=2,
        )
    )
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
