"""The embedding-only batch job (rag.jobs): shards, manifest, bad records, float16, resume,
--build-index, settings from the environment.

Real sentence-transformers on the tiny local model, real Parquet, real FAISS/SQLite for the index.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from embeddings.backends import on_cpu, resolve_backend
from rag.errors import InputError
from rag.jobs import EmbedJob, build_index, read_shards, run_job, vectors_of
from tests.news_corpus import BAD_LINES, corpus_records

REPO = Path(__file__).resolve().parents[3]


def make_job(inputs, out: Path, model: Path, **kw) -> EmbedJob:
    kw = {"chunk_size": 300, "chunk_overlap": 50, "shard_size": 8, "batch_size": 4, **kw}
    return EmbedJob(inputs=tuple(str(p) for p in inputs), out_dir=out, model=str(model), **kw)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, corpus_jsonl, tiny_model_dir):
    """One uninterrupted float32 run over the corpus: the reference the other tests compare to."""
    job = make_job([corpus_jsonl], tmp_path_factory.mktemp("ref") / "out", tiny_model_dir)
    report = run_job(job, progress=False)
    return job, report, read_shards(job.out_dir)


def test_shards_hold_every_passage_with_unit_vectors(finished):
    job, report, table = finished
    assert table.column_names == [
        "id", "article_id", "chunk", "text_sha1", "start", "end", "text", "article", "embedding"
    ]  # fmt: skip
    assert table.schema.field("embedding").type == pa.list_(pa.float32(), 32)
    assert report.records == table.num_rows > 3 * job.shard_size
    assert report.shards == math.ceil(report.records / job.shard_size)
    files = sorted((job.out_dir / "shards").glob("part-*.parquet"))
    assert [f.name for f in files] == [f"part-{i:05d}.parquet" for i in range(report.shards)]
    ids = table.column("id").to_pylist()
    assert len(set(ids)) == len(ids)
    for id_, article, chunk in zip(
        ids, table.column("article_id").to_pylist(), table.column("chunk").to_pylist(), strict=True
    ):
        assert id_ == f"{article}:{chunk}"
    norms = np.linalg.norm(vectors_of(table), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_manifest_says_what_was_made(finished, tiny_model_dir):
    job, report, _ = finished
    m = json.loads((job.out_dir / "manifest.json").read_text())
    assert m["model"] == str(tiny_model_dir)
    assert m["dim"] == 32
    # The default backend is "auto": the manifest names what it ran on this CPU.
    ran = resolve_backend("auto", cpu=on_cpu(None))
    assert m["dtype"] == "float32" and m["backend"] == ran and m["engine"] == "local"
    assert m["chunking"] == {"chunk_size": 300, "chunk_overlap": 50}
    assert m["passage_prompt"] == "" and m["query_prompt"] == ""
    assert m["counts"]["records"] == report.records
    assert m["counts"]["articles"] == len(corpus_records(REPO / "seeds"))
    assert m["counts"]["skipped"] == len(BAD_LINES)
    assert m["timings"]["records_encoded"] == report.records
    assert m["timings"]["records_per_second"] > 0
    assert m["complete"] is True


def test_bad_records_are_listed_by_line_number(finished):
    job, report, _ = finished
    rows = [json.loads(line) for line in (job.out_dir / "skipped.jsonl").read_text().splitlines()]
    assert {r["line"]: r["reason"].split(" (")[0] for r in rows} == BAD_LINES
    assert all(r["source"].endswith("news.jsonl") for r in rows)
    assert report.skipped == len(BAD_LINES)


def test_passages_are_the_ones_ingest_makes(finished, corpus_jsonl):
    """Same load, clean and chunk code as `rag ingest`: the same chunk ids and text hashes."""
    import hashlib

    from rag.chunk import chunk_article
    from rag.load import load_paths
    from rag.types import Article

    job, _, table = finished
    expected = [
        (c.id, hashlib.sha1(c.text.encode()).hexdigest())
        for a in load_paths([corpus_jsonl])
        if isinstance(a, Article)
        for c in chunk_article(a, 300, 50)
    ]
    got = list(
        zip(table.column("id").to_pylist(), table.column("text_sha1").to_pylist(), strict=True)
    )
    assert got == expected


def test_float16_output(tmp_path, corpus_jsonl, tiny_model_dir, finished):
    _, _, ref = finished
    job = make_job([corpus_jsonl], tmp_path / "f16", tiny_model_dir, dtype="float16")
    run_job(job, progress=False)
    table = read_shards(job.out_dir)
    assert table.schema.field("embedding").type == pa.list_(pa.float16(), 32)
    assert table.column("id").to_pylist() == ref.column("id").to_pylist()
    v16 = vectors_of(table)
    assert v16.dtype == np.float16
    np.testing.assert_allclose(v16.astype(np.float32), vectors_of(ref), atol=1e-3)


def test_stopped_job_resumes_to_the_same_result(tmp_path, corpus_jsonl, tiny_model_dir, finished):
    _, report, ref = finished
    job = make_job([corpus_jsonl], tmp_path / "out", tiny_model_dir)
    first = run_job(job, progress=False, stop_after_shards=2)
    assert not (job.out_dir / "manifest.json").exists()
    assert len(list((job.out_dir / "shards").glob("part-*.parquet"))) == 2
    assert first.manifest["complete"] is False
    done = run_job(job, resume=True, progress=False)
    assert done.shards_reused == 2
    assert done.manifest["timings"]["shards_encoded"] == report.shards - 2
    assert read_shards(job.out_dir).equals(ref)


def test_resume_of_a_finished_job_encodes_nothing(tmp_path, corpus_jsonl, tiny_model_dir):
    job = make_job([corpus_jsonl], tmp_path / "out", tiny_model_dir)
    run_job(job, progress=False)
    before = {p.name: p.stat().st_mtime_ns for p in (job.out_dir / "shards").iterdir()}
    again = run_job(job, resume=True, progress=False)
    assert again.shards_reused == again.shards
    assert again.manifest["timings"]["shards_encoded"] == 0
    assert {p.name: p.stat().st_mtime_ns for p in (job.out_dir / "shards").iterdir()} == before


def test_resume_refuses_changed_settings(tmp_path, corpus_jsonl, tiny_model_dir):
    job = make_job([corpus_jsonl], tmp_path / "out", tiny_model_dir)
    run_job(job, progress=False, stop_after_shards=1)
    changed = make_job([corpus_jsonl], tmp_path / "out", tiny_model_dir, dtype="float16")
    with pytest.raises(InputError, match="cannot resume .*dtype"):
        run_job(changed, resume=True, progress=False)
    with pytest.raises(InputError, match="--resume"):
        run_job(job, progress=False)  # a fresh run must not overwrite a job silently


def test_resume_checks_the_inputs_by_content_not_by_date(
    tmp_path, corpus_jsonl, tiny_model_dir, finished
):
    """A copy or a restore from backup changes a file's date, not its records: resume goes on.
    An edit of the same size is caught by the shard checks (the result is a fresh run's over
    the new file); a file that grew is refused in one line naming it."""
    import shutil

    src = tmp_path / "news.jsonl"
    shutil.copy(corpus_jsonl, src)
    job = make_job([src], tmp_path / "out", tiny_model_dir)
    run_job(job, progress=False, stop_after_shards=1)
    os.utime(src, ns=(10**18, 10**18))
    report = run_job(job, resume=True, progress=False)
    assert report.shards_reused == 1
    assert read_shards(job.out_dir).equals(finished[2])

    data = src.read_bytes()
    at = data.rindex("Việt".encode())
    src.write_bytes(data[:at] + "Viẹt".encode() + data[at + len("Việt".encode()) :])
    assert src.stat().st_size == len(data)
    report = run_job(job, resume=True, progress=False)
    assert 0 < report.manifest["timings"]["shards_encoded"] < report.shards
    fresh = make_job([src], tmp_path / "fresh", tiny_model_dir)
    run_job(fresh, progress=False)
    assert read_shards(job.out_dir).equals(read_shards(fresh.out_dir))
    assert not read_shards(job.out_dir).equals(finished[2])

    with open(src, "a", encoding="utf-8") as fh:
        fh.write('{"title": "Tin mới", "text": "Một bài báo mới được thêm vào."}\n')
    with pytest.raises(InputError, match=r"cannot resume .*news\.jsonl changed size"):
        run_job(job, resume=True, progress=False)


def test_resume_redoes_a_damaged_shard(tmp_path, corpus_jsonl, tiny_model_dir, finished):
    _, _, ref = finished
    job = make_job([corpus_jsonl], tmp_path / "out", tiny_model_dir)
    run_job(job, progress=False)
    shard = job.out_dir / "shards" / "part-00001.parquet"
    shard.write_bytes(shard.read_bytes()[:100])  # truncated, as by a disk filling up
    again = run_job(job, resume=True, progress=False)
    assert again.manifest["timings"]["shards_encoded"] == 1
    assert read_shards(job.out_dir).equals(ref)


@pytest.mark.slow
def test_resume_after_sigkill_equals_uninterrupted_run(tmp_path, corpus_jsonl, tiny_model_dir):
    """Kill a real `rag embed` process with SIGKILL mid-job, then --resume: same rows, same
    vectors as a run that was never interrupted."""
    args = [
        sys.executable, "-m", "rag.cli", "embed", str(corpus_jsonl),
        "--model", str(tiny_model_dir), "--chunk-size", "300", "--chunk-overlap", "50",
        "--shard-size", "1", "--batch-size", "1",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    killed = tmp_path / "killed"
    proc = subprocess.Popen([*args, "--out", str(killed)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    shards = killed / "shards"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if shards.is_dir() and len(list(shards.glob("part-*.parquet"))) >= 3:
                break
            time.sleep(0.002)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    n_before = len(list(shards.glob("part-*.parquet")))
    assert not (killed / "manifest.json").exists(), "the job finished before it could be killed"
    assert n_before >= 3

    resumed = subprocess.run([*args, "--out", str(killed), "--resume", "--json"], cwd=REPO,
                             env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    manifest = json.loads(resumed.stdout)
    assert manifest["timings"]["shards_reused"] >= n_before - 1  # the one being renamed may redo
    assert not list(shards.glob(".part-*"))  # no temporary file left behind

    clean = tmp_path / "clean"
    done = subprocess.run([*args, "--out", str(clean)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    a, b = read_shards(killed), read_shards(clean)
    assert a.num_rows == b.num_rows == manifest["counts"]["records"]
    assert a.drop_columns(["embedding"]).equals(b.drop_columns(["embedding"]))
    np.testing.assert_array_equal(vectors_of(a), vectors_of(b))


def test_parquet_input_gives_the_same_vectors_as_jsonl(tmp_path, seeds_dir, tiny_model_dir):
    from tests.news_corpus import write_corpus

    records = corpus_records(seeds_dir)
    jsonl = write_corpus(tmp_path / "news.jsonl", seeds_dir)
    parquet = tmp_path / "news.parquet"
    rows = [*records[:2], {"id": "empty", "title": "t", "text": "", "source": "x"}, *records[2:]]
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    a = make_job([jsonl], tmp_path / "a", tiny_model_dir)
    b = make_job([parquet], tmp_path / "b", tiny_model_dir)
    run_job(a, progress=False)
    report = run_job(b, progress=False)
    assert read_shards(a.out_dir).equals(read_shards(b.out_dir))
    skipped = [json.loads(x) for x in (b.out_dir / "skipped.jsonl").read_text().splitlines()]
    assert [(s["line"], s["reason"]) for s in skipped] == [(3, "empty or missing 'text'")]
    assert report.skipped == 1


def test_parquet_without_a_text_column_is_one_skip_not_one_per_row(
    tmp_path, corpus_jsonl, tiny_model_dir, finished
):
    wrong = tmp_path / "wrong.parquet"
    pq.write_table(pa.table({"id": ["a", "b", "c"], "body": ["x", "y", "z"]}), wrong)
    job = make_job([wrong, corpus_jsonl], tmp_path / "out", tiny_model_dir)
    report = run_job(job, progress=False)
    skipped = [json.loads(x) for x in (job.out_dir / "skipped.jsonl").read_text().splitlines()]
    assert skipped[0]["source"] == str(wrong) and not skipped[0]["line"]
    assert skipped[0]["reason"].startswith("no 'text' column (it has: id, body)")
    assert report.skipped == 1 + len(BAD_LINES)  # the file once, then the corpus's bad lines
    assert read_shards(job.out_dir).equals(finished[2])  # the other input is embedded in full


def test_no_chunk_embeds_each_record_whole(tmp_path, corpus_jsonl, tiny_model_dir):
    job = make_job([corpus_jsonl], tmp_path / "out", tiny_model_dir, no_chunk=True)
    report = run_job(job, progress=False)
    table = read_shards(job.out_dir)
    assert report.records == report.articles == table.num_rows
    assert set(table.column("chunk").to_pylist()) == {0}
    assert json.loads((job.out_dir / "manifest.json").read_text())["chunking"] is None


def test_duplicate_articles_are_embedded_once(tmp_path, corpus_jsonl, tiny_model_dir):
    job = make_job([corpus_jsonl, corpus_jsonl.parent], tmp_path / "out", tiny_model_dir)
    report = run_job(job, progress=False)
    single = make_job([corpus_jsonl], tmp_path / "single", tiny_model_dir)
    run_job(single, progress=False)
    assert read_shards(job.out_dir).equals(read_shards(single.out_dir))
    assert report.duplicates == report.articles


def test_build_index_is_what_ingest_builds(tmp_path, corpus_jsonl, tiny_model_dir, finished):
    """--build-index writes the index `rag ingest` writes (rows, articles, BM25, vectors), and
    the assistant answers from it as is."""
    from rag.pipeline import Assistant
    from rag.settings import Settings
    from rag.store import Store

    job, _, _ = finished
    index = build_index(job, tmp_path / "from-embed")
    ingest_settings = Settings.load(
        env={}, index_dir=tmp_path / "from-ingest", embed_model=str(tiny_model_dir),
        chunk_size=300, chunk_overlap=50,
    )  # fmt: skip
    ingested = Assistant(ingest_settings)
    ingested.ingest([corpus_jsonl])
    ingested.close()
    a, b = Store(index).open(), Store(tmp_path / "from-ingest").open()
    try:
        assert a.model == b.model == str(tiny_model_dir)
        assert a.manifest["faiss_index"] == b.manifest["faiss_index"] == "flat"
        assert list(a.all_chunk_texts()) == list(b.all_chunk_texts())
        assert a.articles() == b.articles()
        np.testing.assert_allclose(a.vectors(), b.vectors(), atol=1e-5)
        assert a.manifest["counts"] == b.manifest["counts"]
    finally:
        a.close()
        b.close()

    assistant = Assistant(Settings.load(env={}, index_dir=index))
    try:
        answer = assistant.ask("Hiệp ước mới thay thế những văn kiện nào?")
        assert answer.citations
        assert assistant.info()["model_in_use"] == str(tiny_model_dir)
    finally:
        assistant.close()


def test_cli_embed_reports_and_builds_an_index(tmp_path, corpus_jsonl, tiny_model_dir):
    from click.testing import CliRunner

    from rag.cli import cli

    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        ["embed", str(corpus_jsonl), "--out", str(out), "--model", str(tiny_model_dir),
         "--chunk-size", "300", "--chunk-overlap", "50", "--dtype", "float16", "--build-index"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output and f"{corpus_jsonl}:3" in result.output
    assert (out / "index" / "CURRENT").exists()
    ask = CliRunner().invoke(cli, ["ask", "--index", str(out / "index"), "--json", "hiệp ước"])
    assert ask.exit_code == 0, ask.output
    assert json.loads(ask.stdout)["citations"]
    # --segment-rows: an index cut into smaller segments (at shard boundaries).
    again = CliRunner().invoke(
        cli,
        ["embed", str(corpus_jsonl), "--out", str(tmp_path / "small"), "--model",
         str(tiny_model_dir), "--chunk-size", "300", "--chunk-overlap", "50", "--shard-size", "8",
         "--build-index", "--segment-rows", "20", "--json"],
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    from rag.store import Store

    snap = Store(tmp_path / "small" / "index").open()
    try:
        assert len(snap.segments) >= 3 and all(s.size <= 40 for s in snap.segments)
    finally:
        snap.close()
    bad = CliRunner().invoke(
        cli, ["embed", str(corpus_jsonl), "--out", str(out), "--segment-rows", "0"]
    )
    assert bad.exit_code != 0 and "segment rows must be at least 1" in str(bad.exception)


def test_cli_embed_names_a_bad_model_in_one_line(tmp_path, corpus_jsonl):
    from click.testing import CliRunner

    from rag.cli import cli

    result = CliRunner().invoke(
        cli, ["embed", str(corpus_jsonl), "--out", str(tmp_path / "o"), "--model", str(tmp_path)]
    )
    from rag.errors import ModelLoadError

    assert result.exit_code != 0
    assert isinstance(result.exception, ModelLoadError)
    message = str(result.exception)
    assert "not a sentence-transformers model" in message and "--model" in message


def test_bf16_backend_stays_close_to_fp32(tmp_path, corpus_jsonl, tiny_model_dir, finished):
    _, _, ref = finished
    job = make_job([corpus_jsonl], tmp_path / "bf16", tiny_model_dir, backend="torch-bf16")
    run_job(job, progress=False)
    table = read_shards(job.out_dir)
    assert table.column("id").to_pylist() == ref.column("id").to_pylist()
    a, b = vectors_of(table), vectors_of(ref)
    assert ((a * b).sum(axis=1)).min() > 0.99
    assert json.loads((job.out_dir / "manifest.json").read_text())["backend"] == "torch-bf16"


def test_token_cap_is_part_of_the_job(tmp_path, corpus_jsonl, tiny_model_dir, finished):
    _, _, ref = finished
    job = make_job([corpus_jsonl], tmp_path / "out", tiny_model_dir, batch_tokens=64)
    run_job(job, progress=False, stop_after_shards=1)
    with pytest.raises(InputError, match="cannot resume .*batch_tokens"):
        run_job(make_job([corpus_jsonl], tmp_path / "out", tiny_model_dir), resume=True)
    report = run_job(job, resume=True, progress=False)
    assert report.manifest["batch_tokens"] == 64
    np.testing.assert_allclose(vectors_of(read_shards(job.out_dir)), vectors_of(ref), atol=1e-5)


def test_cli_embed_refuses_a_negative_token_cap_in_one_line(tmp_path, corpus_jsonl):
    from click.testing import CliRunner

    from rag.cli import cli

    out = tmp_path / "o"
    result = CliRunner().invoke(
        cli, ["embed", str(corpus_jsonl), "--out", str(out), "--batch-tokens", "-1"]
    )
    # rag.cli.main prints a RagError as one line (tests/rag/test_cli.py); here it is raised.
    assert result.exit_code != 0 and isinstance(result.exception, InputError)
    assert "batch tokens must be at least 0" in str(result.exception)
    assert not out.exists()


def test_cli_embed_refuses_a_file_as_out_and_leaves_it_alone(tmp_path, corpus_jsonl):
    from click.testing import CliRunner

    from rag.cli import cli

    existing = tmp_path / "notes.txt"
    existing.write_text("keep me", encoding="utf-8")
    for out, says in ((existing, "is a file"), (existing / "sub", "cannot create --out")):
        result = CliRunner().invoke(cli, ["embed", str(corpus_jsonl), "--out", str(out)])
        assert result.exit_code != 0 and isinstance(result.exception, InputError), result.output
        assert says in str(result.exception) and "\n" not in str(result.exception)
    assert existing.read_text(encoding="utf-8") == "keep me"


def test_build_index_of_inputs_without_passages_says_so(tmp_path, tiny_model_dir):
    source = tmp_path / "bad.jsonl"
    source.write_text('{"id": "a", "text": "  "}\nnot json\n', encoding="utf-8")
    job = make_job([source], tmp_path / "out", tiny_model_dir)
    report = run_job(job, progress=False)
    assert report.records == 0 and report.skipped == 2
    with pytest.raises(InputError, match=r"nothing to index: the inputs gave no passages \(2 rec"):
        build_index(job)
    assert not (job.out_dir / "index").exists()


def test_a_job_that_stopped_before_its_first_shard_can_change_settings(
    tmp_path, corpus_jsonl, tiny_model_dir, finished
):
    from rag.errors import ModelLoadError

    out = tmp_path / "out"
    with pytest.raises(ModelLoadError):  # not a sentence-transformers model: nothing encoded
        run_job(make_job([corpus_jsonl], out, tmp_path / "no-model"), progress=False)
    assert (out / "job.json").exists() and not list((out / "shards").iterdir())
    # The model is loaded before the inputs are read, so it fails fast.
    assert "planned_records" not in json.loads((out / "job.json").read_text())
    # The same folder with the right model, with or without --resume: a fresh job, nothing lost.
    job = make_job([corpus_jsonl], out, tiny_model_dir)
    run_job(job, progress=False)
    assert read_shards(out).equals(finished[2])
    assert json.loads((out / "job.json").read_text())["fingerprint"]["model"] == str(tiny_model_dir)


# ---- one pass over the inputs ------------------------------------------------------------------
def test_shards_hold_the_passages_and_their_articles(finished, corpus_jsonl):
    """Each row holds its passage (text, span) beside its vector, and an article's first row
    the article itself: the same articles and passages `rag ingest` makes."""
    import hashlib

    from rag.chunk import chunk_article
    from rag.load import load_paths
    from rag.types import Article

    _, _, table = finished
    articles = [a for a in load_paths([corpus_jsonl]) if isinstance(a, Article)]
    chunks = [c for a in articles for c in chunk_article(a, 300, 50)]
    rows = table.drop_columns(["embedding"]).to_pylist()
    assert [(r["text"], r["start"], r["end"]) for r in rows] == [
        (c.text, c.start, c.end) for c in chunks
    ]
    assert all(hashlib.sha1(r["text"].encode()).hexdigest() == r["text_sha1"] for r in rows)
    firsts = [r for r in rows if r["article"] is not None]
    assert [r["chunk"] for r in firsts] == [0] * len(articles)
    assert [{"id": r["article_id"], **r["article"]} for r in firsts] == [
        {"id": a.id, "title": a.title, "text": a.text, "source": a.source, "date": a.date,
         "site": a.site, "byline": a.byline, "credit": a.credit, "url": a.url}
        for a in articles
    ]  # fmt: skip


def test_inputs_are_read_once_and_the_index_comes_from_the_shards(
    tmp_path, corpus_jsonl, tiny_model_dir, finished, monkeypatch
):
    """One load -> clean -> chunk pass per run (no counting pass); --build-index reads the
    shards only: it builds the same index with the inputs gone."""
    import shutil

    from rag.jobs import records
    from rag.store import Store

    reads = []
    real = records.iter_articles

    def counting(inputs):
        reads.append(tuple(inputs))
        return real(inputs)

    monkeypatch.setattr(records, "iter_articles", counting)
    src = tmp_path / "news.jsonl"
    shutil.copy(corpus_jsonl, src)
    job = make_job([src], tmp_path / "out", tiny_model_dir)
    report = run_job(job, progress=False)
    assert len(reads) == 1
    src.unlink()
    index = build_index(job, tmp_path / "index")
    assert len(reads) == 1
    assert read_shards(job.out_dir).equals(finished[2])
    ref_job = finished[0]
    ref = build_index(ref_job, tmp_path / "ref-index")
    a, b = Store(index).open(), Store(ref).open()
    try:
        assert list(a.all_chunk_texts()) == list(b.all_chunk_texts())
        assert a.articles() == b.articles()
        np.testing.assert_array_equal(a.vectors(), b.vectors())
        assert a.manifest["counts"]["chunks"] == report.records
    finally:
        a.close()
        b.close()


def test_a_rerun_knows_how_many_passages_to_expect(tmp_path, corpus_jsonl, tiny_model_dir):
    """The first run counts as it goes (a progress bar without a total); it records the count,
    so a resumed run's bar has its total (and an ETA)."""
    job = make_job([corpus_jsonl], tmp_path / "out", tiny_model_dir)
    report = run_job(job, progress=False, stop_after_shards=1)
    state = json.loads((job.out_dir / "job.json").read_text())
    assert state["planned_records"] == report.records > job.shard_size


