"""Article metadata on the real page, in headless Chromium: the chat's source filters (an
outlet, a date range, a date that is not one) change what the answer may cite, are kept across
a reload and follow the language; the articles table shows outlet and date and sorts by date;
the article viewer shows outlet, byline, date and the article's address.

Over the seeds (no publication date) and two dated articles of other outlets. Screenshots go
to the test's tmp folder (and to $RAG_UI_SCREENSHOT_DIR when set)."""

from __future__ import annotations

import time

import pytest

from rag.answer import NOT_FOUND
from tests.ui.test_browser_e2e import ask, bot_texts, css, shoot, tab, text, wait
from tests.ui.test_browser_page import switch
from ui.render import TABLE_ID_COLUMN

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TREATY_Q = "Hiệp ước mới thay thế những văn kiện nào?"
CAT_Q = "Mèo Mướp thích ăn gì?"
DATED = [
    {
        "title": "Mèo Mướp thích cá kho",
        "site": "Tuổi Trẻ",
        "byline": "Lan Anh",
        "url": "https://tuoitre.vn/meo-muop.htm",
        "date": "2024-06-20",
        "text": "Con mèo Mướp ở Hà Nội thích ăn cá kho. Mỗi sáng, mèo Mướp ngồi chờ bên bếp.",
    },
    {
        "title": "Chó Vàng giữ nhà",
        "site": "VnExpress",
        "date": "2023-03-05",
        "text": "Chó Vàng ở Huế giữ nhà rất giỏi. Mỗi tối, chó Vàng đi quanh vườn.",
    },
]
NOTE = "#rag-filter-note"


@pytest.fixture(scope="module")
def dated(live):
    from rag.load import make_article

    live.assistant.ingest_articles(
        [
            make_article(a["text"], title=a["title"], date=a["date"], given=a, source="t.jsonl")
            for a in DATED
        ]
    )
    return live


def fresh(d, url: str) -> None:
    """The page with nothing saved in this browser, over the seeds and the dated articles."""
    d.get(url + "/")
    d.execute_script("localStorage.clear()")
    d.get(url + "/")
    wait(d, lambda d: css(d, "#rag-input textarea"))
    wait(d, lambda d: text(d, "#rag-status-size").split(":")[-1].strip().startswith("7 "))


def ask_any(d, question: str) -> str:
    """Ask and wait for the whole answer, "not found" included (ask() waits for citations)."""
    from selenium.webdriver.common.keys import Keys

    before = len(bot_texts(d))
    box = css(d, "#rag-input textarea")[0]
    box.send_keys(question, Keys.ENTER)
    wait(d, lambda d: len(bot_texts(d)) > before and "…" not in bot_texts(d)[-1])
    wait(d, lambda d: "rag-cites" in (css(d, "#rag-cites")[0].get_attribute("innerHTML") or ""))
    time.sleep(0.3)  # the panels land just after the last words
    return bot_texts(d)[-1]


def open_filters(d) -> None:
    if not css(d, "#rag-filter-site input"):
        button = css(d, "#rag-filters button.label-wrap")[0]
        d.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
        button.click()
    wait(d, lambda d: css(d, "#rag-filter-site input"))


def choose(d, box: str, label: str) -> None:
    """Pick the option shown as ``label`` in a Gradio dropdown."""
    field = css(d, f"{box} input")[0]
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", field)
    field.click()
    option = f'[role=option][aria-label="{label}"]'
    wait(d, lambda d: css(d, option))
    css(d, option)[0].click()
    wait(d, lambda d: css(d, f"{box} input")[0].get_attribute("value") == label)


def field(d, box: str):
    """A textbox's text field (Gradio draws a one-line textbox as a textarea)."""
    return css(d, f"{box} input, {box} textarea")[0]


def type_date(d, box: str, value: str) -> None:
    from selenium.webdriver.common.keys import Keys

    box = field(d, box)
    box.clear()
    box.send_keys(value, Keys.ENTER)


