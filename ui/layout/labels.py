"""Components whose words follow the page's language switch.

A builder creates such a component through ``Labels.make`` with the i18n keys of its texts;
the component starts in the page's first language, and ``Labels.updates(lang)`` gives the
gr.update of every registered component for another one. Each key is written once, where the
component is made.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ui.i18n import t

Words = Callable[[str], dict[str, Any]]  # lang -> {property: text}


class Labels:
    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._entries: list[tuple[Any, Words]] = []

    def make(self, cls: Callable[..., Any], keys: Mapping[str, str], /, **kwargs: Any) -> Any:
        """``cls(**kwargs)`` with each property of ``keys`` set to its key's words."""
        keys = dict(keys)
        return self.make_with(cls, lambda lang: {p: t(k, lang) for p, k in keys.items()}, **kwargs)

    def make_with(self, cls: Callable[..., Any], words: Words, /, **kwargs: Any) -> Any:
        """``cls(**kwargs)`` with the properties ``words(lang)`` gives (for words composed
        from several keys, or chosen by the server's options)."""
        component = cls(**words(self.lang), **kwargs)
        self._entries.append((component, words))
        return component

    @property
    def components(self) -> list[Any]:
        return [component for component, _ in self._entries]

    def updates(self, lang: str) -> list[Any]:
        """One gr.update per component, in the order of ``components``."""
        import gradio as gr

        return [gr.update(**words(lang)) for _, words in self._entries]
