"""Where embeddings/ keeps what it builds once per machine, the one place this package reads
the environment (it cannot read rag.settings: embeddings/ imports nothing from rag/).

- models built from installed weights (embeddings.bundled_e5): ``$RAG_MODEL_CACHE``, else
  ``~/.cache/rag/models``;
- ONNX exports, the torch-free question encoder's among them (embeddings.onnx,
  embeddings.light): ``$RAG_ONNX_CACHE``, else ``~/.cache/rag/onnx``.
"""

from __future__ import annotations

import os
from pathlib import Path

MODEL_CACHE_ENV = "RAG_MODEL_CACHE"
ONNX_CACHE_ENV = "RAG_ONNX_CACHE"


def _root(env: str, default: str) -> Path:
    raw = os.environ.get(env, "").strip()
    return Path(raw).expanduser() if raw else Path.home() / ".cache" / "rag" / default


def model_cache() -> Path:
    return _root(MODEL_CACHE_ENV, "models")


def onnx_cache() -> Path:
    return _root(ONNX_CACHE_ENV, "onnx")
