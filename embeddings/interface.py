"""What every encoder offers, declared once: the rest of the product calls these members and
nothing else (no probing with getattr). Imports nothing heavy, so the torch-free question
encoder (embeddings.light) shares it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class ModelSpec:
    """A model's prompts (e5: "query: " / "passage: ") and whether it reads more than English."""

    query_prompt: str = ""
    passage_prompt: str = ""
    multilingual: bool = True


@runtime_checkable
class TextEncoder(Protocol):
    """Text -> unit-length float32 vectors, questions and passages each with its prompt."""

    model_id: str
    spec: ModelSpec

    @property
    def dim(self) -> int: ...

    @property
    def on_cpu(self) -> bool: ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_passages(
        self, texts: Sequence[str], batch_size: int | None = None
    ) -> np.ndarray: ...


@runtime_checkable
class BatchEncoder(TextEncoder, Protocol):
    """A TextEncoder over a sentence-transformers model, whose tokenizer and window length-sorted
    batching reads (embeddings.batching)."""

    @property
    def model(self) -> Any: ...
