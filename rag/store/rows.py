"""A segment's SQLite rows (rows.sqlite): articles, and their chunks numbered by row = position
in the segment (row i is FAISS vector i and BM25 document i). Written once, when the segment is:
from new articles, or from the live rows of the segments a merge replaces."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from rag.store.layout import ROWS
from rag.types import Article, Chunk

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    source TEXT NOT NULL,
    date TEXT,
    text TEXT NOT NULL,
    added_at REAL NOT NULL,
    meta TEXT
);
CREATE TABLE IF NOT EXISTS chunks (
    row INTEGER PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES articles(id),
    idx INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    text TEXT NOT NULL,
    text_sha1 TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
"""
# Every passage with its article's title, in row order: what BM25 indexes.
CHUNK_TEXTS = (
    "SELECT a.title, c.text FROM chunks c JOIN articles a ON a.id = c.article_id ORDER BY c.row"
)


class RowWriter:
    """A new rows.sqlite in ``directory``, written batch after batch (``append``), rows
    numbered from 0 in order; each batch is one transaction, so memory holds one batch, never
    the segment. Every article of a segment gets one ``added_at`` (the writer's start)."""

    def __init__(self, directory: Path) -> None:
        self.rows = 0
        self._now = time.time()
        self._db = sqlite3.connect(directory / ROWS)
        try:
            self._db.executescript(SCHEMA)
        except BaseException:
            self._db.close()
            raise

    def append(self, add: Sequence[tuple[Article, Sequence[Chunk]]]) -> None:
        first = self.rows
        chunks = [c for _, cs in add for c in cs]
        with self._db:
            self._db.executemany(
                "INSERT INTO articles (id, title, source, date, text, added_at, meta) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        a.id,
                        a.title,
                        a.source,
                        a.date,
                        a.text,
                        self._now,
                        json.dumps(a.meta(), ensure_ascii=False) or None,
                    )
                    for a, _ in add
                ),
            )
            self._db.executemany(
                "INSERT INTO chunks (row, article_id, idx, start, end, text, text_sha1) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    (first + i, c.article_id, c.index, c.start, c.end, c.text, text_sha1(c.text))
                    for i, c in enumerate(chunks)
                ),
            )
        self.rows += len(chunks)

    def close(self) -> tuple[int, int]:
        """Close the file; returns (chunks, articles) as SQLite counts them."""
        try:
            count = self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            n_articles = self._db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        finally:
            self._db.close()
        return count, n_articles


def write_rows(directory: Path, add: Sequence[tuple[Article, Sequence[Chunk]]]) -> tuple[int, int]:
    """A new rows.sqlite in ``directory`` with the articles of ``add`` and their chunks, rows
    numbered from 0 in order. Returns (chunks, articles)."""
    writer = RowWriter(directory)
    try:
        writer.append(add)
    except BaseException:
        writer.close()
        raise
    return writer.close()


def merge_rows(directory: Path, parts) -> tuple[int, int]:
    """The live rows of ``parts`` ((segment, offset, deleted mask)) copied, in order, into a new
    rows.sqlite: chunks renumbered from 0, deleted articles left out. Returns (chunks,
    articles)."""
    db = sqlite3.connect(directory / ROWS)
    try:
        db.executescript(SCHEMA)
        columns = [r[1] for r in db.execute("PRAGMA table_info(articles)")]
        start = 0
        for seg, _, mask in parts:
            db.execute("ATTACH DATABASE ? AS src", (f"file:{seg.gen_dir / ROWS}?mode=ro",))
            try:
                have = {r[1] for r in db.execute("PRAGMA src.table_info(articles)")}
                cols = ",".join(c for c in columns if c in have)
                deleted_rows = set() if mask is None else set(np.flatnonzero(mask).tolist())
                with db:
                    db.execute("CREATE TEMP TABLE IF NOT EXISTS gone (row INTEGER PRIMARY KEY)")
                    db.execute("DELETE FROM gone")
                    db.executemany("INSERT INTO gone VALUES (?)", [(r,) for r in deleted_rows])
                    db.execute(
                        f"INSERT INTO articles ({cols}) SELECT {cols} FROM src.articles "
                        f"WHERE id IN (SELECT DISTINCT article_id FROM src.chunks "
                        f"WHERE row NOT IN (SELECT row FROM gone))"
                    )
                    db.execute(
                        "INSERT INTO chunks (row, article_id, idx, start, end, text, text_sha1) "
                        "SELECT ? + ROW_NUMBER() OVER (ORDER BY row) - 1, article_id, idx, start, "
                        "end, text, text_sha1 FROM src.chunks "
                        "WHERE row NOT IN (SELECT row FROM gone) ORDER BY row",
                        (start,),
                    )
                start = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            finally:
                db.execute("DETACH DATABASE src")
        n_articles = db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    finally:
        db.close()
    return start, n_articles


def chunk_texts(directory: Path) -> Iterator[tuple[str, str]]:
    """(title, text) of every row of ``directory``'s rows.sqlite, in row order, streamed
    through a connection of its own (never all in memory at once)."""
    db = sqlite3.connect(f"file:{directory / ROWS}?mode=ro", uri=True)
    try:
        yield from db.execute(CHUNK_TEXTS)
    finally:
        db.close()


def row_meta(raw: str | None) -> dict[str, str]:
    """The site/byline/credit/url a row's meta column holds ({} for none)."""
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    keys = ("site", "byline", "credit", "url")
    return {k: str(data[k]) for k in keys if isinstance(data, dict) and data.get(k)}


def text_sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()
