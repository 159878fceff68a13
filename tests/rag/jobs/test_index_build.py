"""`rag embed --build-index` streams: it reads the job's shards one at a time and writes each
into the index as it comes (segments of a bounded number of rows), so its memory follows a
shard and a segment, not the job; and the index answers exactly as the index of the whole job
written at once. Real tiny model, Parquet, SQLite, FAISS and BM25."""

from __future__ import annotations

import json
import sqlite3
import weakref
from pathlib import Path

import numpy as np
import pytest

from rag.errors import InputError
from rag.jobs import EmbedJob, build_index, read_shards, run_job
from rag.jobs.shards import shard_units, units_of, vectors_of
from rag.pipeline import Assistant
from rag.settings import Settings
from rag.store import Store
from tests.rag.test_segments import QUESTIONS, assert_same_answers

SHARD = 8


@pytest.fixture(scope="module")
def job(tmp_path_factory, corpus_jsonl, tiny_model_dir) -> EmbedJob:
    """A finished job whose articles run across shards (seed articles of 10+ passages)."""
    job = EmbedJob(
        inputs=(str(corpus_jsonl),),
        out_dir=tmp_path_factory.mktemp("job") / "out",
        model=str(tiny_model_dir),
        chunk_size=300,
        chunk_overlap=50,
        shard_size=SHARD,
        batch_size=4,
    )
    run_job(job, progress=False)
    return job


def _whole_job_at_once(job: EmbedJob, root: Path) -> Path:
    """The index as the build wrote it before it streamed: every shard read into one table,
    one segment written from it."""
    from rag.ingest import index_settings

    table = read_shards(job.out_dir)
    store = Store(root)
    with store.lock():
        store.write_generation(
            base=None,
            add=units_of(table, job.out_dir),
            vectors=np.ascontiguousarray(vectors_of(table), dtype=np.float32),
            model=job.model,
            dim=table.schema.field("embedding").type.list_size,
            settings_info=index_settings(
                job.chunk_size,
                job.chunk_overlap,
                requested_model=job.model,
                embed_backend=job.backend,
                query_prompt="",
                passage_prompt="",
            ),
        )
    return root


def _assistant(root: Path, model_dir: str) -> Assistant:
    return Assistant(Settings.load(env={}, index_dir=root, embed_model=model_dir))


