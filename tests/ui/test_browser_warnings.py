"""A standing warning in headless Chromium: the configured embedding model cannot be loaded
(a directory that does not exist; the bundled e5 cannot be built, its cache being under a
file), so the index is built and served with the installed MiniLM. The status line says so
once, in the page's language, with the pipeline's own line behind a details toggle; the
answers do not repeat it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ui.conftest import LiveServer, seeded, start_server
from tests.ui.test_browser_e2e import ask, bot_texts, css, shoot, wait
from tests.ui.test_browser_page import TREATY_Q, fresh, switch
from ui.i18n import t

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WARNINGS = "#rag-status-line details.rag-warn"


@pytest.fixture(scope="module")
def fallback_live(tmp_path_factory, minilm_dir: Path, seeds_dir: Path) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("ui-fallback")
    (tmp / "a-file").write_text("")
    missing = tmp / "model-not-there"
    with pytest.MonkeyPatch.context() as mp:
        # The bundled e5 comes before MiniLM in the fallback order: it cannot be built here.
        mp.setenv("RAG_MODEL_CACHE", str(tmp / "a-file" / "models"))
        settings, assistant = seeded(tmp, missing, seeds_dir)
        warning = assistant.model_warning()
    assert warning and str(missing) in warning and "all-MiniLM-L6-v2" in warning
    server = start_server(settings, assistant)
    yield server
    server.stop()
    assistant.close()


def page_text(d) -> str:
    return d.execute_script("return document.body.innerText")


def test_status_line_shows_the_fallback_once_translated_with_details(
    fallback_live, browser, tmp_path
):
    d = browser
    live = fallback_live
    raw = live.assistant.model_warning()
    fresh(d, live.url)
    wait(d, lambda d: css(d, WARNINGS))

    for lang in ("vi", "en"):
        if lang == "en":
            switch(d, "en")
            wait(d, lambda d: "fallback" in css(d, WARNINGS)[0].text)
        other = "en" if lang == "vi" else "vi"
        mine_head = t("warn_fallback", lang, model="X", wanted="Y").split("X")[0].strip()
        other_head = t("warn_fallback", other, model="X", wanted="Y").split("X")[0].strip()
        summaries = [w.find_element("css selector", "summary").text for w in css(d, WARNINGS)]
        assert len(summaries) == len(set(summaries)), summaries  # no warning twice
        fallback = [s for s in summaries if mine_head in s]
        assert len(fallback) == 1, summaries
        assert "all-MiniLM-L6-v2" in fallback[0] and "/model-not-there" in fallback[0]
        assert f"({t('details', lang)})" in fallback[0]
        # once on the whole page, and never in the other language
        assert page_text(d).count(mine_head) == 1
        assert other_head not in page_text(d)

        # the pipeline's own line is behind the toggle: hidden, then shown on a click
        box = [w for w in css(d, WARNINGS) if mine_head in w.text][0]
        detail = box.find_element("css selector", ".rag-warn-detail")
        assert not detail.is_displayed()
        box.find_element("css selector", "summary").click()
        wait(d, lambda d, el=detail: el.is_displayed())
        assert detail.text.strip() == raw
        assert page_text(d).count(raw) == 1
        if lang == "vi":
            shoot(d, tmp_path, "ui-warning.png")
        box.find_element("css selector", "summary").click()  # closed again
        wait(d, lambda d, el=detail: not el.is_displayed())

        # answers do not repeat it: no warning line in the bubble, in either language
        if lang == "vi":
            ask(d, TREATY_Q)
        else:
            wait(d, lambda d: bot_texts(d) and "Assistant" in _bot_label(d))
        answer = bot_texts(d)[-1]
        assert "1961" in answer
        assert "⚠" not in answer and mine_head not in answer and "MiniLM" not in answer
        assert "could not be loaded" not in answer
        assert page_text(d).count(mine_head) == 1


def _bot_label(d) -> str:
    found = css(d, '#rag-chat [data-testid="bot"]')
    return (found[-1].get_attribute("aria-label") or "") if found else ""
