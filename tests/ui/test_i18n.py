"""ui/i18n.py: one table of the page's strings, each key defined once and named one way
(``K.<key>``) everywhere in ui/."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from ui.i18n import GRADIO_ORIGINALS, STRINGS, K, Text, gradio_words, t

UI = Path(__file__).resolve().parents[2] / "ui"


def ui_trees() -> dict[str, ast.Module]:
    return {
        str(p.relative_to(UI)): ast.parse(p.read_text(encoding="utf-8"))
        for p in sorted(UI.rglob("*.py"))
    }


def keys_used() -> dict[str, set[str]]:
    """``K.<name>`` references in each module of ui/."""
    return {
        name: {
            node.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "K"
        }
        for name, tree in ui_trees().items()
    }


def test_every_key_used_is_in_the_table():
    unknown = {m: sorted(k - STRINGS.keys()) for m, k in keys_used().items() if k - STRINGS.keys()}
    assert not unknown


def test_every_key_of_the_table_is_used():
    used = set().union(*keys_used().values())
    assert sorted(STRINGS.keys() - used) == []


def test_keys_are_named_one_way():
    """No text looked up by a literal key: t("send", ...) would be a second way to name one."""
    literal = []
    for name, tree in ui_trees().items():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "t"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                literal.append(f"{name}:{node.lineno}")
    assert literal == []


def test_every_entry_has_both_languages():
    for key, text in STRINGS.items():
        assert isinstance(text, Text) and text.vi.strip() and text.en.strip(), key
        # the same placeholders in both, so t() formats either
        fields = [{f for _, f, _, _ in string.Formatter().parse(s) if f} for s in text]
        assert fields[0] == fields[1], key


def test_a_misspelt_key_fails_where_it_is_written():
    assert K.send == "send" and "send" in dir(K)
    with pytest.raises(AttributeError, match="sendd"):
        _ = K.sendd


def test_t_picks_the_language_and_formats():
    assert t(K.send, "vi") == "Gửi" and t(K.send, "en") == "Send"
    assert t(K.send, "fr") == "Gửi"  # unknown language: Vietnamese
    assert t(K.selected, "en", title="X") == "Selected: X"


def test_gradio_words_cover_every_spelling():
    assert set(GRADIO_ORIGINALS) <= set(STRINGS) and all(
        k.startswith("g_") for k in GRADIO_ORIGINALS
    )
    assert {k for k in STRINGS if k.startswith("g_")} == set(GRADIO_ORIGINALS)
    words = gradio_words("vi")
    assert words["Drop File Here"] == words["Thả tệp vào đây"] == "Thả tệp vào đây"
    assert gradio_words("en")["Thả tệp vào đây"] == "Drop File Here"
