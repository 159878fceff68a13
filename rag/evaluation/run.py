"""Running an evaluation: each question through ``Assistant.search`` and ``Assistant.ask`` (a
follow-up after its conversation), scored, on the cached evaluation index."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from rag.chat import rewrite
from rag.datasets import EvalDataset, QAItem, load_dataset
from rag.errors import InputError
from rag.evaluation.index_cache import eval_index_dir, open_eval_index
from rag.evaluation.results import RETRIEVAL_DEPTH, EvalResult, aggregate
from rag.evaluation.scoring import gold_for, score_question
from rag.evaluation.specs import RunSpec, apply_spec, parse_run_specs
from rag.settings import Settings

_REPORTED_SETTINGS = (
    "retriever",
    "top_k",
    "embed_model",
    "chunk_size",
    "chunk_overlap",
    "dense_weight",
    "sentence_rescore",
    "rerank",
    "reranker_model",
    "llm_model",
)


def run_eval(
    dataset: EvalDataset | str,
    settings: Settings | None = None,
    *,
    retriever: str | None = None,
    top_k: int | None = None,
    label: str | None = None,
    cache_dir: Path | None = None,
    rebuild: bool = False,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> EvalResult:
    """Evaluate one retriever setting on a dataset (a name, a Q&A path, or an EvalDataset).

    ``settings`` defaults to ``Settings.load()``; ``retriever``/``top_k`` override it.
    """
    settings = (settings or Settings.load()).with_(retriever=retriever, top_k=top_k)
    if isinstance(dataset, str):
        dataset = load_dataset(dataset, seeds_dir=settings.seeds_dir)
    t0 = time.perf_counter()
    assistant = open_eval_index(
        dataset, settings, cache_dir=cache_dir, rebuild=rebuild, progress=progress, log=log
    )
    try:
        return evaluate(assistant, dataset, settings, label or settings.retriever, progress, t0)
    finally:
        assistant.close()


def run_compare(
    dataset: EvalDataset | str,
    settings: Settings | None = None,
    specs: Sequence[RunSpec | str] = ("bm25", "dense", "hybrid"),
    *,
    top_k: int | None = None,
    cache_dir: Path | None = None,
    rebuild: bool = False,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> list[EvalResult]:
    """Several runs on one dataset, side by side. Runs that differ only in the retriever mode
    share one opened index (the mode is chosen per query); others open their own."""
    settings = (settings or Settings.load()).with_(top_k=top_k)
    if isinstance(dataset, str):
        dataset = load_dataset(dataset, seeds_dir=settings.seeds_dir)
    parsed = [s if isinstance(s, RunSpec) else parse_run_specs(s)[0] for s in specs]
    assistants: dict[Settings, Any] = {}
    rebuilt: set[Path] = set()
    results = []
    try:
        for spec in parsed:
            run_settings = apply_spec(settings, spec)
            shared = run_settings.with_(retriever="bm25")  # the mode does not shape the index
            t0 = time.perf_counter()
            if shared not in assistants:
                root = eval_index_dir(dataset, run_settings, cache_dir)
                assistants[shared] = open_eval_index(
                    dataset,
                    shared,
                    cache_dir=cache_dir,
                    rebuild=rebuild and root not in rebuilt,
                    progress=progress,
                    log=log,
                )
                rebuilt.add(root)
            if log:
                log(f"run {spec.label} ...")
            results.append(
                evaluate(assistants[shared], dataset, run_settings, spec.label, progress, t0)
            )
    finally:
        for assistant in assistants.values():
            assistant.close()
    return results


def evaluate(
    assistant, dataset: EvalDataset, settings: Settings, label: str, progress: bool, t_start: float
) -> EvalResult:
    """One run on an opened index: every question of ``dataset`` asked with ``settings``."""
    if not dataset.items:
        raise InputError(f"dataset {dataset.name} has no questions")
    info = assistant.info()
    chunk_size = int(info.get("chunk_size") or settings.chunk_size)
    chunk_overlap = int(info.get("chunk_overlap") or settings.chunk_overlap)
    mode = settings.retriever
    # Warm-up: load the encoder and the index snapshot before anything is timed.
    assistant.search(dataset.items[0].question, k=1, mode=mode)
    info = assistant.info()

    bar = None
    if progress and len(dataset.items) > 20:
        from tqdm import tqdm

        bar = tqdm(
            total=len(dataset.items), unit="q", desc=f"eval {label}", leave=False, file=sys.stderr
        )
    results = []
    try:
        for item in dataset.items:
            history = conversation(assistant, item, settings.top_k, mode)
            query = rewrite(item.question, history) or item.question
            t0 = time.perf_counter()
            hits = assistant.search(query, k=RETRIEVAL_DEPTH, mode=mode)
            t1 = time.perf_counter()
            answer = assistant.ask(item.question, history, top_k=settings.top_k, mode=mode)
            t2 = time.perf_counter()
            gold = gold_for(item, dataset, chunk_size, chunk_overlap) if item.answerable else None
            result = score_question(item, hits, answer, gold, t2 - t1, t1 - t0)
            results.append(replace(result, rewritten=answer.rewritten_query))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()

    return EvalResult(
        dataset=dataset.name,
        description=dataset.description,
        run=label,
        retriever=mode,
        modes_used=tuple(sorted({q.mode for q in results})),
        top_k=settings.top_k,
        settings={k: v for k, v in settings.public_dict().items() if k in _REPORTED_SETTINGS},
        model={
            "configured": settings.embed_model,
            "in_use": info.get("model_in_use"),
            "index_model": info.get("index_model"),
            "warning": info.get("warning"),
        },
        index={
            "dir": info.get("index_dir"),
            "articles": info.get("articles"),
            "chunks": info.get("chunks"),
            "chunk_size": chunk_size,
            "chunk_overlap": chunk_overlap,
        },
        metrics=aggregate(results),
        questions=tuple(results),
        seconds=time.perf_counter() - t_start,
    )


def conversation(assistant, item: QAItem, top_k: int, mode: str) -> list[tuple[str, str]]:
    """The (question, answer) turns before a follow-up question, asked as the chat asks them."""
    history: list[tuple[str, str]] = []
    for turn in item.turns:
        answer = assistant.ask(turn, history, top_k=top_k, mode=mode)
        history.append((turn, answer.text))
    return history
