"""The cross-encoder stage: real sentence-transformers CrossEncoder loading on a tiny model the
tests build, and the switch-off (with a one-line warning) when a model cannot be loaded."""

from __future__ import annotations

from rag.rerank import Reranker
from rag.types import Chunk, Hit


def _hits(texts):
    return [Hit(Chunk(f"a{i}", 0, t, 0, len(t)), 1.0 - i / 10, i) for i, t in enumerate(texts)]


def test_tiny_cross_encoder_scores_and_reorders(tiny_cross_encoder_dir):
    r = Reranker(str(tiny_cross_encoder_dir))
    assert r.available and r.warning is None
    texts = ["Hiệp ước được ký tại Bình Nhưỡng.", "Kim ngạch tăng 54%.", "Xe hơi Aurus."]
    ce = r.scores("Hiệp ước ký ở đâu?", texts)
    assert ce.shape == (3,) and len(set(ce.round(6).tolist())) > 1
    out = r.rerank("Hiệp ước ký ở đâu?", _hits(texts), k=2)
    assert len(out) == 2 and [h.rank for h in out] == [0, 1]
    # Ranks follow the cross-encoder, and the hit score is its score (ranks and scores agree).
    assert out[0].score >= out[1].score and out[0].scores["rerank"] == out[0].score
    assert out[0].score == float(max(ce))


def test_unloadable_model_switches_reranking_off(tmp_path):
    r = Reranker(str(tmp_path / "no-such-model"))
    assert not r.available
    assert r.warning and "reranking is off" in r.warning and "\n" not in r.warning
    hits = _hits(["a b", "c d"])
    assert r.rerank("q", hits, k=1) == hits[:1]


def test_assistant_reports_the_reranker_warning(seeded_assistant, tmp_path):
    from dataclasses import replace

    seeded_assistant.settings = replace(
        seeded_assistant.settings, rerank=True, reranker_model=str(tmp_path / "missing")
    )
    ans = seeded_assistant.ask("Hiệp ước được ký ở đâu?")
    assert any("reranking is off" in w for w in ans.warnings)
    assert ans.found


def test_assistant_reranks_with_a_loadable_model(seeded_assistant, tiny_cross_encoder_dir):
    hits = seeded_assistant.search("Hiệp ước được ký ở đâu?", k=3, rerank=False)
    from dataclasses import replace

    seeded_assistant.settings = replace(
        seeded_assistant.settings, reranker_model=str(tiny_cross_encoder_dir)
    )
    reranked = seeded_assistant.search("Hiệp ước được ký ở đâu?", k=3, rerank=True)
    assert len(reranked) == 3 and all("rerank" in h.scores for h in reranked)
    assert len(hits) == 3 and all("rerank" not in h.scores for h in hits)


def test_the_cross_encoder_reads_the_title_once(tiny_cross_encoder_dir):
    # A first passage opens with its headline: the pair scored is the passage as embedded,
    # not the title twice.
    r = Reranker(str(tiny_cross_encoder_dir))
    title = "Nga, Triều Tiên ký hiệp ước"
    first = Chunk("a", 0, f"{title}\nHiệp ước được ký tại Bình Nhưỡng.", 0, 60, title=title)
    later = Chunk("a", 1, "Kim ngạch tăng 54%.", 60, 80, title=title)
    hits = [Hit(first, 1.0, 0), Hit(later, 0.9, 1)]
    q = "Hiệp ước ký ở đâu?"
    out = r.rerank(q, hits, k=2)
    expected = r.scores(q, [first.text, f"{title}\n{later.text}"])
    got = {h.chunk.index: h.scores["rerank"] for h in out}
    assert got == {0: float(expected[0]), 1: float(expected[1])}
