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
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import click

from rag import metrics as M
from rag.chat import rewrite
from rag.datasets import EvalDataset, QAItem, load_dataset
from rag.errors import InputError
from rag.settings import Settings

SCHEMA = "rag-eval/1"
RETRIEVAL_DEPTH = 10
CACHE_VERSION = 1  # bump when the way an eval index is built changes


# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetrievedPassage:
    article_id: str
    chunk_index: int
    score: float
    relevant: bool
    title: str = ""

    def to_dict(self) -> dict:
        return {
            "article_id": self.article_id,
            "chunk": self.chunk_index,
            "score": _r(self.score, 6),
            "relevant": self.relevant,
        }


@dataclass(frozen=True)
class CitedPassage:
    n: int
    article_id: str
    title: str
    text: str
    good: bool  # contains an accepted answer or belongs to a gold article

    def to_dict(self) -> dict:
        return {"n": self.n, "article_id": self.article_id, "title": self.title, "good": self.good}


@dataclass(frozen=True)
class QuestionResult:
    item: QAItem
    retrieved: tuple[RetrievedPassage, ...]
    n_relevant: int  # relevant passages in the index (gold-passage rule)
    recall: tuple[float, ...]  # Recall@1..RETRIEVAL_DEPTH; () for unanswerable questions
    mrr: float | None
    ndcg: float | None
    answer: str
    found: bool
    mode: str
    cited: tuple[CitedPassage, ...]
    hit: bool | None  # None for unanswerable questions
    f1: float | None
    citation_precision: float | None
    ask_seconds: float
    search_seconds: float
    rewritten: str | None = None  # the standalone form a follow-up question was answered as

    @property
    def failed(self) -> bool:
        """A miss worth reading: no accepted answer in an answer, or an answer where the
        corpus has none."""
        return (self.hit is False) if self.item.answerable else self.found

    def to_dict(self) -> dict:
        it = self.item
        return {
            "id": it.id,
            "question": it.question,
            "turns": list(it.turns),
            "rewritten": self.rewritten,
            "lang": it.lang,
            "kind": it.kind,
            "answerable": it.answerable,
            "answers": list(it.answers),
            "gold_articles": list(it.article_ids),
            "n_relevant": self.n_relevant,
            "recall@1": _r(self.recall[0]) if self.recall else None,
            "recall@5": _r(self.recall[4]) if self.recall else None,
            "recall@10": _r(self.recall[9]) if self.recall else None,
            "mrr@10": _r(self.mrr),
            "ndcg@10": _r(self.ndcg),
            "found": self.found,
            "hit": self.hit,
            "token_f1": _r(self.f1),
            "citation_precision": _r(self.citation_precision),
            "answer": self.answer,
            "mode": self.mode,
            "cited": [c.to_dict() for c in self.cited],
            "retrieved": [p.to_dict() for p in self.retrieved],
            "ask_ms": _r(self.ask_seconds * 1000, 2),
            "search_ms": _r(self.search_seconds * 1000, 2),
        }


@dataclass(frozen=True)
class EvalResult:
    dataset: str
    description: str
    run: str  # the run's label: the retriever and any overrides
    retriever: str  # requested mode
    modes_used: tuple[str, ...]  # what the pipeline used (bm25 when no dense model loads)
    top_k: int
    settings: dict
    model: dict  # configured, in use, fallback warning
    index: dict  # directory, articles, chunks, chunking
    metrics: dict
    questions: tuple[QuestionResult, ...]
    seconds: float

    def to_dict(self, questions: bool = True) -> dict:
        out = {
            "run": self.run,
            "dataset": self.dataset,
            "retriever": self.retriever,
            "modes_used": list(self.modes_used),
            "top_k": self.top_k,
            "model": self.model,
            "index": self.index,
            "settings": self.settings,
            "metrics": self.metrics,
            "seconds": _r(self.seconds, 2),
        }
        if questions:
            out["questions"] = [q.to_dict() for q in self.questions]
        return out


