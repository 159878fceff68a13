"""The page's Gradio theme."""

from __future__ import annotations

from typing import Any


def theme() -> Any:
    """System fonts: every desktop's UI font has the Vietnamese letters, while the theme's
    bundled web font would fall back glyph by glyph ("Bài" drawn in two fonts). Subdued text,
    the primary buttons and the stop (Delete) buttons one shade darker than the theme's
    defaults: those fail WCAG AA contrast (2.6:1, 3.7:1 and 3.8:1, reported by axe-core)."""
    import gradio as gr

    return gr.themes.Default(
        primary_hue="blue",
        neutral_hue="slate",
        radius_size="md",
        font=[
            "system-ui",
            "-apple-system",
            "Segoe UI",
            "Roboto",
            "Noto Sans",
            "Helvetica Neue",
            "Arial",
            "sans-serif",
        ],
    ).set(
        body_text_color_subdued="*neutral_600",
        color_accent="*primary_600",
        link_text_color="*primary_700",
        link_text_color_hover="*primary_800",
        body_text_color_subdued_dark="*neutral_400",
        button_primary_background_fill="*primary_600",
        button_primary_background_fill_hover="*primary_700",
        button_primary_background_fill_dark="*primary_600",
        button_primary_background_fill_hover_dark="*primary_700",
        button_cancel_background_fill=gr.themes.colors.red.c600,
        button_cancel_background_fill_hover=gr.themes.colors.red.c700,
    )
