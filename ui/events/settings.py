"""The settings tab's events: every setting is saved in the browser as it changes; a new
retriever also shows in the status line."""

from typing import TYPE_CHECKING

from ui.events import PRIVATE

if TYPE_CHECKING:
    from ui.events.saving import Saver
    from ui.handlers.corpus import CorpusHandlers
    from ui.layout.header import Header
    from ui.layout.settings import SettingsTab
    from ui.layout.state import PageState


def wire_settings(
    settings: "SettingsTab",
    header: "Header",
    state: "PageState",
    saver: "Saver",
    corpus: "CorpusHandlers",
) -> None:
    for setting in (settings.top_k, settings.rerank, settings.answer_mode):
        saver.on(setting.change)
    saver.after(
        settings.mode.change(corpus.status, [state.lang, settings.mode], [header.status], **PRIVATE)
    )
