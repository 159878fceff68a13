"""Query latency at VNTC size: p50/p95 of Assistant.search over 500 questions, model loaded,
for BM25 only, dense only and hybrid; optionally where a hybrid question's time goes, stage by
stage, and encoding the question while BM25 scores it against doing one after the other.

    python benchmarks/query_latency.py INDEX_DIR [--n 500] [--k 5] [--queries-only]
        [--as-model MODEL] [--stages] [--overlap ROUNDS [--block 50]] [--against INDEX_B]
        [--rescore ROUNDS] [--stored ROUNDS]

Questions: the first N XQuAD-vi questions (../shared/data/xquad/xquad.vi.json): real Vietnamese
questions; whether their answers are in the index does not change the work a search does. The
first call of each mode is a warm-up and is not counted. Prints one JSON object.

``--queries-only``: questions encoded as `rag ask` encodes them, by the torch-free ONNX export
of the index's model (embeddings.light; an export must have been recorded).
``--as-model MODEL``: time INDEX_DIR's search as if MODEL had built it: a view of the index in a
temporary folder (its segments linked, read only; its manifest naming MODEL) that MODEL's
question encoder may search. Timing only: the question vectors are of one model and the
passages' of another, so the dense hits mean nothing; the work is the same when the dimensions
match (the Assistant refuses a mismatched index; this is the way past it).
``--stages``: `Assistant.ask` in hybrid mode, each stage timed by wrapping the functions the
pipeline calls (question analysis, question encoding, BM25 scores and top-k, FAISS search,
best-sentence coverage, SQLite rows, near-duplicate collapse, the second stage, sentence vectors
(its and the answer's), answer composition, the rest), per question, p50/p95 of each.
``--overlap ROUNDS``: hybrid `Assistant.search` with ``Retriever.overlap`` off and on, in
alternating blocks of ``--block`` questions (the same questions for both, the question caches
emptied before each block; the order of the two flips every round), p50/p95 of each, and
whether every hit (passage and score) is the same both ways.
``--against INDEX_B``: hybrid `Assistant.search` over INDEX_DIR and over INDEX_B (each seen
through ``--as-model`` when given) in one process, alternating blocks of ``--block``
questions (``--overlap`` rounds, 6 by default; the order flips every round, the question
caches emptied before each block): p50/p95 of each, and how many questions' top-k passages are
the same over both.

``--rescore ROUNDS``: hybrid `Assistant.search`, then `Assistant.ask`, with the sentence-cosine
stage (rag.fusion) off and on, in alternating blocks of ``--block`` questions, the sentence vectors' cache emptied
before every question (each encodes its best passages' sentences): p50/p95 of each.
``--stored ROUNDS``: hybrid `Assistant.search`, then `Assistant.ask`, with the sentence vectors
read from the index's store (rag.store.sentence_vectors; `rag index sentences` fills it) and
with them encoded, in alternating blocks of ``--block`` questions, the in-memory cache emptied
before every question: p50/p95 of each, and how many answers were the same both ways.

The index files are first read into the page cache by ``Assistant.warm`` (what `rag serve`
does in the background when it starts), so that the figures are a running server's; ``--cold``
skips it: each question then also waits for the pages it touches first to be read from disk
(or the page cache, wherever earlier runs left them).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
XQUAD_VI = REPO.parent / "shared" / "data" / "xquad" / "xquad.vi.json"


def questions(n: int) -> list[str]:
    data = json.loads(XQUAD_VI.read_text(encoding="utf-8"))["data"]
    out = [qa["question"] for art in data for p in art["paragraphs"] for qa in p["qas"]]
    return out[:n]


def view_as(index_dir: Path, model: str, folder: Path) -> Path:
    """A read-only view of ``index_dir`` whose manifest names ``model`` (see --as-model)."""
    root = Path(index_dir).resolve()
    generation = (root / "CURRENT").read_text().strip()
    manifest = json.loads((root / generation / "manifest.json").read_text(encoding="utf-8"))
    manifest["model"] = model
    manifest.setdefault("settings", {})["requested_model"] = model
    view = folder / "index"
    (view / generation).mkdir(parents=True)
    (view / generation / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (view / "CURRENT").write_text(generation + "\n")
    (view / "segments").mkdir()
    for seg in manifest["segments"]:
        os.symlink(root / "segments" / seg["name"], view / "segments" / seg["name"])
    return view


def percentiles(times_ms: list[float]) -> dict:
    return {
        "p50_ms": round(float(np.percentile(times_ms, 50)), 2),
        "p95_ms": round(float(np.percentile(times_ms, 95)), 2),
        "mean_ms": round(float(np.mean(times_ms)), 2),
    }


class StageClock:
    """Seconds spent in wrapped functions, by stage, since the last reset."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, owner, name: str, stage: str, net_of: str | None = None) -> None:
        """Time ``owner.name`` as ``stage``, less what stage ``net_of`` spent inside it."""
        fn = getattr(owner, name)

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            inner = self.spent[net_of] if net_of else 0.0
            try:
                return fn(*args, **kwargs)
            finally:
                nested = (self.spent[net_of] - inner) if net_of else 0.0
                self.spent[stage] += time.perf_counter() - t0 - nested
                self.calls[stage] += 1

        setattr(owner, name, timed)

    def reset(self) -> None:
        self.spent.clear()
        self.calls.clear()


