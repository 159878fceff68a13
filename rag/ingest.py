"""What an ingest adds, and what its manifest records: articles the index does not hold yet,
chunked the way the index was built, and the settings an index keeps (its chunking, the model
asked for, the prompts)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from rag.chunk import chunk_article
from rag.store import Snapshot
from rag.types import Article, Chunk, Skipped

# Passages encoded and handed to the index writer at a time: memory holds one batch of texts
# and vectors, and the writer one segment (rag.store.SEGMENT_ROWS), whatever the input's size.
INGEST_BATCH_ROWS = 2_048


@dataclass
class Tally:
    """What an ingest did not add, counted as its stream of articles is read."""

    skipped: list[Skipped] = field(default_factory=list)
    unchanged: int = 0  # already indexed, or repeated in the input


def new_articles(
    items: Iterable[Article | Skipped],
    base: Snapshot | None,
    chunk_size: int,
    overlap: int,
    tally: Tally,
) -> Iterator[tuple[Article, list[Chunk]]]:
    """The articles of ``items`` the index does not hold yet, with their passages, read as they
    come; what is skipped or already there goes to ``tally``."""
    seen: set[str] = set()
    for item in items:
        if isinstance(item, Skipped):
            tally.skipped.append(item)
            continue
        if item.id in seen or (base is not None and base.has_article(item.id)):
            tally.unchanged += 1
            continue
        seen.add(item.id)
        chunks = chunk_article(item, chunk_size, overlap)
        if chunks:
            yield item, chunks
        else:
            tally.skipped.append(Skipped(item.source, "no text to index"))


def in_batches(
    pairs: Iterable[tuple[Article, list[Chunk]]], rows: int | None = None
) -> Iterator[list[tuple[Article, list[Chunk]]]]:
    """``pairs`` in lists of whole articles of about ``rows`` passages (at least one article;
    default INGEST_BATCH_ROWS)."""
    rows = INGEST_BATCH_ROWS if rows is None else rows
    batch: list[tuple[Article, list[Chunk]]] = []
    count = 0
    for pair in pairs:
        batch.append(pair)
        count += len(pair[1])
        if count >= rows:
            yield batch
            batch, count = [], 0
    if batch:
        yield batch


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
