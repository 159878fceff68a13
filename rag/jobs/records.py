"""Inputs -> articles -> passages (Records), in one deterministic stream.

Records go through rag.load (encoding detection, cleaning, the content-hash article id),
rag.chunk and ``passage_for_embedding``: a vector of the job is the vector `rag ingest` would
store for that passage. The stream is read once per run: each Record carries what the shard
stores beside its vector (the passage's text and span, and on an article's first passage the
article itself), so nothing downstream loads or chunks the inputs again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rag.jobs.spec import EmbedJob, expand_inputs
from rag.store.rows import text_sha1
from rag.types import Article, Chunk, Skipped

PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class Record:
    """One passage to embed: the row of a shard, plus the text that is embedded."""

    id: str
    article_id: str
    chunk: int
    text_sha1: str
    passage: str  # what the model reads: the chunk with its article's title in front
    text: str = ""  # the chunk text, article.text[start:end]
    start: int = 0
    end: int = 0
    article: Article | None = None  # on the first passage of each article, None on the others


def iter_articles(inputs: Iterable[str | Path]) -> Iterator[Article | Skipped]:
    """rag.load for everything it reads, plus Parquet files (rows shaped like the JSONL records:
    id, title, text, source, date), parsed by the same record parser."""
    from rag.load import load_file

    for path in expand_inputs(inputs):
        if path.name.lower().endswith(PARQUET_SUFFIXES):
            yield from _parquet_articles(path)
        else:
            yield from load_file(path)


def _parquet_articles(path: Path) -> Iterator[Article | Skipped]:
    import pyarrow.parquet as pq

    from rag.load import parse_record

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
        yield Skipped(str(path), f"cannot read Parquet: {exc}")
        return
    columns = pf.schema_arrow.names
    if "text" not in columns:
        # One entry for the file, not one per row: every row would fail the same way.
        shown = ", ".join(columns[:8]) + (", ..." if len(columns) > 8 else "")
        yield Skipped(
            str(path), f"no 'text' column (it has: {shown}): name the article text column 'text'"
        )
        return
    row_no = 0
    for batch in pf.iter_batches(batch_size=1024):
        for row in batch.to_pylist():
            row_no += 1
            # One parser for JSONL and Parquet rows: the same checks, the same article ids.
            line = json.dumps(row, ensure_ascii=False, default=str)
            yield parse_record(line, source=str(path), line_no=row_no)


def article_chunks(article: Article, job: EmbedJob) -> list[Chunk]:
    from rag.chunk import chunk_article

    if job.no_chunk:
        # --no-chunk: the record as it is, one passage spanning the whole cleaned text.
        return [Chunk(article.id, 0, article.text, 0, len(article.text), article.title)]
    return chunk_article(article, job.chunk_size, job.chunk_overlap)


def iter_units(job: EmbedJob) -> Iterator[tuple[Article, list[Chunk]] | Skipped]:
    """Articles with their chunks, in input order; duplicates (same content id) and articles
    with nothing to embed come out as Skipped, as `rag ingest` treats them."""
    seen: set[str] = set()
    for item in iter_articles(job.inputs):
        if isinstance(item, Skipped):
            yield item
            continue
        if item.id in seen:
            yield Skipped(item.source, f"duplicate of article {item.id}")
            continue
        seen.add(item.id)
        chunks = article_chunks(item, job)
        if not chunks:
            yield Skipped(item.source, "no text to index")
            continue
        yield item, chunks


def records_of(article: Article, chunks: Sequence[Chunk]) -> list[Record]:
    """The Records of one article's chunks; the first one carries the article."""
    from rag.chunk import passage_for_embedding

    return [
        Record(
            c.id,
            c.article_id,
            c.index,
            text_sha1(c.text),
            passage_for_embedding(c),
            c.text,
            c.start,
            c.end,
            article if i == 0 else None,
        )
        for i, c in enumerate(chunks)
    ]


@dataclass
class Tally:
    """What one pass over the inputs found, for the report and the manifest."""

    articles: int = 0
    records: int = 0
    duplicates: int = 0
    skipped: list[Skipped] = field(default_factory=list)


def iter_shards(job: EmbedJob, tally: Tally) -> Iterator[tuple[int, list[Record]]]:
    """(shard number, records) for the whole job; the last shard may be short. Shard ``k``
    always holds records ``[k*S, (k+1)*S)`` of the stream."""
    pending: list[Record] = []
    shard = 0
    for unit in iter_units(job):
        if isinstance(unit, Skipped):
            tally.skipped.append(unit)
            if unit.reason.startswith("duplicate of article"):
                tally.duplicates += 1
            continue
        article, chunks = unit
        tally.articles += 1
        tally.records += len(chunks)
        pending.extend(records_of(article, chunks))
        while len(pending) >= job.shard_size:
            yield shard, pending[: job.shard_size]
            pending = pending[job.shard_size :]
            shard += 1
    if pending:
        yield shard, pending
