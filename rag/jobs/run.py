"""Running an embedding job (`rag embed`): one pass over the inputs, Parquet shards out.

* **One pass.** The inputs are loaded, cleaned and chunked once per run (rag.jobs.records); each
  passage is stored in its shard beside its vector, so --build-index reads the shards only.
* **Restartable and exact.** The record stream is deterministic, so shard ``k`` always holds
  records ``[k*S, (k+1)*S)``. Each shard is written to a temporary file and renamed into place,
  so a shard file either exists whole or not at all. ``--resume`` re-reads the inputs, checks
  that every finished shard still holds the records it should, and encodes only the missing
  shards. Within a shard the batches are formed the same way on every run, so a resumed job
  writes the same vectors, bit for bit, as an uninterrupted one.
* **Bad records cost only themselves.** Invalid JSON, empty text, unreadable files become
  ``Skipped`` entries (with line numbers) in ``skipped.jsonl`` and the manifest's counts.
* **Fast.** Texts are sorted by length inside a shard before batching (embeddings.batching),
  the model is loaded once, and ``backend="onnx"`` / ``"onnx-int8"`` run the same model through
  ONNX Runtime (embeddings/onnx.py). ``engine="ray"`` encodes on Ray Data (rag.jobs.ray_engine).

Output layout::

    OUT/job.json            the job's configuration and input fingerprint (resume checks it)
    OUT/shards/part-00000.parquet ...   passages and their vectors (rag.jobs.shards)
    OUT/skipped.jsonl       one {"source","line","reason"} per record that was not embedded
    OUT/manifest.json       model, dim, prompts, chunking, counts, timings (written last)
    OUT/index/              with --build-index (rag.jobs.index_build)
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rag.errors import InputError
from rag.jobs.encode import (
    dim_of_shards,
    encode_shard,
    load_job_encoder,
    model_info,
    model_info_without_encoder,
)
from rag.jobs.records import Record, Tally, iter_shards
from rag.jobs.resume import (
    atomic_json,
    job_started,
    prepare_out_dir,
    remove_stale_temporaries,
    utc_now,
)
from rag.jobs.shards import COLUMNS, SHARD_NAME, shard_matches, shard_table, write_shard
from rag.jobs.spec import ENGINES, JOB_FORMAT, EmbedJob
from rag.types import Skipped


@dataclass(frozen=True)
class EmbedReport:
    out_dir: Path
    records: int
    articles: int
    skipped: int
    duplicates: int
    shards: int
    shards_reused: int
    seconds: float
    encode_seconds: float
    manifest: dict = field(default_factory=dict, compare=False)
    skipped_records: tuple[Skipped, ...] = ()

    @property
    def records_per_second(self) -> float:
        return self.manifest.get("timings", {}).get("records_per_second", 0.0)


@dataclass
class _Progress:
    """What this run did, for the manifest's timings."""

    shards: int = 0
    encoded: int = 0
    reused: int = 0
    encoded_records: int = 0
    encode_seconds: float = 0.0
    stopped: bool = False


