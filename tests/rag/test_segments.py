"""Segments: an index written in many ingests (plus deletes, plus merges) answers exactly as one
written in a single ingest of the same live articles: the same BM25 scores for every passage,
the same top-k passages with the same scores in every mode. Real components (tiny model,
FAISS, SQLite, the Vietnamese BM25)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from rag.datasets import data_dir
from rag.load import load_paths
from rag.pipeline import Assistant
from rag.settings import Settings
from rag.types import Article

VNTC = data_dir() / "vntc" / "vntc_train.jsonl.gz"
QUESTIONS = [
    "Hiệp ước mới thay thế những văn kiện nào?",
    "Putin tặng quà gì?",
    "lao động Donbas",
    "hiep uoc thay the",
    "Who met in Pyongyang?",
    "bóng đá giải vô địch",
    "giá vàng hôm nay tăng",
    "bệnh viện cấp cứu bệnh nhân",
]


def _assistant(root: Path, model_dir: Path) -> Assistant:
    return Assistant(Settings.load(env={}, index_dir=root, embed_model=str(model_dir)))


def _by_passage(assistant: Assistant, query: str) -> dict[tuple[str, int], float]:
    """BM25 score of every live passage, keyed by (article id, passage index)."""
    snap = assistant.retriever().snapshot
    scores = assistant.retriever().bm25.scores(query)
    out = {}
    for sc in snap.chunks(list(range(snap.size))):
        out[(sc.chunk.article_id, sc.chunk.index)] = float(scores[sc.row])
    assert len(out) == snap.live
    return out


def _hits(assistant: Assistant, query: str, mode: str, k: int = 10):
    return [
        ((h.chunk.article_id, h.chunk.index), h.score)
        for h in assistant.search(query, k=k, mode=mode, rerank=False)
    ]


def assert_same_answers(a: Assistant, b: Assistant, questions=QUESTIONS) -> None:
    for q in questions:
        sa, sb = _by_passage(a, q), _by_passage(b, q)
        assert sa.keys() == sb.keys()
        for key, value in sa.items():
            assert value == pytest.approx(sb[key], abs=1e-6), (q, key)
        for mode in ("bm25", "dense", "hybrid"):
            ha, hb = _hits(a, q, mode), _hits(b, q, mode)
            assert [h[0] for h in ha] == [h[0] for h in hb], (q, mode)
            np.testing.assert_allclose([h[1] for h in ha], [h[1] for h in hb], atol=1e-6)
        ia, ib = a.retriever().idf(q.lower().split()), b.retriever().idf(q.lower().split())
        assert ia == pytest.approx(ib, abs=1e-9)


def _segmented_and_single(tmp_path, model_dir, batches, deletes):
    seg = _assistant(tmp_path / "segmented", model_dir)
    for batch in batches:
        seg.ingest_articles(batch)
    for article_id in deletes:
        assert seg.delete(article_id)
    gone = set(deletes)
    live = [a for batch in batches for a in batch if a.id not in gone]
    one = _assistant(tmp_path / "single", model_dir)
    one.ingest_articles(live)
    return seg, one


def test_segments_with_tombstones_score_as_one_index_on_the_seeds(tmp_path, tiny_model_dir):
    seeds = [a for a in load_paths([Path(__file__).parents[2] / "seeds"]) if isinstance(a, Article)]
    extra = [
        Article(f"x{i}", f"Tin thêm {i}", f"Hiệp ước số {i} được ký tại Hà Nội. " * (i + 2))
        for i in range(4)
    ]
    batches = [[s] for s in seeds] + [extra[:2], extra[2:]]
    seg, one = _segmented_and_single(tmp_path, tiny_model_dir, batches, [seeds[1].id, "x2"])
    snap = seg.retriever().snapshot
    assert len(snap.segments) == 6  # seven ingests, one segment emptied by its delete
    assert len(one.retriever().snapshot.segments) == 1
    assert_same_answers(seg, one)
    # Merged into one segment: the same answers again, now without tombstones.
    assert seg.optimize(full=True) == 1
    snap = seg.retriever().snapshot
    assert len(snap.segments) == 1 and snap.size == snap.live
    assert_same_answers(seg, one)


def _vntc(n: int) -> list[Article]:
    out = []
    with gzip.open(VNTC, "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            out.append(Article(r["id"], r["title"], r["text"][:2500], "vntc"))
            if len(out) == n:
                break
    return out


@pytest.mark.skipif(not VNTC.exists(), reason="VNTC not available")
def test_segments_score_as_one_index_on_vntc(tmp_path, tiny_model_dir):
    articles = _vntc(240)
    batches = [articles[i : i + 30] for i in range(0, len(articles), 30)]
    deletes = [a.id for a in articles[5::17]]
    seg, one = _segmented_and_single(tmp_path, tiny_model_dir, batches, deletes)
    assert len(seg.retriever().snapshot.segments) == len(batches)
    questions = QUESTIONS + [a.title for a in articles[::40]]
    assert_same_answers(seg, one, questions)
    # Policy merges (none are due at 8 segments of 30 articles: one tier, MERGE_FACTOR of
    # them merge) and a full merge keep the answers.
    seg.optimize()
    assert_same_answers(seg, one, questions)
    seg.optimize(full=True)
    assert len(seg.retriever().snapshot.segments) == 1
    assert_same_answers(seg, one, questions)


def test_ingest_writes_only_the_new_segment(tmp_path, tiny_model_dir, seeds_dir):
    a = _assistant(tmp_path / "index", tiny_model_dir)
    a.ingest([seeds_dir])
    first = a.retriever().snapshot.segments[0]
    before = {p: p.stat().st_mtime_ns for p in first.gen_dir.rglob("*") if p.is_file()}
    a.ingest_articles([Article("new", "Tin mới", "Một bài báo mới về hiệp ước. " * 5)])
    snap = a.retriever().snapshot
    assert [s.name for s in snap.segments][0] == first.name and len(snap.segments) == 2
    # The first segment's files are untouched, and the new snapshot shares its loaded copy.
    assert before == {p: p.stat().st_mtime_ns for p in first.gen_dir.rglob("*") if p.is_file()}
    assert snap.segments[0] is first
    assert snap.segments[1].size == snap.size - first.size


@pytest.mark.skipif(not VNTC.exists(), reason="VNTC not available")
def test_one_large_ingest_streams_into_segments_and_scores_as_one(
    tmp_path, tiny_model_dir, monkeypatch
):
    """An ingest larger than a segment is read, encoded and written a batch at a time into
    several segments, committed once: it answers as the same articles in one segment."""
    import rag.ingest

    articles = _vntc(120)
    one = _assistant(tmp_path / "single", tiny_model_dir)
    whole = one.ingest_articles(articles)
    assert len(one.retriever().snapshot.segments) == 1
    rows = one.retriever().snapshot.size
    monkeypatch.setattr(rag.ingest, "INGEST_BATCH_ROWS", 16)
    settings = Settings.load(
        env={}, index_dir=tmp_path / "streamed", embed_model=str(tiny_model_dir), segment_rows=64
    )
    seg = Assistant(settings)
    generations = []
    real_commit = seg.store._commit

    def commit(*args, **kwargs):
        generations.append(real_commit(*args, **kwargs))
        return generations[-1]

    monkeypatch.setattr(seg.store, "_commit", commit)
    report = seg.ingest_articles(iter(articles))  # a stream: read once, never held whole
    assert len(generations) == 1  # every segment made current by one commit
    assert (report.added, report.chunks, len(report.skipped)) == (
        whole.added,
        rows,
        len(whole.skipped),
    )
    snap = seg.retriever().snapshot
    assert len(snap.segments) >= 3 and snap.size == rows
    assert all(s.size <= 64 + 40 for s in snap.segments)  # cut at batch (article) boundaries
    assert_same_answers(seg, one, QUESTIONS + [a.title for a in articles[::30]])
