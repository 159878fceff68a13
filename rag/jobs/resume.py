"""The job's output folder: created for a fresh job, or checked to hold this very job for
``--resume`` (job.json's fingerprint), and the small files written in it atomically."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rag.errors import InputError
from rag.jobs.shards import shard_files
from rag.jobs.spec import CODE_SIDE_KEYS, EmbedJob


def atomic_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False))
    os.replace(tmp, path)


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def prepare_out_dir(job: EmbedJob, resume: bool) -> tuple[dict, list[str]]:
    """Create OUT (fresh) or check that it holds this very job (resume). Returns job.json, and
    the fingerprint keys that differ from it: none, except for a finished job made by an older
    release (CODE_SIDE_KEYS, or keys it did not record), which must not encode anything."""
    out = Path(job.out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file: name a folder for the job's shards")
    job_file = out / "job.json"
    fingerprint = job.fingerprint()
    restart = job_file.exists() and not job_started(out)
    if restart:
        # A run that stopped before its first shard (a model that would not load, Ray out of
        # reach, Ctrl-C) left nothing to keep: start afresh with these settings, rather than
        # make the user delete the folder to change --model.
        job_file.unlink()
    if job_file.exists():
        saved = json.loads(job_file.read_text())
        if not resume:
            raise InputError(
                f"{out} already holds an embedding job: add --resume to finish it, or choose "
                f"another --out"
            )
        before = saved.get("fingerprint", {})
        changed = _fingerprint_changes(before, fingerprint)
        by_release = all(k in CODE_SIDE_KEYS or k not in before for k in changed)
        if changed and not (by_release and job_complete(out)):
            key = changed[0]
            if key == "inputs" and isinstance(before.get(key), list):
                raise InputError(
                    f"cannot resume {out}: {_inputs_change(before[key], fingerprint[key])}; "
                    "rerun with the original inputs or into a new --out"
                )
            if key == "format":
                raise InputError(
                    f"cannot resume {out}: its shards are of an older release's format "
                    f"({before.get(key)!r}, now {fingerprint[key]!r}): rerun into a new --out"
                )
            raise InputError(
                f"cannot resume {out}: its {key} was {before.get(key)!r}, now "
                f"{fingerprint[key]!r}; rerun with the original settings or a new --out"
            )
        # Only a newer release's own settings differ and every shard is written: nothing will
        # be encoded again, so the finished shards stay valid (for --build-index, say).
        return saved, changed
    if not restart and out.exists() and any(out.iterdir()):
        raise InputError(f"{out} exists and is not an embedding job's folder: choose another --out")
    try:
        (out / "shards").mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file on the way, no permission, read-only disk
        raise InputError(f"cannot create --out {out}: {exc.strerror or exc}") from exc
    saved = {"fingerprint": fingerprint, "started": utc_now()}
    atomic_json(job_file, saved)
    return saved, []


def remove_stale_temporaries(out: Path) -> None:
    """Temporary shard files left by a killed writer; never a finished shard."""
    for stale in (out / "shards").glob(".part-*.tmp-*"):
        stale.unlink(missing_ok=True)


def _fingerprint_changes(before: dict, now: dict) -> list[str]:
    """The keys of ``now`` whose value differs in ``before``; the inputs by path and size."""

    def same(key: str) -> bool:
        if key == "inputs" and isinstance(before.get(key), list):
            return [f[:2] for f in before[key]] == [f[:2] for f in now[key]]
        return before.get(key) == now[key]

    return [key for key in now if not same(key)]


def _inputs_change(before: list, now: list) -> str:
    """One line on how the input files differ: the first file added, gone or resized."""
    old = {path: size for path, size, *_ in before}
    new = {path: size for path, size, *_ in now}
    for path, size in new.items():
        if path not in old:
            return f"{path} is a new input"
        if old[path] != size:
            return f"{path} changed size ({old[path]:,} bytes then, {size:,} now)"
    gone = [path for path in old if path not in new]
    return f"{gone[0]} is no longer an input" if gone else "the inputs come in another order"


def job_complete(out: Path) -> bool:
    """Whether the job in ``out`` finished: its manifest says every shard is written."""
    try:
        return bool(json.loads((out / "manifest.json").read_text()).get("complete"))
    except (OSError, ValueError):
        return False


def job_started(out: Path) -> bool:
    """Whether the job in ``out`` has written anything worth keeping: a shard or a manifest."""
    return (out / "manifest.json").exists() or bool(shard_files(out))
