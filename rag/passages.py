"""Passages to vectors for an ingest: length-sorted batches under the token cap, a progress
bar for large ingests, and the vector cache that lets a rerun after a failure reuse what was
already encoded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag.store import VectorCache, storage_error, text_sha1

# Passages encoded between two saves to the vector cache: a failure loses at most this many.
CACHE_GROUP = 512


def encode_passages(
    encoder,
    passages: list[str],
    *,
    batch_size: int,
    batch_tokens: int | None,
    root: Path,
    progress: bool = False,
    cache: VectorCache | None = None,
    need: int = 0,
    known: dict[str, np.ndarray] | None = None,
    bar=None,
) -> np.ndarray:
    """Length-sorted batches under the token cap (embeddings.batching.encode_sorted: on a CPU
    small batches of long passages run faster), a progress bar for large ingests.

    With a cache, passages it holds are not encoded again, and each group of CACHE_GROUP
    newly encoded passages is saved to it before the next one starts, so a failed write
    (full disk) or a kill costs at most one group on the rerun. ``need``: the bytes the
    commit after this will write (for the message when the disk is full); ``root``: the index.
    ``known``: the cache's vectors, when the caller loaded them once for several calls;
    ``bar``: a progress bar (``update(n)``) shared by several calls, instead of one of its own."""
    from embeddings.batching import batch_tokens_for, encode_sorted

    out = np.zeros((len(passages), encoder.dim), dtype=np.float32)
    keys = [text_sha1(p) for p in passages]
    if known is None:
        known = cache.load() if cache is not None else {}
    todo = []
    for i, key in enumerate(keys):
        vec = known.get(key)
        if vec is not None and vec.shape == (encoder.dim,):
            out[i] = vec
        else:
            todo.append(i)
    # Longest first across groups too, as encode_sorted orders the batches inside one.
    todo.sort(key=lambda i: -len(passages[i]))
    max_tokens = batch_tokens_for(encoder, batch_tokens)

    def run(on_batch=None) -> None:
        for g in range(0, len(todo), CACHE_GROUP):
            idx = todo[g : g + CACHE_GROUP]
            vecs = encode_sorted(
                encoder,
                [passages[i] for i in idx],
                max(1, batch_size),
                max_tokens=max_tokens,
                on_batch=on_batch,
            )
            out[idx] = vecs
            if cache is None:
                continue
            try:
                cache.add([keys[i] for i in idx], vecs)
            except OSError as exc:
                left = (len(todo) - g) * encoder.dim * 4
                err = storage_error(exc, "writing the index", root, need + left)
                if err is None:
                    raise
                raise err from exc

    if bar is not None:
        bar.update(len(passages) - len(todo))
        run(bar.update)
        return out
    if not progress or len(todo) <= 8 * batch_size:
        run()
        return out
    from tqdm import tqdm

    with tqdm(total=len(passages), unit="passage", desc="embedding") as bar:
        bar.update(len(passages) - len(todo))
        run(bar.update)
    return out
