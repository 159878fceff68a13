"""English question -> the Vietnamese forms of what crosses languages in it.

With no multilingual model on the machine, an English question meets a Vietnamese passage only
through what both write alike or can be mapped without a translator: numbers, names, dates and
units. Names are written differently ("North Korea" / "Triều Tiên", "Pyongyang" / "Bình Nhưỡng",
"June 19" / "19/6"), so this module maps them with the Unicode CLDR data:

- country and territory names, and city names of the time-zone exemplar cities;
- language names, which double as nationality adjectives in English ("Russian" -> "Nga",
  the Vietnamese "Tiếng Nga" without its "tiếng");
- month names and dates ("June" -> "tháng 6", "June 19" / "19 June" -> "19/6"), weekdays;
- measurement units after a number ("two hours" -> "2 giờ", "hai giờ"), with English number
  words read as numbers.

The tables ship as JSON (``rag/data/cldr_en_vi.json``), extracted from Babel's CLDR data by
``python -m rag.crosslingual`` (Babel in the ``dev`` extra): Babel keeps its locale data as
pickles, and nothing that answers a question unpickles anything. Nothing here comes from the
evaluation questions: it is the CLDR data for every country, city, language, month and unit,
plus the number words of both languages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

TABLES = Path(__file__).with_name("data") / "cldr_en_vi.json"

# Number words of both languages (grammar, not vocabulary of any data set).
_EN_NUMBERS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
_EN_NUMBERS.update({"thirty": 30, "forty": 40, "fifty": 50, "hundred": 100})
_VI_NUMBERS = dict(enumerate("không một hai ba bốn năm sáu bảy tám chín mười".split()))
_LONGEST = 4  # words in the longest name looked up
_WORD = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)


def _clean(name: str) -> str:
    # CLDR names carry qualifiers: "Congo (DRC)", "Hong Kong SAR China"; keep the plain part.
    return re.sub(r"\s*\(.*?\)", "", name).strip()


@lru_cache(maxsize=1)
def _tables() -> tuple[
    dict[tuple[str, ...], tuple[str, ...]], dict[str, int], dict[str, tuple[str, ...]]
]:
    """(English name words -> Vietnamese names, English month -> number, English unit word ->
    Vietnamese unit words), all keys lower case, from the shipped JSON."""
    data = json.loads(TABLES.read_text(encoding="utf-8"))
    names = {tuple(k.split(" ")): tuple(v) for k, v in data["names"].items()}
    units = {k: tuple(v) for k, v in data["units"].items()}
    return names, data["months"], units


def extract_tables() -> dict:
    """The tables from Babel's CLDR data, in the JSON form TABLES holds."""
    from babel import Locale
    from babel.localedata import LocaleDataDict, load

    en, vi = Locale("en"), Locale("vi")
    names: dict[tuple[str, ...], set[str]] = {}

    def add(english: str, vietnamese: str) -> None:
        english, vietnamese = _clean(english), _clean(vietnamese)
        if not english or not vietnamese or english.lower() == vietnamese.lower():
            return
        key = tuple(w.lower() for w in _WORD.findall(english))
        if 0 < len(key) <= _LONGEST:
            names.setdefault(key, set()).add(vietnamese)

    for code, name in en.territories.items():
        if code in vi.territories and not code.isdecimal():  # numeric codes are regions
            add(name, vi.territories[code])
    for zone, data in vi.time_zones.items():
        city = data.get("city")
        if city:
            en_city = en.time_zones.get(zone, {}).get("city") or zone.rsplit("/", 1)[-1]
            add(en_city.replace("_", " "), city)
    for code, name in en.languages.items():
        # A qualified language ("Tiếng Hà Lan (Nam Phi)" for Afrikaans) names no nationality.
        if code in vi.languages and "(" not in vi.languages[code] + name:
            local = re.sub(r"^tiếng\s+", "", vi.languages[code], flags=re.I)
            add(name, local)
    for i, day in en.days["format"]["wide"].items():
        add(day, vi.days["format"]["wide"][i])

    months = {}
    for width in ("wide", "abbreviated"):
        for n, name in en.months["format"][width].items():
            months[name.lower().rstrip(".")] = int(n)

    units: dict[str, list[str]] = {}
    # LocaleDataDict resolves CLDR aliases, which Babel stores in two shapes: a bare Alias, or
    # (Alias, overrides) since Babel 2.19.
    en_units = LocaleDataDict(load("en"))["unit_patterns"]
    vi_units = LocaleDataDict(load("vi"))["unit_patterns"]
    for key in vi_units:
        vi_words = _unit_words(vi_units[key])
        if not vi_words or key not in en_units:
            continue
        # Long English forms only: the short ones ("in", "m", "h") are ordinary words or letters.
        for pattern in _patterns(en_units[key], "long").values():
            word = pattern.replace("{0}", "").strip()
            if word.isalpha() and word.lower() not in {w.lower() for w in vi_words}:
                known = units.setdefault(word.lower(), [])
                known.extend(w for w in vi_words if w not in known)
    return {
        "source": f"Unicode CLDR via Babel {_babel_version()}",
        "names": {" ".join(k): sorted(v) for k, v in sorted(names.items())},
        "months": dict(sorted(months.items())),
        "units": dict(sorted(units.items())),
    }


