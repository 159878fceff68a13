"""The index directory (Store): opens the current generation as a Snapshot, and, under a lock,
writes the next one (a new segment, tombstones, or a merge) and makes it current with one atomic
rename. Leftovers of writers that died are swept by the next writer."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexBusyError, IndexCorruptError, IndexMissingError
from rag.store.build import NewSegment, write_merged_segment, write_new_segment
from rag.store.files import (
    MB,
    fsync_dir,
    fsync_file,
    fsync_tree,
    generation_bytes,
    storage_error,
    write_bytes,
)
from rag.store.layout import (
    CURRENT,
    FORMAT,
    LOCK,
    MANIFEST,
    SEGMENT_META,
    SEGMENTS,
    TOKENIZER,
    VECTOR_CACHE,
)
from rag.store.manifest import new_manifest, read_manifest, write_manifest
from rag.store.segment import Segment
from rag.store.snapshot import Snapshot
from rag.store.vectors import HNSW_THRESHOLD, choose_kind
from rag.types import Article, Chunk

# Rows per segment of a streamed write (write_batches: `rag embed --build-index`): what bounds
# its memory, since a segment's BM25 postings are built from its rows at its end and its
# vectors held until then (peak RSS ~0.3 GB + ~18 KB a VNTC row; benchmarks/README.md).
# 16,384 rows: ~0.6 GB whatever the archive, and an index of VNTC's 111k passages in 7
# segments, under the merge policy's MERGE_FACTOR of one tier (no merge due at once).
SEGMENT_ROWS = 16_384


def _rows(batch: tuple[Sequence[tuple[Article, Sequence[Chunk]]], np.ndarray | None]) -> int:
    return sum(len(chunks) for _, chunks in batch[0])


class Store:
    """The index directory: opens snapshots, and writes new ones under a lock.

    ``faiss_threshold``: vectors from which a new segment's index is HNSW (Settings'
    faiss_threshold); None: the RAG_FAISS_THRESHOLD setting as rag.settings reads it at each
    write, for callers without a Settings object."""

    def __init__(self, root: Path, *, faiss_threshold: int | None = None) -> None:
        self.root = Path(root)
        self._faiss_threshold = faiss_threshold

    @property
    def faiss_threshold(self) -> int:
        if self._faiss_threshold is not None:
            return self._faiss_threshold
        from rag.settings import setting_from_env

        return setting_from_env("faiss_threshold")

    # ---- reading -------------------------------------------------------------------------
    def exists(self) -> bool:
        return (self.root / CURRENT).exists()

    def current_generation(self) -> str | None:
        try:
            return (self.root / CURRENT).read_text().strip() or None
        except FileNotFoundError:
            return None

    def manifest_model(self) -> str | None:
        """The model of the current generation, from its manifest alone (nothing loaded);
        None when there is no readable index."""
        gen = self.current_generation()
        try:
            return read_manifest(self.root / gen).get("model")
        except (TypeError, OSError, ValueError, AttributeError):
            return None

    def _current_manifest(self) -> dict | None:
        gen = self.current_generation()
        try:
            return read_manifest(self.root / gen)
        except (TypeError, OSError, ValueError):
            return None

    def open(self, reuse: Snapshot | None = None) -> Snapshot:
        """Load the current generation. ``reuse``: a snapshot still open whose loaded segments
        the new one shares (segments are immutable), so only new segments are read."""
        # A writer may switch CURRENT and prune the generation a reader is loading; that is
        # not damage: load the new current one instead. Damage stays put and is reported.
        for _ in range(3):
            gen = self.current_generation()
            try:
                return self._open(gen, reuse)
            except IndexCorruptError:
                if self.current_generation() == gen:
                    raise
        return self._open(self.current_generation(), reuse)

    def _open(self, gen: str | None, reuse: Snapshot | None = None) -> Snapshot:
        if gen is None:
            raise IndexMissingError(
                f"no index at {self.root}: run `rag ingest PATH` first (or `rag serve`, which "
                f"indexes seeds/)"
            )
        gen_dir = self.root / gen
        rebuild = f"rebuild it with `rag ingest --rebuild PATH --index {self.root}`"
        try:
            manifest = read_manifest(gen_dir)
        except FileNotFoundError:
            raise IndexCorruptError(f"index {self.root} has no manifest: {rebuild}") from None
        except json.JSONDecodeError:
            raise IndexCorruptError(
                f"index {self.root} has a damaged manifest: {rebuild}"
            ) from None
        if manifest.get("format") != FORMAT:
            raise IndexCorruptError(
                f"index {self.root} has format {manifest.get('format')}, this version reads "
                f"{FORMAT}: {rebuild}"
            )
        loaded = {s.name: s for s in reuse.segments} if reuse is not None else {}
        with_vectors = manifest.get("model") is not None
        segments: list[Segment] = []
        try:
            for entry in manifest.get("segments", []):
                seg = loaded.get(entry["name"])
                if seg is None or not seg.acquire():
                    seg = Segment.open(self.root, entry, vectors=with_vectors, rebuild=rebuild)
                segments.append(seg)
            snap = Snapshot(self.root, gen_dir, manifest, segments)
        except BaseException:
            for seg in segments:
                seg.release()
            raise
        if snap.bm25.live != snap.live:
            snap.close()
            raise IndexCorruptError(
                f"index {self.root}: the segments hold {snap.bm25.live} live passages, the "
                f"manifest {snap.live}: {rebuild}"
            )
        return snap

    # ---- writing -------------------------------------------------------------------------
    @contextmanager
    def lock(self, timeout: float = 0.0) -> Iterator[None]:
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.root / LOCK))
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            lock.acquire(timeout=timeout)
        except Timeout:  # before OSError: filelock's Timeout is a TimeoutError
            raise IndexBusyError(
                f"another process is writing the index {self.root}: wait for it to finish and try "
                f"again"
            ) from None
        except OSError as exc:
            raise storage_error(exc, "writing the index", self.root, MB) or exc from None
        try:
            yield
        finally:
            lock.release()

    def write_generation(
        self,
        *,
        base: Snapshot | None,
        add: Sequence[tuple[Article, Sequence[Chunk]]],
        vectors: np.ndarray | None,
        delete: Sequence[str] = (),
        model: str | None,
        dim: int | None,
        settings_info: dict[str, Any],
        faiss_kind: str = "auto",
    ) -> str:
        """Commit the next generation = base - delete + add and make it current. Must be
        called under lock(). ``vectors`` holds one row per chunk in ``add``, in order.

        Only what is added is written: one new segment (SQLite rows, FAISS vectors, BM25
        postings) for ``add``, and a new manifest listing the base's segments plus it; deletes
        are tombstones in the manifest until a merge rewrites their segment. ``base=None``
        starts a new index (the old one, if any, stays current until the commit). A full disk
        or any other failed write raises StorageError (one line) after removing what it wrote;
        CURRENT and the live generation are untouched."""
        self._sweep()
        entries = self._base_entries(base, model)
        threshold = self._threshold(model)
        for article_id in dict.fromkeys(delete) if base is not None else ():
            for e, rows in zip(entries, base.segment_rows(article_id), strict=True):
                if rows is not None and article_id not in e["deleted"]:
                    e["deleted"].append(article_id)
                    e["live_rows"] -= rows
        try:
            if add:
                entries.append(
                    self._new_segment(
                        base,
                        lambda d: write_new_segment(
                            d,
                            add,
                            vectors,
                            dim=dim,
                            with_vectors=model is not None,
                            kind=faiss_kind,
                            threshold=threshold,
                        ),
                    )
                )
            return self._commit(base, entries, model, dim, settings_info, threshold)
        except (OSError, sqlite3.Error) as exc:
            need = generation_bytes(base, add, dim)
            err = storage_error(exc, "writing the index", self.root, need)
            if err is None:
                raise
            raise err from exc

    def write_batches(
        self,
        *,
        base: Snapshot | None,
        batches: Iterable[tuple[Sequence[tuple[Article, Sequence[Chunk]]], np.ndarray | None]],
        rows: int | None,
        text_bytes: int | Callable[[], int],
        model: str | None,
        dim: int | None,
        settings_info: dict[str, Any],
        faiss_kind: str = "auto",
        segment_rows: int = SEGMENT_ROWS,
    ) -> str:
        """Commit the next generation = base + the articles of ``batches`` and make it current,
        reading the batches one at a time: for an archive too large to hold in memory. Must be
        called under lock(). Each batch is (articles with their chunks, one vector per chunk
        in order); a batch is never split, so an article's chunks stay in one segment.

        The batches become new segments of about ``segment_rows`` rows each (cut at the
        batch boundary nearest to it; the last one holds what is left), so memory holds a
        batch or two and one segment's vectors and postings, whatever the number of rows.
        Searches answer as from one segment of the same rows (BM25 takes the collection's
        statistics; exact vectors score the same). The FAISS kind is chosen for ``rows``, the
        rows expected in all (HNSW segments above the threshold, as one segment of them all
        would be); ``rows`` None (a stream of unknown length, `rag ingest`): for each
        segment's own rows. ``text_bytes``: about the UTF-8 bytes of the articles and passages
        (or a function giving it when a write fails), for what a full disk asks to free.
        Nothing is current until every segment is written: a failure keeps the old generation
        and removes the new segments (after a kill, the next writer sweeps them)."""
        self._sweep()
        entries = self._base_entries(base, model)
        old = len(entries)
        threshold = self._threshold(model)
        kind = choose_kind(rows, faiss_kind, threshold) if rows is not None else faiss_kind
        pending = iter(batches)
        head = [next(pending, None)]  # the first batch of the next segment

        def fill(directory: Path) -> dict:
            segment = NewSegment(
                directory,
                dim=dim,
                with_vectors=model is not None,
                kind=kind,
                threshold=threshold,
                expected_rows=rows,
            )
            try:
                batch, head[0] = head[0], None
                while batch is not None:
                    segment.append(*batch)
                    batch = None  # not held while the next one is read
                    batch = next(pending, None)
                    # Cut at the batch boundary nearest segment_rows: a batch whose middle
                    # lies past it starts the next segment (held meanwhile: one batch).
                    if batch is not None and 2 * segment.rows + _rows(batch) > 2 * segment_rows:
                        head[0] = batch
                        break
                return segment.finish()
            finally:
                segment.abort()

        try:
            while head[0] is not None:
                entries.append(self._new_segment(base, fill))
            return self._commit(base, entries, model, dim, settings_info, threshold)
        except BaseException as exc:
            # The segments written so far are listed by no generation: remove them now.
            self._sweep_segments()
            if isinstance(exc, OSError | sqlite3.Error):
                text = text_bytes() if callable(text_bytes) else text_bytes
                count = rows if rows is not None else sum(int(e["rows"]) for e in entries[old:])
                need = write_bytes(base, text, count * 4 * int(dim or 0))
                err = storage_error(exc, "writing the index", self.root, need)
                if err is not None:
                    raise err from exc
            raise

    def merge(self, base: Snapshot, start: int, stop: int) -> str:
        """Replace segments [start, stop) of ``base`` (the current snapshot, under lock()) by
        one segment of their live rows, in order, and commit. Nothing is tokenized or encoded
        again: rows are copied by SQLite, vectors by FAISS, postings merged."""
        self._sweep()
        entries = self._base_entries(base, base.model)
        threshold = self._threshold(base.model)
        parts = list(base.parts())[start:stop]
        dim = int(base.manifest["dim"]) if base.model is not None else None
        merged = self._new_segment(
            base, lambda d: write_merged_segment(d, parts, dim=dim, threshold=threshold)
        )
        entries[start:stop] = [merged]
        return self._commit(
            base,
            entries,
            base.model,
            base.manifest.get("dim"),
            base.manifest.get("settings", {}),
            threshold,
        )

    def _threshold(self, model: str | None) -> int:
        """The FAISS threshold for a write (only an index with vectors asks for it)."""
        return self.faiss_threshold if model is not None else HNSW_THRESHOLD

    def _base_entries(self, base: Snapshot | None, model: str | None) -> list[dict]:
        if base is None:
            return []
        if base.size and (base.model is None) != (model is None):
            raise ValueError("a write cannot add or drop the vectors of an existing index")
        return [
            {**e, "deleted": list(e.get("deleted", ()))} for e in base.manifest.get("segments", [])
        ]

    def _next_segment_number(self, base: Snapshot | None) -> int:
        seg_root = self.root / SEGMENTS
        used = [int(base.manifest.get("next_segment", 1)) - 1] if base is not None else [0]
        cur = self._current_manifest()
        if cur is not None:
            used.append(int(cur.get("next_segment", 1)) - 1)
        for p in seg_root.glob("*seg-*"):
            digits = p.name.split("seg-")[1].split("-")[0]
            if digits.isdigit():
                used.append(int(digits))
        return max(used) + 1

    def _new_segment(self, base: Snapshot | None, fill) -> dict:
        """Write a segment with ``fill(tmp_dir) -> entry`` into a temporary folder, make it
        durable, and rename it into place (uncommitted until a manifest lists it)."""
        number = self._next_segment_number(base)
        name = f"seg-{number:06d}"
        seg_root = self.root / SEGMENTS
        seg_root.mkdir(parents=True, exist_ok=True)
        tmp = seg_root / f".tmp-{name}-{os.getpid()}"
        try:
            tmp.mkdir()
            entry = fill(tmp)
            entry.update(name=name, tokenizer=TOKENIZER)
            (tmp / SEGMENT_META).write_text(json.dumps(entry, indent=2, ensure_ascii=False))
            fsync_tree(tmp)
            os.rename(tmp, seg_root / name)
            fsync_dir(seg_root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return {**entry, "deleted": [], "live_rows": entry["rows"]}

    def _commit(self, base, entries, model, dim, settings_info, threshold: int) -> str:
        """Write the manifest of the next generation listing ``entries`` (segments with no live
        row left are dropped), switch CURRENT to it, then remove what no kept manifest lists."""
        entries = [e for e in entries if e["live_rows"] > 0]
        number = 1 + max(
            [0] + [int(p.name[4:]) for p in self.root.glob("gen-[0-9]*") if p.name[4:].isdigit()]
        )
        name = f"gen-{number:06d}"
        tmp = self.root / f".tmp-{name}-{os.getpid()}"
        seg_numbers = [int(e["name"][4:]) for e in entries]
        pointer = self.root / f".{CURRENT}.{os.getpid()}"
        try:
            tmp.mkdir(parents=True)
            manifest = new_manifest(
                name,
                entries,
                model=model,
                dim=dim,
                threshold=threshold,
                next_segment=max([self._next_segment_number(base)] + [n + 1 for n in seg_numbers]),
                settings_info=settings_info,
            )
            write_manifest(tmp, manifest)
            fsync_tree(tmp)
            os.rename(tmp, self.root / name)
            pointer.write_text(name + "\n")
            fsync_file(pointer)
            os.replace(pointer, self.root / CURRENT)  # the commit point
            fsync_dir(self.root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            pointer.unlink(missing_ok=True)
            # Renamed into place but never made current (the pointer could not be written).
            if self.current_generation() != name:
                shutil.rmtree(self.root / name, ignore_errors=True)
                self._sweep_segments()
            raise
        self._prune(keep=name)
        return name

    # ---- leftovers -----------------------------------------------------------------------
    def _sweep(self) -> None:
        """Remove what writers that died left behind (we hold the lock): temporary folders,
        generations newer than CURRENT (renamed into place, never committed), and segments that
        no kept manifest lists (written, never committed; or merged away)."""
        for p in self.root.glob(".tmp-gen-*"):
            shutil.rmtree(p, ignore_errors=True)
        for p in (self.root / SEGMENTS).glob(".tmp-seg-*"):
            shutil.rmtree(p, ignore_errors=True)
        for p in self.root.glob(f"{VECTOR_CACHE}/*/.part-*"):
            p.unlink(missing_ok=True)
        for p in self.root.glob(f".{CURRENT}.*"):
            p.unlink(missing_ok=True)
        # A writer killed between renaming its generation into place and switching CURRENT
        # leaves a generation newer than CURRENT that was never committed: drop it, or _prune
        # would keep it and delete the live one's predecessor instead.
        current = self.current_generation()
        live = int(current[4:]) if current and current[4:].isdigit() else 0
        for p in self.root.glob("gen-[0-9]*"):
            if p.name[4:].isdigit() and int(p.name[4:]) > live:
                shutil.rmtree(p, ignore_errors=True)
        self._sweep_segments()

    def _sweep_segments(self) -> None:
        """Remove the segments that no generation on disk lists (CURRENT's and the one kept
        before it). Removed only after the switch, so a reader of either still finds its
        files, and a reader of an older one holds them open."""
        listed: set[str] = set()
        for g in self.root.glob("gen-[0-9]*"):
            try:
                m = read_manifest(g)
            except (OSError, ValueError):
                continue
            listed.update(e["name"] for e in m.get("segments", []))
        current = self.current_generation()
        if current is not None and not (self.root / current / MANIFEST).exists():
            return  # a damaged index: keep every file for the rebuild to replace
        for p in (self.root / SEGMENTS).glob("seg-*"):
            if p.name not in listed:
                shutil.rmtree(p, ignore_errors=True)

    def _prune(self, keep: str) -> None:
        """Keep the new generation and the one before it (a reader may still be loading it),
        then the segments they list."""
        gens = sorted(p for p in self.root.glob("gen-[0-9]*") if p.is_dir())
        for p in gens[:-2]:
            if p.name != keep:
                shutil.rmtree(p, ignore_errors=True)
        self._sweep_segments()
