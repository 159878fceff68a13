"""Length-sorted batching under a token cap (embeddings.batching): the batches it plans, and
vectors that do not depend on them."""

from __future__ import annotations

import numpy as np

from embeddings.backends import load_for_backend
from embeddings.batching import encode_sorted, plan_batches, token_lengths


def test_plan_batches_caps_texts_and_padded_tokens():
    lengths = [5, 50, 12, 50, 3, 30, 30, 7]
    batches = plan_batches(lengths, 3, 100)
    flat = np.concatenate(batches).tolist()
    assert sorted(flat) == list(range(len(lengths)))
    # Longest first, ties in input order; each batch within 3 texts and 100 padded tokens.
    assert [b.tolist() for b in batches] == [[1, 3], [5, 6, 2], [7, 0, 4]]
    for b in batches:
        assert len(b) <= 3 and len(b) * max(lengths[i] for i in b) <= 100
    # A text longer than the cap still gets a batch, of its own.
    assert [b.tolist() for b in plan_batches([500, 1, 2], 4, 100)] == [[0], [2, 1]]
    # No cap, no sorting: consecutive batches of batch_size, as before the cap existed.
    unsorted = plan_batches(lengths, 3, None, sort_by_length=False)
    assert [b.tolist() for b in unsorted] == [[0, 1, 2], [3, 4, 5], [6, 7]]


def test_encode_sorted_obeys_the_token_cap_and_keeps_the_vectors(tiny_model_dir, seeds_dir):
    encoder = load_for_backend(str(tiny_model_dir))
    words = " ".join(p.read_text(encoding="utf-8") for p in sorted(seeds_dir.glob("*.txt"))).split()
    texts = [" ".join(words[i : i + 3 + (i * 7) % 90]) for i in range(0, 1200, 40)]
    lengths = token_lengths(encoder, texts)
    window = encoder.model.max_seq_length
    assert max(lengths) <= window and len(set(lengths)) > 5
    assert token_lengths(encoder, ["xin chào " * 2000]) == [window]

    seen: list[list[int]] = []

    class Watching:  # the real encoder, with the batches it is handed written down
        dim, model, spec = encoder.dim, encoder.model, encoder.spec

        def encode_passages(self, batch, batch_size=None):
            seen.append([lengths[texts.index(t)] for t in batch])
            return encoder.encode_passages(batch, batch_size=batch_size)

    cap = 2 * max(lengths)
    capped = encode_sorted(Watching(), texts, 16, max_tokens=cap)
    assert sum(len(b) for b in seen) == len(texts) and len(seen) > len(texts) / 16
    assert all(len(b) * max(b) <= cap for b in seen)
    plain = encode_sorted(encoder, texts, 16)
    np.testing.assert_allclose(capped, plain, atol=1e-5)
