"""One Settings object for the whole product: defaults < RAG_* environment < CLI flags.

Every stage reads its knobs from here, so a value means the same thing in `rag ingest`,
`rag ask`, `rag serve`, `rag eval` and `rag embed`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, get_args

from embeddings.backends import BACKENDS as EMBED_BACKENDS
from rag.errors import InputError

DEFAULT_MODEL = "intfloat/multilingual-e5-small"
DEFAULT_RERANKER = "BAAI/bge-reranker-v2-m3"
# The one spelling of the retriever and answer modes: the CLI's choices, the API's schema and
# the validation below all read these.
RetrieverMode = Literal["bm25", "dense", "hybrid"]
RETRIEVER_MODES: tuple[str, ...] = get_args(RetrieverMode)
AnswerMode = Literal["extractive", "llm"]
ANSWER_MODES: tuple[str, ...] = get_args(AnswerMode)
# Passage size and overlap in characters (rag.chunk); an index keeps the chunking it was built with.
CHUNK_SIZE, CHUNK_OVERLAP = 900, 150
# From this many vectors a segment's FAISS index is approximate (HNSW) instead of exact
# (rag.store.vectors). The threshold is per segment, and a question searches every segment: over
# all of VNTC (7 segments of ~16k rows) HNSW in each kept recall@10 at 0.997 against exact and
# searched in 3.9 ms instead of 9.2 (benchmarks/README.md, "HNSW recall"). Below ~8k rows an
# exact scan costs about what an HNSW search does, and is exact.
DEFAULT_FAISS_THRESHOLD = 8_192


@dataclass(frozen=True)
class Settings:
    index_dir: Path = Path(".rag/index")
    seeds_dir: Path = Path("seeds")
    embed_model: str = DEFAULT_MODEL
    # When the configured model cannot be loaded, use the best local one (or BM25 alone)
    # instead of failing; the fallback is always reported, never silent.
    embed_fallback: bool = True
    device: str | None = None
    # How `rag ingest` and `rag embed` encode passages: "auto" (default: bf16 autocast where the
    # CPU has bf16 units, the fastest backend within cosine 0.9999 of fp32 there; fp32 torch
    # elsewhere; embeddings.backends.resolve_backend), "torch", "torch-bf16", "onnx" or
    # "onnx-int8" (ONNX Runtime, the `onnx` extra; benchmarks/README.md compares them). Indexes
    # and jobs record the backend that ran. Questions are encoded in fp32 whatever this says
    # (by torch, or by its ONNX export in `rag ask`).
    embed_backend: str = "auto"
    batch_size: int = 32
    # Cap on padded tokens per encoding batch (texts x the longest); None: 2048 on a CPU, where
    # small batches of long passages encode faster, none on a GPU; 0: no cap.
    # (embeddings.batching.CPU_BATCH_TOKENS.)
    batch_tokens: int | None = None
    # `rag embed --engine ray --address A`: seconds to wait for ray.init to connect. ray.init
    # blocks in native code and retries some wrong ports (a gRPC server that is not Ray's) for
    # ever, so the CLI gives up after this long with one line.
    ray_connect_timeout: float = 120.0
    chunk_size: int = CHUNK_SIZE
    chunk_overlap: int = CHUNK_OVERLAP
    top_k: int = 5
    retriever: str = "hybrid"
    # Weight of the dense score in hybrid fusion; None picks one by the model in use.
    dense_weight: float | None = None
    # Hybrid retrieval's second stage: the best ten passages rescored by their best sentence's
    # cosine to the question (rag.fusion), for models with a weight for it.
    sentence_rescore: bool = True
    # Encode the sentences of ingested articles and store them beside the index
    # (rag.store.sentence_vectors), so that questions read them instead of encoding them. None:
    # for the models that read sentences (multilingual e5); True: always; False: never.
    sentence_vectors: bool | None = None
    rerank: bool = False
    reranker_model: str = DEFAULT_RERANKER
    # Collapse near-duplicate passages (syndicated news) into one hit, "also reported by".
    dedup: bool = True
    host: str = "127.0.0.1"
    port: int = 7860
    # "extractive" (default: sentences of the passages) or "llm" (an OpenAI-compatible endpoint
    # at llm_url writes the answer; every [n] it writes is checked against the passages).
    answer_mode: str = "extractive"
    llm_url: str | None = None
    llm_model: str | None = None
    # Secrets: never logged, never written to the manifest, left out of repr() (tracebacks,
    # debug logs and printed settings show everything else).
    llm_api_key: str | None = field(default=None, repr=False)
    auth: str | None = field(default=None, repr=False)  # "user:password" for the web UI
    max_upload_mb: int = 50
    # The shared evaluation data (XQuAD, VNTC); None: ../shared/data beside the repository.
    data_dir: Path | None = None
    # Vectors from which an index writer makes HNSW instead of exact search (RAG_FAISS_THRESHOLD);
    # recorded in the manifest.
    faiss_threshold: int = DEFAULT_FAISS_THRESHOLD
    # Rows of a segment written by `rag ingest` and `rag embed --build-index` (RAG_SEGMENT_ROWS;
    # None: rag.store.SEGMENT_ROWS, 16,384): a writer's memory holds one segment's vectors and
    # postings; fewer, larger segments make a question's search over them cheaper.
    segment_rows: int | None = None

    @classmethod
    def load(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from defaults, then ``RAG_*`` variables, then non-None overrides."""
        env = dict(os.environ) if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get("RAG_" + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = coerce_setting(f.name, raw)
        # Short aliases people expect for the secrets of the OpenAI-compatible endpoint.
        if "llm_api_key" not in values and env.get("OPENAI_API_KEY"):
            values["llm_api_key"] = env["OPENAI_API_KEY"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.validate()
        return settings

    def with_(self, **changes: Any) -> Settings:
        updated = replace(self, **{k: v for k, v in changes.items() if v is not None})
        updated.validate()
        return updated

    def validate(self) -> None:
        if self.retriever not in RETRIEVER_MODES:
            raise InputError(
                f"unknown retriever {self.retriever!r}: use one of {', '.join(RETRIEVER_MODES)}"
            )
        if self.embed_backend not in EMBED_BACKENDS:
            raise InputError(
                f"unknown embedding backend {self.embed_backend!r}: use one of "
                f"{', '.join(EMBED_BACKENDS)}"
            )
        if self.answer_mode not in ANSWER_MODES:
            raise InputError(
                f"unknown answer mode {self.answer_mode!r}: use one of {', '.join(ANSWER_MODES)}"
            )
        if self.top_k < 1 or self.top_k > 100:
            raise InputError(f"top-k must be between 1 and 100, got {self.top_k}")
        if self.chunk_size < 50:
            raise InputError(f"chunk size must be at least 50 characters, got {self.chunk_size}")
        if not 0 <= self.chunk_overlap < self.chunk_size:
            raise InputError("chunk overlap must be at least 0 and smaller than the chunk size")
        if self.batch_tokens is not None and self.batch_tokens < 0:
            raise InputError(
                f"batch tokens must be at least 0 (0: no cap), got {self.batch_tokens}"
            )
        if self.ray_connect_timeout <= 0:
            raise InputError(
                f"the Ray connect timeout must be above 0 seconds, got {self.ray_connect_timeout}"
            )
        if self.dense_weight is not None and not 0.0 <= self.dense_weight <= 1.0:
            raise InputError(f"dense weight must be between 0 and 1, got {self.dense_weight}")
        if self.segment_rows is not None and self.segment_rows < 1:
            raise InputError(f"segment rows must be at least 1, got {self.segment_rows}")
        if self.auth is not None and ":" not in self.auth:
            raise InputError("RAG_AUTH must look like user:password")

    def public_dict(self) -> dict[str, Any]:
        """Settings safe to show or store: secrets are left out."""
        out = {}
        for f in fields(self):
            if f.name in ("llm_api_key", "auth"):
                continue
            value = getattr(self, f.name)
            out[f.name] = str(value) if isinstance(value, Path) else value
        return out


def setting_from_env(name: str, env: Mapping[str, str] | None = None) -> Any:
    """One setting as the ``RAG_*`` environment gives it (its default when unset), without
    loading or validating the others: for code that runs without a Settings object."""
    env = os.environ if env is None else env
    raw = env.get("RAG_" + name.upper())
    if raw is None or raw == "":
        return {f.name: f.default for f in fields(Settings)}[name]
    return coerce_setting(name, raw)


def coerce_setting(name: str, raw: str, *, label: str | None = None) -> Any:
    """A setting's value from text (an environment variable, a run spec), typed as the field.
    ``label`` names the text in the error message (default: the RAG_* variable)."""
    t = {f.name: str(f.type) for f in fields(Settings)}[name]
    if raw.lower() in ("none", "null") and "None" in t:
        return None
    try:
        if "Path" in t:
            return Path(raw)
        if "bool" in t:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if "float" in t:
            return float(raw)
        if "int" in t:
            return int(raw)
    except ValueError:
        raise InputError(f"{label or 'RAG_' + name.upper()}={raw!r} is not a valid value") from None
    return raw
