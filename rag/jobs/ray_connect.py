"""Reaching a Ray cluster for `rag embed --engine ray`: a pre-flight check of ``--address``
before the job reads anything, and ray.init with one-line errors and a time limit.

ray.init retries a closed port, or one where something other than Ray's gRPC server listens,
without end, blocked in native code: so an explicit address is probed first (an HTTP/2 hello,
which every gRPC server answers with a SETTINGS frame), and a connection that has not succeeded
after ``connect_timeout`` seconds (RAG_RAY_CONNECT_TIMEOUT, through rag.settings) ends the
process with one line.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from rag.errors import InputError

# How long to wait for a TCP connection to an explicit --address before saying it is unreachable.
# ray.init itself retries a closed or wrong address without end.
REACH_TIMEOUT_S = 5.0
# What --address should name, for the messages that say it was wrong.
ADDRESS_HELP = (
    "--address takes the head node's GCS port (6379 by default) or ray://HOST:10001 for Ray Client"
)


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


def start_ray(ray, address: str | None, connect_timeout: float | None = None) -> None:
    """ray.init for the job; a cluster that refuses the driver becomes one InputError line
    instead of Ray's multi-line error, and one that never answers (``connect_timeout``) ends
    the process with one line."""
    import threading

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
