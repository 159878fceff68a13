"""Vectors encoded for a write that has not committed yet, kept so that a rerun encodes nothing
twice."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.store.layout import VECTOR_CACHE


class VectorCache:
    """Passage vectors encoded for a write that has not committed yet, kept in the index
    directory (``.vector-cache/<key>/part-N.npz``: text sha1s + float32 vectors) so that a
    rerun after a failed write (full disk, kill) encodes nothing it had already encoded.
    ``key`` names the model and backend that made the vectors; the writer clears the cache
    after its commit. Only the lock holder touches it."""

    def __init__(self, root: Path, key: str) -> None:
        self.dir = Path(root) / VECTOR_CACHE / hashlib.sha1(key.encode()).hexdigest()[:16]

    def load(self) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for part in sorted(self.dir.glob("part-*.npz")):
            try:
                with np.load(part, allow_pickle=False) as z:
                    keys, vecs = z["keys"], z["vectors"]
            except (OSError, ValueError, KeyError):
                continue  # a part cut short by a crash: its passages are encoded again
            if vecs.ndim == 2 and len(keys) == len(vecs):
                found.update(zip((k.decode() for k in keys), vecs, strict=True))
        return found

    def add(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Append one part; written to a temporary name, then renamed (never half a part)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        n = len(list(self.dir.glob("part-*.npz")))
        tmp = self.dir / f".part-{n:06d}.{os.getpid()}.npz"
        try:
            with open(tmp, "wb") as fh:
                np.savez(fh, keys=np.array(keys, dtype="S40"), vectors=vectors.astype(np.float32))
            os.replace(tmp, self.dir / f"part-{n:06d}.npz")
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def clear(self) -> None:
        shutil.rmtree(self.dir.parent, ignore_errors=True)
