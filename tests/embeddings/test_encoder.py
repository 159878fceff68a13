import numpy as np
import pytest

from embeddings.encoder import FALLBACK_ID, load_model, resolve_encoder, spec_for
from rag.errors import ModelLoadError


def test_local_directory_loads_through_sentence_transformers(tiny_model_dir):
    choice = resolve_encoder(str(tiny_model_dir), fallback=False)
    assert choice.warning is None and choice.model_id == str(tiny_model_dir)
    enc = choice.encoder
    q = enc.encode_queries(["Hiệp ước thay thế văn kiện nào?"])
    p = enc.encode_passages(["Hiệp ước mới thay thế các văn kiện năm 1961.", "Xe hơi Aurus."])
    assert q.shape == (1, enc.dim) and p.shape == (2, enc.dim)
    assert q.dtype == np.float32 and p.dtype == np.float32
    assert np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-5)
    assert enc.encode_passages([]).shape == (0, enc.dim)


def test_e5_prompts_come_from_the_registry(tmp_path):
    assert spec_for("intfloat/multilingual-e5-small").query_prompt == "query: "
    assert spec_for(str(tmp_path / "multilingual-e5-small")).passage_prompt == "passage: "
    assert spec_for("some/unknown-model").query_prompt == ""


def test_unreachable_hub_model_fails_fast_with_one_line():
    with pytest.raises(ModelLoadError) as err:
        load_model("intfloat/multilingual-e5-small")
    assert "\n" not in str(err.value)
    assert "multilingual-e5-small" in str(err.value)


def test_fallback_to_installed_minilm_is_reported(minilm_dir, tmp_path, monkeypatch):
    # The bundled e5 cannot be built (its cache is under a file), so MiniLM is next.
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("RAG_MODEL_CACHE", str(tmp_path / "a-file" / "models"))
    choice = resolve_encoder("some-org/not-a-cached-model")
    assert choice.model_id == FALLBACK_ID
    assert "some-org/not-a-cached-model" in choice.warning and FALLBACK_ID in choice.warning
    assert "RAG_MODEL_CACHE" in choice.warning  # why the bundled e5 was not used either
    v = choice.encoder.encode_queries(["treaty"])
    assert v.shape == (1, 384)


def test_no_fallback_raises(tmp_path):
    with pytest.raises(ModelLoadError):
        resolve_encoder(str(tmp_path / "missing-model-dir") + "-x/y", fallback=False)


def test_broken_local_model_dir_is_a_clear_error(tmp_path):
    (tmp_path / "modules.json").write_text("not json")
    with pytest.raises(ModelLoadError, match="not a sentence-transformers model"):
        load_model(str(tmp_path))


def test_queries_encode_on_one_thread_and_restore_the_setting(tiny_model_dir):
    import torch

    enc = resolve_encoder(str(tiny_model_dir), fallback=False).encoder
    before = torch.get_num_threads()
    one = enc.encode_queries(["Hiệp ước thay thế văn kiện nào?"])
    assert torch.get_num_threads() == before
    many = enc.encode_queries(["Hiệp ước thay thế văn kiện nào?"] * 20)  # batch: all threads
    assert np.allclose(one[0], many[0], atol=1e-5)


def test_small_passage_batches_start_no_thread_team_in_the_calling_thread(tiny_model_dir):
    """A server encodes the few sentences an answer weighs on its request threads. With torch
    on more than one thread, each thread that entered a parallel region got an OpenMP team of
    its own, kept as long as the thread lives (~16 MB each with multilingual-e5-small: 40
    request threads held ~640 MB). Small batches run on the calling thread alone."""
    import os
    import threading

    import torch

    if torch.get_num_threads() < 2:
        pytest.skip("torch runs on one thread here: there is no team to start")
    enc = resolve_encoder(str(tiny_model_dir), fallback=False).encoder
    enc.encode_passages(["Hiệp ước mới."])
    n = 6
    started, stop = threading.Barrier(n + 1), threading.Event()

    def request() -> None:
        enc.encode_passages(["Hiệp ước mới thay thế các văn kiện năm 1961.", "Xe hơi Aurus."])
        started.wait(60)
        stop.wait(60)

    before = len(os.listdir("/proc/self/task"))
    threads = [threading.Thread(target=request) for _ in range(n)]
    for t in threads:
        t.start()
    try:
        started.wait(60)
        extra = len(os.listdir("/proc/self/task")) - before
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert extra == n  # the request threads themselves, and no team beside any of them
