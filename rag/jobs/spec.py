"""What an embedding job is: its settings (EmbedJob), their checks, and the fingerprint that
``--resume`` compares.

The settings the job shares with the rest of the product (model, chunking, backend, batch size,
token cap, device) take their defaults from rag.settings.Settings, and EmbedJob.from_settings()
builds a job from loaded Settings (defaults < RAG_* environment < CLI flags), as `rag embed`
does; what only a job has (dtype, shard size, --no-chunk, --max-seq-length) is defined here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embeddings.backends import BACKENDS
from rag.errors import InputError
from rag.settings import Settings

# 2: the shards hold each passage (text, span) and, on its first passage, the article, so that
# the index is built from the shards alone.
JOB_FORMAT = 2
DTYPES = ("float32", "float16")
ENGINES = ("local", "ray")
DEFAULT_SHARD_SIZE = 2048
# Fingerprint keys set by this code, not by the user: a new release may change them. A finished
# job is still finished under them, as under keys a newer release added to the fingerprint
# (--resume re-encodes nothing); an unfinished one is refused.
CODE_SIDE_KEYS = frozenset({"onnx_recipe"})

_DEFAULTS = Settings()  # the class defaults only: no environment is read at import


@dataclass(frozen=True)
class EmbedJob:
    """Everything that decides the output. Two runs with equal jobs over equal inputs write
    equal shards; ``--resume`` refuses to continue a job whose settings changed."""

    inputs: tuple[str, ...]
    out_dir: Path
    model: str = _DEFAULTS.embed_model
    chunk_size: int = _DEFAULTS.chunk_size
    chunk_overlap: int = _DEFAULTS.chunk_overlap
    no_chunk: bool = False
    dtype: str = "float32"
    backend: str = _DEFAULTS.embed_backend
    shard_size: int = DEFAULT_SHARD_SIZE
    batch_size: int = _DEFAULTS.batch_size
    sort_by_length: bool = True
    # Padded tokens per batch (texts x the batch's longest): None = CPU_BATCH_TOKENS when the
    # encoder runs on a CPU and no cap on an accelerator; 0 = no cap.
    batch_tokens: int | None = _DEFAULTS.batch_tokens
    # Truncate passages to this many tokens (None: the model's own limit). Faster, less exact:
    # for quick large-scale runs and benchmarks; recorded in the manifest.
    max_seq_length: int | None = None
    device: str | None = _DEFAULTS.device

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        inputs: Iterable[str | Path],
        out_dir: str | Path,
        **job_only: Any,
    ) -> EmbedJob:
        """The job over ``inputs`` into ``out_dir`` with the shared knobs of ``settings`` and
        the job's own ones (``dtype``, ``shard_size``, ``no_chunk``, ...; None: the default)."""
        return cls(
            inputs=tuple(str(p) for p in inputs),
            out_dir=Path(out_dir),
            model=settings.embed_model,
            chunk_size=settings.chunk_size,
            chunk_overlap=settings.chunk_overlap,
            backend=settings.embed_backend,
            batch_size=settings.batch_size,
            batch_tokens=settings.batch_tokens,
            device=settings.device,
            **{k: v for k, v in job_only.items() if v is not None},
        )

    def validate(self) -> None:
        if not self.inputs:
            raise InputError("no inputs: name JSONL, Parquet files or folders of articles")
        if self.dtype not in DTYPES:
            raise InputError(f"unknown --dtype {self.dtype!r}: use float32 or float16")
        if self.backend not in BACKENDS:
            raise InputError(f"unknown --backend {self.backend!r}: use {', '.join(BACKENDS)}")
        if self.shard_size < 1 or self.batch_size < 1:
            raise InputError("--shard-size and --batch-size must be at least 1")
        if self.batch_tokens is not None and self.batch_tokens < 0:
            raise InputError("--batch-tokens must be at least 0 (0: no cap)")
        if self.max_seq_length is not None and self.max_seq_length < 8:
            raise InputError("--max-seq-length must be at least 8 tokens")
        if not self.no_chunk and not 0 <= self.chunk_overlap < self.chunk_size:
            raise InputError("chunk overlap must be at least 0 and smaller than the chunk size")

    def fingerprint(self) -> dict[str, Any]:
        """What must not change between a run and its --resume (backend and batch size are
        included: they change the vectors in their last bits)."""
        extra: dict[str, Any] = {}
        if self.backend.startswith("onnx"):
            from embeddings.onnx import RECIPE

            # How the ONNX graph is built and quantized changes its vectors (int8: by ~0.005 in
            # cosine): a job started under another recipe cannot be finished exactly.
            extra["onnx_recipe"] = RECIPE
        return {
            "format": JOB_FORMAT,
            "inputs": input_fingerprint(self.inputs),
            "model": self.model,
            "chunking": None if self.no_chunk else [self.chunk_size, self.chunk_overlap],
            "dtype": self.dtype,
            "backend": self.backend,
            "shard_size": self.shard_size,
            "batch_size": self.batch_size,
            "sort_by_length": self.sort_by_length,
            "batch_tokens": "auto" if self.batch_tokens is None else self.batch_tokens,
            "max_seq_length": self.max_seq_length,
            **extra,
        }


def expand_inputs(inputs: Iterable[str | Path]) -> list[Path]:
    """The input files, folders walked in sorted order (rag.load.expand_paths)."""
    from rag.load import expand_paths

    return expand_paths(inputs)


def input_fingerprint(inputs: Iterable[str | Path]) -> list[list[Any]]:
    """Path, size and modification time of every input file. A resume compares paths and sizes
    (rag.jobs.resume); the time is kept for the record only: a copy or a restore from backup
    changes it, and every reused shard is checked against the records anyway."""
    out = []
    for p in expand_inputs(inputs):
        st = p.stat()
        out.append([str(p.resolve()), st.st_size, st.st_mtime_ns])
    return out
