"""End-to-end evaluation on the seeds: real ingest (tiny local model, FAISS, SQLite, BM25), real
search and ask, scored; plus the report files, the index cache and the `rag eval` command.

The floors are what the pipeline measured when this test was written, minus a small margin, so
a change that makes answers worse fails CI. Raise them when quality improves.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from embeddings.backends import on_cpu, resolve_backend
from rag.datasets import QAItem, load_dataset
from rag.errors import InputError
from rag.evaluation.index_cache import open_eval_index
from rag.evaluation.report import write_report
from rag.evaluation.run import run_compare
from rag.evaluation.scoring import Gold, score_question
from rag.evaluation.specs import RunSpec, apply_spec, parse_run_specs
from rag.settings import Settings
from rag.types import Answer, Chunk, Citation, Hit

# Measured on the seeds (81 answerable, 10 unanswerable questions), top-k 5, tiny model, at
# commit 0031c2c: bm25 answer hit 0.716, R@5 0.926, citation precision 0.943, abstention 0.800;
# hybrid answer hit 0.704, R@5 0.951, citation precision 0.935, abstention 0.800. The floors
# leave about four questions of margin (one for abstention).
FLOORS = {
    "bm25": {
        "answer_hit": 0.67,
        "recall@5": 0.88,
        "citation_precision": 0.90,
        "abstention_accuracy": 0.70,
    },
    "hybrid": {
        "answer_hit": 0.66,
        "recall@5": 0.90,
        "citation_precision": 0.90,
        "abstention_accuracy": 0.70,
    },
}


@pytest.fixture(scope="module")
def eval_settings(tmp_path_factory, tiny_model_dir) -> Settings:
    root = tmp_path_factory.mktemp("eval")
    return Settings.load(env={}, index_dir=root / "index", embed_model=str(tiny_model_dir))


@pytest.fixture(scope="module")
def seeds_results(eval_settings, seeds_dir):
    dataset = load_dataset("seeds", seeds_dir=seeds_dir)
    return run_compare(dataset, eval_settings, ["bm25", "hybrid"])


@pytest.mark.parametrize("run", ["bm25", "hybrid"])
def test_quality_floor_on_the_seeds(seeds_results, run):
    result = next(r for r in seeds_results if r.run == run)
    assert result.modes_used == (run,)  # hybrid really ran with the dense model
    m = result.metrics
    assert (m["questions"], m["answerable"], m["unanswerable"]) == (91, 81, 10)
    for key, floor in FLOORS[run].items():
        assert m[key] >= floor, f"{run} {key} {m[key]} fell below {floor}"


def test_follow_ups_are_asked_after_their_conversation(eval_settings, seeds_dir):
    # seeds-chat: each follow-up is asked with the answers of its earlier turns, rewritten to
    # its standalone form, and scored like any question. Floor: hybrid on the tiny model
    # measured answer hit 0.69 (18 of 26), abstention 0.5 (1 of 2); about two questions of
    # margin.
    dataset = load_dataset("seeds-chat", seeds_dir=seeds_dir)
    assert len(dataset.items) >= 20 and all(q.turns for q in dataset.items)
    (result,) = run_compare(dataset, eval_settings, ["hybrid"])
    first = next(q for q in result.questions if q.item.question == "Nó được ký ở đâu?")
    assert first.rewritten == "Hiệp ước Đối tác chiến lược toàn diện được ký ở đâu?"
    assert result.to_dict()["questions"][0]["turns"] == list(dataset.items[0].turns)
    assert result.metrics["answer_hit"] >= 0.6


def test_figures_are_consistent_with_the_questions(seeds_results):
    for result in seeds_results:
        qs = result.questions
        answerable = [q for q in qs if q.item.answerable]
        hits = sum(1 for q in answerable if q.hit)
        assert result.metrics["answer_hit"] == pytest.approx(hits / len(answerable), abs=1e-4)
        abstained = sum(1 for q in qs if not q.item.answerable and not q.found)
        assert result.metrics["abstention_accuracy"] == pytest.approx(abstained / 10, abs=1e-4)
        for q in answerable:
            assert not q.hit or q.found  # an abstention is never a hit
            assert len(q.recall) == 10 and list(q.recall) == sorted(q.recall)  # R@k grows with k
            assert q.n_relevant >= 1
        for q in qs:
            if not q.item.answerable:
                assert q.hit is None and q.recall == () and q.mrr is None
        curve = result.metrics["recall_curve"]
        assert curve[0] == result.metrics["recall@1"] and curve[9] == result.metrics["recall@10"]
        assert result.metrics["ask_p50_ms"] <= result.metrics["ask_p95_ms"]
        assert result.model["in_use"] is not None


def test_json_shape_is_stable(seeds_results):
    d = seeds_results[0].to_dict()
    assert list(d) == [
        "run", "dataset", "retriever", "modes_used", "top_k", "model", "index", "settings",
        "metrics", "seconds", "questions",
    ]  # fmt: skip
    assert list(d["metrics"])[:7] == [
        "questions", "answerable", "unanswerable", "recall@1", "recall@5", "recall@10", "mrr@10",
    ]  # fmt: skip
    assert set(d["metrics"]["by_lang"]) == {"en", "vi"}
    q = d["questions"][0]
    assert {"id", "question", "answers", "answer", "hit", "cited", "retrieved"} <= set(q)
    json.dumps(d)  # plain JSON values only


def test_report_files(seeds_results, tmp_path):
    paths = write_report(seeds_results, tmp_path / "out", command="rag eval --compare bm25,hybrid")
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert data["schema"] == "rag-eval/1"
    assert data["dataset"]["name"] == "seeds"
    assert [r["run"] for r in data["runs"]] == ["bm25", "hybrid"]
    assert len(data["runs"][0]["questions"]) == 91
    assert paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = paths["markdown"].read_text(encoding="utf-8")
    assert "rag eval --compare bm25,hybrid" in md
    assert "| bm25 |" in md and "| hybrid |" in md
    failed = [q for q in seeds_results[0].questions if q.failed]
    assert f"### bm25: {len(failed)} of 91 questions" in md
    assert failed[0].item.question in md


def test_eval_index_is_cached(seeds_results, eval_settings, seeds_dir):
    """The module's runs built the index once; opening it again builds nothing."""
    messages: list[str] = []
    dataset = load_dataset("seeds", seeds_dir=seeds_dir)
    assistant = open_eval_index(dataset, eval_settings, log=messages.append)
    try:
        assert messages == []
        assert assistant.info()["articles"] == 5
        assert Path(assistant.info()["index_dir"]).is_relative_to(
            eval_settings.index_dir.parent / "eval"
        )
    finally:
        assistant.close()
    # Another chunking is another index.
    other = eval_settings.with_(chunk_size=400, chunk_overlap=50)
    assert Path(open_eval_index(dataset, other, log=messages.append).store.root).parent.name != (
        Path(assistant.store.root).parent.name
    )
    assert messages and messages[0].startswith("building")
    # So is another embedding backend: its vectors differ, its scores must too. ("auto" is
    # keyed by what it runs: bf16 on a CPU with bf16 units, so the other one is fp32 there.)
    ran = resolve_backend(eval_settings.embed_backend, cpu=on_cpu(eval_settings.device))
    other_backend = "torch" if ran == "torch-bf16" else "torch-bf16"
    messages.clear()
    other = open_eval_index(dataset, eval_settings.with_(embed_backend=other_backend),
                            log=messages.append)  # fmt: skip
    try:
        assert messages and messages[0].startswith("building")
        assert other.store.root.parent.name != Path(assistant.store.root).parent.name
        snap = other.store.open()
        try:
            assert snap.manifest["settings"]["embed_backend"] == other_backend
        finally:
            snap.close()
    finally:
        other.close()
    # "auto" and the backend it resolves to are the same vectors: one index.
    messages.clear()
    same = open_eval_index(dataset, eval_settings.with_(embed_backend=ran), log=messages.append)
    try:
        assert messages == []
        assert same.store.root == assistant.store.root
    finally:
        same.close()