def run_job(
    job: EmbedJob,
    *,
    resume: bool = False,
    progress: bool = True,
    engine: str = "local",
    ray_options: dict | None = None,
    stop_after_shards: int | None = None,
) -> EmbedReport:
    """Run (or finish, with ``resume``) an embedding job; see the module docstring.

    ``engine="ray"`` encodes the pending shards on Ray Data (rag.jobs.ray_engine); loading,
    chunking and shard writing stay here, so both engines write the same files.
    ``stop_after_shards`` ends the run early after encoding that many shards (for tests and for
    splitting a long job into several runs); a later ``resume`` finishes it."""
    job.validate()
    if job.backend == "auto":
        # Resolved once, so the job, its fingerprint and the index record what ran.
        from embeddings.backends import on_cpu, resolve_backend

        job = replace(job, backend=resolve_backend("auto", cpu=on_cpu(job.device)))
    if engine not in ENGINES:
        raise InputError(f"unknown --engine {engine!r}: use local or ray")
    if engine == "ray":
        from rag.jobs.ray_connect import check_ray

        check_ray((ray_options or {}).get("address"))  # before the output folder is touched
    t_start = time.perf_counter()
    state, release_drift = prepare_out_dir(job, resume)
    out = Path(job.out_dir)
    shards_dir = out / "shards"
    remove_stale_temporaries(out)

    encoder = None  # loaded on the first shard that needs it: a finished job loads nothing
    info: dict[str, Any] = state.get("model_info") or {}

    def load_encoder() -> None:
        nonlocal encoder, info, state
        encoder = load_job_encoder(job)
        info = model_info(encoder)
        state = {**state, "model_info": info}
        atomic_json(out / "job.json", state)

    if engine == "local" and not job_started(out):
        # A fresh job encodes for sure: load the model (and build its ONNX twin) before reading
        # the inputs, so a model that will not load fails in seconds. (Ray workers load their
        # own, possibly from another cache.)
        load_encoder()

    bar = None
    if progress:
        from tqdm import tqdm

        # The number of passages is known once a run has read the inputs through (a resumed
        # or repeated run); until then the bar counts without a total.
        bar = tqdm(total=state.get("planned_records"), unit="rec", desc="embedding",
                   smoothing=0.1, dynamic_ncols=True)  # fmt: skip
    tally = Tally()
    done = _Progress()
    pending: list[tuple[int, list[Record]]] = []
    try:
        for shard, records in iter_shards(job, tally):
            done.shards += 1
            path = shards_dir / SHARD_NAME.format(shard)
            if path.exists() and shard_matches(path, records):
                done.reused += 1
                if bar is not None:
                    bar.update(len(records))
                continue
            if stop_after_shards is not None and done.encoded >= stop_after_shards:
                done.stopped = True
                continue  # keep counting so the tally stays whole
            if release_drift:
                # A finished job from an older release, with a shard missing or damaged since:
                # encoding it now would mix two kinds of vectors.
                raise InputError(
                    f"{path} must be encoded again, but {out} was made by an older release "
                    f"({', '.join(release_drift)} differ): rerun the job into a new --out"
                )
            done.encoded += 1
            done.encoded_records += len(records)
            if engine == "ray":
                pending.append((shard, records))
                continue
            if encoder is None:
                load_encoder()
            t0 = time.perf_counter()
            vectors = encode_shard(encoder, job, [r.passage for r in records],
                                   on_batch=bar.update if bar is not None else None)  # fmt: skip
            done.encode_seconds += time.perf_counter() - t0
            write_shard(path, shard_table(records, vectors, job.dtype))
        if engine == "ray" and pending:
            from rag.jobs.ray_engine import encode_shards_on_ray

            t0 = time.perf_counter()
            info = encode_shards_on_ray(job, pending, shards_dir, bar=bar, **(ray_options or {}))
            done.encode_seconds += time.perf_counter() - t0
    finally:
        if bar is not None:
            bar.close()

    # Shards left over from a run with more records (cannot happen with an equal fingerprint,
    # but a hand-edited folder must not pass as a finished job).
    for extra in shards_dir.glob("part-*.parquet"):
        if int(extra.stem.split("-")[1]) >= done.shards:
            extra.unlink()

    elapsed = time.perf_counter() - t_start
    if not info:
        info = state.get("model_info") or model_info_without_encoder(job, dim_of_shards(out))
    state = {**state, "model_info": info, "planned_records": tally.records}
    atomic_json(out / "job.json", state)
    manifest = _manifest(job, engine, info, tally, done, elapsed, state)
    _write_skipped(out / "skipped.jsonl", tally.skipped)
    if not done.stopped:
        atomic_json(out / "manifest.json", manifest)
    return EmbedReport(
        out_dir=out,
        records=tally.records,
        articles=tally.articles,
        skipped=len(tally.skipped),
        duplicates=tally.duplicates,
        shards=done.shards,
        shards_reused=done.reused,
        seconds=elapsed,
        encode_seconds=done.encode_seconds,
        manifest=manifest,
        skipped_records=tuple(tally.skipped),
    )


def _manifest(
    job: EmbedJob,
    engine: str,
    info: dict,
    tally: Tally,
    done: _Progress,
    elapsed: float,
    state: dict,
) -> dict:
    return {
        "format": JOB_FORMAT,
        "kind": "embeddings",
        "created": utc_now(),
        "started": state.get("started"),
        **info,
        "normalized": True,
        "dtype": job.dtype,
        "backend": job.backend,
        "engine": engine,
        "chunking": None
        if job.no_chunk
        else {"chunk_size": job.chunk_size, "chunk_overlap": job.chunk_overlap},
        "inputs": [str(p) for p in job.inputs],
        "columns": list(COLUMNS),
        "counts": {
            "articles": tally.articles,
            "records": tally.records,
            "skipped": len(tally.skipped),
            "duplicates": tally.duplicates,
            "shards": done.shards,
            "shard_size": job.shard_size,
        },
        "timings": {
            "seconds": round(elapsed, 3),
            "encode_seconds": round(done.encode_seconds, 3),
            "shards_encoded": done.encoded,
            "shards_reused": done.reused,
            "records_encoded": done.encoded_records,
            "records_per_second": round(done.encoded_records / done.encode_seconds, 2)
            if done.encode_seconds > 0
            else None,
        },
        "batch_size": job.batch_size,
        "sort_by_length": job.sort_by_length,
        "batch_tokens": "auto" if job.batch_tokens is None else job.batch_tokens,
        "max_seq_length": job.max_seq_length,
        "complete": not done.stopped,
    }


def _write_skipped(path: Path, skipped: Sequence[Skipped]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        for s in skipped:
            fh.write(
                json.dumps(
                    {"source": s.source, "line": s.line, "reason": s.reason}, ensure_ascii=False
                )
                + "\n"
            )
    os.replace(tmp, path)
