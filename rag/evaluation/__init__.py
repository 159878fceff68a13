"""Run a Q&A evaluation set through the pipeline and score it; write the table, report and plot.

`run_eval` measures exactly what users get: retrieval metrics come from ``Assistant.search``
and answer metrics from ``Assistant.ask``, on an index built from the dataset's articles with
the same ingest path as ``rag ingest``. That index is cached under ``.rag/eval/`` keyed by what
decides its content (the corpus, the embedding model and backend, the chunking), so repeated
runs and runs of other retrievers do not re-embed.

Definitions (see rag.metrics for the gold-passage rule and ties):

- retrieval figures are computed on the top ``RETRIEVAL_DEPTH`` passages of ``search`` for the
  answerable questions, whatever ``top_k`` is; ``top_k`` is the number of passages ``ask``
  reads;
- answer hit: the answer was given (``found``) and an accepted answer appears in its text; token
  F1 likewise (0 for an abstention); both over answerable questions;
- citation precision: over the answerable questions whose answer cites anything;
- abstention accuracy: share of unanswerable questions answered "not found"; false abstention:
  share of answerable questions answered "not found";
- latency: wall time of each ``ask`` (and of each ``search``), after one warm-up query so that
  loading the model and the index is not counted.

The modules, each one job: ``results`` (the records and a run's figures), ``specs`` (the runs
of ``--retriever``/``--compare``), ``index_cache`` (the cached evaluation index), ``scoring``
(gold passages and one question's figures), ``run`` (running the questions), ``report`` (the
table, results.json, report.md, recall.png). The names below are imported on first use, so
importing this package loads neither the pipeline nor matplotlib.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.evaluation.report import format_table, results_json, write_report
    from rag.evaluation.results import EvalResult, QuestionResult
    from rag.evaluation.run import run_compare, run_eval
    from rag.evaluation.specs import RunSpec, parse_run_specs

_EXPORTS = {
    "run_eval": "run",
    "run_compare": "run",
    "EvalResult": "results",
    "QuestionResult": "results",
    "RunSpec": "specs",
    "parse_run_specs": "specs",
    "format_table": "report",
    "results_json": "report",
    "write_report": "report",
}

__all__ = [
    "EvalResult",
    "QuestionResult",
    "RunSpec",
    "format_table",
    "parse_run_specs",
    "results_json",
    "run_compare",
    "run_eval",
    "write_report",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
