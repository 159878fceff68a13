"""A job's encoder and how it encodes one shard: the same for the local engine and for each
Ray actor, so both engines write the same vectors, bit for bit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.backends import load_exact, with_backend
from embeddings.batching import batch_tokens_for, encode_sorted
from rag.errors import ModelLoadError
from rag.jobs.spec import EmbedJob


def load_job_encoder(job: EmbedJob):
    """The encoder for ``job``: the sentence-transformers Encoder of rag ingest (same model id
    and prompts), run by the job's backend. Never a fallback model: an embedding job that
    silently used another model would produce vectors nobody asked for."""
    try:
        encoder = load_exact(job.model, device=job.device, max_seq_length=job.max_seq_length)
    except ModelLoadError as exc:
        raise ModelLoadError(
            f"{exc}; name a local model folder or a cached model id with --model "
            "(rag embed never swaps in another model)"
        ) from exc
    return with_backend(encoder, job.backend)


def encode_shard(
    encoder,
    job: EmbedJob,
    passages: Sequence[str],
    on_batch: Callable[[int], None] | None = None,
) -> np.ndarray:
    """One shard's passages, batched as the job says (length-sorted, under its token cap):
    the batches depend only on the passages, so a resumed job writes the same vectors."""
    return encode_sorted(
        encoder,
        passages,
        job.batch_size,
        sort_by_length=job.sort_by_length,
        max_tokens=batch_tokens_for(encoder, job.batch_tokens),
        on_batch=on_batch,
    )


def model_info(encoder) -> dict[str, Any]:
    """What the manifest says of the model: id, dimension, prompts."""
    return {
        "model": encoder.model_id,
        "dim": int(encoder.dim),
        "query_prompt": encoder.spec.query_prompt,
        "passage_prompt": encoder.spec.passage_prompt,
    }


def model_info_without_encoder(job: EmbedJob, dim: int | None) -> dict[str, Any]:
    """model_info() when no model was loaded in this process (every shard reused, or encoded
    by Ray actors): the prompts from the registry, ``dim`` from the vectors."""
    from embeddings.encoder import spec_for

    spec = spec_for(job.model)
    return {
        # resolve_encoder (no fallback) names the encoder by the id it was asked for.
        "model": job.model,
        "dim": dim,
        "query_prompt": spec.query_prompt,
        "passage_prompt": spec.passage_prompt,
    }


def dim_of_shards(out_dir: str | Path) -> int | None:
    """The vectors' dimension, read from the first shard's schema (None without shards)."""
    from rag.jobs.shards import shard_files

    files = shard_files(out_dir)
    if not files:
        return None
    import pyarrow.parquet as pq

    return pq.read_schema(files[0]).field("embedding").type.list_size