def _r(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(float(x), digits)


# --- run specs (--retriever / --compare) ----------------------------------------------------


@dataclass(frozen=True)
class RunSpec:
    """One run of a comparison: a retriever mode and optional Settings overrides, written
    ``mode`` or ``mode:key=value:key=value`` (e.g. ``hybrid:dense_weight=0.3``)."""

    retriever: str
    overrides: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        return ":".join([self.retriever, *(f"{k}={v}" for k, v in self.overrides)])


def parse_run_specs(text: str) -> list[RunSpec]:
    specs = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        mode, *pairs = part.split(":")
        overrides = []
        for pair in pairs:
            key, sep, value = pair.partition("=")
            key = key.strip().replace("-", "_")
            if not sep or not key:
                raise InputError(f"bad run {part!r}: write mode or mode:setting=value")
            overrides.append((key, _coerce_setting(key, value.strip())))
        specs.append(RunSpec(mode.strip(), tuple(overrides)))
    if not specs:
        raise InputError("no runs given: e.g. --compare bm25,dense,hybrid")
    labels = [s.label for s in specs]
    if len(set(labels)) != len(labels):
        raise InputError(f"the same run is listed twice in {text!r}")
    return specs


def _coerce_setting(key: str, raw: str) -> Any:
    from rag.settings import coerce_setting

    if key not in {f.name for f in fields(Settings)} or key in ("llm_api_key", "auth"):
        raise InputError(f"unknown setting {key!r} in a run spec")
    return coerce_setting(key, raw, label=key)


def apply_spec(settings: Settings, spec: RunSpec) -> Settings:
    from dataclasses import replace

    # replace(), not with_(): an override to None (dense_weight=none) must stick.
    changed = replace(settings, retriever=spec.retriever, **dict(spec.overrides))
    changed.validate()
    return changed


# --- the evaluation index -------------------------------------------------------------------


def index_key(dataset: EvalDataset, settings: Settings) -> str:
    """What decides the content of the evaluation index; other settings do not. The store's
    format and tokenizer are part of it, so a new index layout never reads a stale cache."""
    from rag import store

    key = {
        "v": CACHE_VERSION,
        "store": [getattr(store, "FORMAT", None), getattr(store, "TOKENIZER", None)],
        "corpus": dataset.corpus_fingerprint(),
        "model": settings.embed_model,
        "fallback": settings.embed_fallback,
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
        # The passages' vectors differ by backend (int8: cosine ~0.996 to torch): an eval of
        # RAG_EMBED_BACKEND=onnx-int8 must not score an index that torch embedded.
        "backend": settings.embed_backend,
    }
    return hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]


def eval_index_dir(dataset: EvalDataset, settings: Settings, cache_dir: Path | None = None) -> Path:
    root = cache_dir if cache_dir is not None else Path(settings.index_dir).parent / "eval"
    safe = "".join(c if c.isalnum() or c in "-+_." else "_" for c in dataset.corpus)
    return root / f"{safe}-{index_key(dataset, settings)}"


def open_eval_index(
    dataset: EvalDataset,
    settings: Settings,
    *,
    cache_dir: Path | None = None,
    rebuild: bool = False,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
):
    """An Assistant over the dataset's articles, built once and reused from the cache."""
    from rag.pipeline import Assistant

    root = eval_index_dir(dataset, settings, cache_dir)
    marker = root / "built.json"
    expected = {"corpus": dataset.corpus_fingerprint(), "articles": len(dataset.articles)}
    assistant = Assistant.open(settings.with_(index_dir=root / "index"))
    built = None
    if marker.is_file() and not rebuild:
        try:
            built = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            built = None
    if built is not None and _fallback_outdated(built, settings):
        if log:
            log(f"{settings.embed_model} loads now: rebuilding the index built with a fallback")
        built, rebuild = None, True
    if built is None or any(built.get(k) != v for k, v in expected.items()):
        if log:
            log(f"building the evaluation index for {dataset.corpus} in {root} ...")
        t0 = time.perf_counter()
        report = assistant.ingest_articles(dataset.articles, progress=progress, rebuild=rebuild)
        if log:
            log(
                f"indexed {report.added} articles ({report.chunks} passages) "
                f"in {time.perf_counter() - t0:.1f}s"
            )
        root.mkdir(parents=True, exist_ok=True)
        built = {**expected, "index_model": assistant.info().get("index_model")}
        marker.write_text(json.dumps(built), encoding="utf-8")
    return assistant


