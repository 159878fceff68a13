import json
import sqlite3

import numpy as np
import pytest

from rag.errors import IndexCorruptError, IndexMissingError, ModelMismatchError
from rag.pipeline import Assistant
from rag.store import Store


def test_faiss_dense_search_matches_numpy_oracle(seeded_assistant):
    retriever = seeded_assistant.retriever()
    snap = retriever.snapshot
    vectors = snap.vectors()
    assert vectors.shape == (snap.size, retriever.encoder.dim)
    for q in ["Hiệp ước thay thế văn kiện nào?", "Putin tặng quà gì?", "lao động Donbas"]:
        qv = retriever.encoder.encode_queries([q])[0]
        oracle = np.argsort(-(vectors @ qv), kind="stable")[:5]
        got = [c.row for c in retriever.candidates(q, 5, "dense")]
        scores = vectors @ qv
        # Same ranking up to float ties: compare the scores at each rank.
        assert np.allclose(scores[got], scores[oracle], atol=1e-5)


def test_rows_vectors_and_bm25_agree(seeded_assistant):
    snap = seeded_assistant.retriever().snapshot
    n = snap.size
    assert snap.faiss.ntotal == n == snap.bm25.size
    rows = snap.chunks(list(range(n)))
    assert [r.row for r in rows] == list(range(n))
    for r in rows:
        article = snap.article(r.chunk.article_id)
        assert article.text[r.chunk.start : r.chunk.end] == r.chunk.text


def test_reingest_adds_and_embeds_nothing(seeded_assistant, seeds_dir):
    gen = seeded_assistant.store.current_generation()
    report = seeded_assistant.ingest([seeds_dir])
    assert (report.added, report.unchanged, report.chunks) == (0, 5, 0)
    assert seeded_assistant.store.current_generation() == gen


def test_manifest_describes_the_index(seeded_assistant, tiny_model_dir):
    snap = seeded_assistant.retriever().snapshot
    m = json.loads((snap.gen_dir / "manifest.json").read_text())
    assert m["model"] == str(tiny_model_dir)
    assert m["dim"] == seeded_assistant.encoder.dim and m["normalized"] is True
    assert m["faiss_index"] == "flat"
    assert m["counts"] == {"articles": 5, "chunks": snap.size}
    assert m["settings"]["chunk_size"] == 900 and "faiss-cpu" in m["versions"]


def test_mismatched_model_is_refused(seeded_assistant, minilm_dir):
    other = Assistant(seeded_assistant.settings.with_(embed_model=str(minilm_dir)))
    with pytest.raises(ModelMismatchError, match="was built with"):
        other.ask("Hiệp ước thay thế văn kiện nào?")


def test_delete_is_a_tombstone_until_a_merge(seeded_assistant):
    articles = seeded_assistant.articles()
    victim = articles[1]["id"]
    before = seeded_assistant.retriever().snapshot
    size, live = before.size, before.live
    assert seeded_assistant.delete(victim)
    snap = seeded_assistant.retriever().snapshot
    # Positions stay (the segment is not rewritten); the victim's rows are deleted.
    assert snap.size == size and snap.live == live - articles[1]["chunks"]
    assert snap.faiss.ntotal == snap.bm25.size == snap.size
    assert [s.name for s in snap.segments] == [s.name for s in before.segments]
    assert snap.manifest["segments"][0]["deleted"] == [victim]
    assert not snap.has_article(victim) and snap.article(victim) is None
    assert victim not in {a["id"] for a in snap.articles()}
    live_rows = snap.chunks(list(range(snap.size)))
    assert len(live_rows) == snap.live
    assert all(r.chunk.article_id != victim for r in live_rows)
    enc = seeded_assistant.encoder
    qv = enc.encode_queries([articles[1]["title"]])
    _, ids = snap.faiss.search(qv, snap.size)
    assert set(ids[0][ids[0] >= 0]) == {r.row for r in live_rows}
    assert not seeded_assistant.delete(victim)
    # A merge rewrites the segment without the victim and renumbers its rows.
    seeded_assistant.optimize(full=True)
    merged = seeded_assistant.retriever().snapshot
    assert merged.size == merged.live == live - articles[1]["chunks"]
    assert merged.manifest["segments"][0]["deleted"] == []
    assert [r.row for r in merged.chunks(list(range(merged.size)))] == list(range(merged.size))
    # Vectors still belong to their passages.
    from rag.chunk import passage_for_embedding

    r = merged.chunks([merged.size - 1])[0]
    v = enc.encode_passages([passage_for_embedding(r.chunk)])[0]
    # Passages may be stored by bf16 autocast (the default "auto" on a CPU with bf16 units) and
    # this one is encoded in fp32: the same vector to ~1e-3, and nearer than any other passage.
    assert np.allclose(merged.faiss.reconstruct(merged.size - 1), v, atol=2e-3)
    stored = merged.faiss.reconstruct_n(0, merged.size)
    assert int(np.argmax(stored @ v)) == merged.size - 1


def _segment_dir(assistant):
    return assistant.retriever().snapshot.segments[0].gen_dir


def test_missing_index_and_damage_are_clear_errors(tmp_path, seeded_assistant):
    with pytest.raises(IndexMissingError, match="rag ingest"):
        Store(tmp_path / "none").open()
    faiss_file = _segment_dir(seeded_assistant) / "vectors.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    with pytest.raises(IndexCorruptError, match="rebuild"):
        Store(seeded_assistant.store.root).open()


def test_sqlite_mismatch_detected(seeded_assistant):
    gen_dir = _segment_dir(seeded_assistant)
    seeded_assistant.close()
    db = sqlite3.connect(gen_dir / "rows.sqlite")
    db.execute("DELETE FROM chunks WHERE row = (SELECT MAX(row) FROM chunks)")
    db.commit()
    db.close()
    with pytest.raises(IndexCorruptError, match="SQLite"):
        Store(seeded_assistant.store.root).open()


def test_bm25_only_index_when_no_model(tmp_path, seeds_dir, monkeypatch):
    import embeddings.encoder as enc

    monkeypatch.setattr(enc, "local_fallback_path", lambda: None)
    # Nor can the bundled e5 be built: its cache would be under a file.
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("RAG_MODEL_CACHE", str(tmp_path / "a-file" / "models"))
    from rag.settings import Settings

    s = Settings.load(env={}, index_dir=tmp_path / "i", embed_model=str(tmp_path / "no-model"))
    a = Assistant(s)
    report = a.ingest([seeds_dir])
    assert report.added == 5
    info = a.info()
    assert info["index_model"] is None and info["mode"] == "bm25"
    answer = a.ask("Hiệp ước mới thay thế những văn kiện nào?")
    assert answer.mode == "bm25" and answer.found
    assert any("unavailable" in w for w in answer.warnings)
