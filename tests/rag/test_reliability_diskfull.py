"""A full disk (or any failed write) while writing the index: one line, a non-zero exit or HTTP
507, the previous index untouched, no temporary files left, and a rerun that encodes nothing
it had already encoded.

The real full disk is a small tmpfs mounted for the test (skipped, saying why, where mounting
is not allowed); the other faults are injected at the write calls of rag.store. Real CLI
subprocesses, tiny model, FAISS, SQLite, bm25s.
"""

from __future__ import annotations

import errno
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.errors import StorageError
from rag.load import make_article
from rag.pipeline import Assistant
from rag.settings import Settings
from rag.store import Store, VectorCache
from tests.rag.test_reliability_crash import (
    REPO,
    SEEDS,
    check_index,
    rag_cmd,
    rag_env,
    synthetic_articles,
    write_jsonl,
)

FULL = re.compile(
    r"error: no space left on device while writing the index at (?P<path>\S+); "
    r"free (?P<mb>\d+) MB and run the same command again"
)


@pytest.fixture()
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 6 MB tmpfs, unmounted afterwards."""
    mnt = tmp_path / "fs"
    mnt.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({r.stderr.strip() or r.returncode})")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(fs: Path, leave: int) -> Path:
    """Fill ``fs`` until ``leave`` bytes are free; returns the filler file."""
    import shutil

    filler = fs / "filler"
    free = shutil.disk_usage(fs).free
    with open(filler, "wb") as fh:
        fh.write(b"\0" * max(0, free - leave))
    return filler


def leftovers(root: Path) -> list[str]:
    temps = [p.name for p in root.glob(".tmp-*")] + [p.name for p in root.glob(".CURRENT.*")]
    current = Store(root).current_generation()
    extra = [p.name for p in root.glob("gen-*") if p.name > (current or "")]
    return temps + extra


class CountingEncoder:
    """The real tiny encoder, counting the passages it is asked to encode."""

    def __init__(self, assistant: Assistant) -> None:
        self.encoder = assistant.encoder
        self.passages = 0
        real = self.encoder.encode_passages

        def encode_passages(texts, *args, **kwargs):
            self.passages += len(texts)
            return real(texts, *args, **kwargs)

        self.encoder.encode_passages = encode_passages


def cached_passages(root: Path) -> int:
    """Passages whose vectors the index's vector cache holds (every model key)."""
    total = 0
    for d in (root / ".vector-cache").glob("*"):
        cache = VectorCache(root, "")
        cache.dir = d
        total += len(cache.load())
    return total