def _fallback_outdated(built: dict, settings: Settings) -> bool:
    """The cached index was embedded with a fallback model, and the configured model can be
    loaded now: figures from the old index would not be those of the configured model."""
    from embeddings.encoder import resolve_encoder, stands_for
    from rag.errors import ModelLoadError

    index_model = built.get("index_model")
    if not index_model or stands_for(index_model) == settings.embed_model:
        return False
    if not settings.embed_fallback:
        return False
    try:
        # Without fallback: the configured model itself (or, for e5, its bundled 4-bit build).
        now = resolve_encoder(settings.embed_model, fallback=False, device=settings.device)
    except ModelLoadError:
        return False
    return now.model_id != index_model


# --- scoring ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Gold:
    n_relevant: int
    any_gold_passage: bool


def _gold_for(item: QAItem, dataset: EvalDataset, chunk_size: int, chunk_overlap: int) -> _Gold:
    """Count the index's relevant passages for ``item`` by chunking its gold articles as the
    index did (rag.chunk), and decide whether the any-gold-passage fallback applies."""
    from rag.chunk import chunk_article

    total = 0
    with_answer = 0
    for article_id in item.article_ids:
        article = dataset.article(article_id)
        if article is None:
            continue
        for chunk in chunk_article(article, chunk_size, chunk_overlap):
            total += 1
            with_answer += M.contains_answer(chunk.text, item.answers)
    if with_answer:
        return _Gold(with_answer, False)
    return _Gold(total, True)


def score_question(
    item: QAItem,
    hits: Sequence,
    answer,
    gold: _Gold | None,
    ask_seconds: float,
    search_seconds: float,
) -> QuestionResult:
    """Score one question from its search hits and its Answer (rag.types)."""
    gold_set = set(item.article_ids)
    retrieved = []
    for h in hits[:RETRIEVAL_DEPTH]:
        ids = (h.chunk.article_id, *getattr(h, "also", ()))
        relevant = bool(item.answerable) and M.is_relevant(
            ids, h.chunk.text, item.answers, gold_set,
            any_gold_passage=gold.any_gold_passage if gold else False,
        )  # fmt: skip
        retrieved.append(
            RetrievedPassage(h.chunk.article_id, h.chunk.index, h.score, relevant, h.chunk.title)
        )
    flags = [p.relevant for p in retrieved]
    scores = [p.score for p in retrieved]
    if item.answerable:
        recall = tuple(M.recall_at_k(flags, k, scores) for k in range(1, RETRIEVAL_DEPTH + 1))
        mrr = M.reciprocal_rank(flags, M.MRR_K, scores)
        ndcg = M.ndcg_at_k(flags, gold.n_relevant if gold else 0, M.NDCG_K, scores)
    else:
        recall, mrr, ndcg = (), None, None
    cited = tuple(
        CitedPassage(
            c.n,
            c.article_id,
            c.title,
            c.text,
            c.article_id in gold_set or M.contains_answer(c.text, item.answers),
        )  # fmt: skip
        for c in answer.citations
    )
    if item.answerable:
        hit = bool(answer.found) and M.answer_hit(answer.text, item.answers)
        f1 = M.token_f1(answer.text, item.answers) if answer.found else 0.0
        cit_p = M.citation_precision(
            [(c.article_id, c.text) for c in cited], item.answers, gold_set
        )
    else:
        hit, f1, cit_p = None, None, None
    return QuestionResult(
        item=item,
        retrieved=tuple(retrieved),
        n_relevant=gold.n_relevant if gold else 0,
        recall=recall,
        mrr=mrr,
        ndcg=ndcg,
        answer=answer.text,
        found=bool(answer.found),
        mode=answer.mode,
        cited=cited,
        hit=hit,
        f1=f1,
        citation_precision=cit_p,
        ask_seconds=ask_seconds,
        search_seconds=search_seconds,
    )