def test_cli_eval_json(tmp_path, tiny_model_dir, seeds_dir):
    qa = tmp_path / "two.jsonl"
    rows = [
        {"id": "t1", "question": "Hãng thông tấn nào đưa tin hai nước đã ký hiệp ước?",
         "answers": ["RIA Novosti"], "article_ids": ["000_67af0a77a16df922"], "lang": "vi"},
        {"id": "t2", "question": "Ai đoạt World Cup 2022?", "answers": [], "article_ids": [],
         "lang": "vi", "answerable": False},
    ]  # fmt: skip
    qa.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    from rag.cli import cli

    env = {"RAG_EMBED_MODEL": str(tiny_model_dir), "RAG_INDEX_DIR": str(tmp_path / "index")}
    args = ["eval", "--dataset", str(qa), "--corpus", str(seeds_dir), "--retriever", "bm25"]
    result = CliRunner().invoke(
        cli, [*args, "--json", "--out", str(tmp_path / "rep")], env=env, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    run = data["runs"][0]
    assert run["run"] == "bm25" and "questions" not in run
    assert run["metrics"]["answerable"] == 1 and run["metrics"]["unanswerable"] == 1
    assert run["metrics"]["recall@1"] == 1.0
    assert Path(data["report"]["markdown"]).is_file()
    # The table form, no files (the default --out would be eval/out/ under the working dir).
    runner = CliRunner()
    with runner.isolated_filesystem(temp_dir=tmp_path) as cwd:
        result = runner.invoke(cli, [*args, "--no-report"], env=env, catch_exceptions=False)
        assert not (Path(cwd) / "eval").exists()
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].split()[:3] == ["run", "R@1", "R@5"]


