"""rag.settings: one Settings object, one spelling of each mode."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from rag.cli import cli
from rag.datasets import REPO_ROOT, data_dir
from rag.errors import InputError
from rag.settings import ANSWER_MODES, RETRIEVER_MODES, Settings


def test_data_dir_is_a_setting(tmp_path):
    assert Settings.load(env={"RAG_DATA_DIR": str(tmp_path)}).data_dir == tmp_path
    assert data_dir(Settings(data_dir=tmp_path)) == tmp_path
    assert data_dir(Settings()) == REPO_ROOT.parent / "shared" / "data"


@pytest.mark.parametrize("bad", [{"RAG_RETRIEVER": "sparse"}, {"RAG_ANSWER_MODE": "abstractive"}])
def test_unknown_modes_are_refused_with_the_choices(bad):
    with pytest.raises(InputError) as err:
        Settings.load(env=bad)
    choices = RETRIEVER_MODES if "RAG_RETRIEVER" in bad else ANSWER_MODES
    assert all(c in str(err.value) for c in choices)


def test_the_cli_and_the_api_offer_the_settings_modes():
    result = CliRunner().invoke(cli, ["ask", "--help"])
    assert "[bm25|dense|hybrid]" in result.output and "[extractive|llm]" in result.output
    assert RETRIEVER_MODES == ("bm25", "dense", "hybrid")
    from ui.api import AskRequest

    schema = AskRequest.model_json_schema()
    modes = schema["properties"]["mode"]["anyOf"][0]["enum"]
    assert tuple(modes) == RETRIEVER_MODES


def test_settings_paths_are_typed():
    assert isinstance(Settings.load(env={"RAG_INDEX_DIR": "x/y"}).index_dir, Path)
