"""Lexical speed, old against new in one run: tokenize throughput, the fusion's best-sentence
coverage, and the BM25 build (time and peak memory) over VNTC passages.

    python benchmarks/lexical_speed.py [--index /tmp/vntc_emb/index] [--n 20000]
        [--baseline 4f2d1ca^]

Passages: the first N rows (title, text) of an index's SQLite (opened read-only), e.g. the VNTC
index that `rag embed --build-index` writes (benchmarks/README.md). The old code is
rag/lexical.py and rag/fusion.py as they were at the git revision ``--baseline`` (the default,
4f2d1ca^, is the straightforward code the fast paths replaced), loaded from git into this process;
each BM25 build runs in a child process of its own so that its peak RSS is its own.
Old and new outputs are also compared (they must be identical). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sqlite3
import subprocess
import sys
import time
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
XQUAD_VI = REPO.parent / "shared" / "data" / "xquad" / "xquad.vi.json"


def passages(index: Path, n: int) -> list[tuple[str, str]]:
    gen = (index / "CURRENT").read_text().strip()
    db = sqlite3.connect(f"file:{index / gen / 'rows.sqlite'}?mode=ro", uri=True)
    try:
        return db.execute(
            "SELECT a.title, c.text FROM chunks c JOIN articles a ON a.id = c.article_id "
            "ORDER BY c.row LIMIT ?",
            (n,),
        ).fetchall()
    finally:
        db.close()


def old_modules(rev: str) -> tuple[types.ModuleType, types.ModuleType]:
    """rag.lexical and rag.fusion as they were at ``rev``, the fusion wired to that lexical."""

    def load(name: str, path: str) -> types.ModuleType:
        src = subprocess.run(
            ["git", "show", f"{rev}:{path}"], cwd=REPO, check=True, capture_output=True, text=True
        ).stdout
        mod = types.ModuleType(name)
        mod.__file__ = f"{rev}:{path}"
        sys.modules[name] = mod
        exec(
            compile(
                src.replace("from rag.lexical import", "from old_lexical import"), path, "exec"
            ),
            mod.__dict__,
        )  # noqa: E501, S102
        return mod

    return load("old_lexical", "rag/lexical.py"), load("old_fusion", "rag/fusion.py")


def current_lexical() -> types.SimpleNamespace:
    """Today's lexical side (rag.tokens and rag.bm25) under the names the old rag.lexical had."""
    import rag.bm25
    import rag.tokens

    return types.SimpleNamespace(
        **vars(rag.tokens), **{k: v for k, v in vars(rag.bm25).items() if not k.startswith("__")}
    )


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: reset by exec, unlike ru_maxrss, which a
    child started by subprocess inherits from its parent's fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def best_of(fn, repeat: int = 3) -> float:
    """Fastest of ``repeat`` runs, in seconds: the least disturbed by the other processes."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def build_child(which: str, index: str, n: int, rev: str) -> None:
    """In a fresh process: build BM25 over the first n passages with the old or new code."""
    docs = passages(Path(index), n)
    if which == "old":
        lexical, _ = old_modules(rev)
    else:
        lexical = current_lexical()
    base = peak_rss_mb()
    t0 = time.perf_counter()
    index_ = lexical.BM25Index.build(iter(docs))
    seconds = time.perf_counter() - t0
    peak = peak_rss_mb()
    print(
        json.dumps(
            {
                "seconds": round(seconds, 2),
                "peak_rss_mb": round(peak),
                "peak_rss_before_build_mb": round(base),
                "docs": index_.size,
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, default=Path("/tmp/vntc_emb/index"))
    ap.add_argument("--n", type=int, default=20_000, help="passages for the BM25 build")
    ap.add_argument("--baseline", default="4f2d1ca^", help="git revision of the old code")
    ap.add_argument("--questions", type=int, default=200)
    ap.add_argument("--build-child", choices=("old", "new"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build_child:
        build_child(args.build_child, str(args.index), args.n, args.baseline)
        return

    import numpy as np

    import rag.fusion as new_fusion

    new_lexical = current_lexical()

    old_lexical, old_fusion = old_modules(args.baseline)
    docs = passages(args.index, max(args.n, 5000))
    texts = [t for _, t in docs[:5000]]
    chars = sum(map(len, texts))
    out: dict = {"index": str(args.index), "baseline": args.baseline}

    # 1. tokenize throughput (5,000 passages), and identity.
    assert all(old_lexical.tokenize(t) == new_lexical.tokenize(t) for t in texts)
    tok = {}
    for name, lex in (("old", old_lexical), ("new", new_lexical)):
        s = best_of(lambda lex=lex: [lex.tokenize(t) for t in texts])
        tok[name] = {
            "passages_per_s": round(len(texts) / s),
            "mb_text_per_s": round(chars / s / 1e6, 2),
        }
    tok["speedup"] = round(tok["new"]["passages_per_s"] / tok["old"]["passages_per_s"], 2)
    doc = {}
    for name, lex in (("old", old_lexical), ("new", new_lexical)):
        s = best_of(lambda lex=lex: [lex.document_tokens(a, b) for a, b in docs[:5000]])
        doc[name] = {"passages_per_s": round(5000 / s)}
    doc["speedup"] = round(doc["new"]["passages_per_s"] / doc["old"]["passages_per_s"], 2)
    out["tokenize"] = tok
    out["document_tokens"] = doc

    # 2. best-sentence coverage: XQuAD-vi questions, 40 random candidate passages each (what
    # rag.retrieve gives it: RERANK_DEPTH 30 + DENSE_DEPTH 10), idf from the new BM25 below.
    data = json.loads(XQUAD_VI.read_text(encoding="utf-8"))["data"]
    qs = [qa["question"] for a in data for p in a["paragraphs"] for qa in p["qas"]]
    qs = qs[: args.questions]
    rng = random.Random(0)
    all_texts = [t for _, t in docs]
    cands = [rng.sample(all_texts, 40) for _ in qs]
    bm25 = new_lexical.BM25Index.build(docs[:5000])
    shares = []
    for q in qs:
        terms = new_lexical.query_terms(q)
        shares.append(new_fusion.coverage_terms(terms, new_lexical.idf_weights(bm25, terms)))
    for s_, c in zip(shares, cands, strict=True):
        a, b = old_fusion.best_sentence_coverage(s_, c), new_fusion.best_sentence_coverage(s_, c)
        assert np.array_equal(a, b)
    cov = {}
    t_old = best_of(
        lambda: [
            old_fusion.best_sentence_coverage(s, c) for s, c in zip(shares, cands, strict=True)
        ]
    )
    new_fusion._sentence_runs.cache_clear()
    t_cold = best_of(
        lambda: (
            new_fusion._sentence_runs.cache_clear(),
            [new_fusion.best_sentence_coverage(s, c) for s, c in zip(shares, cands, strict=True)],
        )
    )

    def warm() -> None:
        # The same question's passages again (a repeated or follow-up question, or the next
        # mode of an evaluation): only the second call is timed.
        nonlocal t_warm_total
        for s, c in zip(shares, cands, strict=True):
            new_fusion.best_sentence_coverage(s, c)
            t0 = time.perf_counter()
            new_fusion.best_sentence_coverage(s, c)
            t_warm_total += time.perf_counter() - t0

    t_warm_total = 0.0
    warm()
    t_warm = t_warm_total
    cov["old_ms_per_question"] = round(t_old / len(qs) * 1000, 2)
    cov["new_ms_per_question_cold_cache"] = round(t_cold / len(qs) * 1000, 2)
    cov["new_ms_per_question_warm_cache"] = round(t_warm / len(qs) * 1000, 2)
    cov["speedup_cold"] = round(t_old / t_cold, 2)
    out["coverage_40_passages"] = cov

    # 3. BM25 build, each in a process of its own.
    builds = {}
    for which in ("old", "new"):
        res = subprocess.run(
            [sys.executable, __file__, "--build-child", which, "--index", str(args.index),
             "--n", str(args.n), "--baseline", args.baseline],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        builds[which] = json.loads(res.stdout.strip().splitlines()[-1])
    builds["speedup"] = round(builds["old"]["seconds"] / builds["new"]["seconds"], 2)
    out[f"bm25_build_{args.n}_passages"] = builds
    out["load_average"] = [round(x, 2) for x in __import__("os").getloadavg()]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
