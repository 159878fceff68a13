"""The whole page's components: the parts ui.app builds, for the events that span them (the
language switch, the page load)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ui.layout.chat import ChatTab
    from ui.layout.corpus import CorpusTab
    from ui.layout.header import Header
    from ui.layout.labels import Labels
    from ui.layout.settings import SettingsTab
    from ui.layout.state import PageState


@dataclass(frozen=True)
class Page:
    state: PageState
    header: Header
    chat: ChatTab
    corpus: CorpusTab
    settings: SettingsTab
    labels: Labels  # the components the language switch relabels
