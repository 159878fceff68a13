"""What a news article says about itself: its outlet, byline, credited sources, headline and
publication date, read from the text the way a reader finds them.

Vietnamese news marks these in a few fixed ways: the outlet opens the lead ("(Dân trí) - …",
"(NLĐ) - …", "TTO - …"), the byline is a short line of a name beside the headline or at the
end ("Minh Phương", "Phạm Nghĩa |", "Huyền Lê (Theo TASS, AFP, Reuters)"), credited sources close
the article ("Theo RT", "theo Người Lao động"), the site's footer names it ("Email: btv@soha.vn"),
and a dateline carries the date ("Thứ tư, 19/6/2024 10:30", "19/06/2024 - 10:30"). Outlets are
recognised from a table of Vietnamese news sites and their usual abbreviations, so that a
place written in parentheses ("(Bình Phước) -") is not taken for one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Outlet names as readers know them, keyed by the forms articles write them in (folded to
# lower case without diacritics): abbreviations, names and domains.
_OUTLETS: dict[str, str] = {}


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    text = "".join(c for c in text if unicodedata.category(c) != "Mn").replace("Ð", "D")
    return re.sub(r"\s+", " ", text).strip().lower()


for _name, _forms in {
    "Người Lao Động": ("NLĐ", "NLĐO", "Người Lao động", "nld.com.vn"),
    "Dân trí": ("Dân trí", "Dân Trí", "dantri.com.vn"),
    "Tuổi Trẻ": ("TTO", "Tuổi Trẻ", "Tuổi trẻ", "tuoitre.vn"),
    "Thanh Niên": ("TN", "Thanh Niên", "thanhnien.vn"),
    "VnExpress": ("VnExpress", "vnexpress.net"),
    "VTC News": ("VTC News", "VTCNews", "vtc.vn"),
    "Pháp Luật TP.HCM": ("PLO", "plo.vn"),
    "TTXVN": ("TTXVN", "Vietnam+", "VietnamPlus", "vietnamplus.vn"),
    "VOV": ("VOV", "VOV.VN", "vov.vn"),
    "VietNamNet": ("VietNamNet", "Vietnamnet", "vietnamnet.vn"),
    "Sài Gòn Giải Phóng": ("SGGP", "sggp.org.vn"),
    "Tiền Phong": ("Tiền Phong", "tienphong.vn"),
    "Lao Động": ("Lao Động", "laodong.vn"),
    "Công an Nhân dân": ("CAND", "cand.com.vn"),
    "Quân đội Nhân dân": ("QĐND", "qdnd.vn"),
    "Zing News": ("Zing", "Zing News", "zingnews.vn"),
    "Soha": ("Soha", "soha.vn"),
    "Kênh 14": ("Kênh 14", "kenh14.vn"),
    "Báo Quốc tế": ("Báo Quốc tế", "baoquocte.vn"),
    "Nhân Dân": ("Nhân Dân", "nhandan.vn"),
    "VTV": ("VTV", "vtv.vn"),
}.items():
    for _form in (_name, *_forms):
        _OUTLETS[_fold(_form)] = _name


@dataclass(frozen=True)
class Metadata:
    headline: str | None = None
    site: str | None = None
    byline: str | None = None
    credit: str | None = None  # sources the article credits ("TASS, AFP, Reuters")
    date: str | None = None  # ISO date (YYYY-MM-DD)


def outlet(name: str) -> str | None:
    """The outlet a name, abbreviation or domain stands for ("NLĐ" -> "Người Lao Động")."""
    folded = _fold(name).removeprefix("www.")
    if folded in _OUTLETS:
        return _OUTLETS[folded]
    host = re.sub(r"^[a-z]+://", "", folded).split("/")[0].removeprefix("www.")
    return _OUTLETS.get(host)


_LEAD_SITE = re.compile(r"^\s*\(?\s*(?P<site>[^()\-–—]{2,24}?)\s*\)?\s*[-–—]\s+\S")
_PAREN_SITE = re.compile(r"\((?P<site>[^()]{2,24})\)\s*[-–—]")
_EMAIL = re.compile(r"[\w.+-]+@(?P<host>[\w-]+(?:\.[\w-]+)+)")
_CREDIT = re.compile(r"^\s*\(?\s*theo\s+(?P<credit>[^()]{2,80}?)\s*\)?\s*\.?\s*$", re.I)
_BYLINE_CREDIT = re.compile(r"^(?P<name>.+?)\s*\(\s*theo\s+(?P<credit>[^()]{2,80})\)\s*$", re.I)
_NAME_WORD = re.compile(r"^[A-ZÀ-ỸĐ][a-zà-ỹđ]*\.?$")
_DATE = re.compile(r"(?<![\d/])(?P<d>[0-3]?\d)[/-](?P<m>[01]?\d)[/-](?P<y>(?:19|20)\d\d)(?![\d/])")
# A dateline: a weekday or a time next to the full date, in the first lines of the page.
_DATELINE = re.compile(r"(thứ\s+\w+|chủ nhật|\d{1,2}:\d\d|gmt)", re.I)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _is_name(line: str) -> bool:
    """A person's name as a byline writes it: two to five capitalised words ("Huyền Lê",
    "Phạm Nghĩa |"), nothing else on the line."""
    words = line.rstrip(" |").split()
    return 2 <= len(words) <= 5 and all(_NAME_WORD.match(w) for w in words)


def _site(lines: list[str]) -> str | None:
    for line in lines[:12]:
        for m in _PAREN_SITE.finditer(line[:200]):
            found = outlet(m.group("site"))
            if found:
                return found
        m = _LEAD_SITE.match(line)
        if m and outlet(m.group("site")):
            return outlet(m.group("site"))
    for line in lines[-40:]:
        if outlet(line):
            return outlet(line)
        for m in _EMAIL.finditer(line):
            found = outlet(m.group("host"))
            if found:
                return found
    return None


def _byline_and_credit(lines: list[str], headline: str | None) -> tuple[str | None, str | None]:
    byline = credit = None
    start = 1 if headline else 0
    near_top = lines[start : start + 3]
    # The end of the story: the last lines before any footer (a credit or name line is short).
    near_end = [line for line in lines[-12:] if len(line) <= 80]
    for line in near_top + near_end:
        m = _BYLINE_CREDIT.match(line)
        if m and _is_name(m.group("name")) and byline is None:
            byline, credit = m.group("name").strip(), m.group("credit").strip()
            continue
        if byline is None and _is_name(line) and not outlet(line):
            byline = line.rstrip(" |").strip()
            continue
        m = _CREDIT.match(line)
        if m and credit is None:
            credit = m.group("credit").strip()
    return byline, credit


def _headline(lines: list[str]) -> str | None:
    """The first line, when it reads as a headline: short, no closing full stop, followed by
    more text."""
    if len(lines) < 2:
        return None
    first = lines[0]
    words = first.split()
    if (
        3 <= len(words) <= 25
        and not first.endswith((".", ":", ";", "?", "!"))
        or (3 <= len(words) <= 25 and first.endswith("?"))
    ):
        return first
    return None


def _date(lines: list[str]) -> str | None:
    for line in lines[:6]:
        m = _DATE.search(line)
        if m and (_DATELINE.search(line) or len(line) <= 40):
            d, mth, y = int(m.group("d")), int(m.group("m")), int(m.group("y"))
            if 1 <= d <= 31 and 1 <= mth <= 12:
                return f"{y:04d}-{mth:02d}-{d:02d}"
    return None


_TITLE_SITE = re.compile(r"^(?P<head>.{8,}?)\s*\((?P<site>[^()]{2,24})\)\s*[-–—]\s+\S")


def split_title(title: str) -> tuple[str, str | None]:
    """A title that runs into the lead, "Năm 2006 tuyển 6.500 chỉ tiêu (NLĐ) - Trường…", as
    (headline, outlet); any other title as it is, with no outlet."""
    m = _TITLE_SITE.match(title)
    if m and outlet(m.group("site")):
        return m.group("head").strip(), outlet(m.group("site"))
    return title, None


def extract(raw: str, cleaned: str | None = None) -> Metadata:
    """The article's metadata from its raw text (site chrome included: the footer names the
    site) and its cleaned text (whose first line is the headline when there is one)."""
    raw_lines = _lines(raw)
    body = _lines(cleaned) if cleaned is not None else raw_lines
    headline = _headline(body)
    byline, credit = _byline_and_credit(body, headline)
    return Metadata(
        headline=headline,
        site=_site(raw_lines),
        byline=byline,
        credit=credit,
        date=_date(raw_lines),
    )