def _babel_version() -> str:
    import babel

    return babel.__version__


def write_tables(path: Path = TABLES) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(extract_tables(), ensure_ascii=False, indent=0, sort_keys=False)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def _patterns(forms: Mapping[str, Any], length: str) -> Mapping[str, str]:
    """The plural patterns of one length of a unit ({} when CLDR has none). `forms` is a
    LocaleDataDict, whose item access resolves aliases; anything not a mapping is no pattern."""
    value = forms.get(length, {})
    return value if isinstance(value, Mapping) else {}


def _unit_words(forms: Mapping[str, Any]) -> list[str]:
    """The Vietnamese words of a CLDR unit, long form first, then the word of its "per" pattern
    ("{0} tiếng", "{0}/giờ" -> ["tiếng", "giờ"]): news writes either."""
    words: list[str] = []
    for length in ("long", "short"):
        patterns = _patterns(forms, length)
        per = patterns.get("per", "")
        candidates = [patterns.get("other", "").replace("{0}", "")]
        if per.startswith("{0}/"):
            candidates.append(per[len("{0}/") :])
        for word in (c.strip() for c in candidates):
            if word and "{" not in word and "/" not in word and word not in words:
                words.append(word)
    return words


def _number(word: str) -> int | None:
    if word.isdecimal():
        return int(word)
    return _EN_NUMBERS.get(word.lower())


def vietnamese_forms(question: str) -> list[str]:
    """Vietnamese phrases for the names, dates, numbers and units of an English question, in
    the order they occur, each once. Names count only when written with a capital letter (as
    English writes names), so "turkey" the bird or "may" the verb stay out."""
    names, months, units = _tables()
    words = _WORD.findall(question)
    out: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        low = w.lower()
        step = 1
        if w[0].isupper():
            for n in range(min(_LONGEST, len(words) - i), 0, -1):
                key = tuple(x.lower() for x in words[i : i + n])
                if key in names and words[i + n - 1][0].isupper():
                    out.extend(names[key])
                    step = n
                    break
        if low in months and w[0].isupper():
            m = months[low]
            out.append(f"tháng {m}")
            day = _day(words, i)
            if day is not None:
                out.append(f"{day}/{m}")
        number = _number(w)
        if number is not None and i + 1 < len(words):
            for unit in units.get(words[i + 1].lower(), ()):
                out.append(f"{number} {unit}")
                if number in _VI_NUMBERS:
                    out.append(f"{_VI_NUMBERS[number]} {unit}")
        elif number is not None and not w.isdecimal():
            out.append(str(number))
        i += step
    return list(dict.fromkeys(out))


def _day(words: list[str], i: int) -> int | None:
    """The day of month written next to a month name: "June 19", "19 June"."""
    for j in (i + 1, i - 1):
        if 0 <= j < len(words) and words[j].isdecimal() and 1 <= int(words[j]) <= 31:
            return int(words[j])
    return None


if __name__ == "__main__":
    print(write_tables())
