"""Recall@10 of the approximate FAISS index (what rag.store.make_faiss_index builds above its
threshold) against exact search, on real vectors from a `rag embed` output folder.

    python benchmarks/index_recall.py EMBED_OUT [--queries N] [--ef 32,64,128,256]

Queries: the titles of the first N articles of the inputs, encoded as queries by the job's own
model and backend (short questions about news, as users ask them). Ground truth: exact inner
product search (IndexFlatIP) over the same vectors. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--ef", default="16,32,64,96,128,256")
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args()

    import faiss

    from rag.jobs.encode import load_job_encoder
    from rag.jobs.records import iter_articles
    from rag.jobs.shards import read_shards, vectors_of
    from rag.jobs.spec import EmbedJob
    from rag.store import make_faiss_index
    from rag.types import Article

    saved = json.loads((args.out_dir / "job.json").read_text())
    fp = saved["fingerprint"]
    job = EmbedJob(
        inputs=tuple(x[0] for x in fp["inputs"]),
        out_dir=args.out_dir,
        model=fp["model"],
        backend=fp["backend"],
        max_seq_length=fp.get("max_seq_length"),
    )
    table = read_shards(args.out_dir)
    vectors = np.ascontiguousarray(vectors_of(table), dtype=np.float32)
    n, dim = vectors.shape

    titles = []
    for item in iter_articles(job.inputs):
        if isinstance(item, Article) and item.title:
            titles.append(item.title)
            if len(titles) >= args.queries:
                break
    encoder = load_job_encoder(job)
    queries = encoder.encode_queries(titles)

    flat, _ = make_faiss_index(dim, n, "flat")
    flat.add(vectors)
    t0 = time.perf_counter()
    _, truth = flat.search(queries, args.k)
    flat_ms = (time.perf_counter() - t0) * 1000 / len(queries)

    hnsw, kind = make_faiss_index(dim, n, "hnsw")
    t0 = time.perf_counter()
    hnsw.add(vectors)
    build_s = time.perf_counter() - t0
    rows = []
    for ef in [int(x) for x in args.ef.split(",")]:
        hnsw.hnsw.efSearch = ef
        t0 = time.perf_counter()
        _, got = hnsw.search(queries, args.k)
        ms = (time.perf_counter() - t0) * 1000 / len(queries)
        recall = np.mean([len(set(g) & set(t)) / args.k for g, t in zip(got, truth, strict=True)])
        rows.append({"efSearch": ef, "recall_at_10": round(float(recall), 4), "ms_per_query": ms})
    print(
        json.dumps(
            {
                "vectors": n,
                "dim": dim,
                "model": fp["model"],
                "backend": fp["backend"],
                "max_seq_length": fp.get("max_seq_length"),
                "queries": len(queries),
                "faiss_threads": faiss.omp_get_max_threads(),
                "flat_ms_per_query_batched": round(flat_ms, 3),
                "hnsw": {
                    "M": hnsw.hnsw.nb_neighbors(1),
                    "efConstruction": hnsw.hnsw.efConstruction,
                    "build_seconds": round(build_s, 2),
                },
                "by_efSearch": [{**r, "ms_per_query": round(r["ms_per_query"], 3)} for r in rows],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