STAGES = (
    "analyse",
    "encode",
    "bm25",
    "faiss",
    "coverage",
    "sqlite",
    "dedup",
    "rescore",
    "sentence_vectors",
    "compose",
    "rest",
)


def profile_stages(assistant, qs: list[str], k: int) -> dict:
    """Per-question time by stage of ``Assistant.ask`` in hybrid mode (see --stages)."""
    import rag.answer
    import rag.chat
    import rag.dedup
    import rag.pipeline
    import rag.retrieve
    from rag import fusion

    retriever = assistant.retriever()
    clock = StageClock()
    clock.wrap(rag.pipeline, "clean_question", "analyse")
    clock.wrap(rag.chat, "rewrite", "analyse")
    clock.wrap(rag.retrieve, "as_query", "analyse")
    clock.wrap(retriever.encoder, "encode_queries", "encode")
    clock.wrap(retriever.bm25, "scores", "bm25")
    clock.wrap(rag.retrieve, "top_k", "bm25")
    clock.wrap(rag.retrieve, "dense_search", "faiss")
    clock.wrap(fusion, "best_sentence_coverage", "coverage")
    clock.wrap(retriever.snapshot, "chunks", "sqlite")
    clock.wrap(retriever.snapshot, "article_meta", "sqlite")
    clock.wrap(rag.dedup, "collapse", "dedup")
    # Sentence vectors, the second stage's and the answer's: a stage of their own.
    clock.wrap(retriever.encoder, "encode_passages", "sentence_vectors")
    clock.wrap(retriever, "sentence_cosines", "rescore", net_of="sentence_vectors")
    clock.wrap(rag.answer, "compose", "compose", net_of="sentence_vectors")
    assistant.ask(qs[0], top_k=k, mode="hybrid")  # warm-up
    forget(retriever)
    per: dict[str, list[float]] = defaultdict(list)
    sentence_batches = []
    for q in qs[1:]:
        clock.reset()
        t0 = time.perf_counter()
        assistant.ask(q, top_k=k, mode="hybrid")
        total = time.perf_counter() - t0
        spent = dict(clock.spent)
        spent["rest"] = total - sum(spent.values())
        for stage in STAGES:
            per[stage].append(spent.get(stage, 0.0) * 1000)
        per["total"].append(total * 1000)
        sentence_batches.append(clock.calls.get("sentence_vectors", 0))
    out = {stage: percentiles(per[stage]) for stage in (*STAGES, "total")}
    out["questions_encoding_answer_sentences"] = sum(1 for c in sentence_batches if c)
    return out


def forget(retriever) -> None:
    """Empty the retriever's question caches: what follows encodes and scores afresh."""
    retriever._vectors.clear()
    retriever._lexical.clear()


def alternating_blocks(qs: list[str], rounds: int, block: int, names, setup, one) -> dict:
    """Time ``one(name, question)`` for each of two ``names`` over the same blocks of ``block``
    questions, alternating (the order flips every round); ``setup(name)`` runs before each
    block. Per name: the times (ms) and each block's median."""
    times: dict[str, list[float]] = {name: [] for name in names}
    by_round: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        start = (r * block) % max(1, len(qs) - 1)
        part = (qs[1:] * 2)[start : start + block]  # consecutive blocks, wrapping around
        for name in names if r % 2 == 0 else names[::-1]:
            setup(name)
            block_times = []
            for q in part:
                block_times.append(one(name, q))
            times[name] += block_times
            by_round[name].append(round(float(np.median(block_times)), 2))
    return {name: {**percentiles(t), "block_p50_ms": by_round[name]} for name, t in times.items()}


