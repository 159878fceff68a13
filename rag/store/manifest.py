"""A generation's manifest (``gen-NNNNNN/manifest.json``): the live segments in order, each with
its tombstones, and what the index was built with (model, vectors, tokenizer, settings,
versions)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rag import __version__
from rag.store.layout import FORMAT, MANIFEST, TOKENIZER
from rag.store.vectors import faiss_params


def read_manifest(gen_dir: Path) -> dict:
    """The manifest in ``gen_dir`` (OSError, json.JSONDecodeError as they come)."""
    return json.loads((gen_dir / MANIFEST).read_text())


def write_manifest(gen_dir: Path, manifest: dict) -> None:
    (gen_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))


def index_kind(entries: list[dict], model: str | None) -> str | None:
    """The FAISS kind the manifest records: the segments' one kind, "mixed" for several, "flat"
    for an index with a model and no segment, None for a BM25-only index."""
    kinds = {e.get("faiss_index") for e in entries if e.get("faiss_index")}
    kind = kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else None)
    if model is not None and kind is None:
        kind = "flat"
    return kind


def new_manifest(
    name: str,
    entries: list[dict],
    *,
    model: str | None,
    dim: int | None,
    threshold: int,
    next_segment: int,
    settings_info: dict[str, Any],
) -> dict:
    """The manifest of generation ``name`` listing the segments ``entries``."""
    kind = index_kind(entries, model)
    return {
        "format": FORMAT,
        "generation": name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": model,
        "dim": dim if model is not None else None,
        "normalized": True,
        "metric": "inner_product",
        "faiss_index": kind,
        "faiss_params": faiss_params(kind if kind != "mixed" else "hnsw", threshold),
        "tokenizer": TOKENIZER,
        "counts": {
            "articles": sum(e["articles"] - len(e["deleted"]) for e in entries),
            "chunks": sum(e["live_rows"] for e in entries),
        },
        "segments": entries,
        "next_segment": next_segment,
        "settings": settings_info,
        "versions": versions(),
    }


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"rag": __version__}
    for pkg in ("faiss-cpu", "bm25s", "sentence-transformers", "langchain-text-splitters"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out
