"""Optional cross-encoder reranking of the retrieved passages (sentence-transformers CrossEncoder).

The default model (BAAI/bge-reranker-v2-m3) reads the question and each passage together, which
no bi-encoder or BM25 can; it is also large and cannot be downloaded on an offline machine. When
it cannot be loaded the stage switches itself off and says so in one line (Reranker.warning),
and retrieval goes on as if reranking had not been asked for.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace

import numpy as np

from rag.chunk import passage_for_embedding
from rag.types import Hit

log = logging.getLogger(__name__)
# Passages the cross-encoder reads per question: the fused top RERANK_POOL.
RERANK_POOL = 20


class Reranker:
    """Loads the model on first use; ``available`` is False (with ``warning``) when it cannot."""

    def __init__(self, model_id: str, device: str | None = None, batch_size: int = 16) -> None:
        self.model_id = model_id
        self.device = device
        self.batch_size = batch_size
        self.warning: str | None = None
        self._model = None
        self._tried = False
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if not self._tried:
                self._tried = True
                try:
                    from pathlib import Path

                    from sentence_transformers import CrossEncoder

                    from embeddings.encoder import hub_reachable

                    # Offline, ask the cache only: no network retries and their log lines.
                    offline = not Path(self.model_id).exists() and not hub_reachable()
                    self._model = CrossEncoder(
                        self.model_id, device=self.device, local_files_only=offline
                    )
                except Exception as exc:  # noqa: BLE001 - any load failure turns the stage off
                    reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
                    self.warning = (
                        f"reranker {self.model_id} could not be loaded "
                        f"({type(exc).__name__}{': ' + reason if reason else ''}); "
                        "reranking is off"
                    )
                    log.warning(self.warning)
            return self._model

    @property
    def available(self) -> bool:
        return self._load() is not None

    def scores(self, question: str, passages: list[str]) -> np.ndarray:
        model = self._load()
        if model is None or not passages:
            return np.zeros(len(passages), dtype=np.float32)
        pairs = [(question, p) for p in passages]
        return np.asarray(
            model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False),
            dtype=np.float32,
        ).reshape(-1)

    def rerank(self, question: str, hits: list[Hit], k: int) -> list[Hit]:
        """The top ``k`` of ``hits`` reordered by the cross-encoder (unchanged when it is off)."""
        if not hits or not self.available:
            return hits[:k]
        # The passage as it was embedded: the title once, not again on a first passage that
        # opens with it.
        texts = [passage_for_embedding(h.chunk) for h in hits]
        ce = self.scores(question, texts)
        order = sorted(range(len(hits)), key=lambda i: (-float(ce[i]), hits[i].rank))
        out = []
        for rank, i in enumerate(order[:k]):
            h = hits[i]
            # The cross-encoder's score becomes the hit's score: ranks and scores must agree
            # (the evaluation orders ties by score); the fused score stays in scores.
            scores = {**h.scores, "fused": h.score, "rerank": float(ce[i])}
            out.append(replace(h, score=float(ce[i]), rank=rank, scores=scores))
        return out