def test_cli_eval_rejects_bad_runs(tmp_path):
    from rag.cli import cli

    env = {"RAG_INDEX_DIR": str(tmp_path / "index")}
    result = CliRunner().invoke(cli, ["eval", "--compare", "bm25,nope"], env=env)
    assert result.exit_code != 0
    assert "unknown retriever 'nope'" in str(result.exception) + result.output


# --- run specs -------------------------------------------------------------------------------


def test_parse_run_specs():
    specs = parse_run_specs("bm25, hybrid:dense_weight=0.3, hybrid:rerank=true")
    assert [s.label for s in specs] == ["bm25", "hybrid:dense_weight=0.3", "hybrid:rerank=True"]
    assert specs[1].overrides == (("dense_weight", 0.3),)
    settings = apply_spec(Settings.load(env={}), specs[1])
    assert settings.retriever == "hybrid" and settings.dense_weight == 0.3
    none = apply_spec(settings, RunSpec("hybrid", (("dense_weight", None),)))
    assert none.dense_weight is None
    for bad in ("", "bm25,bm25", "hybrid:nope=1", "hybrid:dense_weight", "hybrid:top_k=x"):
        with pytest.raises(InputError):
            parse_run_specs(bad)
    with pytest.raises(InputError):
        apply_spec(Settings.load(env={}), RunSpec("hybrid", (("dense_weight", 2.0),)))


# --- scoring one question from real pipeline values ------------------------------------------


def _hit(article_id: str, index: int, text: str, score: float, rank: int, also=()) -> Hit:
    chunk = Chunk(article_id, index, text, 0, len(text), title=f"title {article_id}")
    return Hit(chunk=chunk, score=score, rank=rank, also=tuple(also))


