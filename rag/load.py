"""Files, folders and JSONL -> Articles (or Skipped, with the reason).

Bytes become text here: the encoding is detected (UTF-8 with or without BOM, UTF-16/32 with BOM,
Windows-1258 and other legacy code pages through charset-normalizer), then the text is NFC
normalized and cleaned by rag.clean. HTML goes through trafilatura's main-text extraction.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from rag.clean import clean_text, first_line_title, normalize_unicode
from rag.errors import InputError
from rag.types import Article, Skipped

TEXT_SUFFIXES = {".txt", ".text"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
SUPPORTED = TEXT_SUFFIXES | MARKDOWN_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES
SUPPORTED_HELP = ".txt, .md, .html, .jsonl (or .jsonl.gz)"
MAX_FILE_BYTES = 100 * 1024 * 1024  # a single article file larger than this is not an article
MAX_RECORD_CHARS = 2_000_000
# A JSONL line may escape every character of its text (\uXXXX: 6 characters each).
MAX_LINE_CHARS = 6 * MAX_RECORD_CHARS + 100_000

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


class NotText(ValueError):
    """The bytes are not text in any encoding we accept."""


def decode_bytes(data: bytes) -> str:
    """Decode article bytes to NFC text, detecting the encoding."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return normalize_unicode(data[len(bom) :].decode(encoding))
            except UnicodeDecodeError as exc:
                raise NotText(f"invalid {encoding} after its byte-order mark") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data":
            # A truncated download: valid UTF-8 up to a cut last character. Keep the text.
            text = data[: exc.start].decode("utf-8")
        else:
            text = _detect(data)
    if "\x00" in text:
        raise NotText("binary data (NUL bytes)")
    return normalize_unicode(text)


def _detect(data: bytes) -> str:
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise NotText("not text in a known encoding (binary file?)")
    if best.encoding.startswith("utf_8"):
        # Mostly UTF-8 with a broken tail (a truncated download): keep what decodes.
        return data.decode("utf-8", errors="replace").replace("\ufffd", "")
    return str(best)


def content_id(title: str, text: str) -> str:
    """Article id: a hash of the cleaned content, so the same article is the same row
    whatever file, encoding or upload it came from."""
    return hashlib.sha1(f"{title}\n{text}".encode()).hexdigest()[:16]


def make_article(
    raw_text: str,
    *,
    title: str | None = None,
    source: str = "",
    date: str | None = None,
    given: dict[str, str] | None = None,
) -> Article | None:
    """Clean raw text into an Article; None when nothing of the article is left. Outlet,
    byline, credit and date come from ``given`` (JSONL fields, HTML metadata) where known,
    else from the text itself (rag.metadata)."""
    from rag.metadata import extract, split_title

    text = clean_text(raw_text)
    if not text:
        return None
    given = {k: normalize_unicode(v).strip() for k, v in (given or {}).items() if v}
    found = extract(raw_text, text)
    site = given.get("site") or found.site
    if title:
        # "Headline (NLĐ) - lead…": a title that runs into the lead names the outlet too.
        title, title_site = split_title(normalize_unicode(title).strip())
        site = site or title_site
    else:
        title = found.headline or first_line_title(text)
    return Article(
        id=content_id(title, text),
        title=title,
        text=text,
        source=source,
        date=date or found.date,
        site=site,
        byline=given.get("byline") or found.byline,
        credit=given.get("credit") or found.credit,
        url=given.get("url"),
    )


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly, plus every supported file under the folders named (sorted)."""
    files: list[Path] = []
    for p in paths:
        path = Path(p)
        if not path.exists():
            raise InputError(f"no such file or folder: {path}")
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not any(part.startswith(".") for part in child.parts[-1:]):
                    files.append(child)
        else:
            files.append(path)
    return files


def _suffix(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".jsonl.gz") or name.endswith(".ndjson.gz"):
        return ".jsonl.gz"
    return path.suffix.lower()


def is_supported(path: Path) -> bool:
    return _suffix(path) in SUPPORTED or _suffix(path) == ".jsonl.gz"


def load_paths(
    paths: Iterable[str | Path], *, progress: bool = False
) -> Iterator[Article | Skipped]:
    """Yield an Article for each article found under ``paths``, or a Skipped saying why not."""
    files = expand_paths(paths)
    bar = None
    if progress and len(files) > 5:
        from tqdm import tqdm

        bar = tqdm(total=len(files), unit="file", desc="reading", leave=False)
    try:
        for path in files:
            yield from load_file(path)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()


def load_file(path: Path, *, source: str | None = None) -> Iterator[Article | Skipped]:
    source = source or str(path)
    suffix = _suffix(path)
    if suffix not in SUPPORTED and suffix != ".jsonl.gz":
        yield Skipped(source, f"unsupported file type {suffix or '(none)'}: use {SUPPORTED_HELP}")
        return
    if suffix in JSONL_SUFFIXES or suffix == ".jsonl.gz":
        yield from load_jsonl(path, source=source)
        return
    size = path.stat().st_size
    if size == 0:
        yield Skipped(source, "empty file")
        return
    if size > MAX_FILE_BYTES:
        yield Skipped(
            source, f"file is {size // 2**20} MB, over the {MAX_FILE_BYTES // 2**20} MB limit"
        )
        return
    yield from load_bytes(path.read_bytes(), suffix=suffix, source=source)


def load_bytes(data: bytes, *, suffix: str, source: str) -> Iterator[Article | Skipped]:
    """Articles from the bytes of one file (used by uploads, which have no path on disk)."""
    suffix = suffix.lower()
    if suffix in JSONL_SUFFIXES:
        yield from _jsonl_lines(data.decode("utf-8", errors="replace").splitlines(), source)
        return
    try:
        text = decode_bytes(data)
    except NotText as exc:
        yield Skipped(source, str(exc))
        return
    title = None
    date = None
    given: dict[str, str] = {}
    if suffix in HTML_SUFFIXES:
        text, title, date, given = extract_html(text)
    elif suffix in MARKDOWN_SUFFIXES:
        text, title = strip_markdown(text)
    article = make_article(text, title=title, source=source, date=date, given=given)
    yield article if article is not None else Skipped(source, "no article text after cleaning")


def extract_html(html: str) -> tuple[str, str | None, str | None, dict[str, str]]:
    """Main text, title, date and {site, byline, url} of an HTML page (trafilatura: made for
    news pages; its metadata reads the page's meta tags and htmldate's date)."""
    import trafilatura

    raw = trafilatura.extract(
        html,
        output_format="json",
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        favor_precision=True,
    )
    if not raw:
        # Very short pages fall below trafilatura's thresholds: fall back to all visible text.
        from lxml import html as lxml_html

        try:
            tree = lxml_html.fromstring(html)
        except Exception:  # noqa: BLE001 - unparsable markup: treat as no text
            return "", None, None
        for bad in tree.xpath("//script|//style|//noscript|//template"):
            bad.drop_tree()
        title = tree.findtext(".//title")
        return tree.text_content(), (title.strip() if title else None), None, {}
    meta = json.loads(raw)
    given = {
        # trafilatura's JSON calls the site name (og:site_name) "source-hostname".
        "site": meta.get("source-hostname") or meta.get("sitename") or meta.get("hostname"),
        "byline": meta.get("author"),
        "url": meta.get("source") or meta.get("url"),
    }
    given = {k: str(v) for k, v in given.items() if v}
    return meta.get("text") or "", meta.get("title") or None, meta.get("date") or None, given


_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_MARK = re.compile(r"(\*\*|__|`)")


def strip_markdown(text: str) -> tuple[str, str | None]:
    """Markdown -> plain text: headings lose their #, links keep their words."""
    title = None
    lines = []
    for line in text.split("\n"):
        heading = re.match(r"^\s{0,3}#{1,6}\s+(.*)$", line)
        if heading:
            line = heading.group(1).strip()
            if title is None:
                title = line
        line = _MD_LINK.sub(r"\1", line)
        line = _MD_MARK.sub("", line)
        lines.append(line)
    return "\n".join(lines), title