def test_old_format_shards_are_refused_in_one_line(tmp_path, corpus_jsonl, tiny_model_dir):
    """Shards of job format 1 held no passages: --resume and --build-index say to rerun."""
    job = make_job([corpus_jsonl], tmp_path / "out", tiny_model_dir)
    run_job(job, progress=False)
    for path in (job.out_dir / "shards").glob("part-*.parquet"):
        t = pq.read_table(path)
        pq.write_table(t.select(["id", "article_id", "chunk", "text_sha1", "embedding"]), path)
    with pytest.raises(InputError, match="older release.*no 'start' column.*new --out"):
        build_index(job)
    job_file = job.out_dir / "job.json"
    state = json.loads(job_file.read_text())
    state["fingerprint"]["format"] = 1
    job_file.write_text(json.dumps(state))
    with pytest.raises(InputError, match="older release's format \\(1, now 2\\)"):
        run_job(job, resume=True, progress=False)


# ---- settings ----------------------------------------------------------------------------------
def test_job_defaults_are_the_settings_defaults(tmp_path):
    from rag.settings import Settings

    job, s = EmbedJob(inputs=("x",), out_dir=tmp_path), Settings()
    assert (job.model, job.chunk_size, job.chunk_overlap, job.backend, job.batch_size,
            job.batch_tokens, job.device) == (s.embed_model, s.chunk_size, s.chunk_overlap,
            s.embed_backend, s.batch_size, s.batch_tokens, s.device)  # fmt: skip
    env = {"RAG_EMBED_BACKEND": "onnx", "RAG_BATCH_SIZE": "8", "RAG_BATCH_TOKENS": "0",
           "RAG_CHUNK_SIZE": "400", "RAG_EMBED_MODEL": "m"}  # fmt: skip
    job = EmbedJob.from_settings(
        Settings.load(env=env), inputs=[tmp_path], out_dir=tmp_path / "o", dtype="float16"
    )
    assert (job.model, job.chunk_size, job.backend, job.batch_size, job.batch_tokens) == (
        "m",
        400,
        "onnx",
        8,
        0,
    )
    assert job.inputs == (str(tmp_path),) and job.dtype == "float16" and job.shard_size == 2048