def compare_overlap(assistant, qs: list[str], k: int, rounds: int, block: int) -> dict:
    """Hybrid search with Retriever.overlap off and on, alternating blocks (see --overlap)."""
    retriever = assistant.retriever()
    hits: dict[str, dict[str, list]] = {"serial": {}, "overlapped": {}}
    for flag in (False, True):  # warm-up: the pool's thread, first allocations
        retriever.overlap = flag
        assistant.search(qs[0], k=k, mode="hybrid")

    def setup(name: str) -> None:
        retriever.overlap = name == "overlapped"
        forget(retriever)

    def one(name: str, q: str) -> float:
        t0 = time.perf_counter()
        found = assistant.search(q, k=k, mode="hybrid")
        spent = (time.perf_counter() - t0) * 1000
        hits[name][q] = [(h.chunk.article_id, h.chunk.index, h.score) for h in found]
        return spent

    out = alternating_blocks(qs, rounds, block, ("serial", "overlapped"), setup, one)
    retriever.overlap = False
    same = all(hits["serial"][q] == hits["overlapped"][q] for q in hits["serial"])
    out["p50_ratio_serial_over_overlapped"] = round(
        out["serial"]["p50_ms"] / out["overlapped"]["p50_ms"], 3
    )
    out["p95_ratio_serial_over_overlapped"] = round(
        out["serial"]["p95_ms"] / out["overlapped"]["p95_ms"], 3
    )
    out["same_hits"] = same
    out["questions_compared"] = len(hits["serial"])
    return out


def compare_rescore(
    assistant, qs: list[str], k: int, rounds: int, block: int, call: str = "search"
) -> dict:
    """Hybrid ``call`` (search or ask) with the sentence-cosine stage off and on
    (Retriever.rescore), alternating blocks (see --rescore); the sentence vectors' cache emptied
    before every question, so each one encodes the sentences of its best passages afresh: the
    cost for a question whose passages no earlier question brought up."""
    retriever = assistant.retriever()

    def run(q: str) -> None:
        if call == "ask":
            assistant.ask(q, top_k=k, mode="hybrid")
        else:
            assistant.search(q, k=k, mode="hybrid")

    for flag in (False, True):  # warm-up
        retriever.rescore = flag
        run(qs[0])

    def setup(name: str) -> None:
        retriever.rescore = name == "second stage"
        forget(retriever)

    def one(name: str, q: str) -> float:
        retriever.similarity.clear()
        t0 = time.perf_counter()
        run(q)
        return (time.perf_counter() - t0) * 1000

    out = alternating_blocks(qs, rounds, block, ("first stage", "second stage"), setup, one)
    retriever.rescore = True
    out["p50_ratio_second_over_first"] = round(
        out["second stage"]["p50_ms"] / out["first stage"]["p50_ms"], 3
    )
    return out


def compare_stored(
    assistant, qs: list[str], k: int, rounds: int, block: int, call: str = "search"
) -> dict:
    """Hybrid ``call`` with the sentence vectors read from the index's store and encoded,
    alternating blocks (see --stored); the in-memory cache emptied before every question."""
    retriever = assistant.retriever()
    sim = retriever.similarity
    store = sim.stored
    if store is None or store.count() == 0:
        raise SystemExit("no stored sentence vectors: run `rag index sentences --index DIR`")
    answers: dict[str, dict[str, str]] = {"encoded": {}, "stored": {}}

    def run(q: str) -> str:
        if call == "ask":
            return assistant.ask(q, top_k=k, mode="hybrid").text
        return repr([(h.chunk.article_id, h.chunk.index) for h in assistant.search(q, k=k)])

    run(qs[0])  # warm-up

    def setup(name: str) -> None:
        sim.use_stored(store if name == "stored" else None)
        forget(retriever)

    def one(name: str, q: str) -> float:
        sim.clear()
        t0 = time.perf_counter()
        answers[name][q] = run(q)
        return (time.perf_counter() - t0) * 1000

    out = alternating_blocks(qs, rounds, block, ("encoded", "stored"), setup, one)
    sim.use_stored(store)
    out["p50_ratio_encoded_over_stored"] = round(
        out["encoded"]["p50_ms"] / out["stored"]["p50_ms"], 3
    )
    out["same"] = sum(answers["encoded"][q] == answers["stored"].get(q) for q in answers["encoded"])
    out["questions_compared"] = len(answers["encoded"])
    return out


def compare_indexes(a, b, qs: list[str], k: int, rounds: int, block: int) -> dict:
    """Hybrid search over two indexes, alternating blocks (see --against)."""
    pair = {"a": a, "b": b}
    hits: dict[str, dict[str, list]] = {"a": {}, "b": {}}
    for assistant in pair.values():
        assistant.search(qs[0], k=k, mode="hybrid")  # warm-up

    def one(name: str, q: str) -> float:
        t0 = time.perf_counter()
        found = pair[name].search(q, k=k, mode="hybrid")
        spent = (time.perf_counter() - t0) * 1000
        hits[name][q] = [(h.chunk.article_id, h.chunk.index) for h in found]
        return spent

    out = alternating_blocks(
        qs, rounds, block, ("a", "b"), lambda name: forget(pair[name].retriever()), one
    )
    out["same_top_k"] = sum(hits["a"][q] == hits["b"][q] for q in hits["a"])
    out["questions_compared"] = len(hits["a"])
    return out


