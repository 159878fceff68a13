"""How passages are encoded: one torch Encoder, run as it is, under bf16 autocast, or as its
ONNX Runtime twin (fp32 or int8, embeddings/onnx.py).

Shared by `rag ingest` (RAG_EMBED_BACKEND, --backend) and the `rag embed` job. Nothing heavy is
imported at module level: rag.settings takes the list of backends from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from embeddings.errors import InputError, ModelLoadError

if TYPE_CHECKING:
    import numpy as np

BACKENDS = ("auto", "torch", "torch-bf16", "onnx", "onnx-int8")
# CPU flags of bf16 matrix units: with them bf16 autocast encodes ~2x faster than fp32 at cosine
# >= 0.9999 to it (benchmarks/README.md); without them it is slower.
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU's feature flags (Linux); empty where they cannot be read."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


def on_cpu(device: str | None) -> bool:
    """Whether an encoder for ``device`` (None: the default one) runs on the CPU."""
    if device is not None:
        return device == "cpu"
    import torch

    return not torch.cuda.is_available()


def resolve_backend(backend: str, *, cpu: bool, flags: frozenset[str] | None = None) -> str:
    """The backend ``backend`` names: "auto" is bf16 autocast on a CPU with bf16 units, plain
    torch (fp32) elsewhere; the others are themselves. What an index or a job records."""
    if backend != "auto":
        return backend
    if cpu and BF16_FLAGS & (cpu_flags() if flags is None else flags):
        return "torch-bf16"
    return "torch"


def with_backend(encoder, backend: str):
    """``encoder`` (an embeddings.encoder.Encoder) run by ``backend``: itself for "torch", under
    bf16 autocast, or its ONNX Runtime twin (fp32 or int8)."""
    if backend == "auto":
        backend = resolve_backend(backend, cpu=encoder.on_cpu)
    if backend == "torch":
        return encoder
    if backend == "torch-bf16":
        return Bf16Encoder(encoder)
    if backend not in BACKENDS:
        raise InputError(f"unknown embedding backend {backend!r}: use {', '.join(BACKENDS)}")
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:  # the `onnx` extra
        raise ModelLoadError(
            f"the {backend} backend needs ONNX Runtime ({exc.name} is not installed): "
            "pip install -e '.[onnx]', or use the torch backend"
        ) from exc
    from embeddings.onnx import OnnxEncoder

    return OnnxEncoder.from_encoder(encoder, quantize=backend == "onnx-int8")


def load_exact(model_id: str, *, device: str | None = None, max_seq_length: int | None = None):
    """The torch Encoder of ``model_id`` and no other (never a fallback model: vectors of
    another model would be vectors nobody asked for), its passages truncated to
    ``max_seq_length`` tokens when given. Raises ModelLoadError."""
    from embeddings.encoder import resolve_encoder

    encoder = resolve_encoder(model_id, fallback=False, device=device).encoder
    if max_seq_length is not None:
        encoder.model.max_seq_length = min(max_seq_length, encoder.model.max_seq_length or 512)
    return encoder


def load_for_backend(
    model_id: str,
    backend: str = "torch",
    *,
    device: str | None = None,
    max_seq_length: int | None = None,
):
    """load_exact(), run by ``backend``."""
    return with_backend(load_exact(model_id, device=device, max_seq_length=max_seq_length), backend)


class Bf16Encoder:
    """The torch Encoder under bfloat16 autocast: matrix products in bf16, the rest (layer norm,
    softmax, pooling, normalization) in fp32. On CPUs with bf16 units (AVX512-BF16, AMX) it is
    faster at cosine ~0.9999 to fp32; on CPUs without them it is slower: measure
    (benchmarks/throughput.py) before choosing it."""

    def __init__(self, encoder) -> None:
        self._encoder = encoder
        self.model_id = encoder.model_id
        self.spec = encoder.spec
        self.dim = encoder.dim
        self.model = encoder.model
        self.on_cpu = encoder.on_cpu

    def _autocast(self):
        import torch

        return torch.autocast(self.model.device.type, dtype=torch.bfloat16)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self._autocast():
            return self._encoder.encode_queries(texts)

    def encode_passages(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        with self._autocast():
            return self._encoder.encode_passages(texts, batch_size=batch_size)
