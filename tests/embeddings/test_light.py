"""embeddings.light: questions encoded through the recorded ONNX graph and the tokenizers
library, without torch, giving the torch model's vectors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embeddings import light
from embeddings.encoder import Encoder, ModelSpec, load_model

QUESTIONS = [
    "Hiệp ước mới thay thế những văn kiện nào?",
    "which agreements does the treaty replace?",
    "hiep uoc thay the nhung van kien nao",
    "?",
    "Tổng thống Putin tặng Chủ tịch Kim Jong Un món quà gì? " * 40,  # past the length cap
]


@pytest.fixture(scope="module")
def recorded(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    # One export for the module: it is the slow part.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAG_ONNX_CACHE", str(tmp_path_factory.mktemp("onnx")))
        model = load_model(str(tiny_model_dir))
        encoder = Encoder(model, "tiny/test-model", ModelSpec("query: ", "passage: "))
        light.record(model, "tiny/test-model", encoder.spec, tiny_model_dir)
        yield encoder


def test_the_recorded_graph_gives_the_torch_vectors(recorded: Encoder):
    fast = light.load("tiny/test-model")
    assert fast is not None and fast.dim == recorded.dim
    cos = (recorded.encode_queries(QUESTIONS) * fast.encode_queries(QUESTIONS)).sum(axis=1)
    assert cos.min() >= 0.999
    passages = recorded.encode_passages(QUESTIONS[:3])
    assert ((passages * fast.encode_passages(QUESTIONS[:3])).sum(axis=1)).min() >= 0.999


def test_token_ids_are_the_models_own(recorded: Encoder):
    fast = light.load("tiny/test-model")
    texts = ["query: " + q for q in QUESTIONS]
    ours = [e.ids for e in fast._tok.encode_batch(texts)]
    theirs = recorded.model.preprocess(texts)["input_ids"].numpy().tolist()
    assert ours == theirs


def test_a_changed_model_directory_is_not_trusted(recorded: Encoder, tiny_model_dir: Path):
    assert light.load("tiny/test-model") is not None
    assert light.load("another/model") is None
    config = tiny_model_dir / "config_sentence_transformers.json"
    before = config.stat()
    try:
        config.touch()  # a rebuilt or re-downloaded model has new files
        assert light.load("tiny/test-model") is None
    finally:
        import os

        os.utime(config, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert light.load("tiny/test-model") is not None


def test_a_process_that_only_encodes_questions_never_imports_torch(recorded: Encoder, tmp_path):
    code = (
        "import sys, numpy as np\n"
        "from embeddings import light\n"
        "q = light.load('tiny/test-model')\n"
        f"v = q.encode_queries({QUESTIONS[:2]!r})\n"
        "np.save(sys.argv[1], v)\n"
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)\n"
    )
    out = tmp_path / "v.npy"
    run = subprocess.run(
        [sys.executable, "-c", code, str(out)], capture_output=True, text=True, check=True
    )
    assert run.stdout.split() == ["False", "False"]
    expected = recorded.encode_queries(QUESTIONS[:2])
    assert np.allclose(np.load(out), expected, atol=1e-4)


def test_a_prefetched_encoder_is_the_one_loaded(recorded: Encoder):
    light.prefetch("tiny/test-model")
    fast = light.load("tiny/test-model")
    assert fast is not None
    cos = (recorded.encode_queries(QUESTIONS[:2]) * fast.encode_queries(QUESTIONS[:2])).sum(1)
    assert cos.min() >= 0.999
    light.prefetch("not/recorded")
    assert light.load("not/recorded") is None


def test_a_damaged_export_is_not_used(recorded: Encoder):
    """A truncated query.onnx: load() says None (the caller loads the torch model), never a
    traceback."""
    fast = light.load("tiny/test-model")
    assert fast is not None
    desc = json.loads(light._pointer("tiny/test-model").read_text(encoding="utf-8"))
    onnx_file = Path(desc["descriptor"]).parent / light.QUERY_ONNX
    whole = onnx_file.read_bytes()
    try:
        onnx_file.write_bytes(whole[: len(whole) // 3])
        assert light.load("tiny/test-model") is None
    finally:
        onnx_file.write_bytes(whole)
    assert light.load("tiny/test-model") is not None
