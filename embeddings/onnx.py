"""The same sentence-transformers model, run by ONNX Runtime (fp32, or int8 dynamic quantization).

Why not sentence-transformers' own ``backend="onnx"``: it needs ``optimum-onnx``, whose only
release (0.1.0) requires transformers < 4.58; installing it would pull this project's
transformers 5 down (and it fails to import against transformers 5). So the export is
done here with torch.onnx (the TorchScript exporter, no extra packages), and the graph includes
the whole sentence-transformers forward (transformer, pooling, normalization): the ONNX model
returns the same sentence embedding the torch model does, for any pooling a model configures.
Tokenization stays with the model's own tokenizer, so inputs are identical.

The export runs the model with eager attention (the same arithmetic as its default SDPA path;
cosine 1.0 to torch), because ONNX Runtime's transformer optimizer recognises that pattern and
fuses it into one ``Attention`` operator (plus EmbedLayerNormalization, SkipLayerNormalization,
BiasGelu); the SDPA export it cannot fuse. The fused graph is ``model.onnx``.

int8 recipe (``quantize_int8``, ``RECIPE``): dynamic quantization, int8 weights per output
channel, the fused Attention's Q/K/V projection included, and the FFN output projections of the
first half of the layers kept fp32: their inputs (after GELU) hold a few very large values that
one uint8 scale per batch would crush. On all-MiniLM-L6-v2 that keeps cosine >= 0.99 to torch
fp32 on every passage at ~2x torch's speed on CPU; the recipes measured and dropped, with their
figures, are in benchmarks/README.md ("The int8 recipe").

Exported models are cached under ``$RAG_ONNX_CACHE`` (default ``~/.cache/rag/onnx``), keyed by the
model's files and the library versions, and built once per machine under a file lock (Ray workers
on one node share it).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from embeddings import paths

OPSET = 17
# Bump when the export, the graph optimization or the int8 recipe changes: it is part of the
# cache key, so models exported by older code are not reused.
RECIPE = 2
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


def cache_root() -> Path:
    """Where exports go (embeddings.paths: $RAG_ONNX_CACHE, else ~/.cache/rag/onnx)."""
    return paths.onnx_cache()


def _model_key(model) -> str:
    """A key that changes when the weights, the tokenizer or the toolchain change."""
    import onnxruntime
    import torch

    h = hashlib.sha1()
    h.update(f"{torch.__version__}|{onnxruntime.__version__}|{OPSET}|{RECIPE}".encode())
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


def _transformers_models(st_model) -> list:
    """The Hugging Face models inside a SentenceTransformer (usually one)."""
    found = []
    for module in st_model:
        hf = getattr(module, "auto_model", None)
        if hf is not None and hasattr(hf, "set_attn_implementation"):
            found.append(hf)
    return found


@contextmanager
def _eager_attention(st_model) -> Iterator[None]:
    """Export with the eager attention path (the pattern ONNX Runtime's optimizer fuses), then
    put back whatever the model used: the torch encoder shares this model."""
    changed = []
    for hf in _transformers_models(st_model):
        before = getattr(hf.config, "_attn_implementation", None)
        if before and before != "eager":
            try:
                hf.set_attn_implementation("eager")
            except (ValueError, NotImplementedError):
                continue  # the export still works, only unfused
            changed.append((hf, before))
    try:
        yield
    finally:
        for hf, before in changed:
            hf.set_attn_implementation(before)


def export_onnx(st_model, path: Path) -> Path:
    """Export a SentenceTransformer's full forward to ``path`` (fp32, not yet optimized)."""
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
    with torch.no_grad(), warnings.catch_warnings(), _eager_attention(st_model):
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


def optimize_graph(src: Path, dst: Path, st_model) -> Path:
    """ONNX Runtime's transformer fusions (Attention, EmbedLayerNormalization, SkipLayerNorm,
    BiasGelu), done offline so that int8 quantization sees the fused Attention (QAttention).
    A model the optimizer cannot handle keeps its unfused graph: slower, same vectors."""
    from onnxruntime.transformers.optimizer import optimize_model

    heads = hidden = 0  # 0: the optimizer reads them from the graph
    for hf in _transformers_models(st_model):
        heads = int(getattr(hf.config, "num_attention_heads", 0) or 0)
        hidden = int(getattr(hf.config, "hidden_size", 0) or 0)
    tmp = dst.with_name(f".{dst.name}.tmp-{os.getpid()}")
    try:
        # opt_level 0: the fusions only; ONNX Runtime applies its own graph optimizations when
        # the session loads, for whichever CPU it then runs on.
        optimized = optimize_model(
            str(src), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0
        )
        optimized.save_model_to_file(str(tmp))
    except Exception as exc:  # noqa: BLE001 - any failure here only costs speed
        logging.getLogger(__name__).warning("ONNX graph fusion skipped (%s): %s", src, exc)
        tmp.unlink(missing_ok=True)
        if src != dst:
            os.replace(src, dst)
        return dst
    os.replace(tmp, dst)
    if src != dst:
        src.unlink(missing_ok=True)
    return dst


# The second projection of a BERT-style feed-forward block ("layer.N/output/dense", not
# "layer.N/attention/output/dense"), as the TorchScript exporter names it.
_FFN_OUTPUT = re.compile(r"layer\.(\d+)/output/dense/MatMul")


def fp32_nodes(model_path: Path) -> list[str]:
    """The nodes int8 leaves in fp32: the FFN output projections of the first half of the
    layers (why, and the measurements behind it: the module docstring, benchmarks/README.md)."""
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    layer_of = {}
    for node in graph.node:
        match = _FFN_OUTPUT.search(node.name)
        if node.op_type == "MatMul" and match:
            layer_of[node.name] = int(match.group(1))
    if not layer_of:
        return []
    half = (max(layer_of.values()) + 2) // 2  # 6 layers: 0, 1, 2; 12 layers: 0 to 5
    return sorted(name for name, layer in layer_of.items() if layer < half)


def quantize_int8(src: Path, dst: Path) -> Path:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = dst.with_name(f".{dst.name}.tmp-{os.getpid()}")
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))
    quantize_dynamic(
        str(src),
        str(tmp),
        weight_type=QuantType.QInt8,
        # Per output channel: per-tensor weight scales cost far more (mean cosine 0.92).
        per_channel=True,
        # MatMul with constant weights (the projections) and the fused Attention (its Q/K/V
        # projection): the embeddings (Gather) and the attention scores stay fp32.
        op_types_to_quantize=["MatMul", "Attention"],
        nodes_to_exclude=fp32_nodes(src),
        # The fused contrib operators have no ONNX type inference: their outputs are float.
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
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
            raw = folder / "export.onnx"
            export_onnx(st_model, raw)
            optimize_graph(raw, fp32, st_model)
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

    @property
    def model(self):
        """The sentence-transformers model the graph was exported from (its tokenizer)."""
        return self._st

    @property
    def on_cpu(self) -> bool:
        return self._session.get_providers()[0] == "CPUExecutionProvider"

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
