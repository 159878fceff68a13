"""The embedding job's encoding step on Ray Data, for a cluster (`rag embed --engine ray`).

The driver does what is cheap and must be deterministic: it reads and chunks the inputs, decides
the shards (rag.jobs.run) and writes the shard files. Ray does what is expensive: the pending
shards become one Ray Dataset with one block per shard, and ``map_batches`` runs them through a
pool of encoder actors, each loading the model once (on a GPU when the workers have them). An
actor encodes a whole shard at a time with the same length-sorted batching as the local engine
(rag.jobs.encode.encode_shard), so both engines write the same shards.

Only passages and vectors travel through Ray's object store; the output folder is written by the
driver, so it does not need to be on storage the workers share. Connecting to the cluster:
rag.jobs.ray_connect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from rag.jobs.encode import encode_shard, load_job_encoder, model_info_without_encoder
from rag.jobs.ray_connect import start_ray
from rag.jobs.shards import SHARD_NAME, shard_table, write_shard
from rag.jobs.spec import EmbedJob


class ShardEncoder:
    """A Ray Data actor: loads the job's encoder once, then encodes whole shards."""

    def __init__(self, job: dict[str, Any]) -> None:
        job = {**job, "out_dir": Path(job["out_dir"]), "inputs": tuple(job["inputs"])}
        self.job = EmbedJob(**job)
        self.encoder = load_job_encoder(self.job)

    def __call__(self, batch):
        import pyarrow as pa

        shards = batch.column("shard").to_numpy()
        pos = batch.column("pos").to_numpy()
        passages = batch.column("passage").to_pylist()
        vectors = np.zeros((len(passages), self.encoder.dim), dtype=np.float32)
        # One shard at a time, whatever Ray bundles together: a shard's batches (and so its
        # vectors, bit for bit) are then the ones the local engine makes.
        for shard in np.unique(shards):
            idx = np.flatnonzero(shards == shard)
            idx = idx[np.argsort(pos[idx], kind="stable")]
            vectors[idx] = encode_shard(self.encoder, self.job, [passages[i] for i in idx])
        return pa.table(
            {
                "shard": pa.array(shards, pa.int32()),
                "pos": pa.array(pos, pa.int32()),
                "embedding": pa.FixedSizeListArray.from_arrays(
                    pa.array(vectors.reshape(-1)), vectors.shape[1]
                ),
            }
        )


def _cluster_plan(
    workers: int | None, cpus_per_worker: float | None, gpus_per_worker: float | None
) -> tuple[int, float, float]:
    """How many encoder actors, and what each asks for: a GPU each when the cluster has GPUs,
    else ``cpus_per_worker`` CPUs each (torch then uses that many threads)."""
    import ray

    resources = ray.cluster_resources()
    gpus = float(resources.get("GPU", 0))
    cpus = float(resources.get("CPU", 1))
    if gpus_per_worker is None:
        gpus_per_worker = 1.0 if gpus >= 1 else 0.0
    if cpus_per_worker is None:
        cpus_per_worker = 1.0 if gpus_per_worker else min(2.0, cpus)
    if workers is None:
        workers = int(gpus // gpus_per_worker) if gpus_per_worker else int(cpus // cpus_per_worker)
    return max(1, workers), cpus_per_worker, gpus_per_worker


def encode_shards_on_ray(
    job: EmbedJob,
    pending: Sequence[tuple[int, Sequence]],
    shards_dir: Path,
    *,
    bar=None,
    address: str | None = None,
    workers: int | None = None,
    cpus_per_worker: float | None = None,
    gpus_per_worker: float | None = None,
    connect_timeout: float | None = None,
) -> dict[str, Any]:
    """Encode ``pending`` [(shard number, records)] on Ray and write their shard files.
    Connects to ``address`` ("auto", "ray://head:10001", ...) or starts a local Ray when none is
    running. With ``connect_timeout`` (the CLI sets it) a connection to an explicit ``address``
    that has not succeeded after that many seconds ends the process with one line (exit 2).
    Returns the model info for the manifest."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import ray

    started_here = False
    if not ray.is_initialized():
        start_ray(ray, address, connect_timeout)
        started_here = True
    try:
        n_workers, cpus, gpus = _cluster_plan(workers, cpus_per_worker, gpus_per_worker)
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # the job has its own bar (records/s, ETA)
        tables = [
            pa.table(
                {
                    "shard": pa.array([shard] * len(records), pa.int32()),
                    "pos": pa.array(range(len(records)), pa.int32()),
                    "passage": pa.array([r.passage for r in records], pa.string()),
                }
            )
            for shard, records in pending
        ]
        job_dict = asdict(job)
        job_dict["out_dir"] = str(job.out_dir)
        ds = ray.data.from_arrow(tables).map_batches(
            ShardEncoder,
            fn_constructor_kwargs={"job": job_dict},
            batch_size=None,  # whole blocks: one block is one shard
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=n_workers),
            num_cpus=cpus,
            num_gpus=gpus,
        )
        records_of = dict(pending)
        parts: dict[int, list[pa.Table]] = {}
        done: dict[int, int] = {}
        dim = None
        for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            for shard in np.unique(batch.column("shard").to_numpy()):
                shard = int(shard)
                part = batch.filter(pc.equal(batch.column("shard"), shard))
                parts.setdefault(shard, []).append(part)
                done[shard] = done.get(shard, 0) + part.num_rows
                if bar is not None:
                    bar.update(part.num_rows)
                records = records_of[shard]
                if done[shard] < len(records):
                    continue
                whole = pa.concat_tables(parts.pop(shard)).sort_by("pos")
                col = whole.column("embedding").combine_chunks()
                dim = col.type.list_size
                vectors = col.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim)
                write_shard(
                    shards_dir / SHARD_NAME.format(shard), shard_table(records, vectors, job.dtype)
                )
        if parts:
            raise RuntimeError(f"Ray returned incomplete shards: {sorted(parts)}")
    finally:
        if started_here:
            ray.shutdown()
    return model_info_without_encoder(job, dim)
