"""End to end in headless Chromium: ask the treaty question, see the answer with [1], click it,
see the cited sentence highlighted and scrolled into view in the source viewer, upload an
article (holding XSS payloads) and ask about it, rate an answer, switch to English.

Screenshots go to the test's tmp folder, and also to $RAG_UI_SCREENSHOT_DIR when it is set
(how docs/screenshot.png is made)."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TREATY_Q = "Hiệp ước mới thay thế những văn kiện nào?"
UPLOAD = (
    "Mèo Mướp ở phố Hàng Bạc <script>window.__xss = 1</script>\n\n"
    "Con mèo Mướp sống ở phố Hàng Bạc từ năm 2015 và thích ăn cá kho "
    '<img src=x onerror="window.__xss = 2">.\n'
    "Mướp được bầu làm mèo đẹp nhất Hà Nội năm 2023.\n"
)


def wait(driver, condition, timeout: float = 30):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def css(driver, selector: str):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def text(driver, selector: str) -> str:
    """The visible text of the first match, "" while there is none or it is being replaced
    (waits poll this)."""
    from selenium.common.exceptions import StaleElementReferenceException

    found = css(driver, selector)
    try:
        return found[0].text if found else ""
    except StaleElementReferenceException:
        return ""


def bot_texts(driver) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#rag-chat .bot')].map(e => e.innerText)"
    )


def ask(driver, question: str) -> str:
    """Type a question, press Enter, and wait for the complete answer (the citations panel is
    rendered last, after the streamed text)."""
    from selenium.webdriver.common.keys import Keys

    before = len(bot_texts(driver))
    box = css(driver, "#rag-input textarea")[0]
    box.send_keys(question)
    box.send_keys(Keys.ENTER)
    wait(driver, lambda d: len(bot_texts(d)) > before and "…" not in bot_texts(d)[-1])
    wait(
        driver,
        lambda d: d.execute_script(
            "const c = document.querySelector('#rag-cites .rag-cites');"
            "return c && c.getAttribute('data-turn') === arguments[0];",
            str(before),
        ),
    )
    return bot_texts(driver)[-1]


def tab(driver, label: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.XPATH, f"//button[@role='tab'][contains(., '{label}')]").click()


def shoot(driver, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000  # a real picture, not an empty page
    out = os.environ.get("RAG_UI_SCREENSHOT_DIR")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(out) / name)
    return path


def test_chat_citation_viewer_upload_feedback_language(live, browser, tmp_path):
    d = browser
    d.get(live.url + "/")
    wait(d, lambda d: css(d, "#rag-input textarea"))
    assert "Hỏi đáp tin tức" in d.find_element("css selector", "#rag-header").text  # vi default

    # 1. the treaty question: an answer that quotes the passage, with a [1] link
    answer = ask(d, TREATY_Q)
    assert "1961" in answer and "[1]" in answer
    link = css(d, '#rag-chat .bot a[href="#rag-cite-0-1"]')[0]
    assert link.text == "[1]"
    cards = css(d, "#rag-cites .rag-card")
    assert cards and "[1]" in cards[0].text and cards[0].find_element("css selector", "mark")

    # 2. click [1]: the source viewer shows the article with the cited sentence marked,
    # scrolled into view inside the article box
    link.click()
    wait(d, lambda d: css(d, "#rag-viewer .rag-article[data-scrolled='1'] mark.rag-target"))
    mark = css(d, "#rag-viewer mark.rag-target")[0]
    assert "1961" in mark.text
    inside = d.execute_script(
        "const m = arguments[0].getBoundingClientRect();"
        "const b = document.querySelector('#rag-viewer .rag-article').getBoundingClientRect();"
        "return m.top >= b.top - 1 && m.bottom <= b.bottom + 1 && m.top >= 0 &&"
        " m.top < window.innerHeight;",
        mark,
    )
    assert inside, "the cited sentence is not visible"
    article = live.assistant.article(live.assistant.ask(TREATY_Q).citations[0].article_id)
    assert text(d, "#rag-viewer .rag-article").startswith(article.text[:40])
    assert css(d, "#rag-cites .rag-card.rag-selected")
    shoot(d, tmp_path, "screenshot-chat.png")

    # 3. thumbs up on the answer: a row in the feedback SQLite file
    # Gradio's "Like" is in the page's language (ui/static/i18n.js): "Thích"
    like = '#rag-chat button[aria-label="Thích"]'
    wait(d, lambda d: css(d, like))
    assert not css(d, '#rag-chat button[aria-label="Like"]')
    css(d, like)[-1].click()
    wait(d, lambda d: "👍" in text(d, "#rag-feedback-status"))
    feedback = Path(live.settings.index_dir).resolve().parent / "feedback.sqlite"
    with sqlite3.connect(feedback) as db:
        rows = db.execute("SELECT question, rating FROM feedback").fetchall()
    assert rows == [(TREATY_Q, 1)]

    # 4. upload an article (with script/onerror payloads), then re-upload it
    src = tmp_path / "meo-muop.txt"
    src.write_text(UPLOAD, encoding="utf-8")
    tab(d, "Kho bài viết")
    for expected in ("Đã thêm 1 bài", "đã có trong chỉ mục"):
        css(d, "#rag-upload input[type=file]")[0].send_keys(str(src))
        wait(d, lambda d: "meo-muop" in text(d, "#rag-upload"))
        css(d, "#rag-ingest")[0].click()
        wait(d, lambda d, e=expected: e in text(d, "#rag-ingest-report"), timeout=60)
    wait(d, lambda d: "Mèo Mướp" in text(d, "#rag-articles"))
    shoot(d, tmp_path, "screenshot-articles.png")

    # 5. ask about it: the answer comes from the upload, and its payloads stay text
    tab(d, "Trò chuyện")
    answer = ask(d, "Mèo Mướp thích ăn gì?")
    assert "cá kho" in answer and "[1]" in answer
    css(d, '#rag-chat .bot a[href="#rag-cite-1-1"]')[0].click()
    wait(d, lambda d: "Hàng Bạc" in text(d, "#rag-viewer .rag-article"))
    viewer = css(d, "#rag-viewer")[0]
    assert "<script>window.__xss = 1</script>" in viewer.text
    assert not viewer.find_elements("css selector", "script, img")
    assert not css(d, "#rag-chat .bot img, #rag-cites img")
    assert d.execute_script("return window.__xss") is None

    # 6. English switch: labels and the rendered panels change language
    d.find_element("xpath", "//label[contains(., 'English')]").click()
    wait(d, lambda d: "News Q&A" in text(d, "#rag-header"))
    wait(d, lambda d: "Source article" in text(d, "#rag-viewer"))
    assert css(d, "#rag-input textarea")[0].get_attribute("placeholder").startswith("Type a")
    shoot(d, tmp_path, "screenshot-final.png")
