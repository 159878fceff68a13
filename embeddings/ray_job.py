"""The embedding job's encoding step on Ray Data, for a cluster (`rag embed --engine ray`).

The driver does what is cheap and must be deterministic: it reads and chunks the inputs, decides
the shards (embeddings/batch.py) and writes the shard files. Ray does what is expensive: the
pending shards become one Ray Dataset with one block per shard, and ``map_batches`` runs them
through a pool of encoder actors, each loading the model once (on a GPU when the workers have
them). An actor encodes a whole shard at a time with the same length-sorted batching as the local
engine, so both engines write the same shards.

Only passages and vectors travel through Ray's object store; the output folder is written by the
driver, so it does not need to be on storage the workers share.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

# How long to wait for a TCP connection to an explicit --address before saying it is unreachable.
# ray.init itself retries a closed or wrong address without end.
REACH_TIMEOUT_S = 5.0
# What --address should name, for the messages that say it was wrong.
ADDRESS_HELP = (
    "--address takes the head node's GCS port (6379 by default) or ray://HOST:10001 for Ray Client"
)


class ShardEncoder:
    """A Ray Data actor: loads the job's encoder once, then encodes whole shards."""

    def __init__(self, job: dict[str, Any]) -> None:
        from embeddings.batch import EmbedJob, load_job_encoder

        job = {**job, "out_dir": Path(job["out_dir"]), "inputs": tuple(job["inputs"])}
        self.job = EmbedJob(**job)
        self.encoder = load_job_encoder(self.job)

    def __call__(self, batch):
        import pyarrow as pa

        from embeddings.batch import batch_tokens_for, encode_sorted

        shards = batch.column("shard").to_numpy()
        pos = batch.column("pos").to_numpy()
        passages = batch.column("passage").to_pylist()
        vectors = np.zeros((len(passages), self.encoder.dim), dtype=np.float32)
        # One shard at a time, whatever Ray bundles together: a shard's batches (and so its
        # vectors, bit for bit) are then the ones the local engine makes.
        for shard in np.unique(shards):
            idx = np.flatnonzero(shards == shard)
            idx = idx[np.argsort(pos[idx], kind="stable")]
            vectors[idx] = encode_sorted(
                self.encoder,
                [passages[i] for i in idx],
                self.job.batch_size,
                sort_by_length=self.job.sort_by_length,
                max_tokens=batch_tokens_for(self.encoder, self.job.batch_tokens),
            )
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
    job,
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

    from embeddings.batch import SHARD_NAME, shard_table, write_shard
    from embeddings.encoder import spec_for

    started_here = False
    if not ray.is_initialized():
        _start_ray(ray, address, connect_timeout)
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
    spec = spec_for(job.model)
    return {
        # resolve_encoder (no fallback) names the encoder by the id it was asked for.
        "model": job.model,
        "dim": dim,
        "query_prompt": spec.query_prompt,
        "passage_prompt": spec.passage_prompt,
    }


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of an explicit cluster address ("ray://head:10001", "10.0.0.5:6379");
    None for "auto", "local" and anything else Ray resolves by itself."""
    host, sep, port = address.split("://", 1)[-1].rpartition(":")
    if not sep or not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def check_ray(address: str | None) -> None:
    """Before the job reads anything: Ray is installed, and an explicit ``address`` answers on
    its port as a gRPC server does (ray.init would wait for ever on a closed port or on one
    where something else listens). One InputError line."""
    from rag.errors import InputError

    try:
        import ray  # noqa: F401
    except ImportError as exc:
        raise InputError(
            "--engine ray needs Ray Data: pip install -e '.[ray]' (or use the local engine)"
        ) from exc
    if address and address.startswith("ray://"):
        import importlib.util

        if importlib.util.find_spec("grpc") is None:
            raise InputError(
                "a ray:// address needs Ray Client: pip install 'ray[client]' (or run rag "
                "embed on the head node with --address auto)"
            )
    target = _host_port(address) if address else None
    if target is None:
        return
    try:
        answer = _http2_answer(target)
    except OSError as exc:
        raise InputError(
            f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}): fix --address "
            f"or start the cluster (ray start --head on the head node)"
        ) from exc
    if answer is not None and not _is_http2_settings(answer):
        # Something else listens there (the dashboard, a web server): ray.init would wait on it
        # for ever.
        raise InputError(
            f"{address} answers, but not as a Ray cluster (no gRPC there): {ADDRESS_HELP}, not "
            f"the dashboard's 8265"
        )


# What an HTTP/2 client sends first: the connection preface, then an empty SETTINGS frame.
_HTTP2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def _http2_answer(target: tuple[str, int]) -> bytes | None:
    """The first bytes the server at ``target`` answers an HTTP/2 hello with (b"" when it
    closes, or stays silent), or None when the probe cannot tell: a TLS-enabled cluster
    (RAY_USE_TLS) answers only a TLS handshake. Raises OSError when nothing listens."""
    with socket.create_connection(target, timeout=REACH_TIMEOUT_S) as conn:
        if os.environ.get("RAY_USE_TLS", "").lower() in ("1", "true", "yes"):
            return None
        conn.settimeout(REACH_TIMEOUT_S)
        data = b""
        try:
            conn.sendall(_HTTP2_HELLO)
            while len(data) < 9:
                more = conn.recv(9 - len(data))
                if not more:
                    break
                data += more
        except (TimeoutError, ConnectionError):
            pass
        return data


def _is_http2_settings(data: bytes) -> bool:
    """Whether ``data`` starts an HTTP/2 SETTINGS frame on stream 0, as every gRPC server (the
    GCS, the Ray Client server) answers a client's preface."""
    return len(data) >= 9 and data[3] == 4 and data[5:9] == bytes(4)


