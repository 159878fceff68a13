"""Segment merges for an Assistant: on request (`rag index optimize`) or, in `rag serve`, in a
background thread after each commit. Each merge is one commit under the writer lock; readers
keep answering from their snapshot meanwhile."""

from __future__ import annotations

import logging
import threading

from rag.store import SnapshotHolder, Store

log = logging.getLogger(__name__)
LOCK_WAIT_SECONDS = 10.0


class Merges:
    def __init__(self, store: Store, snapshots: SnapshotHolder) -> None:
        self.store = store
        self.snapshots = snapshots
        # `rag serve` turns this on: merge new segments after each commit, in a thread.
        self.background = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False

    def optimize(
        self, full: bool = False, max_merges: int | None = None, *, reindex: bool = False
    ) -> int:
        """Run merges the policy asks for (rag.store.plan_merge; ``full``: merge everything
        into one segment), one commit each. ``reindex``: also rewrite each segment whose FAISS
        kind is not the one the store's threshold gives it (`rag index optimize`; not the
        background merges of `rag serve`). Returns the number of merges."""
        from rag.store import plan_merge

        merges = 0
        while max_merges is None or merges < max_merges:
            with (
                self.store.lock(timeout=LOCK_WAIT_SECONDS),
                self.snapshots.lease(required=False, current=True) as base,
            ):
                threshold = self.store.faiss_threshold if reindex else None
                plan = (
                    None if base is None else plan_merge(base.manifest["segments"], full, threshold)
                )
                if plan is None:
                    break
                self.store.merge(base, *plan)
            self.snapshots.refresh()
            merges += 1
        return merges

    def after_commit(self) -> None:
        """When background merges are on: run the merge policy in a thread of its own (one at
        a time; a commit during a run asks for another)."""
        if not self.background:
            return
        with self._lock:
            self._again = True
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._loop, name="rag-merge", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._lock:
                if not self._again:
                    self._thread = None
                    return
                self._again = False
            try:
                self.optimize()
            except Exception:  # noqa: BLE001 - a failed merge leaves the index as it was
                log.exception(
                    "background merge of %s failed; the next commit retries", self.store.root
                )
