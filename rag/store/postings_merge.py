"""The BM25 postings of a merged segment, written as a stream: a k-way merge by term of the
parts' term-sorted postings, a bounded number of entries at a time, straight into the .npy
files. Memory holds the merged vocabulary (a few arrays of one number per term) and one chunk
of entries, never every entry of the merge (which is most of a segment's size)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.bm25 import Postings

# Postings entries (a passage holding a term) merged and written per step: ~24 bytes each in
# flight (doc, tf, column and the sort's order), ~100 MB at this size.
CHUNK_ENTRIES = 1 << 22


class _NpyWriter:
    """A 1-D .npy file of ``length`` values written in pieces, in order (np.save needs the
    whole array; its header needs the length, known before the first piece here)."""

    def __init__(self, path: Path, dtype, length: int) -> None:
        self.dtype = np.dtype(dtype)
        self.length = length
        self.written = 0
        self._fh = open(path, "wb")  # noqa: SIM115 - closed by close() or abort()
        header = {
            "descr": np.lib.format.dtype_to_descr(self.dtype),
            "fortran_order": False,
            "shape": (length,),
        }
        np.lib.format.write_array_header_1_0(self._fh, header)

    def write(self, values: np.ndarray) -> None:
        values = np.ascontiguousarray(values, dtype=self.dtype)
        self.written += len(values)
        if self.written > self.length:
            raise ValueError(f"{self._fh.name}: more values than the {self.length} announced")
        self._fh.write(values.data)

    def close(self) -> None:
        self._fh.close()
        if self.written != self.length:
            raise ValueError(f"{self._fh.name}: {self.written} values for {self.length}")

    def abort(self) -> None:
        self._fh.close()


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The concatenation of arange(s, s + n) for each (s, n)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    firsts = np.cumsum(lengths) - lengths
    return np.repeat(np.asarray(starts, dtype=np.int64) - firsts, lengths) + np.arange(total)


class _Vocabulary:
    """The merged vocabulary: every term of the parts once, sorted by key, and where each
    part's columns go in it (``columns[p][j]``: the merged column of part p's column j)."""

    def __init__(self, keys, terms, term_offsets, columns) -> None:
        self.keys = keys
        self.terms = terms
        self.term_offsets = term_offsets
        self.columns = columns

    @classmethod
    def of(cls, parts: Sequence[Postings]) -> _Vocabulary:
        # Keys are 64-bit hashes of the terms: the same key is the same term unless two terms
        # collide, which the byte comparison below catches (then the terms themselves decide).
        if any(len(p.keys) > 1 and bool((np.diff(p.keys) == 0).any()) for p in parts):
            return cls._by_text(parts)
        keys = np.zeros(0, dtype=np.uint64)
        for p in parts:
            keys = np.union1d(keys, p.keys)
        columns = [np.searchsorted(keys, p.keys) for p in parts]
        # Each merged term's text comes from the first part that holds it.
        source = np.full(len(keys), -1, dtype=np.int64)
        local = np.zeros(len(keys), dtype=np.int64)
        for i, cols in enumerate(columns):
            new = source[cols] < 0
            source[cols[new]] = i
            local[cols[new]] = np.flatnonzero(new)
        lengths = np.zeros(len(keys), dtype=np.int64)
        for i, p in enumerate(parts):
            mine = source == i
            lengths[mine] = np.diff(p.term_offsets)[local[mine]]
        offsets = np.zeros(len(keys) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        terms = np.zeros(int(offsets[-1]), dtype=np.uint8)
        for i, p in enumerate(parts):
            mine = np.flatnonzero(source == i)
            src = _ranges(p.term_offsets[local[mine]], lengths[mine])
            terms[_ranges(offsets[mine], lengths[mine])] = p.terms[src]
        for p, cols in zip(parts, columns, strict=True):
            own = np.diff(p.term_offsets)
            if not np.array_equal(own, lengths[cols]):
                return cls._by_text(parts)
            if not np.array_equal(p.terms, terms[_ranges(offsets[cols], own)]):
                return cls._by_text(parts)
        return cls(keys, terms, offsets, columns)

    @classmethod
    def _by_text(cls, parts: Sequence[Postings]) -> _Vocabulary:
        """The same, terms told apart by their text (two terms share a key)."""
        ids: dict[bytes, int] = {}
        keys: list[int] = []
        columns = []
        for p in parts:
            blob, off = p.terms.tobytes(), p.term_offsets.tolist()
            cols = np.zeros(len(p.keys), dtype=np.int64)
            for j in range(len(p.keys)):
                term = blob[off[j] : off[j + 1]]
                i = ids.get(term)
                if i is None:
                    i = ids[term] = len(keys)
                    keys.append(int(p.keys[j]))
                cols[j] = i
            columns.append(cols)
        order = np.argsort(np.array(keys, dtype=np.uint64), kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        texts = list(ids)
        encoded = [texts[i] for i in order]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        return cls(
            np.array(keys, dtype=np.uint64)[order],
            np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(),
            offsets,
            [rank[c] for c in columns],
        )

    def keep(self, counts: np.ndarray) -> None:
        """Drop the terms no live passage holds (``counts``: live entries per term)."""
        kept = counts > 0
        if kept.all():
            return
        renumber = np.cumsum(kept) - 1
        lengths = np.diff(self.term_offsets)
        self.terms = self.terms[_ranges(self.term_offsets[:-1][kept], lengths[kept])]
        self.term_offsets = np.zeros(int(kept.sum()) + 1, dtype=np.int64)
        np.cumsum(lengths[kept], out=self.term_offsets[1:])
        self.keys = self.keys[kept]
        # A dropped term has no live entries: where its column points is never read.
        self.columns = [renumber[c] for c in self.columns]


def merge_postings(directory: Path, parts: Sequence[tuple[Postings, np.ndarray | None]]) -> int:
    """Write into ``directory`` the postings of one segment of ``parts``' passages, in order,
    keeping those where the mask is True (None: all), as Postings.save would write them;
    returns the passages written. Nothing is tokenized again."""
    directory.mkdir(parents=True, exist_ok=True)
    postings = [p for p, _ in parts]
    keeps = [
        np.ones(p.size, dtype=bool) if k is None else np.asarray(k, dtype=bool) for p, k in parts
    ]
    vocab = _Vocabulary.of(postings)
    # Live entries per merged term, and where each part's passages start in the merge.
    counts = np.zeros(len(vocab.keys), dtype=np.int64)
    firsts, size = [], 0
    for p, keep, cols in zip(postings, keeps, vocab.columns, strict=True):
        if keep.all():
            live = np.diff(p.indptr)
        else:
            running = np.zeros(len(p.docs) + 1, dtype=np.int64)
            np.cumsum(keep[p.docs], out=running[1:])
            live = running[p.indptr[1:]] - running[p.indptr[:-1]]
        counts[cols] += live  # a part's columns are distinct terms
        firsts.append(size)
        size += int(keep.sum())
    vocab.keep(counts)
    counts = counts[counts > 0]
    indptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    save = Postings.save_part
    save(directory, "keys", vocab.keys)
    save(directory, "terms", vocab.terms)
    save(directory, "term_offsets", vocab.term_offsets)
    save(directory, "indptr", indptr)
    save(
        directory,
        "lengths",
        np.concatenate([p.lengths[k] for p, k in zip(postings, keeps, strict=True)])
        if parts
        else np.zeros(0, dtype=np.int64),
    )
    renumbered = [first + np.cumsum(k) - 1 for first, k in zip(firsts, keeps, strict=True)]
    docs_out = _NpyWriter(directory / "docs.npy", np.int32, int(indptr[-1]))
    tfs_out = _NpyWriter(directory / "tfs.npy", np.int32, int(indptr[-1]))
    try:
        for lo, hi in _steps(vocab.keys, indptr):
            cols, docs, tfs = [], [], []
            for p, keep, own, new in zip(postings, keeps, vocab.columns, renumbered, strict=True):
                # The part's terms in [lo, hi): a run of its columns (both sorted by key).
                a = int(np.searchsorted(p.keys, vocab.keys[lo], "left"))
                b = (
                    len(p.keys)
                    if hi == len(vocab.keys)
                    else int(np.searchsorted(p.keys, vocab.keys[hi], "left"))
                )
                s, e = int(p.indptr[a]), int(p.indptr[b])
                d = np.asarray(p.docs[s:e])
                live = keep[d]
                cols.append(np.repeat(own[a:b], np.diff(p.indptr[a : b + 1]))[live])
                docs.append(new[d[live]])
                tfs.append(np.asarray(p.tfs[s:e])[live])
            if not cols:
                continue
            # Stable: within a term, part after part, each part's passages ascending.
            order = np.argsort(np.concatenate(cols), kind="stable")
            docs_out.write(np.concatenate(docs)[order])
            tfs_out.write(np.concatenate(tfs)[order])
        docs_out.close()
        tfs_out.close()
    except BaseException:
        docs_out.abort()
        tfs_out.abort()
        raise
    return size


def _steps(keys: np.ndarray, indptr: np.ndarray):
    """Ranges [lo, hi) of merged terms holding about CHUNK_ENTRIES entries each (at least one
    term), never splitting terms that share a key."""
    n = len(keys)
    lo = 0
    while lo < n:
        hi = int(np.searchsorted(indptr, indptr[lo] + CHUNK_ENTRIES, "right")) - 1
        hi = min(max(hi, lo + 1), n)
        while hi < n and keys[hi] == keys[hi - 1]:
            hi += 1
        yield lo, hi
        lo = hi
