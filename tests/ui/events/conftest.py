"""The whole page built on a real Assistant (not served): its events can be found by the
handler's name and called as Gradio would."""

from __future__ import annotations

import pytest


@pytest.fixture()
def page(seeded_assistant, tiny_settings):
    gr = pytest.importorskip("gradio")  # noqa: F841
    from ui.app import build_blocks

    return build_blocks(seeded_assistant, tiny_settings)


def events(demo, name: str) -> list:
    """The events whose handler is called ``name``."""
    return [f for f in demo.fns.values() if f.name == name]


def event(demo, name: str):
    (found,) = events(demo, name)
    return found


def ids(blocks) -> list[int]:
    return [b._id for b in blocks]
