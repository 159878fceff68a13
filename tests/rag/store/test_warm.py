"""rag.store.warm: a snapshot's segment files read through, vectors first, within a budget;
a file that is gone is skipped; a stop ends it."""

from __future__ import annotations

import threading

from rag.store import Store
from rag.store.warm import available_memory, segment_files, warm


def test_the_files_of_every_segment_are_read_vectors_first(three_segments: Store):
    snap = three_segments.open()
    try:
        dirs = [seg.gen_dir for seg in snap.segments]
    finally:
        snap.close()
    files = segment_files(dirs)
    assert [f.name for f in files[: len(dirs)]] == ["vectors.faiss"] * len(dirs)
    assert {f.parent.name for f in files if f.suffix == ".npy"} == {"bm25"}
    assert files[-1].name == "rows.sqlite" and all(f.exists() for f in files)
    total = sum(f.stat().st_size for f in files)
    assert warm(files, budget=10 * total) == total
    first = files[0].stat().st_size
    assert warm(files, budget=first + 10) == first + 10  # stops at the budget
    gone = files[1].stat().st_size
    files[1].unlink()  # a merge removed a segment meanwhile
    assert warm(files, budget=10 * total) == total - gone
    stop = threading.Event()
    stop.set()
    assert warm(files, budget=10 * total, stop=stop) == 0
    assert available_memory() > 0


def test_an_assistant_warms_its_index_and_an_empty_one_reads_nothing(tmp_path, three_segments):
    from rag.pipeline import Assistant
    from rag.settings import Settings

    files = [p for p in (three_segments.root / "segments").rglob("*") if p.is_file()]
    snap = three_segments.open()
    live = segment_files([seg.gen_dir for seg in snap.segments])
    snap.close()
    assistant = Assistant(Settings.load(env={}, index_dir=three_segments.root))
    try:
        done = assistant.warm(wait=True)
    finally:
        assistant.close()
    assert done == sum(p.stat().st_size for p in live if p.exists()) > 0
    assert done <= sum(p.stat().st_size for p in files)
    empty = Assistant(Settings.load(env={}, index_dir=tmp_path / "none"))
    assert empty.warm(wait=True) == 0
    empty.close()