def warm(assistant) -> dict:
    """Read the index files into the page cache as `rag serve` does, and say how long it took."""
    t0 = time.perf_counter()
    done = assistant.warm(wait=True)
    return {"mib": round(done / 2**20), "seconds": round(time.perf_counter() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("index_dir", type=Path)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--modes", default="bm25,dense,hybrid")
    ap.add_argument("--threads", type=int, help="torch and FAISS threads (default: theirs)")
    ap.add_argument("--queries-only", action="store_true", help="the torch-free question encoder")
    ap.add_argument("--as-model", help="time the index as if this model had built it")
    ap.add_argument("--stages", action="store_true", help="hybrid ask, time by stage")
    ap.add_argument("--overlap", type=int, default=0, metavar="ROUNDS")
    ap.add_argument("--block", type=int, default=50)
    ap.add_argument("--against", type=Path, metavar="INDEX_B", help="hybrid A/B against it")
    ap.add_argument("--cold", action="store_true", help="do not read the index files first")
    ap.add_argument("--rescore", type=int, default=0, metavar="ROUNDS")
    ap.add_argument("--stored", type=int, default=0, metavar="ROUNDS")
    args = ap.parse_args()
    if args.threads:
        import faiss

        faiss.omp_set_num_threads(args.threads)
        if not args.queries_only:
            import torch

            torch.set_num_threads(args.threads)

    from rag.pipeline import Assistant
    from rag.settings import Settings

    tmp = tempfile.TemporaryDirectory(prefix="query_latency_") if args.as_model else None
    index_dir = view_as(args.index_dir, args.as_model, Path(tmp.name)) if tmp else args.index_dir
    assistant = Assistant(
        Settings.load(env={}, index_dir=index_dir), queries_only=args.queries_only
    )
    qs = questions(args.n)
    info = assistant.info()
    result = {
        "index_dir": str(args.index_dir),
        "as_model": args.as_model,
        "chunks": info.get("chunks"),
        "faiss_index": info.get("faiss_index"),
        "model": info.get("model_in_use"),
        "encoder": type(assistant.encoder).__name__ if assistant.encoder is not None else None,
        "questions": len(qs),
        "k": args.k,
        "threads": args.threads,
        "load_before": round(os.getloadavg()[0], 2),
    }
    if not args.cold:
        result["warm"] = warm(assistant)
    modes = [m for m in args.modes.split(",") if m]
    if args.against is not None:
        tmp_b = tempfile.TemporaryDirectory(prefix="query_latency_") if args.as_model else None
        index_b = view_as(args.against, args.as_model, Path(tmp_b.name)) if tmp_b else args.against
        other = Assistant(Settings.load(env={}, index_dir=index_b), queries_only=args.queries_only)
        if not args.cold:
            result["warm_b"] = warm(other)
        result["against"] = {
            "index_b": str(args.against),
            "faiss_index_b": other.info().get("faiss_index"),
            **compare_indexes(assistant, other, qs, args.k, args.overlap or 6, args.block),
        }
        other.close()
        if tmp_b is not None:
            tmp_b.cleanup()
    elif args.overlap:
        result["overlap"] = compare_overlap(assistant, qs, args.k, args.overlap, args.block)
    if args.rescore:
        for call in ("search", "ask"):
            result[f"rescore_{call}"] = compare_rescore(
                assistant, qs, args.k, args.rescore, args.block, call
            )
    if args.stored:
        for call in ("search", "ask"):
            result[f"stored_{call}"] = compare_stored(
                assistant, qs, args.k, args.stored, args.block, call
            )
    if args.stages:  # last: its wrappers stay in place
        result["stages"] = profile_stages(assistant, qs, args.k)
    for mode in modes:
        assistant.search(qs[0], k=args.k, mode=mode)  # warm-up: loads, first allocations
        forget(assistant.retriever())
        times = []
        for q in qs[1:]:
            t0 = time.perf_counter()
            assistant.search(q, k=args.k, mode=mode)
            times.append((time.perf_counter() - t0) * 1000)
        result[mode] = percentiles(times)
    result["load_after"] = round(os.getloadavg()[0], 2)
    assistant.close()
    if tmp is not None:
        tmp.cleanup()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
