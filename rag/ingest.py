"""What an ingest adds, and what its manifest records: articles the index does not hold yet,
chunked the way the index was built, and the settings an index keeps (its chunking, the model
asked for, the prompts)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rag.chunk import chunk_article
from rag.store import Snapshot
from rag.types import Article, Chunk, Skipped


def new_articles(
    items: Iterable[Article | Skipped], base: Snapshot | None, chunk_size: int, overlap: int
) -> tuple[list[tuple[Article, list[Chunk]]], list[Skipped], int]:
    """(the articles to add with their passages, what was skipped, how many are already
    indexed or repeated in ``items``)."""
    skipped: list[Skipped] = []
    new: list[tuple[Article, list[Chunk]]] = []
    seen: set[str] = set()
    unchanged = 0
    for item in items:
        if isinstance(item, Skipped):
            skipped.append(item)
            continue
        if item.id in seen or (base is not None and base.has_article(item.id)):
            unchanged += 1
            continue
        seen.add(item.id)
        chunks = chunk_article(item, chunk_size, overlap)
        if chunks:
            new.append((item, chunks))
        else:
            skipped.append(Skipped(item.source, "no text to index"))
    return new, skipped, unchanged


def index_settings(
    chunk_size: int,
    chunk_overlap: int,
    *,
    requested_model: str | None,
    embed_backend: str | None,
    query_prompt: str | None,
    passage_prompt: str | None,
    **extra: Any,
) -> dict[str, Any]:
    """The settings a manifest records, written the same way by `rag ingest`, the chat's uploads
    and `rag embed --build-index` (``extra``: what only one of them knows, e.g. ``built_by``)."""
    return {
        "chunk_size": chunk_size,
        "chunk_overlap": chunk_overlap,
        "requested_model": requested_model,
        "embed_backend": embed_backend,
        "query_prompt": query_prompt,
        "passage_prompt": passage_prompt,
        **extra,
    }
