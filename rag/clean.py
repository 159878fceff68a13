"""Raw article text -> cleaned article text.

Cleaning removes site chrome that is not part of the story: navigation menus at the top,
footers (hotline, copyright, address, e-mail, advertising contacts) and the teaser lines of
unrelated stories after the article's attribution line. The rules are structural (where a line
sits, what shape it has), not lists of phrases from particular sites, so they carry over to
other Vietnamese news pages. Everything kept is the article's own text, and chunk offsets are
taken against the string returned here.
"""

from __future__ import annotations

import re
import unicodedata

# Zero-width characters and C0/C1 controls other than tab and newline carry no text.
_INVISIBLE = re.compile(r"[\u200b-\u200d\u2060\ufeff\u00ad]|[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")

# A line that opens a site footer. Once one is seen in the back half of a page, the rest is
# chrome: contact lines, licences and addresses never precede article text on news pages.
_FOOTER = re.compile(
    r"^\s*(?:đường dây nóng|hotline|©|copyright|bản quyền thuộc|liên hệ quảng cáo|"
    r"giấy phép (?:thiết lập|số|hoạt động)|chịu trách nhiệm (?:nội dung|xuất bản)|"
    r"tổng biên tập\s*:|e-?mail\s*:|điện thoại\s*:|tel\s*:|fax\s*:|"
    r"chính sách bảo mật|điều khoản sử dụng|hỗ trợ (?:&|và) cskh)",
    re.IGNORECASE,
)
# "Theo TASS", "(Theo Reuters)", "Huyền Lê (Theo TASS, AFP, Reuters)", "theo Người Lao động":
# the attribution line that ends a Vietnamese news story.
_ATTRIBUTION = re.compile(
    r"^\s*(?:[\w .'-]{0,40}\s)?\(?\s*theo\s+[^.!?]{1,50}\)?\s*[./]*\s*$", re.IGNORECASE
)
# A menu/list item at the top of a page: "1. Dòng sự kiện:", "  2. Xung đột ...", "- Thế giới".
_MENU_ITEM = re.compile(r"^\s*(?:\d{1,2}[.)]|[-•*·])\s+\S")
# Image placeholders left by scrapers: "<title> - 1", "<title> - Ảnh 2."
_IMAGE_SUFFIX = re.compile(r"\s+-\s+(?:ảnh\s+)?\d{1,2}\.?$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?…:;\"”)]$")


def normalize_unicode(text: str) -> str:
    """NFC, unified newlines, no invisible or control characters, single spaces."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))


def clean_text(raw: str) -> str:
    """Return the article's own text: paragraphs separated by a newline, chrome removed."""
    lines = normalize_unicode(raw).split("\n")
    lines = _drop_top_menu(lines)
    lines = _cut_footer(lines)
    lines = _cut_after_attribution(lines)
    lines = _drop_repeats(lines)
    # One newline between paragraphs: blank lines carry no meaning once chrome is gone.
    return "\n".join(line for line in lines if line).strip()


def _content_lines(lines: list[str]) -> list[int]:
    return [i for i, line in enumerate(lines) if line]


def _drop_top_menu(lines: list[str]) -> list[str]:
    """Drop a list of two or more short, unpunctuated items that opens the page."""
    idx = _content_lines(lines)
    run = 0
    for i in idx:
        line = lines[i]
        if _MENU_ITEM.match(line) and len(line) <= 80 and not line.endswith("."):
            run += 1
        else:
            break
    if run >= 2:
        return lines[idx[run - 1] + 1 :]
    return lines


def _position(lines: list[str], i: int) -> float:
    """Share of the page's characters that come before line i."""
    total = sum(len(line) for line in lines) or 1
    return sum(len(line) for line in lines[:i]) / total


def _cut_footer(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        if _FOOTER.match(line) and _position(lines, i) >= 0.4:
            return lines[:i]
    return lines


def _cut_after_attribution(lines: list[str]) -> list[str]:
    """After the story's attribution line, what follows is other stories' teasers."""
    for i, line in enumerate(lines):
        if len(line) <= 100 and _ATTRIBUTION.match(line) and _position(lines, i) >= 0.4:
            return lines[: i + 1]
    return lines


def _drop_repeats(lines: list[str]) -> list[str]:
    """Drop a short line seen before (a title repeated by the page template) and image
    placeholders that repeat an earlier line with a " - 1" / " - Ảnh 2." suffix."""
    seen: set[str] = set()
    out: list[str] = []
    for line in lines:
        if not line:
            out.append(line)
            continue
        key = line.casefold()
        stem = _IMAGE_SUFFIX.sub("", line).casefold()
        if key in seen and len(line) <= 200:
            continue
        if stem != key and stem in seen:
            continue
        seen.add(key)
        out.append(line)
    return out


def first_line_title(text: str, limit: int = 200) -> str:
    """A title for text that has none: its first line, cut at a word boundary."""
    first = text.split("\n", 1)[0].strip()
    if len(first) <= limit:
        return first
    cut = first[:limit].rsplit(" ", 1)[0]
    return cut + "…"


def looks_like_sentence(line: str) -> bool:
    return bool(_SENTENCE_END.search(line))