def aggregate(results: Sequence[QuestionResult]) -> dict:
    """The run's figures; every key is always present (None where undefined), so the JSON
    keeps one shape across datasets and runs."""
    answerable = [q for q in results if q.item.answerable]
    unanswerable = [q for q in results if not q.item.answerable]
    curve = [M.mean(q.recall[k] for q in answerable) for k in range(RETRIEVAL_DEPTH)]
    ask_ms = [q.ask_seconds * 1000 for q in results]
    search_ms = [q.search_seconds * 1000 for q in results]
    out = {
        "questions": len(results),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "recall@1": _r(curve[0]) if answerable else None,
        "recall@5": _r(curve[4]) if answerable else None,
        "recall@10": _r(curve[9]) if answerable else None,
        "mrr@10": _r(M.mean(q.mrr for q in answerable)),
        "ndcg@10": _r(M.mean(q.ndcg for q in answerable)),
        "answer_hit": _r(M.mean(float(q.hit) for q in answerable)),
        "token_f1": _r(M.mean(q.f1 for q in answerable)),
        "citation_precision": _r(M.mean(q.citation_precision for q in answerable)),
        "answers_with_citations": sum(1 for q in answerable if q.cited),
        "abstention_accuracy": _r(M.mean(float(not q.found) for q in unanswerable)),
        "false_abstention": _r(M.mean(float(not q.found) for q in answerable)),
        "ask_p50_ms": _r(M.percentile(ask_ms, 50), 2),
        "ask_p95_ms": _r(M.percentile(ask_ms, 95), 2),
        "search_p50_ms": _r(M.percentile(search_ms, 50), 2),
        "search_p95_ms": _r(M.percentile(search_ms, 95), 2),
        "recall_curve": [_r(v) for v in curve] if answerable else [],
    }
    out["by_lang"] = _groups(answerable, lambda q: q.item.lang or "?")
    out["by_kind"] = _groups(answerable, lambda q: q.item.kind or "?")
    return out


def _groups(results: Sequence[QuestionResult], key: Callable[[QuestionResult], str]) -> dict:
    groups: dict[str, list[QuestionResult]] = {}
    for q in results:
        groups.setdefault(key(q), []).append(q)
    return {
        name: {
            "n": len(qs),
            "recall@5": _r(M.mean(q.recall[4] for q in qs)),
            "mrr@10": _r(M.mean(q.mrr for q in qs)),
            "answer_hit": _r(M.mean(float(q.hit) for q in qs)),
            "token_f1": _r(M.mean(q.f1 for q in qs)),
        }
        for name, qs in sorted(groups.items())
    }


# --- running ---------------------------------------------------------------------------------


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
        return _evaluate(assistant, dataset, settings, label or settings.retriever, progress, t0)
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
                _evaluate(assistants[shared], dataset, run_settings, spec.label, progress, t0)
            )
    finally:
        for assistant in assistants.values():
            assistant.close()
    return results


def _evaluate(
    assistant, dataset: EvalDataset, settings: Settings, label: str, progress: bool, t_start: float
) -> EvalResult:
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
            history = _conversation(assistant, item, settings.top_k, mode)
            query = rewrite(item.question, history) or item.question
            t0 = time.perf_counter()
            hits = assistant.search(query, k=RETRIEVAL_DEPTH, mode=mode)
            t1 = time.perf_counter()
            answer = assistant.ask(item.question, history, top_k=settings.top_k, mode=mode)
            t2 = time.perf_counter()
            gold = _gold_for(item, dataset, chunk_size, chunk_overlap) if item.answerable else None
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


