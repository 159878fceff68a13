"""Concurrency: the chat keeps answering while an ingest runs, and two writers never interleave
(the second waits on the index's file lock, or stops with a clear one-line message).

Writers are real `rag ingest` subprocesses; the reader is an in-process Assistant, as in the
chat server."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import pytest

from rag.errors import IndexBusyError
from rag.pipeline import LOCK_WAIT_SECONDS, Assistant
from rag.settings import Settings
from rag.store import Store
from tests.rag.test_reliability_crash import (
    REPO,
    SEEDS,
    check_index,
    rag_cmd,
    rag_env,
    synthetic_articles,
    write_jsonl,
)

QUESTION = "Hiệp ước mới thay thế những văn kiện nào?"


@pytest.fixture()
def seeded(tmp_path: Path, tiny_model_dir: Path) -> tuple[Settings, set[str]]:
    settings = Settings.load(env={}, index_dir=tmp_path / "index", embed_model=str(tiny_model_dir))
    a = Assistant(settings)
    ids = set(a.ingest([SEEDS]).added_ids)
    a.close()
    return settings, ids


@pytest.mark.slow
def test_chat_keeps_answering_from_a_whole_snapshot_during_an_ingest(
    seeded, tiny_model_dir, tmp_path
):
    settings, base_ids = seeded
    batch = synthetic_articles(7, 25)
    jsonl = write_jsonl(tmp_path / "batch.jsonl", batch)
    reader = Assistant(settings)
    assert reader.ask(QUESTION).found  # warm: the model is loaded before the writer starts

    seen: list[tuple[str, int]] = []
    errors: list[BaseException] = []
    during = 0
    proc = subprocess.Popen(
        rag_cmd("ingest", str(jsonl), "--index", str(settings.index_dir), "--json"),
        cwd=REPO,
        env=rag_env(tiny_model_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    while proc.poll() is None:
        try:
            answer = reader.ask(QUESTION)
            info = reader.info()
            assert answer.found
            seen.append((info["generation"], info["articles"]))
            during += 1
        except BaseException as exc:  # noqa: BLE001 - every failure is a finding
            errors.append(exc)
    out, err = proc.communicate()
    assert proc.returncode == 0, err.decode()
    info = reader.info()
    seen.append((info["generation"], info["articles"]))
    reader.close()

    assert errors == []
    assert during > 0
    # Only whole states were ever visible: the old index, then the old plus the whole batch.
    counts = [n for _, n in seen]
    assert set(counts) <= {len(base_ids), len(base_ids) + len(batch)}, counts
    assert counts == sorted(counts), "a reader went back to an older state"
    assert counts[-1] == len(base_ids) + len(batch)
    ids = check_index(settings.index_dir)
    assert base_ids <= ids and len(ids) == len(base_ids) + json.loads(out)["added"]


@pytest.mark.slow
def test_two_ingests_at_once_never_interleave(seeded, tiny_model_dir, tmp_path):
    """Two `rag ingest` processes started together: each either completes (the second waited
    for the lock) or stops with the one-line busy message; the index holds whole batches."""
    settings, base_ids = seeded
    root = settings.index_dir
    batches = [synthetic_articles(20 + i, 12) for i in range(2)]
    files = [write_jsonl(tmp_path / f"b{i}.jsonl", b) for i, b in enumerate(batches)]
    procs = [
        subprocess.Popen(
            rag_cmd("ingest", str(f), "--index", str(root), "--json"),
            cwd=REPO,
            env=rag_env(tiny_model_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for f in files
    ]
    results = [p.communicate(timeout=600) for p in procs]
    ids = check_index(root)
    expected = len(base_ids)
    for proc, (out, err) in zip(procs, results, strict=True):
        if proc.returncode == 0:
            expected += json.loads(out)["added"]
        else:
            assert proc.returncode == 1, err
            errors = [line for line in err.splitlines() if line.startswith("error:")]
            assert errors == [
                f"error: another process is writing the index {root}: wait for it to finish "
                f"and try again"
            ], err
    assert base_ids <= ids and len(ids) == expected
    assert any(p.returncode == 0 for p in procs)


@pytest.mark.slow
def test_a_writer_that_holds_the_lock_stops_the_second_with_a_clear_message(
    seeded, tiny_model_dir, tmp_path
):
    settings, base_ids = seeded
    root = settings.index_dir
    jsonl = write_jsonl(tmp_path / "b.jsonl", synthetic_articles(30, 3))
    with Store(root).lock():
        t0 = time.monotonic()
        proc = subprocess.run(
            rag_cmd("ingest", str(jsonl), "--index", str(root)),
            cwd=REPO,
            env=rag_env(tiny_model_dir),
            capture_output=True,
            text=True,
            timeout=600,
        )
        waited = time.monotonic() - t0
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: another process is writing the index {root}: wait for it to finish and try again"
    )
    assert "Traceback" not in proc.stderr
    assert waited >= LOCK_WAIT_SECONDS  # it waited for the lock before giving up
    assert check_index(root) == base_ids  # untouched


def test_writers_in_one_process_exclude_each_other(seeded, tmp_path):
    """The lock also holds between threads (the chat's upload and a delete at once): a writer
    that cannot get it in time raises IndexBusyError and changes nothing."""
    settings, base_ids = seeded
    root = settings.index_dir
    holder_has_lock = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with Store(root).lock():
            holder_has_lock.set()
            release.wait(30)

    t = threading.Thread(target=hold)
    t.start()
    holder_has_lock.wait(10)
    try:
        with pytest.raises(IndexBusyError), Store(root).lock(timeout=0.2):
            pass
    finally:
        release.set()
        t.join()
    a = Assistant(settings)
    report = a.ingest([write_jsonl(tmp_path / "x.jsonl", synthetic_articles(31, 2))])
    victim = next(iter(base_ids))
    assert a.delete(victim)
    a.close()
    assert check_index(root) == (base_ids - {victim}) | set(report.added_ids)
