"""Crash safety of index updates: `rag ingest` is SIGKILLed at random points, many times.

After every kill the index must load, FAISS vectors, SQLite rows and BM25 documents must agree
row for row, no article may be half-indexed, and a rerun must finish the work. The kills are real
(subprocesses of the real CLI, real FAISS, SQLite, bm25s and a tiny sentence-transformers model);
half of them are aimed at the write phase (when the writer's temporary generation folder
appears), the rest land anywhere in the process's life.

The default suite runs a short loop (``slow``); set RAG_KILLS=40 for the long loop by hand:

    RAG_KILLS=40 .venv/bin/python -m pytest tests/rag/test_reliability_crash.py -m slow -s
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rag.chunk import chunk_article, passage_for_embedding
from rag.errors import IndexCorruptError
from rag.pipeline import Assistant
from rag.settings import Settings
from rag.store import Store

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"


# ---- shared helpers (the concurrency tests import these) ---------------------------------------
def synthetic_articles(batch: int, n: int, seed: int = 0) -> list[dict]:
    """``n`` distinct Vietnamese articles made of seed paragraphs, each with its own marker
    sentence so that every article has its own content id."""
    rng = random.Random(seed * 1000 + batch)
    paragraphs = [
        line.strip()
        for p in sorted(SEEDS.glob("*.txt"))
        for line in p.read_text(encoding="utf-8").splitlines()
        if len(line.strip()) > 60
    ]
    out = []
    for i in range(n):
        body = rng.sample(paragraphs, k=min(len(paragraphs), rng.randint(3, 7)))
        marker = f"Đây là bản tin số {batch}-{i} của đợt thử nghiệm độ bền."
        out.append(
            {
                "id": f"b{batch}-{i}",
                "title": f"Bản tin thử nghiệm {batch}-{i}",
                "text": "\n".join([marker, *body]),
                "source": f"test://batch{batch}/{i}",
            }
        )
    return out


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )
    return path


def rag_env(model_dir: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"})
    if model_dir is not None:
        env["RAG_EMBED_MODEL"] = str(model_dir)
    return env


def rag_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "rag.cli", *args]


def check_index(root: Path, encoder=None, sample: int = 4) -> set[str] | None:
    """Assert that the index at ``root`` is whole; return its article ids (None: no index).

    Checks, independently of Store.open's own checks: in every segment the row numbers are
    0..n-1 with no gap, FAISS holds exactly n vectors and BM25 n documents; the manifest's
    live counts match; every article's stored passages are exactly what chunking its stored
    text gives (so none is half-indexed), and, with an encoder, that each sampled live
    position's vector is the embedding of its passage.
    """
    store = Store(root)
    if not store.exists():
        return None
    snap = store.open()  # raises IndexCorruptError if anything disagrees
    try:
        listed = {e["name"] for e in snap.manifest["segments"]}
        assert listed == {s.name for s in snap.segments}
        for seg in snap.segments:
            n = seg.size
            count, lo, hi = seg.row_span()
            assert count == n and lo == 0 and hi == n - 1, (seg.name, count, lo, hi, n)
            assert seg.bm25.size == n
            if snap.model is not None:
                assert seg.faiss.ntotal == n
        live = [r for r in range(snap.size) if not snap.is_deleted(r)]
        assert len(live) == snap.live == snap.bm25.live
        settings = snap.manifest["settings"]
        ids = set()
        for meta in snap.articles():
            article = snap.article(meta["id"])
            expected = [
                (c.index, c.start, c.end, c.text)
                for c in chunk_article(article, settings["chunk_size"], settings["chunk_overlap"])
            ]
            stored = sorted(
                (c.chunk.index, c.chunk.start, c.chunk.end, c.chunk.text)
                for c in snap.chunks(snap.rows_of([meta["id"]]))
            )
            assert stored == expected, f"article {meta['id']} half-indexed"
            assert meta["id"] not in ids, f"article {meta['id']} twice"
            ids.add(meta["id"])
        assert len(ids) == snap.manifest["counts"]["articles"]
        if encoder is not None and snap.model is not None and live:
            rows = sorted(random.Random(len(live)).sample(live, k=min(sample, len(live))))
            chunks = [sc.chunk for sc in snap.chunks(rows)]
            fresh = encoder.encode_passages([passage_for_embedding(c) for c in chunks])
            stored_vecs = np.stack([snap.faiss.reconstruct(int(r)) for r in rows])
            cos = np.sum(fresh * stored_vecs, axis=1)
            assert np.all(cos > 0.99), f"vectors do not match their rows: {cos}"
        return ids
    finally:
        snap.close()


def leftovers(root: Path) -> list[str]:
    """Temporary files a dead writer left behind, and segments no generation lists (the next
    writer sweeps them)."""
    listed = set()
    for g in root.glob("gen-[0-9]*"):
        try:
            listed |= {e["name"] for e in json.loads((g / "manifest.json").read_text())["segments"]}
        except (OSError, ValueError):
            pass
    orphans = [p.name for p in (root / "segments").glob("seg-*") if p.name not in listed]
    return (
        sorted(p.name for p in root.glob(".tmp-gen-*"))
        + sorted(p.name for p in root.glob(".CURRENT.*"))
        + sorted(p.name for p in (root / "segments").glob(".tmp-seg-*"))
        + sorted(orphans)
    )


# ---- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_encoder(tiny_model_dir: Path):
    from embeddings.encoder import load_encoder

    return load_encoder(str(tiny_model_dir), fallback=False)


@pytest.fixture()
def base_index(tmp_path: Path, tiny_model_dir: Path) -> tuple[Path, set[str]]:
    """A committed index of the five seeds, built in-process with the tiny model."""
    root = tmp_path / "index"
    settings = Settings.load(env={}, index_dir=root, embed_model=str(tiny_model_dir))
    assistant = Assistant(settings)
    report = assistant.ingest([SEEDS])
    assistant.close()
    return root, set(report.added_ids)


# ---- fast tests: the store's own recovery, no subprocess ---------------------------------------
def test_leftovers_of_a_dead_writer_are_swept_and_ignored(base_index, tiny_model_dir, tmp_path):
    """What a writer killed mid-write leaves (a temporary generation, a pointer file, an
    uncommitted generation folder) is never read, and the next writer cleans it up."""
    root, ids = base_index
    live = Store(root).current_generation()
    (root / ".tmp-gen-000009-4242").mkdir()
    (root / ".tmp-gen-000009-4242" / "rows.sqlite").write_bytes(b"half a database")
    (root / ".CURRENT.4242").write_text("gen-000009\n")
    orphan = root / "gen-000007"  # renamed into place, but CURRENT was never switched
    shutil.copytree(root / live, orphan)
    (orphan / "manifest.json").write_text("{not json")
    # A segment written but never listed by a committed manifest, and one half written.
    segs = root / "segments"
    (segs / ".tmp-seg-000042-4242").mkdir()
    (segs / ".tmp-seg-000042-4242" / "rows.sqlite").write_bytes(b"half a database")
    orphan_seg = segs / "seg-000041"
    shutil.copytree(next(segs.glob("seg-*")), orphan_seg)
    assert check_index(root) == ids
    assert Store(root).current_generation() == live

    settings = Settings.load(env={}, index_dir=root, embed_model=str(tiny_model_dir))
    assistant = Assistant(settings)
    jsonl = write_jsonl(tmp_path / "more.jsonl", synthetic_articles(1, 3))
    report = assistant.ingest([jsonl])
    assistant.close()
    assert report.added == 3
    assert leftovers(root) == []
    assert not orphan.exists(), "an uncommitted generation folder was left behind"
    assert not orphan_seg.exists(), "an uncommitted segment was left behind"
    assert check_index(root) == ids | set(report.added_ids)


def test_rebuild_keeps_the_old_index_until_the_new_one_is_complete(
    base_index, tiny_model_dir, tmp_path
):
    """`--rebuild` builds the new index beside the old one: a reader that loaded the old one
    keeps answering, and the old generation stays current until the new one commits."""
    root, ids = base_index
    settings = Settings.load(env={}, index_dir=root, embed_model=str(tiny_model_dir))
    reader = Assistant(settings)
    before = reader.ask("Hiệp ước mới thay thế những văn kiện nào?")
    assert before.found
    writer = Assistant(settings)
    jsonl = write_jsonl(tmp_path / "only.jsonl", synthetic_articles(2, 2))
    report = writer.ingest([jsonl], rebuild=True)
    writer.close()
    assert check_index(root) == set(report.added_ids)
    # The reader sees the new generation on its next question, and nothing fails in between.
    after = reader.ask("Hiệp ước mới thay thế những văn kiện nào?")
    assert {c.article_id for c in after.citations} <= set(report.added_ids)
    reader.close()


# ---- the kill loop -----------------------------------------------------------------------------
def _wait_for_write_phase(root: Path, proc: subprocess.Popen, deadline: float) -> float | None:
    """Poll until this writer's temporary segment or generation folder appears (named with its
    pid: a dead writer's leftover does not count); its time, or None if the process ended
    first."""
    while time.monotonic() < deadline:
        if any(root.glob(f"segments/.tmp-seg-*-{proc.pid}")) or any(
            root.glob(f".tmp-gen-*-{proc.pid}")
        ):
            return time.monotonic()
        if proc.poll() is not None:
            return None
        time.sleep(0.002)
    return None


def kill_loop(
    root: Path,
    base_ids: set[str],
    model_dir: Path,
    work: Path,
    kills: int,
    encoder=None,
    seed: int = 7,
) -> dict:
    """SIGKILL `rag ingest` ``kills`` times; check the index after each; rerun at the end."""
    rng = random.Random(seed)
    env = rag_env(model_dir)
    committed = set(base_ids)
    batches: list[Path] = []
    stats = {"kills": 0, "write_phase_kills": 0, "finished_before_kill": 0, "states": []}
    lifetime = 20.0  # refined from the runs that finish
    # How long after the temporary generation appears to kill: learned, so that write-phase
    # kills straddle the commit (a kill that lands after the commit halves it, one before
    # it grows it).
    write_delay = 0.05
    aims = ("write", "anytime", "write-start")
    for i in range(kills):
        records = synthetic_articles(100 + i, rng.randint(6, 12), seed=seed)
        jsonl = write_jsonl(work / f"batch{i}.jsonl", records)
        batches.append(jsonl)
        t0 = time.monotonic()
        proc = subprocess.Popen(
            rag_cmd("ingest", str(jsonl), "--index", str(root), "--json"),
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        aim = aims[i % len(aims)]
        if aim.startswith("write"):
            seen = _wait_for_write_phase(root, proc, t0 + 300)
            if seen is not None:
                lifetime = (seen - t0) * 1.1 + 1.0
                if aim == "write":
                    time.sleep(rng.uniform(0, 2 * write_delay))
        else:
            end = t0 + rng.uniform(0.2, lifetime)
            while time.monotonic() < end and proc.poll() is None:
                time.sleep(0.01)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=120)
        if proc.returncode == -signal.SIGKILL:
            stats["kills"] += 1
            stats["write_phase_kills"] += aim.startswith("write")
        else:
            assert proc.returncode == 0, err.decode()
            stats["finished_before_kill"] += 1
            lifetime = max(lifetime * 0.5, time.monotonic() - t0)
        # The index always loads, agrees with itself, and is exactly a committed state: the
        # old one, or the old one plus this whole batch (never part of an article or batch).
        ids = check_index(root, encoder)
        assert ids is not None
        new = ids - committed
        assert committed <= ids, "a kill lost committed articles"
        if new:
            assert len(new) == len(records), f"batch {i} half-committed: {len(new)}/{len(records)}"
        stats["states"].append(f"{aim}:{'new' if new else 'old'}")
        if aim == "write":
            write_delay = write_delay * 0.5 if new else write_delay * 1.5
        committed = ids
    # A rerun completes the work: every batch, once, and nothing left behind.
    t0 = time.monotonic()
    proc = subprocess.run(
        rag_cmd("ingest", *map(str, batches), "--index", str(root), "--json"),
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    stats["rerun_seconds"] = round(time.monotonic() - t0, 1)
    ids = check_index(root, encoder, sample=8)
    expected = sum(len(b.read_text(encoding="utf-8").splitlines()) for b in batches)
    assert len(ids) == len(base_ids) + expected
    assert base_ids <= ids
    assert leftovers(root) == []
    gens = [p.name for p in root.glob("gen-[0-9]*")]
    assert len(gens) <= 2, gens
    stats["articles"] = len(ids)
    stats["lost"] = 0
    return stats


@pytest.mark.slow
def test_sigkill_during_ingest_never_corrupts_the_index(
    base_index, tiny_model_dir, tiny_encoder, tmp_path
):
    root, base_ids = base_index
    kills = int(os.environ.get("RAG_KILLS", "6"))
    stats = kill_loop(root, base_ids, tiny_model_dir, tmp_path, kills, encoder=tiny_encoder)
    print(f"\nkill loop: {json.dumps(stats)}")
    assert stats["kills"] >= 1


@pytest.mark.slow
def test_sigkill_during_first_ingest_leaves_no_index_or_a_whole_one(tiny_model_dir, tmp_path):
    """A kill during the very first ingest leaves either no index (a clear 'run rag ingest'
    message) or a whole one, never a broken directory."""
    root = tmp_path / "index"
    jsonl = write_jsonl(tmp_path / "first.jsonl", synthetic_articles(1, 8))
    proc = subprocess.Popen(
        rag_cmd("ingest", str(jsonl), "--index", str(root)),
        cwd=REPO,
        env=rag_env(tiny_model_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_for_write_phase(root, proc, time.monotonic() + 300)
    proc.kill()
    proc.wait()
    ids = check_index(root)
    assert ids is None or len(ids) == 8
    ask = subprocess.run(
        rag_cmd("ask", "Hiệp ước mới thay thế những văn kiện nào?", "--index", str(root)),
        cwd=REPO,
        env=rag_env(tiny_model_dir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if ids is None:
        assert ask.returncode == 1
        errors = [line for line in ask.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "rag ingest" in errors[0], ask.stderr
    else:
        assert ask.returncode == 0, ask.stderr


def test_corrupt_index_messages_say_how_to_rebuild(base_index):
    """Missing manifest, truncated FAISS file, SQLite that disagrees: each is one clear error
    naming the rebuild command, never a traceback from FAISS or SQLite."""
    root, _ = base_index
    manifest_dir = root / Store(root).current_generation()
    gen = next((root / "segments").glob("seg-*"))  # the segment's files
    backup = root.parent / "backup"
    shutil.copytree(root, backup)

    def restore():
        shutil.rmtree(root)
        shutil.copytree(backup, root)

    damages = {
        "missing manifest": lambda: (manifest_dir / "manifest.json").unlink(),
        "damaged manifest": lambda: (manifest_dir / "manifest.json").write_text('{"format": 2, "'),
        "truncated FAISS": lambda: (gen / "vectors.faiss").write_bytes(
            (gen / "vectors.faiss").read_bytes()[:1000]
        ),
        "missing FAISS": lambda: (gen / "vectors.faiss").unlink(),
        "SQLite mismatch": lambda: _sql(
            gen, "DELETE FROM chunks WHERE row = (SELECT MAX(row) FROM chunks)"
        ),
        "SQLite garbage": lambda: (gen / "rows.sqlite").write_bytes(b"\0" * 4096),
        "missing SQLite": lambda: (gen / "rows.sqlite").unlink(),
        "BM25 damaged": lambda: [p.write_text("{") for p in (gen / "bm25").glob("*.npy")],
        "BM25 missing": lambda: shutil.rmtree(gen / "bm25"),
        "missing segment": lambda: shutil.rmtree(gen),
    }
    for name, damage in damages.items():
        damage()
        with pytest.raises(IndexCorruptError) as err:
            Store(root).open()
        message = str(err.value)
        assert "\n" not in message, name
        assert "rag ingest --rebuild" in message, (name, message)
        assert str(root) in message, name
        restore()
    assert Store(root).open().size > 0


def _sql(gen: Path, statement: str) -> None:
    import sqlite3

    db = sqlite3.connect(gen / "rows.sqlite")
    with db:
        db.execute(statement)
    db.close()


# ---- rag embed --build-index -------------------------------------------------------------------
def embed_kill_loop(work: Path, model_dir: Path, kills: int, seed: int = 11) -> dict:
    """SIGKILL `rag embed --build-index` (then `--resume --build-index`) at random points: the
    job's index is never half-built, and once built it stays whole through later rebuilds."""
    rng = random.Random(seed)
    records = synthetic_articles(500, 24, seed=seed)
    jsonl = write_jsonl(work / "embed-in.jsonl", records)
    out = work / "embed-out"
    index = out / "index"
    env = rag_env(model_dir)
    stats = {"kills": 0, "finished_before_kill": 0, "states": []}
    lifetime = 20.0
    built = False

    def command() -> list[str]:
        resume = ["--resume"] if (out / "job.json").exists() else []
        return rag_cmd(
            "embed", str(jsonl), "--out", str(out), "--build-index", "--shard-size", "16", *resume
        )

    for i in range(kills):
        t0 = time.monotonic()
        proc = subprocess.Popen(
            command(), cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        aim = "write" if i % 2 == 0 else "anytime"
        if aim == "write":
            seen = _wait_for_write_phase(index, proc, t0 + 300)
            if seen is not None:
                lifetime = (seen - t0) * 1.1 + 1.0
                time.sleep(rng.uniform(0, 0.2))
        else:
            end = t0 + rng.uniform(0.2, lifetime)
            while time.monotonic() < end and proc.poll() is None:
                time.sleep(0.01)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=120)
        if proc.returncode == -signal.SIGKILL:
            stats["kills"] += 1
        else:
            assert proc.returncode == 0, err.decode()
            stats["finished_before_kill"] += 1
        ids = check_index(index) if index.exists() else None
        if built:
            assert ids is not None and len(ids) == len(records), "a rebuild lost the index"
        elif ids is not None:
            assert len(ids) == len(records), f"index half-built: {len(ids)}/{len(records)}"
        built = built or ids is not None
        stats["states"].append(f"{aim}:{'built' if ids else 'none'}")
    proc = subprocess.run(command(), cwd=REPO, env=env, capture_output=True, timeout=900)
    assert proc.returncode == 0, proc.stderr.decode()
    ids = check_index(index)
    assert ids is not None and len(ids) == len(records)
    assert leftovers(index) == []
    stats["articles"] = len(ids)
    return stats


