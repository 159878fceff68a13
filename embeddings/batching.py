"""Length-sorted batching under a token cap: many passages -> vectors, fast and reproducibly.

Padding is wasted work: texts are sorted by length (in the model's tokens) and batched with
texts of similar length, at most ``batch_size`` a batch and, with a cap, at most that many
padded tokens (texts x the batch's longest). The batches depend only on the texts and the caps,
so the same texts give the same vectors, bit for bit, in every run. Used by `rag ingest` and by
the `rag embed` job (rag/jobs/), for any encoder with ``dim`` and ``encode_passages``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from embeddings.interface import BatchEncoder, TextEncoder

# Padded tokens in one batch on a CPU. There, batches of long texts run faster small (the
# activations of 8 full-window MiniLM passages stay in the caches, those of 32 do not; figures in
# benchmarks/README.md, "The CPU token cap"). Short texts still fill batch_size (2048 tokens hold
# 32 texts of 64). An accelerator wants large batches: no cap.
CPU_BATCH_TOKENS = 2048


def batch_tokens_for(encoder: TextEncoder, configured: int | None) -> int | None:
    """The token cap for ``encoder``'s batches: ``configured`` (0 = none), or by default
    CPU_BATCH_TOKENS on a CPU and none on an accelerator."""
    if configured is not None:
        return configured or None
    return CPU_BATCH_TOKENS if encoder.on_cpu else None


def token_lengths(encoder: BatchEncoder, texts: Sequence[str]) -> list[int]:
    """Each passage's length in the model's tokens (with its prompt and special tokens,
    truncated at the model's window): what a batch holding it is padded to."""
    model = encoder.model
    tokenizer = model.tokenizer
    window = int(model.max_seq_length or 512)
    prompt = encoder.spec.passage_prompt
    out: list[int] = []
    for i in range(0, len(texts), 1024):  # only the lengths are kept: 110k passages' ids are ~1 GB
        piece = [prompt + t for t in texts[i : i + 1024]]
        out.extend(
            len(x) for x in tokenizer(piece, truncation=True, max_length=window)["input_ids"]
        )
    return out


def plan_batches(
    lengths: Sequence[int],
    batch_size: int,
    max_tokens: int | None = None,
    *,
    sort_by_length: bool = True,
) -> list[np.ndarray]:
    """Batches of indices into ``lengths``: longest first when sorting (ties in input order),
    at most ``batch_size`` texts and, with ``max_tokens``, at most that many padded tokens
    (texts x the longest), never fewer than one text. Depends only on its arguments, so a
    shard's batches, and so its vectors bit for bit, are the same in every run."""
    n = len(lengths)
    order = np.argsort(-np.asarray(lengths), kind="stable") if sort_by_length else np.arange(n)
    batches = []
    start = 0
    while start < n:
        end, longest = start + 1, lengths[order[start]]
        while end < n and end - start < batch_size:
            wider = max(longest, lengths[order[end]])
            if max_tokens and wider * (end - start + 1) > max_tokens:
                break
            longest, end = wider, end + 1
        batches.append(order[start:end])
        start = end
    return batches


def encode_sorted(
    encoder: BatchEncoder,
    texts: Sequence[str],
    batch_size: int,
    *,
    sort_by_length: bool = True,
    max_tokens: int | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Encode ``texts`` in batches of texts of similar length (longest first, plan_batches),
    returned in the order given. The batches depend only on ``texts`` and the caps, so the
    vectors are reproducible."""
    n = len(texts)
    out = np.zeros((n, encoder.dim), dtype=np.float32)
    if n == 0:
        return out
    if sort_by_length or max_tokens:
        lengths = token_lengths(encoder, texts)
    else:
        lengths = [0] * n
    for idx in plan_batches(lengths, batch_size, max_tokens, sort_by_length=sort_by_length):
        out[idx] = encoder.encode_passages([texts[j] for j in idx], batch_size=len(idx))
        if on_batch is not None:
            on_batch(len(idx))
    return out
