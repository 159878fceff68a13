"""Questions encoded without torch: ONNX Runtime and the `tokenizers` library.

Answering one question from the shell should not cost the seconds that importing torch and
sentence-transformers takes. So when a process that has the torch model loaded records it
(`record`), the model's fp32 ONNX export (embeddings/onnx.py: the whole forward, pooling and
normalization included) is written with its tokenizer and a small descriptor; a later process
that only encodes questions loads that (`load`) after checking that the model's files are the
ones it was exported from. Same graph, same token ids: the same vectors as the torch model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from embeddings.interface import ModelSpec
from embeddings.onnx import cache_root

log = logging.getLogger(__name__)

DESCRIPTOR = "query.json"
QUERY_ONNX, QUERY_DATA = "query.onnx", "query.onnx.data"
VERSION = 2


def _pointer(model_id: str) -> Path:
    return cache_root() / "by-model" / (hashlib.sha1(model_id.encode()).hexdigest()[:20] + ".json")


def _fingerprint(source: Path) -> dict[str, list[int]]:
    """Size and modification time of every file of the model directory: cheap to re-check on
    each start, and any re-download or rebuild of the model changes it."""
    out = {}
    for path in sorted(source.rglob("*")):
        if path.is_file() and ".cache" not in path.parts:
            st = path.stat()
            out[str(path.relative_to(source))] = [st.st_size, st.st_mtime_ns]
    return out


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def record(st_model, model_id: str, spec, source: Path) -> Path:
    """Export ``st_model`` (loaded from the directory ``source``) for torch-free question
    encoding and point ``model_id`` at it. Returns the descriptor's path."""
    from embeddings.onnx import _input_names, onnx_model_path

    folder = onnx_model_path(st_model, quantize=False).parent
    onnx_path = _external_copy(folder)
    module = st_model[0]
    tokenizer_path = folder / "tokenizer.json"
    if not tokenizer_path.exists():
        # The fast tokenizer's own backend: the exact pieces, normalizer and special tokens.
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        os.close(fd)
        try:
            module.tokenizer.backend_tokenizer.save(tmp)
            os.replace(tmp, tokenizer_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    tok = module.tokenizer
    descriptor = {
        "version": VERSION,
        "model_id": model_id,
        "onnx": onnx_path.name,
        "tokenizer": tokenizer_path.name,
        "max_length": int(module.max_seq_length),
        "lower_case": bool(getattr(module, "do_lower_case", False)),
        "pad_id": int(tok.pad_token_id or 0),
        "pad_token": str(tok.pad_token or "[PAD]"),
        "input_names": list(_input_names(st_model)),
        "dim": int(
            (
                getattr(st_model, "get_embedding_dimension", None)
                or st_model.get_sentence_embedding_dimension
            )()
        ),
        "query_prompt": spec.query_prompt,
        "passage_prompt": spec.passage_prompt,
        "multilingual": bool(spec.multilingual),
        "source": str(source.resolve()),
        "fingerprint": _fingerprint(source),
    }
    _write_json(folder / DESCRIPTOR, descriptor)
    _write_json(_pointer(model_id), {"descriptor": str(folder / DESCRIPTOR)})
    return folder / DESCRIPTOR


def _external_copy(folder: Path) -> Path:
    """``model.onnx`` again with its weights in a separate file: ONNX Runtime memory-maps such
    a file, so a session opens in ~0.15 s instead of ~1.3 s of parsing 470 MB of protobuf."""
    from filelock import FileLock

    target = folder / QUERY_ONNX
    with FileLock(str(folder / ".lock")):
        if target.exists() and (folder / QUERY_DATA).exists():
            return target
        import onnx

        model = onnx.load(str(folder / "model.onnx"))
        tmp = folder / (QUERY_ONNX + ".tmp")
        try:
            onnx.save_model(
                model,
                str(tmp),
                save_as_external_data=True,
                all_tensors_to_one_file=True,
                location=QUERY_DATA,
                size_threshold=1024,
            )
            os.replace(tmp, target)  # last: a half-written copy is never named query.onnx
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return target


_prefetched: dict[str, tuple[threading.Thread, list]] = {}


def prefetch(model_id: str) -> None:
    """Start loading ``model_id``'s torch-free encoder in the background (reading the tokenizer
    takes about a second and releases the GIL); a later ``load`` returns it."""
    if model_id in _prefetched:
        return
    box: list = []
    thread = threading.Thread(target=lambda: box.append(_load(model_id)), daemon=True)
    _prefetched[model_id] = (thread, box)
    thread.start()


def load(model_id: str) -> QueryEncoder | None:
    """The torch-free encoder recorded for ``model_id``, or None when there is none or the
    model's files changed since (the caller then loads the torch model as usual)."""
    started = _prefetched.pop(model_id, None)
    if started is not None:
        thread, box = started
        thread.join()
        if box:
            return box[0]
    return _load(model_id)


def _load(model_id: str) -> QueryEncoder | None:
    try:
        pointer = json.loads(_pointer(model_id).read_text(encoding="utf-8"))
        path = Path(pointer["descriptor"])
        desc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if desc.get("version") != VERSION or desc.get("model_id") != model_id:
        return None
    source = Path(desc["source"])
    if not source.is_dir() or _fingerprint(source) != desc["fingerprint"]:
        return None
    onnx_path, tokenizer_path = path.parent / desc["onnx"], path.parent / desc["tokenizer"]
    if not all(p.is_file() for p in (onnx_path, tokenizer_path, path.parent / QUERY_DATA)):
        return None
    try:
        return QueryEncoder(desc, onnx_path, tokenizer_path)
    except Exception as exc:  # noqa: BLE001 - a damaged export: the torch model answers instead
        log.warning("cannot use the recorded question encoder at %s (%s)", path.parent, exc)
        return None


class QueryEncoder:
    """Encodes text like embeddings.encoder.Encoder (model_id, spec, dim, encode_*), through
    the recorded ONNX graph, on one thread: a question is too little work to share."""

    backend = "onnx-query"
    on_cpu = True

    def __init__(self, desc: dict, onnx_path: Path, tokenizer_path: Path) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.model_id: str = desc["model_id"]
        self.spec = ModelSpec(desc["query_prompt"], desc["passage_prompt"], desc["multilingual"])
        self._dim = int(desc["dim"])
        self._lower = bool(desc["lower_case"])
        self._names = tuple(desc["input_names"])
        self._tok = Tokenizer.from_file(str(tokenizer_path))
        self._tok.enable_truncation(max_length=int(desc["max_length"]))
        self._tok.enable_padding(pad_id=int(desc["pad_id"]), pad_token=desc["pad_token"])
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )

    @property
    def dim(self) -> int:
        return self._dim

    def _encode(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        batch = [prompt + (t.lower() if self._lower else t) for t in texts]
        encoded = self._tok.encode_batch(batch)
        columns = {
            "input_ids": [e.ids for e in encoded],
            "attention_mask": [e.attention_mask for e in encoded],
            "token_type_ids": [e.type_ids for e in encoded],
        }
        inputs = {n: np.asarray(columns[n], dtype=np.int64) for n in self._names}
        vectors = self._session.run(["sentence_embedding"], inputs)[0].astype(np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(vectors)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.spec.query_prompt)

    def encode_passages(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        out = [
            self._encode(texts[i : i + 32], self.spec.passage_prompt)
            for i in range(0, len(texts), 32)
        ]
        return np.vstack(out) if out else self._encode([], "")