def _conversation(assistant, item: QAItem, top_k: int, mode: str) -> list[tuple[str, str]]:
    """The (question, answer) turns before a follow-up question, asked as the chat asks them."""
    history: list[tuple[str, str]] = []
    for turn in item.turns:
        answer = assistant.ask(turn, history, top_k=top_k, mode=mode)
        history.append((turn, answer.text))
    return history


_REPORTED_SETTINGS = (
    "retriever",
    "top_k",
    "embed_model",
    "chunk_size",
    "chunk_overlap",
    "dense_weight",
    "rerank",
    "reranker_model",
    "llm_model",
)


# --- output: table, JSON, Markdown, plot -----------------------------------------------------

_TABLE = (
    ("R@1", "recall@1", "{:.3f}"),
    ("R@5", "recall@5", "{:.3f}"),
    ("R@10", "recall@10", "{:.3f}"),
    ("MRR@10", "mrr@10", "{:.3f}"),
    ("nDCG@10", "ndcg@10", "{:.3f}"),
    ("hit", "answer_hit", "{:.3f}"),
    ("F1", "token_f1", "{:.3f}"),
    ("cite-P", "citation_precision", "{:.3f}"),
    ("abstain", "abstention_accuracy", "{:.3f}"),
    ("p50 ms", "ask_p50_ms", "{:.1f}"),
    ("p95 ms", "ask_p95_ms", "{:.1f}"),
)


def format_table(results: Sequence[EvalResult], markdown: bool = False) -> str:
    header = ["run", *(h for h, _, _ in _TABLE)]
    rows = [
        [
            r.run,
            *("-" if r.metrics[k] is None else fmt.format(r.metrics[k]) for _, k, fmt in _TABLE),
        ]
        for r in results
    ]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    fmt_row = lambda row: "  ".join(  # noqa: E731
        c.ljust(w) if i == 0 else c.rjust(w)
        for i, (c, w) in enumerate(zip(row, widths, strict=True))
    )
    return "\n".join([fmt_row(header), *(fmt_row(row) for row in rows)])


def results_json(results: Sequence[EvalResult], command: str | None = None) -> dict:
    first = results[0]
    return {
        "schema": SCHEMA,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": command,
        "dataset": {
            "name": first.dataset,
            "description": first.description,
            "questions": first.metrics["questions"],
            "answerable": first.metrics["answerable"],
            "unanswerable": first.metrics["unanswerable"],
        },
        "runs": [r.to_dict() for r in results],
    }


