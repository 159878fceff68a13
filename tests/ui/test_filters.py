"""ui.filters: the dates a person may type, the filters they make, and the line that says
which are on."""

from __future__ import annotations

import pytest

from rag.types import Filters
from ui.filters import FilterError, filter_note, page_filters, parse_day, site_choices, sites


@pytest.mark.parametrize(
    ("typed", "day"),
    [
        ("2024-06-18", "2024-06-18"),
        ("2024-6-8", "2024-06-08"),
        ("18/6/2024", "2024-06-18"),
        (" 18/06/2024 ", "2024-06-18"),
        ("18-6-2024", "2024-06-18"),
        ("18.6.2024", "2024-06-18"),
        ("29/2/2024", "2024-02-29"),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_the_dates_a_person_may_type(typed, day):
    assert parse_day(typed) == day


@pytest.mark.parametrize(
    "typed", ["hôm qua", "2024", "6/2024", "2024/06/18", "31/2/2024", "2023-02-29", "18/13/2024"]
)
def test_anything_else_is_refused_in_one_line_of_either_language(typed):
    with pytest.raises(FilterError) as got:
        parse_day(typed)
    assert (
        got.value.message("vi")
        == f"«{typed}» không phải là ngày: hãy viết 2024-06-18 hoặc 18/6/2024."
    )
    assert got.value.message("en").startswith(f"“{typed}” is not a date")


def test_the_controls_make_filters():
    assert page_filters("", "", "") == Filters() and not page_filters(None, None, None)
    assert page_filters(" Dân trí ", "1/6/2024", "2024-06-30") == Filters(
        site="Dân trí", date_from="2024-06-01", date_to="2024-06-30"
    )
    assert page_filters("", "18/6/2024", "18/6/2024").date_to == "2024-06-18"  # one day
    with pytest.raises(FilterError) as got:
        page_filters("", "30/6/2024", "1/6/2024")
    assert got.value.message("en") == "The start date (30/6/2024) is after the end date (1/6/2024)."


ARTICLES = [
    {"id": "1", "site": "Soha", "date": "2024-06-20"},
    {"id": "2", "site": "dân trí", "date": "2024-01-10"},
    {"id": "3", "site": "Dân trí"},
    {"id": "4", "site": "Báo Mới", "date": "2024-06-01"},
    {"id": "5"},
]


def test_the_outlets_each_once_in_alphabetical_order():
    assert sites(ARTICLES) == ["Báo Mới", "dân trí", "Soha"]
    assert site_choices(ARTICLES, "en")[:2] == [("All outlets", ""), ("Báo Mới", "Báo Mới")]


def test_the_note_counts_what_the_filters_leave():
    assert filter_note(ARTICLES, "", "", "", "vi") == ""
    assert filter_note(ARTICLES, "Dân trí", "", "", "vi") == (
        "Chỉ trích dẫn bài của **Dân trí**: 2 bài phù hợp."
    )
    assert filter_note(ARTICLES, "", "", "2024-06-15", "en") == (
        "Citing only articles published until 2024-06-15: 2 match."
    )
    # an outlet's name is text, not markdown
    assert "**\\*Soha\\***" in filter_note(ARTICLES, "*Soha*", "", "", "en")
    assert filter_note(ARTICLES, "", "x<y", "", "en").startswith("⚠ “x&lt;y” is not a date")
