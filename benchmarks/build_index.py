"""Time `rag embed --build-index` alone: an index directory from a finished job's shards.

    python benchmarks/build_index.py OUT_DIR [--index DIR] [--segment-rows N]

Reads the job's settings from ``OUT_DIR/job.json`` and calls ``rag.jobs.build_index``,
the code behind ``rag embed ... --build-index``, alone: without ``--resume``'s pass over the
inputs and shards, so the figures are the index build's own. Nothing is encoded. Writes to
``--index`` (default ``OUT_DIR/index-rebuilt``) and prints one JSON object: seconds, peak RSS
(VmHWM), the index's size on disk and its segments (``--segment-rows``: their size).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.lexical_speed import peak_rss_mb  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir", type=Path, help="a finished `rag embed` job (job.json, shards)")
    ap.add_argument("--index", type=Path, default=None, help="where to write the index")
    ap.add_argument(
        "--segment-rows",
        type=int,
        default=None,
        help="rows per segment (default rag.store.SEGMENT_ROWS)",
    )
    args = ap.parse_args()

    from rag.jobs import EmbedJob, build_index

    fp = json.loads((args.out_dir / "job.json").read_text())["fingerprint"]
    chunk_size, chunk_overlap = fp["chunking"] or (900, 150)
    job = EmbedJob(
        inputs=tuple(path for path, _size, _mtime in fp["inputs"]),
        out_dir=args.out_dir,
        model=fp["model"],
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        no_chunk=fp["chunking"] is None,
        dtype=fp["dtype"],
        backend=fp["backend"],
        shard_size=fp["shard_size"],
        batch_size=fp["batch_size"],
        max_seq_length=fp.get("max_seq_length"),
    )
    target = args.index or args.out_dir / "index-rebuilt"
    t0 = time.perf_counter()
    kw = {} if args.segment_rows is None else {"segment_rows": args.segment_rows}
    index_dir = build_index(job, target, **kw)
    seconds = time.perf_counter() - t0
    disk = sum(p.stat().st_size for p in Path(index_dir).rglob("*") if p.is_file())
    print(
        json.dumps(
            {
                "index_dir": str(index_dir),
                "seconds": round(seconds, 1),
                "peak_rss_mb": round(peak_rss_mb()),
                "disk_mib": round(disk / 2**20, 1),
                "segments": len(list(Path(index_dir).glob("segments/seg-*"))),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
