"""The Parquet shards of an embedding job: written whole or not at all, checked on resume, read
back as vectors or as the articles and passages they hold.

Each row is one passage: ``id`` (article_id:chunk), ``article_id``, ``chunk``, ``text_sha1``
(SHA-1 of the chunk text, as in the index's SQLite), ``start`` and ``end`` (its span in the
cleaned article), ``text`` (the chunk), ``article`` (on an article's first passage: its title,
cleaned text, source, date, site, byline, credit and url; null on the others) and ``embedding``
(a fixed-size list of float32 or float16).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.errors import InputError
from rag.jobs.records import Record
from rag.store.rows import text_sha1 as text_sha1_of
from rag.types import Article, Chunk

if TYPE_CHECKING:
    import pyarrow as pa

SHARD_NAME = "part-{:05d}.parquet"
ARTICLE_FIELDS = ("title", "text", "source", "date", "site", "byline", "credit", "url")
COLUMNS = ("id", "article_id", "chunk", "text_sha1", "start", "end", "text", "article", "embedding")


def shard_files(out_dir: str | Path) -> list[Path]:
    return sorted((Path(out_dir) / "shards").glob("part-*.parquet"))


def _article_type() -> pa.DataType:
    import pyarrow as pa

    return pa.struct([(name, pa.string()) for name in ARTICLE_FIELDS])


def records_table(records: Sequence[Record]) -> pa.Table:
    """The rows of ``records`` without their vectors: what a shard holds besides them."""
    import pyarrow as pa

    articles = [
        None if r.article is None else {k: getattr(r.article, k) for k in ARTICLE_FIELDS}
        for r in records
    ]
    return pa.table(
        {
            "id": pa.array([r.id for r in records], pa.string()),
            "article_id": pa.array([r.article_id for r in records], pa.string()),
            "chunk": pa.array([r.chunk for r in records], pa.int32()),
            "text_sha1": pa.array([r.text_sha1 for r in records], pa.string()),
            "start": pa.array([r.start for r in records], pa.int32()),
            "end": pa.array([r.end for r in records], pa.int32()),
            "text": pa.array([r.text for r in records], pa.string()),
            "article": pa.array(articles, _article_type()),
        }
    )


def shard_table(records: Sequence[Record], vectors: np.ndarray, dtype: str) -> pa.Table:
    import pyarrow as pa

    n, dim = vectors.shape
    values = pa.array(np.ascontiguousarray(vectors, dtype=dtype).reshape(-1))
    return records_table(records).append_column(
        "embedding", pa.FixedSizeListArray.from_arrays(values, dim)
    )


def write_shard(path: Path, table: pa.Table) -> None:
    """Write-then-rename: a shard file is either whole or absent, whatever kills the job."""
    import pyarrow.parquet as pq

    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    pq.write_table(table, tmp, compression="zstd")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def shard_matches(path: Path, records: Sequence[Record]) -> bool:
    """Whether a finished shard holds exactly these records (every column but the vectors)."""
    import pyarrow.parquet as pq

    expected = records_table(records)
    try:
        held = pq.read_table(path, columns=expected.column_names)
    except Exception:  # noqa: BLE001 - a damaged file, or one of another format: redone
        return False
    return held.equals(expected)


def read_shards(out_dir: str | Path) -> pa.Table:
    """All shards of a finished job as one table, in record order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = shard_files(out_dir)
    if not files:
        raise InputError(f"no shards under {out_dir}/shards: run `rag embed ... --out {out_dir}`")
    return pa.concat_tables([pq.read_table(f) for f in files])


def vectors_of(table: pa.Table) -> np.ndarray:
    """The ``embedding`` column as an (n, dim) array, in the dtype it was stored in."""
    col = table.column("embedding").combine_chunks()
    dim = col.type.list_size
    return col.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim)


def shards_size(out_dir: str | Path) -> tuple[int, int]:
    """(rows, text bytes) of a job's shards, read from their Parquet footers alone: the
    passages, and about the bytes of their texts and articles (uncompressed)."""
    import pyarrow.parquet as pq

    files = shard_files(out_dir)
    if not files:
        raise InputError(f"no shards under {out_dir}/shards: run `rag embed ... --out {out_dir}`")
    rows = text = 0
    for path in files:
        meta = pq.ParquetFile(path).metadata
        rows += meta.num_rows
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for c in range(group.num_columns):
                column = group.column(c)
                if column.path_in_schema == "text" or column.path_in_schema.startswith("article."):
                    text += column.total_uncompressed_size
    return rows, text


def shard_units(
    out_dir: str | Path,
) -> Iterator[tuple[list[tuple[Article, list[Chunk]]], np.ndarray]]:
    """The articles and passages of a finished job's shards with their vectors (in the dtype
    they were stored in), one shard at a time, checked as units_of checks them. An article
    whose passages run on into the next shard comes with that shard's batch, so a batch holds
    whole articles; memory holds one shard (and that article), never the job."""
    import pyarrow.parquet as pq

    out_dir = Path(out_dir)
    files = shard_files(out_dir)
    if not files:
        raise InputError(f"no shards under {out_dir}/shards: run `rag embed ... --out {out_dir}`")
    held: list[tuple[Article, list[Chunk]]] = []  # the last article, perhaps unfinished
    held_vectors: np.ndarray | None = None
    row = 0
    for i, path in enumerate(files):
        table = pq.read_table(path)
        units = units_of(table, out_dir, held=held[0] if held else None, first_row=row)
        vectors = vectors_of(table)
        row += table.num_rows
        del table
        if held_vectors is not None:
            vectors = np.concatenate([held_vectors, vectors])
        if i + 1 < len(files) and units:
            held = units[-1:]
            n = len(held[0][1])
            # A copy: a view would keep this shard's whole column alive.
            units, held_vectors, vectors = units[:-1], vectors[-n:].copy(), vectors[:-n]
        else:
            held, held_vectors = [], None
        if units:
            yield units, vectors


def units_of(
    table: pa.Table,
    where: str | Path,
    *,
    held: tuple[Article, list[Chunk]] | None = None,
    first_row: int = 0,
) -> list[tuple[Article, list[Chunk]]]:
    """The articles and their passages that ``table`` (shards in record order) holds, as
    rag.store takes them; checked row by row (each passage's text against its hash and its
    article's text). ``where`` names the job in the messages. ``held``: the article the rows
    before ``table`` ended with (its passages go on in ``table`` if it is unfinished), first
    in the list; ``first_row``: the number of the table's first row in the job."""
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise InputError(
            f"the shards in {where} were written by an older release (no {missing[0]!r} "
            f"column): rerun the job into a new --out"
        )
    columns = {c: table.column(c).to_pylist() for c in COLUMNS if c != "embedding"}
    units: list[tuple[Article, list[Chunk]]] = [held] if held is not None else []
    for row, (article_id, index, text_sha1, start, end, text, meta) in enumerate(
        zip(*(columns[c] for c in COLUMNS[1:-1]), strict=True), start=first_row
    ):
        if meta is not None:
            units.append((Article(id=article_id, **meta), []))
        article = units[-1][0] if units else None
        if (
            article is None
            or article.id != article_id
            or article.text[start:end] != text
            or text_sha1_of(text) != text_sha1
        ):
            raise InputError(
                f"the shards in {where} are damaged (row {row}): rerun the job with --resume"
            )
        units[-1][1].append(Chunk(article_id, index, text, start, end, article.title))
    return units
