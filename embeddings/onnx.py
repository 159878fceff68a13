"""The same sentence-transformers model, run by ONNX Runtime (fp32, or int8 dynamic quantization).

Why not sentence-transformers' own ``backend="onnx"``: it needs ``optimum-onnx``, whose only
release (0.1.0) requires transformers < 4.58; installing it would pull this project's
transformers 5 down (measured: it also fails to import against transformers 5). So the export is
done here with torch.onnx (the TorchScript exporter, no extra packages), and the graph includes
the whole sentence-transformers forward (transformer, pooling, normalization): the ONNX model
returns the same sentence embedding the torch model does, for any pooling a model configures.
Tokenization stays with the model's own tokenizer, so inputs are identical.

int8: ``onnxruntime.quantization.quantize_dynamic`` on the MatMul weights, per output channel.
Per-tensor int8 (the default) costs too much accuracy on MiniLM (mean cosine 0.92 to fp32 on
Vietnamese news chunks, measured); per-channel keeps it at ~0.99.

Exported models are cached under ``$RAG_ONNX_CACHE`` (default ``~/.cache/rag/onnx``), keyed by the
model's files and the library versions, and built once per machine under a file lock (Ray workers
on one node share it).
"""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

OPSET = 17
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


def cache_root() -> Path:
    return Path(os.environ.get("RAG_ONNX_CACHE", Path.home() / ".cache" / "rag" / "onnx"))


def _model_key(model) -> str:
    """A key that changes when the weights, the tokenizer or the toolchain change."""
    import onnxruntime
    import torch

    h = hashlib.sha1()
    h.update(f"{torch.__version__}|{onnxruntime.__version__}|{OPSET}".encode())
    h.update(repr(model).encode())
    for p in model.state_dict().values():
        # Hash a sample of each tensor: cheap, and any retrained model differs in it.
        flat = p.detach().reshape(-1)
        h.update(flat[:: max(1, flat.numel() // 4096)].float().numpy().tobytes())
    return h.hexdigest()[:20]


class _Forward:
    """torch.nn.Module wrapper (built lazily: torch is imported only here)."""

    @staticmethod
    def build(st_model, names: Sequence[str]):
        import torch

        class Forward(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.st = st_model

            def forward(self, *tensors):
                features = dict(zip(names, tensors, strict=True))
                return self.st(features)["sentence_embedding"]

        return Forward().eval()


def export_onnx(st_model, path: Path) -> Path:
    """Export a SentenceTransformer's full forward to ``path`` (fp32)."""
    import torch

    names = _input_names(st_model)
    sample = st_model.tokenizer(
        ["xin chào Việt Nam", "a longer sample sentence for the exporter"],
        padding=True,
        truncation=True,
        return_tensors="pt",
    )
    args = tuple(sample[n] for n in names)
    dynamic = {n: {0: "batch", 1: "sequence"} for n in names}
    dynamic["sentence_embedding"] = {0: "batch"}
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with torch.no_grad(), warnings.catch_warnings():
        # The tracer warns about Python branches on shapes; each is constant for this graph
        # (an attention mask is always given), and the export is checked against torch in tests.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Forward.build(st_model, names),
            args,
            str(tmp),
            input_names=list(names),
            output_names=["sentence_embedding"],
            dynamic_axes=dynamic,
            opset_version=OPSET,
            dynamo=False,  # the dynamo exporter needs onnxscript; this one needs nothing more
        )
    os.replace(tmp, path)
    return path


def quantize_int8(src: Path, dst: Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = dst.with_name(f".{dst.name}.tmp-{os.getpid()}")
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))
    quantize_dynamic(
        str(src),
        str(tmp),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul"],
    )
    os.replace(tmp, dst)
    return dst


def _input_names(st_model) -> tuple[str, ...]:
    probe = st_model.tokenizer(["x"], return_tensors="np")
    return tuple(n for n in INPUT_NAMES if n in probe)


def onnx_model_path(st_model, quantize: bool) -> Path:
    """The cached ONNX file for this model (exported, and quantized, on first use)."""
    from filelock import FileLock

    folder = cache_root() / _model_key(st_model)
    folder.mkdir(parents=True, exist_ok=True)
    fp32 = folder / "model.onnx"
    target = folder / ("model_int8.onnx" if quantize else "model.onnx")
    with FileLock(str(folder / ".lock")):
        if not fp32.exists():
            export_onnx(st_model, fp32)
        if quantize and not target.exists():
            quantize_int8(fp32, target)
    return target


class OnnxEncoder:
    """Drop-in for embeddings.encoder.Encoder (model_id, spec, dim, encode_*), run by ONNX
    Runtime. Built from a loaded Encoder so that model id and prompts are the same."""

    def __init__(self, st_model, model_id: str, spec, path: Path, threads: int | None = None):
        import onnxruntime as ort

        self._st = st_model
        self.model_id = model_id
        self.spec = spec
        self.path = path
        self.quantized = path.name.endswith("_int8.onnx")
        self._names = _input_names(st_model)
        self._preprocess = getattr(st_model, "preprocess", None) or st_model.tokenize
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # No busy-waiting between ops: on a shared or oversubscribed machine spinning threads
        # steal the cores the other ops need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(path), options, providers=_providers(ort))
        self._dim = int(
            self._session.get_outputs()[0].shape[-1] or st_model.get_embedding_dimension()
        )

    @classmethod
    def from_encoder(cls, encoder, *, quantize: bool = False, threads: int | None = None):
        st_model = encoder.model
        return cls(
            st_model, encoder.model_id, encoder.spec, onnx_model_path(st_model, quantize), threads
        )

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def backend(self) -> str:
        return "onnx-int8" if self.quantized else "onnx"

    def _encode(self, texts: Sequence[str], prompt: str, batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        for i in range(0, len(texts), batch_size):
            # The model's own preprocessing (lower-casing, max length, truncation side): the
            # ONNX graph gets exactly the tensors the torch model would.
            feats = self._preprocess([prompt + t for t in texts[i : i + batch_size]])
            inputs = {n: np.asarray(feats[n].cpu().numpy(), dtype=np.int64) for n in self._names}
            out.append(self._session.run(["sentence_embedding"], inputs)[0])
        vectors = np.vstack(out).astype(np.float32)
        # The graph normalizes when the model does; normalizing again keeps the promise of
        # unit vectors for models without a Normalize module, as Encoder does.
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.spec.query_prompt)

    def encode_passages(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        return self._encode(texts, self.spec.passage_prompt, batch_size or 32)


def _providers(ort) -> list[str]:
    """CUDA when this onnxruntime build has it (onnxruntime-gpu), else the CPU."""
    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
