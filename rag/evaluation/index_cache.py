"""The evaluation index: the dataset's articles indexed with the same ingest path as
``rag ingest``, cached under ``.rag/eval/`` keyed by what decides its content (the corpus, the
embedding model and backend, the chunking), so repeated runs and runs of other retrievers do
not re-embed."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

from rag.datasets import EvalDataset
from rag.settings import Settings

CACHE_VERSION = 1  # bump when the way an eval index is built changes


def index_key(dataset: EvalDataset, settings: Settings) -> str:
    """What decides the content of the evaluation index; other settings do not. The store's
    format and tokenizer are part of it, so a new index layout never reads a stale cache."""
    from embeddings.backends import on_cpu, resolve_backend
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
        # RAG_EMBED_BACKEND=onnx-int8 must not score an index that torch embedded. "auto" is
        # keyed by what it runs here (bf16 or fp32), as the index records it.
        "backend": resolve_backend(settings.embed_backend, cpu=on_cpu(settings.device)),
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
    if built is not None and fallback_outdated(built, settings):
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


def fallback_outdated(built: dict, settings: Settings) -> bool:
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