def load_jsonl(path: Path, *, source: str | None = None) -> Iterator[Article | Skipped]:
    source = source or str(path)
    opener = gzip.open if _suffix(path) == ".jsonl.gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            yield from _jsonl_lines(_bounded_lines(fh), source)
    except (OSError, EOFError) as exc:
        yield Skipped(source, f"cannot read: {exc}")


def _bounded_lines(fh, limit: int = MAX_LINE_CHARS) -> Iterator[str | None]:
    """The lines of a text file, none longer than ``limit`` held in memory: a longer one (a
    200 MB file with no newline, say) is read past in pieces and stands as None."""
    while line := fh.readline(limit):
        if len(line) < limit or line.endswith("\n"):
            yield line
            continue
        while (rest := fh.readline(1 << 20)) and not rest.endswith("\n"):
            pass
        yield None


def _jsonl_lines(lines: Iterable[str | None], source: str) -> Iterator[Article | Skipped]:
    for n, line in enumerate(lines, start=1):
        if line is None:
            yield Skipped(source, f"line longer than {MAX_LINE_CHARS:,} characters", n)
            continue
        if not line.strip():
            continue
        yield parse_record(line, source=source, line_no=n)


def parse_record(line: str, *, source: str, line_no: int) -> Article | Skipped:
    """One JSONL line {"id","title","text","source","date"} -> Article, or Skipped with why."""
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as exc:
        return Skipped(source, f"invalid JSON ({exc.msg})", line_no)
    if not isinstance(rec, dict):
        return Skipped(source, "a line must be a JSON object", line_no)
    text = rec.get("text")
    if not isinstance(text, str) or not text.strip():
        return Skipped(source, "empty or missing 'text'", line_no)
    if len(text) > MAX_RECORD_CHARS:
        return Skipped(source, f"'text' longer than {MAX_RECORD_CHARS:,} characters", line_no)
    title = rec.get("title") if isinstance(rec.get("title"), str) else None
    rec_source = rec.get("source") if isinstance(rec.get("source"), str) else None
    if not rec_source:
        rec_id = rec.get("id")
        rec_source = f"{source}#{rec_id}" if rec_id is not None else f"{source}:{line_no}"
    date = rec.get("date") if isinstance(rec.get("date"), str) else None
    # Optional metadata fields; "author" is what most exports call the byline.
    given = {
        key: rec[field]
        for key, field in (("site", "site"), ("byline", "author"), ("url", "url"))
        if isinstance(rec.get(field), str)
    }
    for key in ("byline", "credit"):
        if isinstance(rec.get(key), str):
            given[key] = rec[key]
    article = make_article(text, title=title, source=rec_source, date=date, given=given)
    if article is None:
        return Skipped(source, "no article text after cleaning", line_no)
    return article