def write_report(
    results: Sequence[EvalResult],
    out_dir: Path,
    *,
    command: str | None = None,
    max_failures: int = 100,
) -> dict[str, Path]:
    """Write results.json (all figures and every question), report.md (the table, per-kind
    figures and the failures) and recall.png (Recall@k curves of the runs) into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / "results.json",
        "markdown": out_dir / "report.md",
        "plot": out_dir / "recall.png",
    }
    paths["json"].write_text(
        json.dumps(results_json(results, command), ensure_ascii=False, indent=1) + "\n",
        encoding="utf-8",
    )
    paths["markdown"].write_text(markdown_report(results, command, max_failures), encoding="utf-8")
    plot_recall(results, paths["plot"])
    return paths


def markdown_report(results: Sequence[EvalResult], command: str | None, max_failures: int) -> str:
    first = results[0]
    lines = [
        f"# Evaluation: {first.dataset}",
        "",
        f"{first.description}. Created {time.strftime('%Y-%m-%d %H:%M')}.",
        "",
    ]
    if command:
        lines += ["```", command, "```", ""]
    model = first.model
    lines.append(
        f"Embedding model configured: `{model['configured']}`; in use: "
        f"`{model['in_use'] or 'none (BM25 only)'}`. Index: {first.index['articles']} articles, "
        f"{first.index['chunks']} passages (chunk size {first.index['chunk_size']}, overlap "
        f"{first.index['chunk_overlap']}). Answers read the top {first.top_k} passages."
    )
    if model.get("warning"):
        lines += ["", f"> {model['warning']}"]
    for r in results:
        if r.modes_used and list(r.modes_used) != [r.retriever]:
            lines += [
                "",
                f"> run `{r.run}` asked for {r.retriever} but used {', '.join(r.modes_used)}",
            ]
    lines += ["", "## Figures", "", format_table(results, markdown=True), ""]
    lines += [
        "R@k: share of answerable questions with a relevant passage in the top k (a passage of a",
        "gold article containing an accepted answer); answer hit: an accepted answer appears in",
        'the answer; abstain: share of unanswerable questions answered "not found"; latency:',
        "per `ask`, after a warm-up query.",
        "",
        "![Recall@k](recall.png)",
        "",
    ]
    for group, title in (("by_lang", "language"), ("by_kind", "kind of question")):
        names = sorted({g for r in results for g in r.metrics[group]})
        if len(names) < 2:
            continue
        lines += [f"### By {title} (answer hit / R@5)", ""]
        lines.append("| " + " | ".join([title, "n", *(r.run for r in results)]) + " |")
        lines.append("|" + "---|" * (len(results) + 2))
        for g in names:
            n = next(r.metrics[group][g]["n"] for r in results if g in r.metrics[group])
            cells = []
            for r in results:
                m = r.metrics[group].get(g)
                cells.append("-" if m is None else f"{_f(m['answer_hit'])} / {_f(m['recall@5'])}")
            lines.append("| " + " | ".join([g, str(n), *cells]) + " |")
        lines.append("")
    lines += ["## Failures", ""]
    for r in results:
        failed = [q for q in r.questions if q.failed]
        lines += [f"### {r.run}: {len(failed)} of {len(r.questions)} questions", ""]
        for q in failed[:max_failures]:
            it = q.item
            expected = " | ".join(it.answers) if it.answerable else "(not in the corpus: abstain)"
            rank = next((i + 1 for i, p in enumerate(q.retrieved) if p.relevant), None)
            lines.append(f"- **{it.id}** {it.question}")
            lines.append(f"  - expected: {expected}")
            lines.append(f"  - got: {_one_line(q.answer)}")
            cited = ", ".join(
                f"[{c.n}] {_one_line(c.title, 60)}{'' if c.good else ' (off)'}" for c in q.cited
            )
            lines.append(f"  - cited: {cited or '(none)'}")
            if it.answerable:
                lines.append(
                    f"  - first relevant passage at rank: {rank or f'> {RETRIEVAL_DEPTH}'}"
                )
        if len(failed) > max_failures:
            lines.append(f"- ... and {len(failed) - max_failures} more in results.json")
        lines.append("")
    return "\n".join(lines)


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plot_recall(results: Sequence[EvalResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    ks = list(range(1, RETRIEVAL_DEPTH + 1))
    for r in results:
        curve = r.metrics["recall_curve"]
        if curve:
            ax.plot(ks, curve, marker="o", markersize=3, label=r.run)
    ax.set_xlabel("k (passages retrieved)")
    ax.set_ylabel("Recall@k")
    ax.set_xticks(ks)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(f"Recall@k on {results[0].dataset}")
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# --- the `rag eval` command (registered in rag/cli.py) ---------------------------------------


def _export_feedback(settings: Settings, out: Path) -> None:
    """The web chat's feedback as a Q&A set that `rag eval --dataset OUT` scores."""
    from rag.feedback import export_feedback, feedback_path

    source = feedback_path(settings.index_dir)
    if not source.exists():
        raise InputError(f"no feedback yet at {source}: rate answers in the chat (👍/👎) first")
    items = export_feedback(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(
        "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8"
    )
    tmp.replace(out)
    click.echo(f"exported {len(items)} question(s) from {source} to {out}")


@click.command("eval")
@click.option(
    "-d",
    "--dataset",
    default="seeds",
    show_default=True,
    help="seeds, seeds-chat, xquad-vi, xquad-en-vi, xquad-vi+news, or a Q&A .jsonl path.",
)
@click.option("--retriever", help="Retrieval mode: bm25, dense or hybrid (default: settings).")
@click.option(
    "--compare",
    help="Several runs side by side, e.g. bm25,dense,hybrid or hybrid:dense_weight=0.3.",
)
@click.option("-k", "--top-k", type=int, help="Passages the answer reads (default 5).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    help="Report folder (default eval/out/<timestamp>).",
)
@click.option("--no-report", is_flag=True, help="Print the figures only; write no files.")
@click.option(
    "--news-size",
    type=int,
    default=3000,
    show_default=True,
    help="Distractor news articles (xquad-vi+news).",
)
@click.option("--limit", type=int, help="Evaluate the first N questions only.")
@click.option(
    "--corpus",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Articles for a Q&A .jsonl dataset (default seeds/); repeatable.",
)
@click.option("--model", "embed_model", help="Embedding model (id or local folder).")
@click.option("--chunk-size", type=int, help="Passage size in characters.")
@click.option("--chunk-overlap", type=int, help="Overlap between passages in characters.")
@click.option(
    "--cache",
    "cache_dir",
    type=click.Path(path_type=Path),
    help="Where evaluation indexes are cached (default .rag/eval).",
)
@click.option("--rebuild", is_flag=True, help="Rebuild the cached evaluation index.")
@click.option(
    "--export-feedback",
    "export_to",
    type=click.Path(path_type=Path),
    help="Write the chat's thumbs up/down and corrections as a Q&A .jsonl set, then stop.",
)
@click.option(
    "--index", "index_dir", type=click.Path(path_type=Path), help="Index whose feedback to export."
)
def eval_command(
    dataset,
    retriever,
    compare,
    top_k,
    as_json,
    out_dir,
    no_report,
    news_size,
    limit,
    corpus,
    embed_model,
    chunk_size,
    chunk_overlap,
    cache_dir,
    rebuild,
    export_to,
    index_dir,
) -> None:
    """Score the assistant on a Q&A set: retrieval (Recall@1/5/10, MRR, nDCG) and answers
    (hit, token F1, citation precision, abstention), with latency.

    Prints a table and writes report.md, results.json and recall.png to --out.

    \b
    Examples:
      rag eval
      rag eval --dataset xquad-vi --compare bm25,dense,hybrid
      rag eval --dataset xquad-en-vi --retriever hybrid --json
    """
    import shlex

    if export_to is not None:
        _export_feedback(Settings.load(index_dir=index_dir), export_to)
        return
    if retriever and compare:
        raise InputError("use --retriever for one run or --compare for several, not both")
    settings = Settings.load(
        top_k=top_k,
        embed_model=embed_model,
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
    )
    specs = parse_run_specs(compare or retriever or settings.retriever)
    for spec in specs:
        apply_spec(settings, spec)  # a bad run fails now, not after the index is built
    ds = load_dataset(
        dataset,
        seeds_dir=settings.seeds_dir,
        corpus=list(corpus) or None,
        news_size=news_size,
        limit=limit,
    )

    def log(msg: str) -> None:
        click.echo(msg, err=True)

    click.echo(f"{ds.description}", err=True)
    results = run_compare(
        ds, settings, specs, cache_dir=cache_dir, rebuild=rebuild, progress=True, log=log
    )
    command = "rag " + shlex.join(sys.argv[1:]) if sys.argv[1:] else None
    paths = {}
    if not no_report:
        out = out_dir or Path("eval") / "out" / time.strftime("%Y%m%d-%H%M%S")
        paths = write_report(results, out, command=command)
    if as_json:
        summary = results_json(results, command)
        summary["runs"] = [r.to_dict(questions=False) for r in results]
        summary["report"] = {k: str(v) for k, v in paths.items()}
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    click.echo(format_table(results))
    warning = results[0].model.get("warning")
    if warning:
        click.echo(f"warning: {warning}", err=True)
    for r in results:
        if list(r.modes_used) != [r.retriever]:
            used = ", ".join(r.modes_used)
            click.echo(f"warning: run {r.run} used {used} retrieval", err=True)
    if paths:
        click.echo(f"report: {paths['markdown']}  figures: {paths['json']}")