def test_filters_change_the_answer_survive_a_reload_and_follow_the_language(
    dated, browser, tmp_path
):
    d = browser
    fresh(d, dated.url)
    assert text(d, NOTE) == ""
    answer = ask(d, CAT_Q)
    assert "cá kho" in answer and "[1]" in answer

    # an outlet that did not publish it: the honest "not found", and the note says why
    open_filters(d)
    choose(d, "#rag-filter-site", "Soha")
    wait(d, lambda d: "Soha" in text(d, NOTE))
    assert text(d, NOTE) == "Chỉ trích dẫn bài của Soha: 1 bài phù hợp."
    assert ask_any(d, CAT_Q) == NOT_FOUND["vi"]
    assert "Mèo Mướp" not in text(d, "#rag-cites")

    # its own outlet and a range around its date: found again, and cited with its metadata
    choose(d, "#rag-filter-site", "Tuổi Trẻ")
    type_date(d, "#rag-filter-from", "1/6/2024")
    type_date(d, "#rag-filter-to", "2024-06-30")
    wait(d, lambda d: "đến 30/6/2024" in text(d, NOTE))
    assert "cá kho" in ask(d, CAT_Q)
    card = text(d, "#rag-cites .rag-card")
    assert "Tuổi Trẻ · Lan Anh · 20/6/2024" in card and "tuoitre.vn" in card
    # the seeds have no date: outside the range
    assert ask_any(d, TREATY_Q) == NOT_FOUND["vi"]
    shoot(d, tmp_path, "ui-filters.png")

    # a date that is not one: one line saying so; nothing asked, the question kept
    type_date(d, "#rag-filter-to", "31/2/2024")
    wait(d, lambda d: text(d, NOTE).startswith("⚠"))
    assert text(d, NOTE) == "⚠ «31/2/2024» không phải là ngày: hãy viết 2024-06-18 hoặc 18/6/2024."
    before = bot_texts(d)
    box = css(d, "#rag-input textarea")[0]
    box.send_keys(CAT_Q)
    css(d, "#rag-send")[0].click()
    time.sleep(1.5)
    assert bot_texts(d) == before and box.get_attribute("value") == CAT_Q
    assert text(d, NOTE).startswith("⚠ «31/2/2024»") and "Traceback" not in d.page_source
    type_date(d, "#rag-filter-to", "2024-06-30")
    wait(d, lambda d: "30/6/2024" in text(d, NOTE))
    box.clear()

    # kept across a reload, the box open, and relabelled by the language switch
    time.sleep(1.0)
    d.refresh()
    wait(d, lambda d: "Tuổi Trẻ" in text(d, NOTE))
    wait(d, lambda d: css(d, "#rag-filter-site input"))
    assert css(d, "#rag-filter-site input")[0].get_attribute("value") == "Tuổi Trẻ"
    assert field(d, "#rag-filter-from").get_attribute("value") == "1/6/2024"
    switch(d, "en")
    wait(d, lambda d: text(d, NOTE).startswith("Citing only articles of Tuổi Trẻ"))
    assert text(d, NOTE).endswith("published from 2024-06-01 to 2024-06-30: 1 match.")
    assert "Cite only this outlet" in text(d, "#rag-filters")
    choose(d, "#rag-filter-site", "All outlets")  # the "all" choice, in English too
    # "Clear filters" takes every filter off, for good
    css(d, "#rag-filter-clear")[0].click()
    wait(d, lambda d: text(d, NOTE) == "")
    assert field(d, "#rag-filter-from").get_attribute("value") == ""
    assert "1961" in ask(d, TREATY_Q)
    switch(d, "vi")


def test_the_filters_fit_a_400px_window(dated, browser, tmp_path):
    d = browser
    d.set_window_size(400, 850)
    try:
        fresh(d, dated.url)
        open_filters(d)
        choose(d, "#rag-filter-site", "Tuổi Trẻ")
        wait(d, lambda d: "Tuổi Trẻ" in text(d, NOTE))
        d.execute_script("arguments[0].scrollIntoView({block: 'center'})", css(d, NOTE)[0])
        wide = d.execute_script("return document.documentElement.scrollWidth")
        assert wide <= 400, f"the page is {wide}px wide in a 400px window"
        shoot(d, tmp_path, "ui-filters-narrow.png")
    finally:
        d.set_window_size(1400, 1000)


def test_the_table_sorts_by_date_and_the_viewer_shows_the_metadata(dated, browser, tmp_path):
    d = browser
    fresh(d, dated.url)
    tab(d, "Kho bài viết")

    def column(n: int) -> list[str]:
        return [e.text for e in css(d, f"#rag-articles [role=gridcell][data-col='{n}']")]

    wait(d, lambda d: len(column(TABLE_ID_COLUMN)) == 7)
    # newest publication first, the undated seeds after
    assert column(2) == ["2024-06-20", "2023-03-05"] + [""] * 5
    assert column(1)[:2] == ["Tuổi Trẻ", "VnExpress"] and "Dân trí" in column(1)
    choose(d, "#rag-sort", "Ngày đăng: cũ nhất trước")
    wait(d, lambda d: column(2)[:2] == ["2023-03-05", "2024-06-20"])
    assert column(2)[2:] == [""] * 5  # the undated still last
    # the order they were added in, the latest first
    choose(d, "#rag-sort", "Mới thêm vào trước")
    added = [a["id"] for a in reversed(dated.assistant.articles())]
    wait(d, lambda d: column(TABLE_ID_COLUMN) == added)

    # the viewer: headline, then outlet · byline · date · address, then the text
    cell = [e for e in css(d, "#rag-articles [role=gridcell][data-col='0']") if "Mèo" in e.text]
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", cell[0])
    cell[0].click()
    wait(d, lambda d: "Mèo Mướp thích cá kho" in text(d, "#rag-preview"))
    assert text(d, "#rag-preview .rag-meta") == "Tuổi Trẻ · Lan Anh · 20/6/2024 · tuoitre.vn"
    link = css(d, "#rag-preview .rag-meta a")[0]
    assert link.get_attribute("href") == "https://tuoitre.vn/meo-muop.htm"
    assert {"noopener", "noreferrer"} <= set(link.get_attribute("rel").split())
    preview = text(d, "#rag-preview")
    assert preview.index("Tuổi Trẻ") < preview.index("Con mèo Mướp")
    d.execute_script("arguments[0].scrollIntoView({block: 'end'})", css(d, "#rag-preview")[0])
    shoot(d, tmp_path, "ui-table-dates.png")
