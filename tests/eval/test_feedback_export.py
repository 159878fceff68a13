"""`rag eval --export-feedback`: the chat's feedback becomes a Q&A set that `rag eval` scores."""

import json

from click.testing import CliRunner

from rag.cli import cli
from rag.feedback import FeedbackStore, feedback_path


def test_export_then_evaluate(seeded_assistant, tmp_path):
    settings = seeded_assistant.settings
    store = FeedbackStore(feedback_path(settings.index_dir))
    liked = seeded_assistant.ask("Hiệp ước mới thay thế những văn kiện nào?")
    store.add(liked, 1)
    wrong = seeded_assistant.ask("Putin tặng Kim Jong Un những gì?")
    fid = store.add(wrong, -1)
    store.set_correction(fid, "bộ trà và một chiếc xe hơi Aurus")
    store.add(seeded_assistant.ask("Hiệp ước được ký ở đâu?"), -1)  # no correction: left out

    out = tmp_path / "fb.jsonl"
    env = {"RAG_INDEX_DIR": str(settings.index_dir), "RAG_EMBED_MODEL": settings.embed_model}
    r = CliRunner().invoke(cli, ["eval", "--export-feedback", str(out)], env=env)
    assert r.exit_code == 0, r.output
    assert "exported 2 question(s)" in r.output
    items = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [i["question"] for i in items] == [liked.question, wrong.question]
    assert items[1]["answers"] == ["bộ trà và một chiếc xe hơi Aurus"]
    assert {"id", "question", "answers", "article_ids", "lang"} <= set(items[0])

    r = CliRunner().invoke(
        cli,
        [
            "eval",
            "--dataset",
            str(out),
            "--retriever",
            "bm25",
            "--no-report",
            "--json",
            "--cache",
            str(tmp_path / "cache"),
            "--model",
            settings.embed_model,
        ],
        env=env,
    )
    assert r.exit_code == 0, r.output
    figures = json.loads(r.stdout[r.stdout.index("{") :])
    assert figures["dataset"]["questions"] == 2
    # The corrected answer is in the seeds, so the pipeline is scored against it.
    assert figures["runs"][0]["metrics"]["recall@5"] > 0


def test_export_without_feedback_is_a_clear_error(tmp_path):
    r = CliRunner().invoke(
        cli,
        ["eval", "--export-feedback", str(tmp_path / "x.jsonl"), "--index", str(tmp_path / "idx")],
    )
    assert r.exit_code != 0
    assert "no feedback yet" in str(r.exception) or "no feedback yet" in r.output