@pytest.mark.slow
def test_sigkill_during_embed_build_index_never_leaves_a_broken_index(tiny_model_dir, tmp_path):
    kills = int(os.environ.get("RAG_EMBED_KILLS", "4"))
    stats = embed_kill_loop(tmp_path, tiny_model_dir, kills)
    print(f"\nembed kill loop: {json.dumps(stats)}")


# ---- merges under SIGKILL ----------------------------------------------------------------------
def _answers(root: Path, model_dir: Path) -> list:
    settings = Settings.load(env={}, index_dir=root, embed_model=str(model_dir))
    a = Assistant(settings)
    try:
        return [
            [((h.chunk.article_id, h.chunk.index), round(h.score, 5)) for h in a.search(q, k=5)]
            for q in ("Hiệp ước mới thay thế những văn kiện nào?", "lao động Donbas")
        ]
    finally:
        a.close()


def test_sigkill_during_merges_never_corrupts_the_index(base_index, tiny_model_dir, tmp_path):
    """`rag index optimize --full` SIGKILLed while it writes the merged segment, between the
    segment and the manifest, around the commit, and at random: after every kill the index is
    whole, holds the same articles and gives the same answers; a rerun finishes the merge and
    leaves no orphan segment."""
    root, ids = base_index
    settings = Settings.load(env={}, index_dir=root, embed_model=str(tiny_model_dir))
    rng = random.Random(5)
    env = rag_env(tiny_model_dir)
    aims = ("segment", "manifest", "commit", "anytime")
    kills = 0
    for i in range(int(os.environ.get("RAG_MERGE_KILLS", "4"))):
        writer = Assistant(settings)
        for j in range(3):  # more segments to merge, and a tombstone
            batch = write_jsonl(
                tmp_path / f"m{i}-{j}.jsonl", synthetic_articles(500 + 10 * i + j, 2)
            )
            report = writer.ingest([batch])
            ids |= set(report.added_ids)
        victim = sorted(ids)[i]
        assert writer.delete(victim)
        ids.discard(victim)
        writer.close()
        before = _answers(root, tiny_model_dir)
        gen = Store(root).current_generation()
        proc = subprocess.Popen(
            rag_cmd("index", "optimize", "--full", "--index", str(root), "--json"),
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        aim = aims[i % len(aims)]
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if aim == "segment" and any(root.glob(f"segments/.tmp-seg-*-{proc.pid}")):
                break
            if aim == "manifest" and any(root.glob(f".tmp-gen-*-{proc.pid}")):
                break
            if aim == "commit" and Store(root).current_generation() != gen:
                break
            if aim == "anytime" and time.monotonic() > deadline - 120 + rng.uniform(0.5, 4):
                break
            time.sleep(0.001)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.communicate(timeout=60)
        assert check_index(root) == ids, aim
        assert _answers(root, tiny_model_dir) == before, aim
    rerun = subprocess.run(
        rag_cmd("index", "optimize", "--full", "--index", str(root), "--json"),
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert rerun.returncode == 0, rerun.stderr.decode()
    assert json.loads(rerun.stdout)["segments"] == 1
    # The next writer sweeps what the killed merges left.
    writer = Assistant(settings)
    report = writer.ingest([write_jsonl(tmp_path / "last.jsonl", synthetic_articles(900, 1))])
    writer.close()
    assert check_index(root) == ids | set(report.added_ids)
    assert leftovers(root) == []
    assert kills >= 1
