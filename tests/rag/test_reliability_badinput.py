"""Odd input never makes the assistant fall over: each bad question is one clear line of error,
each bad file a skip with its reason in the report, and the rest of the work is kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
import unicodedata
from pathlib import Path

import pytest

from rag.clean import clean_text
from rag.errors import InputError
from rag.load import MAX_FILE_BYTES, load_paths
from rag.pipeline import Assistant
from rag.settings import Settings
from rag.types import Article, Skipped

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "seeds" / "001_2b36b2b2065b0e0c.txt"
QUESTION = "Hiệp ước mới thay thế những văn kiện nào?"
_TONES = "\u0300\u0301\u0303\u0309\u0323"


def to_cp1258(text: str) -> bytes:
    """Windows-1258 as Vietnamese legacy files have it: base letters precomposed (â, ơ, đ),
    tone marks as separate combining characters."""
    out = []
    for ch in text:
        parts = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in _TONES))
        out.append(base + "".join(c for c in parts if c in _TONES))
    return "".join(out).encode("cp1258")


@pytest.fixture(scope="module")
def assistant(tmp_path_factory, tiny_model_dir: Path):
    root = tmp_path_factory.mktemp("badinput") / "index"
    settings = Settings.load(env={}, index_dir=root, embed_model=str(tiny_model_dir))
    a = Assistant(settings)
    a.ingest([REPO / "seeds"])
    yield a
    a.close()


# ---- questions ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "question, says",
    [
        ("", "empty"),
        ("   \t\n  ", "empty"),
        ("\x00\x07\x1b\u200b\ufeff", "empty"),
        ("x" * 100_000, "100,000 characters"),
        ("Hiệp ước " * 20_000, "characters long"),
    ],
    ids=["empty", "whitespace", "only-controls", "100k-chars", "100k-words"],
)
def test_bad_questions_get_one_clear_line(assistant, question, says):
    for call in (assistant.ask, assistant.search):
        with pytest.raises(InputError) as err:
            call(question)
        message = str(err.value)
        assert says in message and "\n" not in message


def test_control_characters_inside_a_question_are_dropped_not_fatal(assistant):
    clean = assistant.ask(QUESTION)
    noisy = assistant.ask("\x1b[31m" + QUESTION.replace(" ", " \x00\u200b") + "\x07\x7f")
    assert noisy.found
    assert noisy.text == clean.text
    assert [c.article_id for c in noisy.citations] == [c.article_id for c in clean.citations]


def test_the_assistant_keeps_answering_after_bad_questions(assistant):
    for bad in ("", "x" * 100_000):
        with pytest.raises(InputError):
            assistant.ask(bad)
    assert assistant.ask(QUESTION).found


def test_cli_bad_question_is_one_line_and_exit_2(tmp_path):
    for bad in ("", "x" * 100_000):
        proc = subprocess.run(
            [sys.executable, "-m", "rag.cli", "ask", bad, "--index", str(tmp_path / "none")],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: the question"), proc.stderr
        assert "Traceback" not in proc.stderr


# ---- files -------------------------------------------------------------------------------------
def _bad_folder(folder: Path) -> dict[str, str | None]:
    """Write every kind of odd file; map each name to the word its skip reason must contain
    (None: the file must load as the seed article)."""
    seed = SEED.read_text(encoding="utf-8")
    raw = seed.encode("utf-8")
    files = {
        "empty.txt": (b"", "empty"),
        "whitespace.txt": (b"  \n\t\r\n   \n", "no article text"),
        "binary.txt": (bytes(range(256)) * 40, "binary"),
        "image.html": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40, "binary"),
        "nul-in-utf8.txt": (raw[:500] + b"\x00\x00\x00" + raw[500:], "binary"),
        "truncated-utf8.txt": (raw[: len(raw) // 2] + "ệ".encode()[:2], None),
        "utf16-bom.txt": (seed.encode("utf-16"), None),
        "utf16-le.txt": (seed.encode("utf-16-le"), None),
        "utf8-bom.txt": (b"\xef\xbb\xbf" + raw, None),
        "windows-1258.txt": (to_cp1258(seed), None),
        "scripts.html": (
            (
                "<html><head><title>Tin</title><script>alert('head')</script>"
                "<style>p{color:red}</style></head><body><p>"
                + seed.replace("\n", "</p><p>")
                + "</p><script>fetch('/steal?c='+document.cookie)</script>"
                '<img src=x onerror="alert(1)"><iframe src="javascript:alert(2)"></iframe>'
                "</body></html>"
            ).encode(),
            None,
        ),
        "report.pdf": (b"%PDF-1.4\n", "unsupported file type .pdf"),
        "notes.docx": (b"PK\x03\x04", "unsupported file type .docx"),
        "README": (raw, "unsupported file type (none)"),
    }
    for name, (data, _) in files.items():
        (folder / name).write_bytes(data)
    return {name: says for name, (_, says) in files.items()}


def test_each_odd_file_is_loaded_or_skipped_with_its_reason(tmp_path):
    expected = _bad_folder(tmp_path)
    want_text = clean_text(SEED.read_text(encoding="utf-8"))
    got = {Path(x.source).name: x for x in load_paths([tmp_path])}
    assert set(got) == set(expected)
    for name, says in expected.items():
        item = got[name]
        if says is None:
            assert isinstance(item, Article), (name, item)
            if name == "truncated-utf8.txt":
                assert want_text.startswith(item.text[:-2]) and len(item.text) > 1000
            else:
                assert item.text == want_text, name
        else:
            assert isinstance(item, Skipped), (name, item)
            assert says in item.reason and "\n" not in item.reason, (name, item.reason)


def test_html_scripts_never_reach_the_article_text(tmp_path):
    _bad_folder(tmp_path)
    (article,) = load_paths([tmp_path / "scripts.html"])
    for bad in ("alert", "document.cookie", "<script", "onerror", "javascript:", "color:red"):
        assert bad not in article.text and bad not in article.title


def test_a_200_mb_file_is_skipped_without_reading_it(tmp_path):
    """Sparse 200 MB files (an article file, and a JSONL of one endless line): skipped with a
    clear reason, and memory stays far below the file's size."""
    size = 200 * 2**20
    for name in ("huge.txt", "huge.html", "huge.jsonl"):
        with open(tmp_path / name, "wb") as fh:
            fh.truncate(size)
    tracemalloc.start()
    try:
        items = list(load_paths([tmp_path]))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    reasons = {Path(s.source).name: s.reason for s in items}
    assert all(isinstance(s, Skipped) for s in items)
    assert f"over the {MAX_FILE_BYTES // 2**20} MB limit" in reasons["huge.txt"]
    assert "over the" in reasons["huge.html"]
    assert "line longer than" in reasons["huge.jsonl"]
    assert peak < size / 4, f"peak {peak / 2**20:.0f} MB while skipping 200 MB files"


