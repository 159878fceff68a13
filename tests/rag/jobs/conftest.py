"""Fixtures of the embedding-job tests: the JSONL corpus (tests/news_corpus.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.news_corpus import write_corpus


@pytest.fixture(scope="session")
def corpus_jsonl(tmp_path_factory: pytest.TempPathFactory, seeds_dir: Path) -> Path:
    return write_corpus(tmp_path_factory.mktemp("embed-corpus") / "news.jsonl", seeds_dir)