def test_shard_units_are_the_job_in_order_with_whole_articles(job):
    table = read_shards(job.out_dir)
    whole = units_of(table, job.out_dir)
    vectors = vectors_of(table)
    batches = list(shard_units(job.out_dir))
    assert len(batches) > 3
    assert [u for units, _ in batches for u in units] == whole
    np.testing.assert_array_equal(np.vstack([v for _, v in batches]), vectors)
    for units, v in batches:
        assert len(v) == sum(len(cs) for _, cs in units)
    # Some article runs on from one shard into the next: it comes whole, with the later batch.
    starts = np.cumsum([0] + [len(cs) for _, cs in whole])
    assert any(a // SHARD != (b - 1) // SHARD for a, b in zip(starts, starts[1:], strict=False))


def test_streamed_build_answers_as_the_whole_job_written_at_once(job, tmp_path):
    streamed = build_index(job, tmp_path / "streamed", segment_rows=2 * SHARD)
    whole = _whole_job_at_once(job, tmp_path / "whole")
    a, b = Store(streamed).open(), Store(whole).open()
    try:
        assert len(a.segments) > 2 and len(b.segments) == 1
        # Segments cut at the shard (whole articles) nearest to segment_rows.
        batches = [sum(len(cs) for _, cs in units) for units, _ in shard_units(job.out_dir)]
        sizes = [s.size for s in a.segments]
        assert max(sizes) <= 2 * SHARD + max(batches) // 2, (sizes, batches)
        assert a.manifest["counts"] == b.manifest["counts"]
        assert a.manifest["faiss_index"] == b.manifest["faiss_index"] == "flat"
        assert list(a.all_chunk_texts()) == list(b.all_chunk_texts())
        assert sorted(a.articles(), key=lambda r: r["id"]) == b.articles()
        np.testing.assert_array_equal(a.vectors(), b.vectors())
        # Every passage's BM25 score, float for float, and the dense scores of every row.
        for q in QUESTIONS:
            np.testing.assert_array_equal(a.bm25.scores(q), b.bm25.scores(q))
        # The whole ranking (with k = every row: at a cut-off, FAISS keeps any of the rows
        # tied there, and there are duplicate passages here).
        queries = b.vectors()[::7]
        ranked = zip(a.faiss.search(queries, a.size), b.faiss.search(queries, b.size), strict=True)
        for x, y in ranked:
            np.testing.assert_array_equal(x, y)
    finally:
        a.close()
        b.close()
    sa, sb = _assistant(streamed, job.model), _assistant(whole, job.model)
    try:
        assert_same_answers(sa, sb)
    finally:
        sa.close()
        sb.close()


def _rows_written(root: Path) -> int:
    """Passages committed to SQLite so far under ``root``, finished segments or not."""
    n = 0
    for path in root.glob("segments/*seg-*/rows.sqlite"):
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            n += db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        except sqlite3.OperationalError:  # created, no table yet
            pass
        finally:
            db.close()
    return n


def test_the_build_holds_one_shard_and_writes_as_it_reads(job, tmp_path, monkeypatch):
    """No timing, no memory figures: when each shard is read, no earlier shard's table is
    still held, and the passages of the shards before it are already in the index's SQLite
    (the build that read every shard first held them all, and had written nothing)."""
    import pyarrow.parquet as pq

    root = tmp_path / "index"
    held: list[weakref.ref] = []
    reads: list[tuple[int, int]] = []  # (earlier tables still alive, rows in SQLite)
    real = pq.read_table

    def read_table(*args, **kwargs):
        reads.append((sum(r() is not None for r in held), _rows_written(root)))
        table = real(*args, **kwargs)
        held.append(weakref.ref(table))
        return table

    monkeypatch.setattr(pq, "read_table", read_table)
    build_index(job, root)
    shards = len(list((job.out_dir / "shards").glob("part-*.parquet")))
    assert len(reads) == shards > 3
    assert max(alive for alive, _ in reads) <= 1, reads
    written = [rows for _, rows in reads]
    assert written == sorted(written) and written[-1] >= (shards - 3) * SHARD, reads


def test_a_failed_build_keeps_the_old_index_and_leaves_no_segment(job, tmp_path, monkeypatch):
    """A damaged shard found after some segments are written: the build fails in one line, the
    index that was there still answers, and no new segment stays behind; after a kill at the
    same point (nothing cleaned), the next build sweeps what the dead one wrote."""
    import pyarrow.parquet as pq

    import rag.store.writer

    root = build_index(job, tmp_path / "index")
    store = Store(root)
    before, live = store.current_generation(), _live(root)
    segments = sorted(p.name for p in (root / "segments").iterdir())
    real = pq.read_table
    reads = []

    def damaged_at_the_fifth(*args, **kwargs):
        reads.append(args)
        table = real(*args, **kwargs)
        if len(reads) == 5:
            table = table.drop_columns(["start"])
        return table

    monkeypatch.setattr(pq, "read_table", damaged_at_the_fifth)
    with pytest.raises(InputError, match="older release"):
        build_index(job, root, segment_rows=SHARD)
    assert store.current_generation() == before and _live(root) == live
    assert sorted(p.name for p in (root / "segments").iterdir()) == segments

    # As after a SIGKILL at the same point: the segments written so far stay where they are.
    reads.clear()
    monkeypatch.setattr(rag.store.writer.Store, "_sweep_segments", lambda self: None)
    with pytest.raises(InputError):
        build_index(job, root, segment_rows=SHARD)
    assert len(list((root / "segments").iterdir())) > len(segments)
    assert store.current_generation() == before and _live(root) == live
    monkeypatch.undo()
    build_index(job, root)
    assert _live(root) == live
    listed = set()
    for gen in root.glob("gen-*"):
        listed |= {e["name"] for e in json.loads((gen / "manifest.json").read_text())["segments"]}
    assert {p.name for p in (root / "segments").iterdir()} == listed
    assert not list(root.glob(".tmp-*")) and not list((root / "segments").glob(".tmp-*"))


def _live(root: Path) -> int:
    snap = Store(root).open()
    try:
        return snap.live
    finally:
        snap.close()