def _answer(text: str, found: bool, cited: list[tuple[str, str]]) -> Answer:
    citations = tuple(
        Citation(n + 1, aid, f"title {aid}", "", t, 0, len(t), 1.0)
        for n, (aid, t) in enumerate(cited)
    )
    return Answer("q", text, found, citations)


def test_score_question_gold_rule_ties_and_citations():
    item = QAItem("q1", "Ký ngày nào?", ("19/6",), ("g",), "vi")
    hits = [
        _hit("x", 0, "ký ngày 19/6", 3.0, 0),  # has the answer, not a gold article
        _hit("g", 1, "đoạn khác", 2.0, 1),  # gold article, no answer
        _hit("y", 0, "ký ngày 19/6", 2.0, 2, also=["g"]),  # collapsed duplicate of gold
    ]
    answer = _answer("Hai bên ký ngày 19/6 [1].", True, [("y", "ký ngày 19/6"), ("z", "khác")])
    q = score_question(item, hits, answer, Gold(1, False), 0.01, 0.002)
    assert [p.relevant for p in q.retrieved] == [False, False, True]
    # Ranks 2 and 3 tie: the relevant one is at rank 2 or 3 with equal chance.
    assert q.recall[0] == 0.0 and q.recall[1] == pytest.approx(0.5) and q.recall[2] == 1.0
    assert q.mrr == pytest.approx(0.5 * (1 / 2) + 0.5 * (1 / 3))
    assert q.hit is True and q.f1 > 0 and q.citation_precision == pytest.approx(0.5)
    assert not q.failed


def test_score_question_fallback_and_unanswerable():
    item = QAItem("q2", "Ai?", ("không có trong bài",), ("g",), "vi")
    hits = [_hit("x", 0, "abc", 1.0, 0), _hit("g", 0, "đoạn bất kỳ", 0.5, 1)]
    # No gold passage holds the answer: any passage of the gold article is relevant.
    q = score_question(item, hits, _answer("không", False, []), Gold(2, True), 0.0, 0.0)
    assert [p.relevant for p in q.retrieved] == [False, True]
    assert q.hit is False and q.f1 == 0.0 and q.citation_precision is None and q.failed

    unanswerable = QAItem("q3", "Ai vô địch?", (), (), "vi", answerable=False)
    abstained = score_question(
        unanswerable, hits, _answer("Không tìm thấy.", False, []), None, 0, 0
    )
    assert abstained.hit is None and not abstained.failed and abstained.recall == ()
    answered = score_question(
        unanswerable, hits, _answer("abc [1]", True, [("x", "abc")]), None, 0, 0
    )
    assert answered.failed


def test_index_built_with_a_fallback_is_rebuilt_once_the_model_loads(
    tmp_path, minilm_dir, seeds_dir, monkeypatch
):
    """Cached figures must be those of the configured model: an index embedded with the
    fallback (the configured model was missing) is rebuilt when the model becomes loadable."""
    from tests.tiny_models import build_tiny_sentence_model

    # MiniLM as the fallback (quick): the bundled e5, which comes first, cannot be built here.
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("RAG_MODEL_CACHE", str(tmp_path / "a-file" / "models"))

    model_dir = tmp_path / "model-not-there-yet"
    settings = Settings.load(env={}, index_dir=tmp_path / "index", embed_model=str(model_dir))
    dataset = load_dataset("seeds", seeds_dir=seeds_dir)
    first = open_eval_index(dataset, settings)
    assert first.info()["index_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    first.close()

    messages: list[str] = []
    again = open_eval_index(dataset, settings, log=messages.append)
    assert messages == []  # still missing: the fallback index is reused
    again.close()

    build_tiny_sentence_model(model_dir, seeds_dir=seeds_dir)
    rebuilt = open_eval_index(dataset, settings, log=messages.append)
    try:
        assert "loads now" in messages[0]
        assert rebuilt.info()["index_model"] == str(model_dir)
    finally:
        rebuilt.close()