def test_cli_embed_honours_the_backend_and_batch_size_variables(
    tmp_path, corpus_jsonl, tiny_model_dir
):
    """RAG_EMBED_BACKEND and RAG_BATCH_SIZE set `rag embed`'s backend and batch size, as they
    do `rag ingest`'s; a flag still wins."""
    from click.testing import CliRunner

    from rag.cli import cli

    env = {"RAG_EMBED_BACKEND": "torch-bf16", "RAG_BATCH_SIZE": "8"}
    args = ["embed", str(corpus_jsonl), "--model", str(tiny_model_dir), "--json"]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "a")], env=env)
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout)
    assert manifest["backend"] == "torch-bf16" and manifest["batch_size"] == 8
    result = CliRunner().invoke(
        cli,
        [*args, "--out", str(tmp_path / "b"), "--backend", "torch", "--batch-size", "4"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout)
    assert manifest["backend"] == "torch" and manifest["batch_size"] == 4


def test_an_auto_backend_is_recorded_as_what_ran(tmp_path, corpus_jsonl, tiny_model_dir):
    """`--backend auto` runs bf16 on a CPU with bf16 units and fp32 elsewhere, and the job and
    its manifest name the backend that ran, not "auto"."""
    from click.testing import CliRunner

    from embeddings.backends import on_cpu, resolve_backend
    from rag.cli import cli

    args = ["embed", str(corpus_jsonl), "--model", str(tiny_model_dir), "--json"]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "a"), "--backend", "auto"])
    assert result.exit_code == 0, result.output
    ran = resolve_backend("auto", cpu=on_cpu(None))
    assert json.loads(result.stdout)["backend"] == ran != "auto"
