"""Compare the virtualenv with the lock file: exit 1 with one line per problem when a package
is installed at another version than the lock's, is installed but not locked, or `pip check`
reports a conflict.

Usage: python scripts/check_env.py requirements.lock
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

# The project itself is installed editable from the working tree, not from the lock.
PROJECT = "rag-vi-news"


def locked_versions(lock: Path) -> dict[str, str]:
    """name -> exact version, for the lock lines whose markers hold on this interpreter."""
    pins: dict[str, str] = {}
    for number, line in enumerate(lock.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement as exc:
            raise SystemExit(f"error: {lock}:{number}: not a requirement ({exc})") from None
        if req.marker is not None and not req.marker.evaluate():
            continue
        specs = list(req.specifier)
        if len(specs) != 1 or specs[0].operator != "==":
            raise SystemExit(f"error: {lock}:{number}: {req.name} is not pinned with ==")
        pins[canonicalize_name(req.name)] = specs[0].version
    return pins


def problems(lock: Path) -> list[str]:
    pins = locked_versions(lock)
    out = []
    # What pip installed into this environment: its site-packages only, not whatever a library
    # added to sys.path at import (Ray puts its vendored psutil and colorama there).
    places = list(dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib")))
    dists = metadata.distributions(path=places)
    for dist in sorted(dists, key=lambda d: d.metadata["Name"].lower()):
        name = canonicalize_name(dist.metadata["Name"])
        if name == PROJECT:
            continue
        # A local build label ("2.13.0+cpu") is the same release as the lock's "2.13.0".
        installed = Version(dist.version)
        if name not in pins:
            out.append(
                f"{name} {dist.version} is installed but not in {lock}: add it to pyproject.toml "
                "and run `make lock`, or remove it"
            )
        elif installed.public != Version(pins[name]).public:
            out.append(
                f"{name} {dist.version} is installed but {lock} says {pins[name]}: run `make setup`"
                " again (or `make lock` if the lock is what should change)"
            )
    check = subprocess.run(
        [sys.executable, "-m", "pip", "check"], capture_output=True, text=True, check=False
    )
    if check.returncode != 0:
        for line in (check.stdout + check.stderr).splitlines():
            if line.strip():
                out.append(f"pip check: {line.strip()}")
    return out


def main(argv: list[str]) -> int:
    lock = Path(argv[1] if len(argv) > 1 else "requirements.lock")
    if not lock.is_file():
        print(f"error: {lock} not found: run from the repository root", file=sys.stderr)
        return 2
    found = problems(lock)
    for line in found:
        print(f"error: {line}", file=sys.stderr)
    if not found:
        print(f"environment matches {lock}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
