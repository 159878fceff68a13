"""Recall@10 of the approximate FAISS index (what rag.store.make_faiss_index builds above its
threshold) against exact search, on real vectors from a `rag embed` output folder.

    python benchmarks/index_recall.py EMBED_OUT [--queries N] [--ef 32,64,128,256]
    python benchmarks/index_recall.py EMBED_OUT --segments-of INDEX_DIR [--threshold N]

Queries: the titles of the first N articles of the inputs, encoded as queries by the job's own
model and backend (short questions about news, as users ask them). Ground truth: exact inner
product search (IndexFlatIP) over the same vectors. Prints one JSON object.

``--segments-of``: the vectors cut as that index's segments are (its current manifest, whose
vectors must be the job's, in order), each segment with the index kind that ``--threshold``
chooses for its rows (HNSW from that many rows on), searched one after the other on one FAISS
thread and merged as a snapshot does (rag.store.SegmentedVectors): recall@k of the merged
top k against exact search over all vectors, and ms per question one at a time (as a hybrid
question searches), against every segment exact.
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
    ap.add_argument("--segments-of", type=Path, help="cut the vectors as this index's segments")
    ap.add_argument("--threshold", type=int, default=None, help="HNSW from this many rows on")
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
    if args.segments_of is not None:
        _, truth = flat.search(queries, args.k)
        out = segmented(args, vectors, queries, truth)
        print(json.dumps({"vectors": n, "dim": dim, "model": fp["model"], **out}, indent=2))
        return
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


def tied_recall(vectors, queries, got, truth) -> float:
    """Recall@k counting ties: a result is right when its exact score reaches the k-th best
    exact score (float32 rounding allowed), whichever of several equal passages it is. Many
    passages share a vector (duplicate articles; a short max_seq_length cuts passages of one
    article to the same title), and which of them a search keeps at the cut is arbitrary."""
    k = truth.shape[1]
    out = []
    for q, g, t in zip(queries, got, truth, strict=True):
        kth = float(vectors[t[-1]] @ q)
        g = g[g >= 0]
        out.append(min(k, int(np.sum(vectors[g] @ q >= kth - 1e-5))) / k)
    return float(np.mean(out))


def segmented(args, vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> dict:
    """Per-segment indexes as rag.store builds them, searched and merged one question at a
    time on one FAISS thread: recall@k against ``truth`` and ms per question."""
    import faiss

    from rag.store import SegmentedVectors
    from rag.store.manifest import read_manifest
    from rag.store.vectors import FaissVectors

    root = args.segments_of
    gen = (root / "CURRENT").read_text().strip()
    sizes = [int(e["rows"]) for e in read_manifest(root / gen)["segments"]]
    if sum(sizes) != len(vectors):
        raise SystemExit(f"{root} holds {sum(sizes)} rows, the job {len(vectors)}")
    threshold = args.threshold if args.threshold is not None else 10**12
    offsets = np.cumsum([0] + sizes)
    flat_parts, parts, build_s = [], [], 0.0
    for lo, hi in zip(offsets[:-1], offsets[1:], strict=True):
        part = vectors[lo:hi]
        flat_parts.append(FaissVectors.build(vectors.shape[1], part, kind="flat"))
        t0 = time.perf_counter()
        parts.append(FaissVectors.build(vectors.shape[1], part, threshold=threshold))
        build_s += time.perf_counter() - t0

    class _Snap:  # what SegmentedVectors reads of a snapshot
        def __init__(self, indexes):
            self.size, self.manifest = int(offsets[-1]), {"dim": vectors.shape[1]}
            self.segments = indexes

        def parts(self):
            for i, index in enumerate(self.segments):
                yield type("S", (), {"faiss": index})(), int(offsets[i]), None

    def one_at_a_time(searcher):
        got, t0 = [], time.perf_counter()
        for q in queries:
            got.append(searcher.search(q.reshape(1, -1), args.k)[1][0])
        return np.array(got), (time.perf_counter() - t0) * 1000 / len(queries)

    faiss.omp_set_num_threads(1)
    exact = SegmentedVectors(_Snap(flat_parts))
    approx = SegmentedVectors(_Snap(parts))
    rows = []
    efs = [int(x) for x in args.ef.split(",")]
    hnsw = [p for p in parts if p.kind == "hnsw"]
    for ef in efs if hnsw else [None]:
        for p in hnsw:
            p.index.hnsw.efSearch = ef
        # Alternate exact and approximate passes; the medians of 3 each.
        ms_exact, ms_approx = [], []
        for _ in range(3):
            got_exact, t = one_at_a_time(exact)
            ms_exact.append(t)
            got, t = one_at_a_time(approx)
            ms_approx.append(t)
        recall = tied_recall(vectors, queries, got, truth)
        exact_recall = tied_recall(vectors, queries, got_exact, truth)
        rows.append(
            {
                "efSearch": ef,
                "recall_at_k": round(float(recall), 4),
                "exact_segments_recall_at_k": round(float(exact_recall), 4),
                "ms_per_question": round(float(np.median(ms_approx)), 3),
                "ms_per_question_all_exact": round(float(np.median(ms_exact)), 3),
            }
        )
    return {
        "segments": sizes,
        "threshold": args.threshold,
        "kinds": [p.kind for p in parts],
        "queries": len(queries),
        "k": args.k,
        "build_seconds": round(build_s, 1),
        "recall": "tie-aware (tied_recall)",
        "by_efSearch": rows,
    }


if __name__ == "__main__":
    main()
