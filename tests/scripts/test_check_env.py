"""scripts/check_env.py: the virtualenv against requirements.lock, with the real installed
distributions and the real `pip check`."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"


def _load():
    spec = importlib.util.spec_from_file_location("check_env", ROOT / "scripts" / "check_env.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_env = _load()


def _lock_with(tmp_path: Path, replace: dict[str, str | None], extra: str = "") -> Path:
    """The real lock with some pins changed (name -> new line, None drops the line)."""
    lines = []
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        name = line.split("==", 1)[0].strip().lower() if "==" in line else None
        if name in replace:
            if replace[name] is not None:
                lines.append(replace[name])
            continue
        lines.append(line)
    path = tmp_path / "requirements.lock"
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def test_the_installed_environment_matches_the_shipped_lock():
    assert check_env.problems(LOCK) == []


def test_packages_a_library_put_on_sys_path_are_not_installed_ones(tmp_path, monkeypatch):
    # Ray prepends its vendored packages (psutil, colorama) to sys.path when imported.
    vendored = tmp_path / "thirdparty_files" / "vendoredpkg-1.0.dist-info"
    vendored.mkdir(parents=True)
    (vendored / "METADATA").write_text("Metadata-Version: 2.1\nName: vendoredpkg\nVersion: 1.0\n")
    monkeypatch.syspath_prepend(str(vendored.parent))
    assert "vendoredpkg" in {d.metadata["Name"] for d in metadata.distributions()}
    assert check_env.problems(LOCK) == []


def test_a_version_that_differs_from_the_lock_is_named(tmp_path):
    installed = metadata.version("click")
    lock = _lock_with(tmp_path, {"click": "click==0.0.1"})
    found = check_env.problems(lock)
    assert len(found) == 1
    assert found[0].startswith(f"click {installed} is installed but")
    assert "says 0.0.1" in found[0]


def test_a_package_missing_from_the_lock_is_named(tmp_path):
    lock = _lock_with(tmp_path, {"tqdm": None})
    found = check_env.problems(lock)
    assert [line.split()[0] for line in found] == ["tqdm"]
    assert "not in" in found[0]


def test_lines_for_other_platforms_are_ignored(tmp_path):
    lock = _lock_with(tmp_path, {}, extra="click==0.0.1 ; sys_platform == 'nonexistent-platform'\n")
    assert check_env.problems(lock) == []


def test_an_unpinned_line_is_refused_in_one_line(tmp_path):
    lock = _lock_with(tmp_path, {"click": "click>=8"})
    with pytest.raises(SystemExit, match="click is not pinned with =="):
        check_env.problems(lock)


def test_the_command_exits_non_zero_with_one_line_per_problem(tmp_path):
    lock = _lock_with(tmp_path, {"click": "click==0.0.1"})
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_env.py"), str(lock)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1
    assert run.stderr.strip().startswith("error: click ")
    assert len(run.stderr.strip().splitlines()) == 1
