"""Uploaded files -> the paths to ingest, with size and type limits checked first.

Used by the page's upload box and by ``POST /api/ingest``. A ZIP is opened here (the loader
reads files and folders): its supported members are extracted to a private temporary folder
under names we choose, so a member named ``../../etc/passwd`` cannot write outside it, and the
total size extracted is capped so a small ZIP cannot expand into gigabytes.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rag.errors import InputError
from rag.types import Skipped
from ui.i18n import K

# What the loader reads (rag.load.SUPPORTED), plus ZIPs of those.
ARTICLE_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".jsonl", ".ndjson")
UPLOAD_SUFFIXES = (*ARTICLE_SUFFIXES, ".zip")
ALLOWED_HELP = ".txt, .md, .html, .jsonl or a .zip of them"
MAX_ZIP_MEMBERS = 10_000
ZIP_EXPANSION = 20  # a ZIP may expand to at most this many times the upload size limit


class UploadError(InputError):
    """An upload refused before anything was indexed. ``key`` and ``params`` let the page say
    the same thing in its own language (ui.i18n); ``str()`` is the English line for the API."""

    def __init__(self, message: str, key: str = "", **params: object) -> None:
        super().__init__(message)
        self.key = key
        self.params = params


@dataclass(frozen=True)
class Prepared:
    """Files to load, each with the ``source`` its articles will carry (the uploaded name,
    or ``archive.zip/member.txt``), and the ZIP members that were not articles."""

    items: tuple[tuple[Path, str], ...]
    skipped: tuple[Skipped, ...]


def suffix_of(name: str) -> str:
    return Path(name).suffix.lower()


def check_upload(name: str, size: int, max_mb: int) -> None:
    """Refuse a file whose type or size is not allowed, with a message saying what to do."""
    suffix = suffix_of(name)
    if suffix not in UPLOAD_SUFFIXES:
        raise UploadError(
            f"{name}: file type {suffix or '(none)'} is not supported; use {ALLOWED_HELP}",
            K.upload_bad_type,
            name=name,
            suffix=suffix or "(?)",
        )
    if size > max_mb * 1024 * 1024:
        mb = f"{size / 2**20:.1f}"
        raise UploadError(
            f"{name}: {mb} MB is over the {max_mb} MB upload limit (set RAG_MAX_UPLOAD_MB)",
            K.upload_too_big,
            name=name,
            size=mb,
            limit=max_mb,
        )


def _safe_name(name: str, index: int) -> str:
    """A flat file name for an extracted member: its own name's letters, a counter for
    uniqueness, and its real suffix (no directories, no dot-dot, no odd characters)."""
    base = Path(name.replace("\\", "/")).name
    stem = re.sub(r"[^\w.-]+", "_", Path(base).stem, flags=re.UNICODE).strip("._") or "file"
    return f"{index:05d}_{stem[:80]}{suffix_of(base)}"


def extract_zip(
    zip_path: Path, dest: Path, *, max_bytes: int, label: str
) -> tuple[list[tuple[Path, str]], list[Skipped]]:
    """Extract the supported members of ``zip_path`` into ``dest`` -> (path, source) pairs, and
    the other members as Skipped. Raises UploadError for a file that is not a ZIP, or one
    that expands past ``max_bytes``."""
    items: list[tuple[Path, str]] = []
    skipped: list[Skipped] = []
    try:
        zf = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile:
        raise UploadError(
            f"{label}: not a valid ZIP file", K.upload_bad_type, name=label, suffix=".zip"
        ) from None
    with zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        if len(members) > MAX_ZIP_MEMBERS:
            raise UploadError(f"{label}: more than {MAX_ZIP_MEMBERS:,} files in the ZIP")
        total = 0
        for i, m in enumerate(members):
            member_label = f"{label}/{m.filename}"
            base = Path(m.filename.replace("\\", "/")).name
            if base.startswith(".") or "__MACOSX" in m.filename:
                continue  # OS metadata, not articles
            if suffix_of(base) not in ARTICLE_SUFFIXES:
                skipped.append(
                    Skipped(member_label, f"unsupported file type {suffix_of(base) or '(none)'}")
                )
                continue
            total += m.file_size
            if total > max_bytes:
                raise UploadError(
                    f"{label}: expands to more than {max_bytes // 2**20} MB; split it into "
                    "smaller ZIPs",
                    K.upload_too_big,
                    name=label,
                    size=f">{max_bytes // 2**20}",
                    limit=max_bytes // 2**20,
                )
            target = dest / _safe_name(m.filename, i)
            # Copy at most the declared size (+1 byte to notice a lying header).
            with zf.open(m) as src, open(target, "wb") as out:
                data = src.read(m.file_size + 1)
                if len(data) > m.file_size:
                    raise UploadError(f"{member_label}: corrupt ZIP entry (size mismatch)")
                out.write(data)
            items.append((target, member_label))
    return items, skipped


@contextmanager
def prepared_uploads(files: Sequence[tuple[str, Path]], max_mb: int) -> Iterator[Prepared]:
    """(uploaded name, path on disk) pairs -> the files to load, after the type and size
    checks; ZIPs are extracted into a temporary folder that is removed afterwards."""
    for name, path in files:
        check_upload(name, Path(path).stat().st_size, max_mb)
    tmp = Path(tempfile.mkdtemp(prefix="rag-upload-"))
    try:
        items: list[tuple[Path, str]] = []
        skipped: list[Skipped] = []
        for i, (name, path) in enumerate(files):
            if suffix_of(name) != ".zip":
                items.append((Path(path), name))
                continue
            dest = tmp / f"zip{i}"
            dest.mkdir()
            got, bad = extract_zip(
                Path(path), dest, max_bytes=max_mb * 2**20 * ZIP_EXPANSION, label=name
            )
            items += got
            skipped += bad
        yield Prepared(tuple(items), tuple(skipped))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_prepared(prepared: Prepared, on_file=None):
    """Iterate (Article | Skipped) over the prepared files; ``on_file(i, n, source)`` is called
    before each file (for progress)."""
    from rag.load import load_file

    yield from prepared.skipped
    n = len(prepared.items)
    for i, (path, source) in enumerate(prepared.items):
        if on_file is not None:
            on_file(i, n, source)
        yield from load_file(path, source=source)