@pytest.mark.slow
def test_cli_ingest_on_a_full_disk_says_so_keeps_the_index_and_the_rerun_reuses_vectors(
    small_fs: Path, tmp_path: Path, tiny_model_dir: Path
):
    index = small_fs / "index"
    env = rag_env(tiny_model_dir)
    r = subprocess.run(
        rag_cmd("ingest", str(SEEDS), "--index", str(index)), cwd=REPO, env=env, capture_output=True
    )
    assert r.returncode == 0, r.stderr
    before = check_index(index)
    generation = Store(index).current_generation()
    batch = synthetic_articles(1, 80)
    jsonl = write_jsonl(tmp_path / "batch.jsonl", batch)
    # Room for the encoded vectors of the batch (the cache), not for the new generation.
    filler = fill(small_fs, 160 * 1024)
    r = subprocess.run(
        rag_cmd("ingest", str(jsonl), "--index", str(index)),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode != 0
    lines = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    m = FULL.fullmatch(lines[0])
    assert m and m["path"] == str(index) and int(m["mb"]) >= 1, lines[0]
    assert check_index(index) == before
    assert Store(index).current_generation() == generation
    assert leftovers(index) == []
    cached = cached_passages(index)
    assert cached > 0  # encoded before the disk filled, and kept

    filler.unlink()
    settings = Settings.load(env={}, index_dir=index, embed_model=str(tiny_model_dir))
    a = Assistant(settings)
    counter = CountingEncoder(a)
    report = a.ingest([jsonl])
    total = report.chunks
    a.close()
    assert report.added == len(batch)
    assert counter.passages == total - cached  # nothing encoded twice
    assert check_index(index) == before | set(report.added_ids)
    assert not (index / ".vector-cache").exists()  # cleared by the commit
    assert leftovers(index) == []


@pytest.mark.slow
def test_upload_on_a_full_disk_answers_507_and_the_server_keeps_answering(
    small_fs: Path, tiny_model_dir: Path, seeds_dir: Path
):
    import httpx

    from tests.ui.conftest import seeded, start_server

    settings, assistant = seeded(small_fs, tiny_model_dir, seeds_dir)
    before = check_index(settings.index_dir)
    live = start_server(settings, assistant)
    try:
        filler = fill(small_fs, 16 * 1024)
        body = write_jsonl(small_fs.parent / "up.jsonl", synthetic_articles(2, 40)).read_bytes()
        with httpx.Client(base_url=live.url, timeout=120) as http:
            r = http.post("/api/ingest", files={"files": ("up.jsonl", body, "application/jsonl")})
            assert r.status_code == 507, r.text
            assert FULL.fullmatch("error: " + r.json()["error"]), r.text
            ask = http.post("/api/ask", json={"question": "Hiệp ước mới thay thế gì?"})
            assert ask.status_code == 200 and ask.json()["found"]
            filler.unlink()
            r = http.post("/api/ingest", files={"files": ("up.jsonl", body, "application/jsonl")})
            assert r.status_code == 200 and r.json()["added"] == 40, r.text
        assert leftovers(settings.index_dir) == []
        assert before < check_index(settings.index_dir)
    finally:
        live.stop()
        assistant.close()


@pytest.mark.slow
def test_embed_build_index_on_a_full_disk(small_fs: Path, tmp_path: Path, tiny_model_dir: Path):
    """`rag embed --build-index` with its output on the small disk: the shards fit, the index
    does not; one line, exit non-zero; `--resume --build-index` after freeing space finishes."""
    out = small_fs / "emb"
    jsonl = write_jsonl(tmp_path / "batch.jsonl", synthetic_articles(3, 60))
    env = rag_env(tiny_model_dir)
    r = subprocess.run(
        rag_cmd("embed", str(jsonl), "--out", str(out)), cwd=REPO, env=env, capture_output=True
    )
    assert r.returncode == 0, r.stderr
    filler = fill(small_fs, 64 * 1024)
    r = subprocess.run(
        rag_cmd("embed", str(jsonl), "--out", str(out), "--resume", "--build-index"),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    lines = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert r.returncode != 0 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert FULL.fullmatch(lines[0]) and str(out / "index") in lines[0], lines[0]
    assert not Store(out / "index").exists() and leftovers(out / "index") == []
    filler.unlink()
    r = subprocess.run(
        rag_cmd("embed", str(jsonl), "--out", str(out), "--resume", "--build-index"),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert len(check_index(out / "index")) == 60


@pytest.mark.parametrize(
    ("code", "start"),
    [
        (errno.ENOSPC, "no space left on device while writing the index at "),
        (errno.EDQUOT, "disk quota exceeded while writing the index at "),
        (errno.EROFS, "read-only file system while writing the index at "),
        (errno.EACCES, "permission denied while writing the index at "),
        (errno.EIO, "input/output error while writing the index at "),
    ],
)
def test_any_failed_write_is_one_line_and_leaves_the_index_as_it_was(
    seeded_assistant: Assistant, monkeypatch, code: int, start: str
):
    """Fault injected at BM25's write (after SQLite rows and FAISS were written)."""
    import rag.store.build

    a = seeded_assistant
    root = a.store.root
    before = check_index(root)
    generation = a.store.current_generation()

    def failing_write(gen_dir: Path) -> None:
        raise OSError(code, "injected")

    monkeypatch.setattr(rag.store.build, "write_postings", failing_write)
    articles = [
        make_article(r["text"], title=r["title"], source=r["source"])
        for r in synthetic_articles(4, 5)
    ]
    with pytest.raises(StorageError) as info:
        a.ingest_articles(articles)
    msg = str(info.value)
    assert msg.startswith(start + str(root)) and "\n" not in msg, msg
    assert msg.endswith("run the same command again"), msg
    assert a.store.current_generation() == generation
    assert check_index(root) == before
    assert leftovers(root) == []
    assert a.ask("Hiệp ước mới thay thế những văn kiện nào?").found
