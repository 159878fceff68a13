import json
import os
import subprocess
import sys

from click.testing import CliRunner

from rag.cli import cli

TREATY_Q = "Hiệp ước mới thay thế những văn kiện nào?"


def _env(tmp_path, tiny_model_dir):
    return {"RAG_INDEX_DIR": str(tmp_path / "idx"), "RAG_EMBED_MODEL": str(tiny_model_dir)}


def test_ingest_ask_info_json(tmp_path, tiny_model_dir, seeds_dir):
    runner = CliRunner()
    env = _env(tmp_path, tiny_model_dir)
    r = runner.invoke(cli, ["ingest", str(seeds_dir), "--json"], env=env)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["added"] == 5
    r = runner.invoke(cli, ["ingest", str(seeds_dir)], env=env)
    assert r.exit_code == 0 and "added 0 article(s)" in r.stdout and "5 unchanged" in r.stdout

    r = runner.invoke(cli, ["ask", TREATY_Q, "--json"], env=env)
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["question"] == TREATY_Q and d["found"] is True
    assert {"n", "article_id", "title", "source", "text", "start", "end", "score"} <= set(
        d["citations"][0]
    )
    assert d["retrieval"] == {"mode": "hybrid", "model": str(tiny_model_dir)}
    assert any("1961" in c["text"] and "2001" in c["text"] for c in d["citations"])

    r = runner.invoke(cli, ["ask", TREATY_Q, "--retriever", "bm25", "-k", "3"], env=env)
    assert r.exit_code == 0 and "[1]" in r.stdout

    r = runner.invoke(cli, ["info", "--json"], env=env)
    info = json.loads(r.stdout)
    assert info["articles"] == 5 and info["model_in_use"] == str(tiny_model_dir)
    r = runner.invoke(cli, ["info"], env=env)
    assert "articles    5" in r.stdout


def test_user_mistakes_are_one_line_errors(tmp_path, tiny_model_dir):
    env = _env(tmp_path, tiny_model_dir)
    cases = [
        (["ask", "   "], "question is empty"),
        (["ask", "Hiệp ước là gì?"], "no index"),
        (["ingest", str(tmp_path / "missing.txt")], "no such file"),
        (["ask", "x", "--retriever", "magic"], "Invalid value"),
    ]
    for args, needle in cases:
        proc = subprocess.run(
            [sys.executable, "-m", "rag.cli", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            timeout=120,
        )
        assert proc.returncode != 0, args
        assert needle in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) <= 4  # click usage errors add a hint line


def test_real_subprocess_end_to_end(tmp_path, tiny_model_dir, seeds_dir):
    env = {**os.environ, **_env(tmp_path, tiny_model_dir)}
    run = lambda *a: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "rag.cli", *a], capture_output=True, text=True, env=env, timeout=300
    )
    r = run("ingest", str(seeds_dir))
    assert r.returncode == 0, r.stderr
    r = run("ask", TREATY_Q, "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["found"] and any("1961" in c["text"] for c in d["citations"])


def test_help_is_instant_and_lists_commands():
    r = CliRunner().invoke(cli, ["--help"])
    assert r.exit_code == 0
    for cmd in ("ingest", "ask", "serve", "info"):
        assert cmd in r.stdout
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, rag.cli; print('torch' in sys.modules, 'faiss' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stdout.strip() == "False False"


def test_ask_from_the_shell_encodes_the_question_without_torch(tmp_path, tiny_model_dir, seeds_dir):
    """Once `python -m embeddings.light` has recorded the model, `rag ask` answers without
    importing torch or sentence-transformers, with the same answer as the torch path."""
    env = {**os.environ, **_env(tmp_path, tiny_model_dir), "RAG_ONNX_CACHE": str(tmp_path / "onnx")}
    r = CliRunner().invoke(cli, ["ingest", str(seeds_dir)], env=env)
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["ask", TREATY_Q, "--json"], env=env)
    with_torch = json.loads(r.stdout)

    rec = subprocess.run(
        [sys.executable, "-m", "embeddings.light", "--model", str(tiny_model_dir)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert rec.returncode == 0, rec.stderr
    assert "questions encoded without torch" in rec.stdout
    again = subprocess.run(
        [sys.executable, "-m", "embeddings.light", "--model", str(tiny_model_dir)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert again.returncode == 0 and "already" in again.stdout  # nothing exported twice

    code = (
        "import sys\n"
        "from rag.cli import main\n"
        f"sys.argv = ['rag', 'ask', {TREATY_Q!r}, '--json']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert "HEAVY []" in proc.stderr, proc.stderr
    light = json.loads(proc.stdout)
    assert light["answer"] == with_torch["answer"]
    assert [c["article_id"] for c in light["citations"]] == [
        c["article_id"] for c in with_torch["citations"]
    ]
    assert light["retrieval"] == with_torch["retrieval"]