def _start_ray(ray, address: str | None, connect_timeout: float | None = None) -> None:
    """ray.init for the job; a cluster that refuses the driver becomes one InputError line
    instead of Ray's multi-line error, and one that never answers (``connect_timeout``) ends
    the process with one line."""
    import threading

    from rag.errors import InputError

    watchdog = None
    if connect_timeout and address:
        # ray.init waits in native code, out of reach of exceptions and SIGTERM: the only way
        # out is to end the process. Nothing is half-written at this point (shards are written
        # whole by the driver, after Ray returns them).
        watchdog = threading.Timer(connect_timeout, _give_up, (address, connect_timeout))
        watchdog.daemon = True
        watchdog.start()
    try:
        # Workers import embeddings/ and rag/ from the driver's checkout: the same code as the
        # driver, and a cluster whose nodes have only the dependencies installed runs the job.
        # (A Ray started by the caller brings its own runtime_env.)
        ray.init(
            address=address,
            runtime_env={"py_modules": [_package_dir("embeddings"), _package_dir("rag")]},
            log_to_driver=False,
        )
    except (ConnectionError, TimeoutError, ValueError, RuntimeError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        # A Ray Client port (10001) named without its scheme answers gRPC too, so the pre-flight
        # check lets it through and only ray.init finds out: say what the port may be.
        hint = (
            " (if that is a Ray Client port, write ray://" + address + ")"
            if address and _host_port(address) and "://" not in address
            else ""
        )
        raise InputError(
            f"cannot connect to Ray at {address or 'a new local instance'} ({reason}){hint}: "
            f"the finished shards are kept; rerun with --resume once Ray is reachable"
        ) from exc
    finally:
        if watchdog is not None:
            watchdog.cancel()


def _give_up(address: str, seconds: float) -> None:
    sys.stderr.write(  # on a line of its own, after the progress bar's
        f"\nerror: no answer from Ray at {address} after {seconds:g} s: {ADDRESS_HELP} "
        f"(RAG_RAY_CONNECT_TIMEOUT sets the wait); the finished shards are kept: rerun with "
        f"--resume\n"
    )
    sys.stderr.flush()
    os._exit(2)


def _package_dir(name: str) -> str:
    import importlib

    return str(Path(importlib.import_module(name).__file__).parent)
