"""The locally built test models load through the real libraries and behave like real ones."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.tiny_models import REPO_ROOT, build_tiny_cross_encoder, build_tiny_sentence_model

SENTENCES = [
    "Hiệp ước Đối tác chiến lược toàn diện được ký tại Bình Nhưỡng.",
    "Tổng thống Nga Vladimir Putin hội đàm với Chủ tịch Triều Tiên.",
]


def _encode(model_dir: Path, texts: list[str]) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    return model.encode(texts, convert_to_numpy=True)


def test_sentence_model_gives_finite_unit_vectors(tiny_model_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    vectors = model.encode(SENTENCES, convert_to_numpy=True)

    assert model.get_embedding_dimension() == 32
    assert vectors.shape == (2, 32)
    assert vectors.dtype == np.float32
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Different sentences, different vectors: the model is not collapsing its input.
    assert not np.allclose(vectors[0], vectors[1])


def test_sentence_model_truncates_long_articles(tiny_model_dir: Path, seeds_dir: Path) -> None:
    # A whole seed article is longer than 512 tokens: it must be truncated, not overflow the
    # position embeddings.
    article = max((p.read_text(encoding="utf-8") for p in seeds_dir.glob("*.txt")), key=len)
    vectors = _encode(tiny_model_dir, [article, article[:200]])

    assert vectors.shape == (2, 32)
    assert np.isfinite(vectors).all()


def test_tokenizer_keeps_vietnamese_syllables_and_tones(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))

    assert tokenizer.tokenize("Hiệp ước Bình Nhưỡng") == ["hiệp", "ước", "bình", "nhưỡng"]
    # Tone marks are kept: these are three different words in Vietnamese.
    ids = [tokenizer.convert_tokens_to_ids(tokenizer.tokenize(w)) for w in ("ma", "má", "mà")]
    assert len({tuple(i) for i in ids}) == 3
    # Words never seen in the seeds split into pieces instead of becoming [UNK].
    assert tokenizer.unk_token not in tokenizer.tokenize("Quỹ tiền tệ quốc tế IMF xyz")


def test_sentence_model_build_is_deterministic(tiny_model_dir: Path, tmp_path: Path) -> None:
    again = build_tiny_sentence_model(tmp_path / "again")

    np.testing.assert_array_equal(_encode(tiny_model_dir, SENTENCES), _encode(again, SENTENCES))
    assert (again / "tokenizer.json").read_bytes() == (
        tiny_model_dir / "tokenizer.json"
    ).read_bytes()


@pytest.mark.slow
def test_builds_are_identical_across_processes(tiny_model_dir: Path, tmp_path: Path) -> None:
    # Rust hash maps in tokenizers are seeded per process, so a same-process rebuild cannot catch
    # a vocabulary that depends on hash order; a build in a fresh interpreter can.
    out = tmp_path / "other-process"
    code = (
        "import sys; from pathlib import Path; "
        "from tests.tiny_models import build_tiny_sentence_model; "
        "build_tiny_sentence_model(Path(sys.argv[1]))"
    )
    subprocess.run([sys.executable, "-c", code, str(out)], cwd=REPO_ROOT, check=True)

    for name in ("tokenizer.json", "model.safetensors", "modules.json"):
        assert (out / name).read_bytes() == (tiny_model_dir / name).read_bytes(), name


def test_cross_encoder_scores_each_pair(tiny_cross_encoder_dir: Path, tmp_path: Path) -> None:
    from sentence_transformers import CrossEncoder

    pairs = [
        ("Hiệp ước mới được ký ở đâu?", SENTENCES[0]),
        ("Hiệp ước mới được ký ở đâu?", SENTENCES[1]),
        ("Which agreements does the treaty replace?", SENTENCES[0]),
    ]
    model = CrossEncoder(str(tiny_cross_encoder_dir), device="cpu")
    scores = model.predict(pairs, convert_to_numpy=True)

    assert model.num_labels == 1
    assert scores.shape == (3,)
    assert np.isfinite(scores).all()
    # Same build, same scores.
    again = CrossEncoder(str(build_tiny_cross_encoder(tmp_path / "again")), device="cpu")
    np.testing.assert_array_equal(scores, again.predict(pairs, convert_to_numpy=True))


def test_minilm_loads_offline(minilm_dir: Path) -> None:
    vectors = _encode(minilm_dir, SENTENCES)

    assert vectors.shape == (2, 384)
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