def test_malformed_jsonl_lines_are_reported_by_line_number(tmp_path):
    good = {"id": "ok", "title": "Tin tốt", "text": SEED.read_text(encoding="utf-8")}
    lines = [
        json.dumps(good, ensure_ascii=False),  # 1
        '{"id": "a", "text": "unterminated',  # 2
        "[1, 2, 3]",  # 3
        '{"id": "b", "title": "no text"}',  # 4
        '{"id": "c", "text": 42}',  # 5
        "",  # 6: blank lines are not records
        '{"id": "d", "text": "   "}',  # 7
        "\x00\x01garbage",  # 8
        json.dumps({**good, "id": "ok2", "title": "Tin tốt 2"}, ensure_ascii=False),  # 9
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    items = list(load_paths([path]))
    skipped = {s.line: s.reason for s in items if isinstance(s, Skipped)}
    assert sorted(skipped) == [2, 3, 4, 5, 7, 8]
    assert "invalid JSON" in skipped[2] and "JSON object" in skipped[3]
    assert "text" in skipped[4] and "text" in skipped[5]
    assert [a.title for a in items if isinstance(a, Article)] == ["Tin tốt", "Tin tốt 2"]


def test_ingest_keeps_the_good_files_and_reports_every_skip(tmp_path, tiny_model_dir):
    """One ingest over a folder of odd files: the good ones are indexed (the same article in
    five encodings is indexed once), every bad one is listed with its reason."""
    folder = tmp_path / "in"
    folder.mkdir()
    expected = _bad_folder(folder)
    (folder / "bad.jsonl").write_text('{"text": "ok"\nnot json\n', encoding="utf-8")
    settings = Settings.load(env={}, index_dir=tmp_path / "index", embed_model=str(tiny_model_dir))
    a = Assistant(settings)
    report = a.ingest([folder])
    listed = {(Path(s.source).name, s.line) for s in report.skipped}
    for name, says in expected.items():
        if says is not None:
            assert (name, None) in listed, name
    assert ("bad.jsonl", 1) in listed and ("bad.jsonl", 2) in listed
    # Indexed: the seed (read from four encodings: once, three unchanged), its truncated copy,
    # and the HTML page (its own title makes it its own article).
    assert report.added == 3 and report.unchanged == 3
    assert a.ask(QUESTION).found
    a.close()


@pytest.mark.slow
def test_cli_ingest_lists_skips_with_line_numbers(tmp_path, tiny_model_dir):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_bytes(SEED.read_bytes())
    (folder / "b.pdf").write_bytes(b"%PDF")
    (folder / "c.jsonl").write_text('{"text": " "}\n{oops\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(HF_HUB_OFFLINE="1", RAG_EMBED_MODEL=str(tiny_model_dir))
    proc = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ingest", str(folder), "--index", str(tmp_path / "ix")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "added 1 article(s)" in proc.stdout
    skips = [line.strip() for line in proc.stderr.splitlines() if "skipped" in line]
    assert any("b.pdf: unsupported file type .pdf" in s for s in skips), proc.stderr
    assert any("c.jsonl:2: invalid JSON" in s for s in skips), proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_missing_path_is_one_line(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "rag.cli",
            "ingest",
            str(tmp_path / "nope"),
            "--index",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: no such file or folder: {tmp_path / 'nope'}"
    ]
