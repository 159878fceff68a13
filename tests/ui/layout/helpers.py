"""Building one part of the page on its own, inside a bare gr.Blocks."""

from __future__ import annotations

import dataclasses

from ui.layout.labels import Labels


def build(builder, *args, lang="vi", tabs=True):
    """(the part's dataclass, the Labels its words were registered with)."""
    import gradio as gr

    labels = Labels(lang)
    with gr.Blocks():
        if tabs:
            with gr.Tabs():
                part = builder(labels, *args)
        else:
            part = builder(labels, *args)
    return part, labels


def fields(part) -> dict:
    return {f.name: getattr(part, f.name) for f in dataclasses.fields(part)}


def relabelled(part, labels) -> set[str]:
    """The names of the part's fields that follow the language switch."""
    registered = {id(c) for c in labels.components}
    return {name for name, c in fields(part).items() if id(c) in registered}


def english(part, labels, name: str) -> dict:
    """The language switch's update for one field, in English."""
    component = getattr(part, name)
    (update,) = [
        u for c, u in zip(labels.components, labels.updates("en"), strict=True) if c is component
    ]
    return update
