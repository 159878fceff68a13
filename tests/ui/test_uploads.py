"""Upload limits and ZIP handling, on real files and real ZIP archives."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from rag.types import Article, Skipped
from ui.uploads import UploadError, check_upload, load_prepared, prepared_uploads


def test_type_and_size_limits_say_what_to_do():
    check_upload("a.txt", 10, max_mb=1)
    with pytest.raises(UploadError, match=r"file type \.pdf is not supported; use \.txt"):
        check_upload("a.pdf", 10, max_mb=1)
    with pytest.raises(UploadError, match="over the 1 MB upload limit") as exc:
        check_upload("big.txt", 2 * 2**20, max_mb=1)
    assert exc.value.key == "upload_too_big" and exc.value.params["limit"] == 1


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_zip_members_are_loaded_with_their_names_as_sources(tmp_path: Path):
    z = write_zip(
        tmp_path / "bai.zip",
        {
            "tin/mot.txt": "Tiêu đề một\n\nNội dung bài một về kinh tế.".encode(),
            "hai.md": "# Tiêu đề hai\n\nNội dung bài hai về thể thao.".encode(),
            "anh.png": b"\x89PNG",
            "__MACOSX/._mot.txt": b"junk",
        },
    )
    with prepared_uploads([("bai.zip", z)], max_mb=5) as prep:
        items = list(load_prepared(prep))
    articles = [i for i in items if isinstance(i, Article)]
    skipped = [i for i in items if isinstance(i, Skipped)]
    assert sorted(a.source for a in articles) == ["bai.zip/hai.md", "bai.zip/tin/mot.txt"]
    assert [s.source for s in skipped] == ["bai.zip/anh.png"]


def test_zip_slip_names_cannot_escape_the_temporary_folder(tmp_path: Path):
    outside = tmp_path / "evil.txt"
    z = write_zip(tmp_path / "x.zip", {"../../evil.txt": "Tiêu đề\n\nNội dung độc.".encode()})
    with prepared_uploads([("x.zip", z)], max_mb=5) as prep:
        ((path, source),) = prep.items
        assert path.name.endswith("evil.txt") and ".." not in path.parts
        assert path.parent.name.startswith("zip")
    assert not outside.exists()
    assert not path.exists()  # the temporary folder is removed afterwards


def test_zip_bomb_is_refused_before_extracting(tmp_path: Path):
    # A 1 MB upload limit allows a ZIP to expand to ZIP_EXPANSION (20) MB, no more.
    z = write_zip(tmp_path / "bomb.zip", {"a.txt": b"a" * (21 * 2**20)})
    assert z.stat().st_size < 200_000  # compresses to almost nothing
    with (
        pytest.raises(UploadError, match="expands to more than 20 MB"),
        prepared_uploads([("bomb.zip", z)], max_mb=1),
    ):
        pass


def test_not_a_zip(tmp_path: Path):
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"not a zip at all")
    with (
        pytest.raises(UploadError, match="not a valid ZIP"),
        prepared_uploads([("fake.zip", fake)], 5),
    ):
        pass
