"""After each change to the conversation or the settings: the browser's saved copy and the
hidden plain-text copies of the answers."""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ui.browser_state import copy_data_html, saved_value
from ui.events import PRIVATE, answer_controls

if TYPE_CHECKING:
    from ui.layout.chat import ChatTab
    from ui.layout.header import Header
    from ui.layout.settings import SettingsTab
    from ui.layout.state import PageState


def save(turns, lang, mode, top_k, rerank, answer_mode, site="", date_from="", date_to=""):
    """The conversation, settings and source filters into localStorage (gr.BrowserState),
    and the plain-text copies of the answers for copy.js."""
    value = saved_value(turns, lang, mode, top_k, rerank, answer_mode, site, date_from, date_to)
    return value, copy_data_html(turns or [], lang)


@dataclass(frozen=True)
class Saver:
    inputs: list[Any]
    outputs: list[Any]

    @classmethod
    def of(
        cls, state: "PageState", settings: "SettingsTab", header: "Header", chat: "ChatTab"
    ) -> "Saver":
        inputs = [state.turns, state.lang, *answer_controls(settings, chat)]
        return cls(inputs=inputs, outputs=[state.saved, header.copy_data])

    def on(self, trigger) -> Any:
        """Save whenever ``trigger`` (an event listener such as ``slider.change``) fires."""
        return trigger(save, self.inputs, self.outputs, **PRIVATE)

    def after(self, event) -> Any:
        """Save once ``event`` is done."""
        return event.then(save, self.inputs, self.outputs, **PRIVATE)
