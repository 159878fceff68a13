"""The evaluation datasets: the hand-written seeds Q&A and conversation files and the XQuAD/VNTC
loaders."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from rag.datasets import SEEDS_QA, data_dir, load_dataset, read_qa_jsonl
from rag.errors import InputError
from rag.metrics import contains_answer


@pytest.fixture(scope="module")
def seeds_ds(seeds_dir):
    return load_dataset("seeds", seeds_dir=seeds_dir)


def test_seeds_chat_holds_conversations_whose_gold_articles_answer_them(seeds_dir):
    ds = load_dataset("seeds-chat", seeds_dir=seeds_dir)
    assert ds.name == "seeds-chat" and ds.corpus == "seeds"
    answerable = [i for i in ds.items if i.answerable]
    assert len(ds.items) >= 20 and all(i.turns for i in ds.items)
    assert sum(1 for i in ds.items if len(i.turns) >= 2) >= 2  # three-turn conversations
    assert sum(1 for i in answerable if i.lang == "en") >= 3
    for item in answerable:
        for article_id in item.article_ids:
            text = ds.article(article_id).text
            assert contains_answer(text, item.answers), (item.id, article_id)


def test_turns_must_be_a_list_of_questions(tmp_path, seeds_dir):
    bad = tmp_path / "chat.jsonl"
    record = {"id": "c1", "question": "Nó ở đâu?", "answers": ["x"], "article_ids": ["x"]}
    bad.write_text(json.dumps({**record, "turns": "Nga ký gì?"}, ensure_ascii=False) + "\n")
    with pytest.raises(InputError, match="'turns' must be a list of non-empty questions"):
        read_qa_jsonl(bad)


def test_seeds_qa_has_what_the_issue_asks_for(seeds_ds):
    items = seeds_ds.items
    answerable = [i for i in items if i.answerable]
    assert len(answerable) >= 60
    assert sum(1 for i in answerable if i.lang == "en") >= 15
    assert sum(1 for i in items if not i.answerable) >= 8
    kinds = Counter(i.kind for i in answerable)
    for kind in ("fact", "number", "date", "person", "place", "quote", "list", "multi"):
        assert kinds[kind] >= 2, kind
    assert len({i.id for i in items}) == len(items)
    assert len({i.question for i in items}) == len(items)
    # Every seed article is the gold article of some question.
    assert {a for i in answerable for a in i.article_ids} == {a.id for a in seeds_ds.articles}


def test_every_gold_article_contains_an_accepted_answer(seeds_ds):
    """Accepted answers are spans of the cleaned articles: each gold article of a question
    holds at least one of them (after normalization)."""
    missing = [
        (item.id, seeds_ds.article(article_id).source)
        for item in seeds_ds.items
        if item.answerable
        for article_id in item.article_ids
        if not contains_answer(seeds_ds.article(article_id).text, item.answers)
    ]
    assert missing == []


def test_unanswerable_questions_have_no_answers_or_gold(seeds_ds):
    for item in seeds_ds.items:
        if not item.answerable:
            assert item.answers == () and item.article_ids == ()


def test_seed_stems_map_to_content_ids(seeds_ds):
    raw = read_qa_jsonl(SEEDS_QA)
    stem_to_id = {Path(a.source).stem: a.id for a in seeds_ds.articles}
    for rec, item in zip(raw, seeds_ds.items, strict=True):
        assert list(item.article_ids) == [stem_to_id[s] for s in rec["article_ids"]]


def test_qa_file_errors_are_one_line_input_errors(tmp_path, seeds_dir):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "q1", "question": "Ai?", "answers": ["x"]}\n', encoding="utf-8")
    with pytest.raises(InputError, match="article_ids"):
        load_dataset(str(bad), corpus=[seeds_dir])
    unknown = tmp_path / "unknown.jsonl"
    rec = {"id": "q1", "question": "Ai?", "answers": ["x"], "article_ids": ["nope"], "lang": "vi"}
    unknown.write_text(json.dumps(rec) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="'nope'"):
        load_dataset(str(unknown), corpus=[seeds_dir])
    with pytest.raises(InputError, match="unknown dataset"):
        load_dataset("no-such-dataset")


def test_a_qa_path_over_a_corpus(tmp_path, seeds_dir):
    path = tmp_path / "mine.jsonl"
    rec = {
        "id": "m1",
        "question": "Ai tặng xe Aurus?",
        "answers": ["Putin"],
        "article_ids": ["000_67af0a77a16df922.txt"],  # a file name works as well as a stem
        "lang": "vi",
    }
    path.write_text(json.dumps(rec, ensure_ascii=False) + "\n", encoding="utf-8")
    ds = load_dataset(str(path), corpus=[seeds_dir])
    assert ds.name == "mine" and len(ds.items) == 1 and len(ds.articles) == 5
    assert ds.article(ds.items[0].article_ids[0]).source.endswith("000_67af0a77a16df922.txt")


# --- XQuAD and VNTC (read from ../shared/data; skipped where it is absent) --------------------

needs_data = pytest.mark.skipif(
    not (data_dir() / "xquad" / "xquad.vi.json").is_file(), reason="XQuAD not in ../shared/data"
)


@needs_data
def test_xquad_vi_and_en_vi_share_paragraphs_and_ids():
    vi = load_dataset("xquad-vi")
    en = load_dataset("xquad-en-vi")
    assert len(vi.articles) == 240 and len(vi.items) == 1190
    assert vi.corpus == en.corpus and vi.corpus_fingerprint() == en.corpus_fingerprint()
    assert [i.id for i in vi.items] == [i.id for i in en.items]
    assert [i.article_ids for i in vi.items] == [i.article_ids for i in en.items]
    first_vi, first_en = vi.items[0], en.items[0]
    assert first_vi.lang == "vi" and first_en.lang == "en"
    assert first_vi.question != first_en.question
    # The Vietnamese spans come first and are accepted for the English question too.
    assert first_en.answers[: len(first_vi.answers)] == first_vi.answers
    # Nearly every accepted answer is found in its paragraph (a few XQuAD spans are cut or
    # glued to the next word in the source data).
    found = sum(contains_answer(vi.article(i.article_ids[0]).text, i.answers) for i in vi.items)
    assert found >= 1185


@needs_data
def test_xquad_news_mixes_in_distractors():
    if not (data_dir() / "vntc" / "vntc_train.jsonl.gz").is_file():
        pytest.skip("VNTC not in ../shared/data")
    ds = load_dataset("xquad-vi+news", news_size=25)
    again = load_dataset("xquad-vi+news", news_size=25)
    plain = load_dataset("xquad-vi")
    assert len(ds.articles) == 240 + 25
    assert ds.items == plain.items
    assert ds.corpus == "xquad-vi+news25" and ds.corpus_fingerprint() != plain.corpus_fingerprint()
    # The sample is fixed by its seed: the same distractors every time.
    assert [a.id for a in ds.articles] == [a.id for a in again.articles]
    assert all(a.source.startswith("vntc/") for a in ds.articles[240:])


@needs_data
def test_limit_keeps_the_whole_corpus():
    ds = load_dataset("xquad-vi", limit=7)
    assert len(ds.items) == 7 and len(ds.articles) == 240
