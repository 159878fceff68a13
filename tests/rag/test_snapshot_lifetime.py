"""Snapshot lifetimes: a reader keeps the generation it started with until it is done, and a
superseded generation is closed (SQLite, FAISS, BM25 dropped) when its last reader finishes.

Real index (tiny model, FAISS, SQLite, bm25s); writes through the Assistant as the server does.
"""

from __future__ import annotations

import gc
import os
import threading
from pathlib import Path

from rag.pipeline import Assistant
from rag.store import Snapshot
from rag.types import Article

QUESTION = "Hiệp ước mới thay thế những văn kiện nào?"


def extra_article(i: int) -> Article:
    text = (
        f"Hiệp ước mới số {i} thay thế những văn kiện cũ về biên giới. "
        f"Văn kiện {i} được ký tại Hà Nội sau nhiều vòng đàm phán."
    )
    return Article(f"extra-{i}", f"Hiệp ước số {i}", text, f"extra-{i}.txt", None)


def open_index_files(root: Path) -> list[str]:
    """Paths under ``root`` that this process holds open (deleted ones included)."""
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(root.resolve())):
            out.append(target)
    return out


def live_snapshots() -> list[Snapshot]:
    gc.collect()
    return [o for o in gc.get_objects() if isinstance(o, Snapshot) and not o.closed]


def test_a_lease_outlives_commits_and_the_last_reader_closes_the_old_snapshot(
    seeded_assistant: Assistant,
):
    a = seeded_assistant
    holder = a._snapshots
    with holder.lease() as old:
        n_old = len(old.articles())
        for i in range(3):  # three commits, so the leased generation's folder is even pruned
            a.ingest_articles([extra_article(i)])
            with holder.lease() as new:
                assert new is not old and len(new.articles()) == n_old + i + 1
        assert not (old.gen_dir).exists()  # pruned on disk, still readable from open files
        assert not old.closed
        assert len(old.articles()) == n_old
        assert old.chunks([0])[0].row == 0
        assert old.faiss is not None and old.bm25 is not None
    assert old.closed and old.faiss is None and old.bm25 is None
    # Only the current generation stays open: one SQLite file per live segment, nothing deleted.
    files = open_index_files(a.store.root)
    assert all("(deleted)" not in f for f in files), files
    live = {f"{s.gen_dir}/rows.sqlite" for s in holder.peek().segments}
    assert {f for f in files if f.endswith("rows.sqlite")} == live, files
    assert live_snapshots() == [holder.peek()]


def test_asks_during_commits_never_fail_and_never_mix_generations(seeded_assistant: Assistant):
    """20 threads ask while 20 commits (10 adds, 10 deletes) switch generations."""
    a = seeded_assistant
    a.ask(QUESTION)  # warm: model and snapshot loaded
    seeds = {x["id"] for x in a.articles()}
    alive: list[set[str]] = [set(seeds)]
    errors: list[BaseException] = []
    answers: list = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            try:
                answers.append(a.ask(QUESTION, top_k=8))
            except BaseException as exc:  # noqa: BLE001 - every failure is a finding
                errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(20)]
    for t in threads:
        t.start()
    try:
        for i in range(10):
            a.ingest_articles([extra_article(i)])
            alive.append(seeds | {f"extra-{i}"})
            assert a.delete(f"extra-{i}")
            alive.append(set(seeds))
    finally:
        done.set()
        for t in threads:
            t.join(60)
    assert errors == []
    assert len(answers) > 20
    for answer in answers:
        cited = {c.article_id for c in answer.citations}
        assert any(cited <= ids for ids in alive), cited
    assert len(live_snapshots()) == 1
