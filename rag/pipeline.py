"""The one place that composes the stages: load -> clean -> chunk -> embed -> store for
ingest, and retrieve -> answer for questions.

An Assistant holds what is expensive to load (the encoder, the loaded index snapshot) and is
shared by the CLI, the web UI and the evaluation. It reloads the snapshot when a writer (this
process or another) commits a new generation, so the chat keeps answering during and after an
ingest. Every request leases one snapshot for its whole run (rag.store.SnapshotHolder): it
answers from one generation, and a commit never closes the files under it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from rag.chunk import chunk_article, passage_for_embedding
from rag.errors import InputError, ModelMismatchError
from rag.load import load_paths
from rag.settings import DEFAULT_MODEL, Settings
from rag.store import (
    Snapshot,
    SnapshotHolder,
    Store,
    VectorCache,
    generation_bytes,
    storage_error,
    text_key,
)
from rag.types import Answer, Article, Chunk, Filters, Hit, IngestReport, Skipped

log = logging.getLogger(__name__)
MAX_QUESTION_CHARS = 2000
# Terminal escape sequences (colours, cursor moves) pasted with a question: removed whole, so
# that "\x1b[31m" leaves no "[31m" behind once the control characters are dropped.
_ANSI_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
LOCK_WAIT_SECONDS = 10.0
# A filtered search ranks this many times the usual pool (at least FILTER_MIN_POOL passages)
# and keeps the passages the filters admit.
FILTER_DEPTH, FILTER_MIN_POOL = 8, 200
# Passages encoded between two saves to the vector cache: a failure loses at most this many.
CACHE_GROUP = 512


def clean_question(question: str) -> str:
    """A question as the pipeline takes it, or InputError saying what is wrong with it."""
    from rag.clean import normalize_unicode

    if not isinstance(question, str):
        raise InputError("the question must be text")
    q = " ".join(normalize_unicode(_ANSI_ESCAPE.sub("", question)).split())
    if not q:
        raise InputError(
            'the question is empty: type a question, e.g. "Hiệp ước mới thay thế những văn kiện nào?"'
        )
    if len(q) > MAX_QUESTION_CHARS:
        raise InputError(
            f"the question is {len(q):,} characters long; ask in at most {MAX_QUESTION_CHARS:,}"
        )
    return q


class Assistant:
    def __init__(self, settings: Settings, *, queries_only: bool = False) -> None:
        """``queries_only``: this assistant answers and never ingests (``rag ask``), so its
        questions may be encoded by the torch-free export of the model (embeddings.light)."""
        self.settings = settings
        self.queries_only = queries_only
        self.store = Store(settings.index_dir)
        self._snapshots = SnapshotHolder(self.store)
        self._choice = None
        self._backend_encoder = None  # (encoder, the same run by settings.embed_backend)
        self._retriever = None
        self._similarity = None  # rag.similarity.SentenceSimilarity over the query encoder
        self._lock = threading.RLock()
        # `rag serve` merges segments in a background thread after each commit.
        self.background_merges = False
        self._merge_thread: threading.Thread | None = None
        self._merge_again = False

    @classmethod
    def open(cls, settings: Settings) -> Assistant:
        return cls(settings)

    # ---- model -------------------------------------------------------------------------
    def _requested_model(self) -> str:
        """The configured model; for an existing index and an untouched default, the index's
        own model, so `rag ask --index DIR` uses whatever built DIR."""
        with self._snapshots.lease(required=False) as snap:
            if snap is not None and snap.model and self.settings.embed_model == DEFAULT_MODEL:
                return snap.model
        return self.settings.embed_model

    def prefetch_query_encoder(self) -> None:
        """Start loading the torch-free question encoder of the index's model in the
        background (queries_only assistants), from the manifest alone."""
        if not self.queries_only:
            return
        from embeddings import light

        model = self.settings.embed_model
        if model == DEFAULT_MODEL:
            model = self.store.manifest_model() or model
        light.prefetch(model)

    @property
    def choice(self):
        with self._lock:
            if self._choice is None:
                from embeddings.encoder import resolve_encoder

                self._choice = resolve_encoder(
                    self._requested_model(),
                    fallback=self.settings.embed_fallback,
                    device=self.settings.device,
                    batch_size=self.settings.batch_size,
                    queries_only=self.queries_only,
                )
            return self._choice

    @property
    def encoder(self):
        return self.choice.encoder

    # ---- snapshot ----------------------------------------------------------------------
    def _current_snapshot(self, required: bool = True) -> Snapshot | None:
        """The current snapshot without a lease: for a single thread that reads it before the
        next commit (scripts, tests). Request handlers use ``self._snapshots.lease()``."""
        with self._snapshots.lease(required) as snap:
            return snap

    def _check_model(self, snap: Snapshot) -> None:
        if snap.model is None or snap.size == 0:
            return
        in_use = self.encoder.model_id if self.encoder is not None else None
        if in_use is None:
            return  # BM25 alone still works on an index with vectors; the warning says why
        if in_use != snap.model:
            raise ModelMismatchError(
                f"the index {self.store.root} was built with {snap.model} but the model in use is "
                f"{in_use}: set RAG_EMBED_MODEL={snap.model}, or rebuild with "
                f"`rag ingest --rebuild PATH --index {self.store.root}`"
            )

    def retriever(self):
        """The current snapshot's retriever, without a lease (see _current_snapshot)."""
        with self._snapshots.lease() as snap:
            return self._retriever_for(snap)

    def _retriever_for(self, snap: Snapshot):
        """The retriever over ``snap`` (leased by the caller); the current one's is kept."""
        from rag.retrieve import Retriever

        with self._lock:
            cached = self._retriever
            if cached is not None and cached.snapshot is snap:
                return cached
            encoder = None
            if snap.model is not None:
                self._check_model(snap)
                encoder = self.encoder
            retriever = Retriever(snap, encoder, self.settings.dense_weight)
            # A reader still on a superseded snapshot gets a retriever of its own, uncached, so
            # the cache never pins an old generation in memory.
            if snap is self._snapshots.peek():
                self._retriever = retriever
            return retriever

    # ---- ingest ------------------------------------------------------------------------
    def ingest(
        self, paths: Sequence[str | Path], *, progress: bool = False, rebuild: bool = False
    ) -> IngestReport:
        return self.ingest_articles(
            load_paths(paths, progress=progress), progress=progress, rebuild=rebuild
        )

    def ingest_articles(
        self, items: Iterable[Article | Skipped], *, progress: bool = False, rebuild: bool = False
    ) -> IngestReport:
        if self.queries_only:
            raise RuntimeError("an Assistant opened with queries_only=True does not ingest")
        t0 = time.perf_counter()
        with self.store.lock(timeout=LOCK_WAIT_SECONDS):
            if rebuild:
                # The new index is built beside the old one (base=None) and replaces it at the
                # commit: readers keep answering from the old one meanwhile, and a crash halfway
                # loses nothing. It uses the configured model, not the old index's.
                from embeddings.encoder import resolve_encoder

                with self._lock:
                    if self._choice is None or self._choice.requested != self.settings.embed_model:
                        self._choice = resolve_encoder(
                            self.settings.embed_model,
                            fallback=self.settings.embed_fallback,
                            device=self.settings.device,
                            batch_size=self.settings.batch_size,
                        )
                report = self._ingest_into(None, items, progress, t0)
                if report.added:
                    self._snapshots.refresh()
                return report
            with self._snapshots.lease(required=False, current=True) as base:
                report = self._ingest_into(base, items, progress, t0)
            if report.added:
                self._snapshots.refresh()
        if report.added:
            self._merge_in_background()
        return report

    def _ingest_into(
        self,
        base: Snapshot | None,
        items: Iterable[Article | Skipped],
        progress: bool,
        t0: float,
    ) -> IngestReport:
        """Ingest onto ``base`` (leased by the caller, None for a new index); under the lock."""
        skipped: list[Skipped] = []
        new: list[tuple[Article, list[Chunk]]] = []
        seen: set[str] = set()
        unchanged = 0
        chunk_size, overlap = self._chunking(base)
        for item in items:
            if isinstance(item, Skipped):
                skipped.append(item)
                continue
            if item.id in seen or (base is not None and base.has_article(item.id)):
                unchanged += 1
                continue
            seen.add(item.id)
            chunks = chunk_article(item, chunk_size, overlap)
            if chunks:
                new.append((item, chunks))
            else:
                skipped.append(Skipped(item.source, "no text to index"))
        if not new:
            return IngestReport(0, unchanged, 0, tuple(skipped), time.perf_counter() - t0)
        encoder = self.encoder
        if base is not None and base.size > 0:
            self._check_model(base)
            if base.model is None:
                encoder = None  # keep a BM25-only index consistent: no half-embedded rows
        vectors = None
        cache = None
        if encoder is not None:
            passages = [passage_for_embedding(c) for _, chunks in new for c in chunks]
            cache = VectorCache(
                self.store.root,
                f"{encoder.model_id}|{self.settings.embed_backend}|{encoder.dim}|"
                f"{encoder.spec.passage_prompt}",
            )
            need = generation_bytes(base, new, encoder.dim)
            vectors = self._embed(self._passage_encoder(encoder), passages, progress, cache, need)
        self.store.write_generation(
            base=base,
            add=new,
            vectors=vectors,
            model=encoder.model_id if encoder is not None else None,
            dim=encoder.dim if encoder is not None else None,
            settings_info={
                "chunk_size": chunk_size,
                "chunk_overlap": overlap,
                # An index keeps what was first asked for: an upload into an index built with a
                # fallback must not record the fallback as the requested model.
                "requested_model": (
                    base.manifest.get("settings", {}).get("requested_model") if base else None
                )
                or self.choice.requested,
                "embed_backend": self.settings.embed_backend if encoder else None,
                "query_prompt": encoder.spec.query_prompt if encoder else None,
                "passage_prompt": encoder.spec.passage_prompt if encoder else None,
            },
        )
        if cache is not None:
            cache.clear()  # committed: the vectors live in the new generation now
        n_chunks = sum(len(c) for _, c in new)
        return IngestReport(
            added=len(new),
            unchanged=unchanged,
            chunks=n_chunks,
            skipped=tuple(skipped),
            seconds=time.perf_counter() - t0,
            added_ids=tuple(a.id for a, _ in new),
        )

    def _chunking(self, base: Snapshot | None) -> tuple[int, int]:
        """An existing index keeps the chunking it was built with, so its passages stay alike."""
        if base is not None and base.size > 0:
            s = base.manifest.get("settings", {})
            return int(s.get("chunk_size", self.settings.chunk_size)), int(
                s.get("chunk_overlap", self.settings.chunk_overlap)
            )
        return self.settings.chunk_size, self.settings.chunk_overlap

    def _passage_encoder(self, encoder):
        """The encoder for passages: ``encoder`` run by the configured backend (built once)."""
        backend = self.settings.embed_backend
        if backend == "torch":
            return encoder
        with self._lock:
            cached = self._backend_encoder
            if cached is None or cached[0] is not encoder:
                from embeddings.backends import with_backend

                cached = (encoder, with_backend(encoder, backend))
                self._backend_encoder = cached
            return cached[1]

    def _embed(
        self,
        encoder,
        passages: list[str],
        progress: bool,
        cache: VectorCache | None = None,
        need: int = 0,
    ) -> np.ndarray:
        """Length-sorted batches under the token cap (embeddings.batching.encode_sorted: on a CPU
        small batches of long passages run faster), a progress bar for large ingests.

        With a cache, passages it holds are not encoded again, and each group of CACHE_GROUP
        newly encoded passages is saved to it before the next one starts, so a failed write
        (full disk) or a kill costs at most one group on the rerun."""
        from embeddings.batching import batch_tokens_for, encode_sorted

        out = np.zeros((len(passages), encoder.dim), dtype=np.float32)
        keys = [text_key(p) for p in passages]
        known = cache.load() if cache is not None else {}
        todo = []
        for i, key in enumerate(keys):
            vec = known.get(key)
            if vec is not None and vec.shape == (encoder.dim,):
                out[i] = vec
            else:
                todo.append(i)
        del known
        # Longest first across groups too, as encode_sorted orders the batches inside one.
        todo.sort(key=lambda i: -len(passages[i]))
        max_tokens = batch_tokens_for(encoder, self.settings.batch_tokens)

        def run(on_batch=None) -> None:
            for g in range(0, len(todo), CACHE_GROUP):
                idx = todo[g : g + CACHE_GROUP]
                vecs = encode_sorted(
                    encoder,
                    [passages[i] for i in idx],
                    max(1, self.settings.batch_size),
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
                    err = storage_error(exc, "writing the index", self.store.root, need + left)
                    if err is None:
                        raise
                    raise err from exc

        if not progress or len(todo) <= 8 * self.settings.batch_size:
            run()
            return out
        from tqdm import tqdm

        with tqdm(total=len(passages), unit="passage", desc="embedding") as bar:
            bar.update(len(passages) - len(todo))
            run(bar.update)
        return out

    def delete(self, article_id: str) -> bool:
        lock = self.store.lock(timeout=LOCK_WAIT_SECONDS)
        with lock, self._snapshots.lease(required=False, current=True) as base:
            if base is None or not base.has_article(article_id):
                return False
            self.store.write_generation(
                base=base,
                add=[],
                vectors=None,
                delete=[article_id],
                model=base.model,
                dim=base.manifest.get("dim"),
                settings_info=base.manifest.get("settings", {}),
                faiss_kind="auto",
            )
        self._snapshots.refresh()
        self._merge_in_background()
        return True

    # ---- merges ------------------------------------------------------------------------
    def optimize(self, full: bool = False, max_merges: int | None = None) -> int:
        """Run merges the policy asks for (rag.store.plan_merge; ``full``: merge everything
        into one segment), one commit each, under the writer lock; readers keep answering
        meanwhile. Returns the number of merges."""
        from rag.store import plan_merge

        merges = 0
        while max_merges is None or merges < max_merges:
            with (
                self.store.lock(timeout=LOCK_WAIT_SECONDS),
                self._snapshots.lease(required=False, current=True) as base,
            ):
                plan = None if base is None else plan_merge(base.manifest["segments"], full)
                if plan is None:
                    break
                self.store.merge(base, *plan)
            self._snapshots.refresh()
            merges += 1
        return merges

    def _merge_in_background(self) -> None:
        """After a commit, when background merges are on (`rag serve`): run the merge policy
        in a thread of its own (one at a time; a commit during a run asks for another)."""
        if not self.background_merges:
            return
        with self._lock:
            self._merge_again = True
            if self._merge_thread is not None and self._merge_thread.is_alive():
                return
            self._merge_thread = threading.Thread(
                target=self._merge_loop, name="rag-merge", daemon=True
            )
            self._merge_thread.start()

    def _merge_loop(self) -> None:
        while True:
            with self._lock:
                if not self._merge_again:
                    self._merge_thread = None
                    return
                self._merge_again = False
            try:
                self.optimize()
            except Exception:  # noqa: BLE001 - a failed merge leaves the index as it was
                log.exception(
                    "background merge of %s failed; the next commit retries", self.store.root
                )

    # ---- questions ---------------------------------------------------------------------
    def search(
        self,
        query: str,
        k: int | None = None,
        mode: str | None = None,
        rerank: bool | None = None,
        filters: Filters | None = None,
    ) -> list[Hit]:
        query = clean_question(query)
        with self._snapshots.lease() as snap:
            retriever = self._retriever_for(snap)
            mode = retriever.effective_mode(mode or self.settings.retriever)
            k = k or self.settings.top_k
            return self._retrieve(retriever, query, k, mode, rerank, filters)

    def reranker(self):
        """The cross-encoder stage (rag.rerank), loaded on first use; it switches itself off,
        with a warning, when its model cannot be loaded."""
        with self._lock:
            if getattr(self, "_reranker", None) is None:
                from rag.rerank import Reranker

                self._reranker = Reranker(self.settings.reranker_model, self.settings.device)
            return self._reranker

    def _retrieve(
        self,
        retriever,
        query: str,
        k: int,
        mode: str,
        rerank: bool | None,
        filters: Filters | None = None,
    ) -> list[Hit]:
        """retrieve -> optional cross-encoder -> collapse near-duplicates -> filters -> top k."""
        from dataclasses import replace

        from rag.dedup import collapse
        from rag.rerank import RERANK_POOL

        rerank = self.settings.rerank if rerank is None else rerank
        reranker = self.reranker() if rerank else None
        use_reranker = reranker is not None and reranker.available
        # Fetch more than k: the reranker reorders a pool, and collapsed duplicates leave gaps.
        pool = max(k, RERANK_POOL) if use_reranker else k
        if self.settings.dedup:
            pool *= 2
        if filters:
            # Filtered after ranking: fetch deep enough that k admitted passages are likely.
            pool = max(pool * FILTER_DEPTH, FILTER_MIN_POOL)
        hits = retriever.search(query, pool, mode)
        if use_reranker:
            hits = reranker.rerank(query, hits, pool)
        if self.settings.dedup:
            hits = collapse(hits)
        if filters:
            hits = [h for h in hits if filters.admits(h)]
        return [replace(h, rank=i) for i, h in enumerate(hits[:k])]

    def ask(
        self,
        question: str,
        history: Sequence[tuple[str, str]] = (),
        *,
        top_k: int | None = None,
        mode: str | None = None,
        rerank: bool | None = None,
        answer_mode: str | None = None,
        filters: Filters | None = None,
    ) -> Answer:
        from rag.chat import rewrite

        question = clean_question(question)
        # A follow-up ("còn hiệp ước năm 2000 thì sao?") is answered as its standalone form.
        rewritten = rewrite(question, history)
        query = clean_question(rewritten) if rewritten else question
        # One snapshot from retrieval to the last title looked up: the answer is of one
        # generation, and a commit meanwhile closes nothing this request still reads.
        with self._snapshots.lease() as snap:
            return self._ask(
                snap, question, query, rewritten, top_k, mode, rerank, answer_mode, filters
            )

    def _ask(
        self,
        snap: Snapshot,
        question: str,
        query: str,
        rewritten: str | None,
        top_k: int | None,
        mode: str | None,
        rerank: bool | None,
        answer_mode: str | None,
        filters: Filters | None = None,
    ) -> Answer:
        from dataclasses import replace

        from rag.answer import compose

        retriever = self._retriever_for(snap)
        requested = mode or self.settings.retriever
        used = retriever.effective_mode(requested)
        k = top_k or self.settings.top_k
        hits = self._retrieve(retriever, query, k, used, rerank, filters)
        model = (
            retriever.encoder.model_id if retriever.encoder is not None and used != "bm25" else None
        )
        also = [a for h in hits for a in h.also]
        titles = {k: v["title"] for k, v in retriever.snapshot.article_meta(also).items()}
        answer = compose(
            query,
            hits,
            retriever.idf,
            mode=used,
            model=model,
            titles=titles,
            known=retriever.known,
            cosines=self._cosines(retriever, query, model),
        )
        warnings = self._warnings(snap, requested_mode=requested, used_mode=used)
        if (answer_mode or self.settings.answer_mode) == "llm":
            answer, llm_warnings = self._llm_answer(query, hits, answer, used, model)
            warnings.extend(llm_warnings)
        wanted_rerank = self.settings.rerank if rerank is None else rerank
        if wanted_rerank and self.reranker().warning:
            warnings.append(self.reranker().warning)
        return replace(
            answer, question=question, rewritten_query=rewritten, warnings=tuple(warnings)
        )

    def _cosines(self, retriever, query: str, model: str | None):
        """Sentences -> cosine with ``query``, for a model whose sentence weights are fitted."""
        from rag.answer import meaning_for

        if model is None or retriever.encoder is None or meaning_for(model) is None:
            return None
        with self._lock:
            sim = self._similarity
            if sim is None or sim.encoder is not retriever.encoder:
                from rag.similarity import SentenceSimilarity

                sim = self._similarity = SentenceSimilarity(retriever.encoder)
        return sim.for_question(query, retriever.query_vector(query))

    def _llm_answer(self, query, hits, extractive: Answer, used: str, model):
        """The endpoint's checked answer, or the extractive one with the reason why not."""
        from rag.llm import LLMConfig, llm_answer

        s = self.settings
        if not (s.llm_url and s.llm_model):
            why = "no LLM endpoint configured (set RAG_LLM_URL and RAG_LLM_MODEL); answered extractively"
            return extractive, [why]
        config = LLMConfig(s.llm_url, s.llm_model, s.llm_api_key)
        answer, warnings = llm_answer(config, query, list(hits), mode=used, model=model)
        return (answer if answer is not None else extractive), warnings

    def model_warning(self) -> str | None:
        """Why the model in use is not the one configured, if it is not; None otherwise."""
        with self._snapshots.lease(required=False) as snap:
            return self._model_warning(snap)

    def _model_warning(self, snap: Snapshot | None) -> str | None:
        if snap is None or snap.model is None:
            return None
        if self.choice.warning:
            return self.choice.warning
        built_for = snap.manifest.get("settings", {}).get("requested_model")
        from embeddings import bundled_e5
        from embeddings.encoder import stands_for

        if built_for and stands_for(built_for) != stands_for(snap.model):
            rebuild = f"`rag ingest --rebuild PATH... --index {self.store.root}`"
            if stands_for(built_for) == bundled_e5.MODEL_ID and bundled_e5.installed():
                return (
                    f"this index was built with {snap.model} because {built_for} could not be "
                    f"loaded then; it can be now ({bundled_e5.LABEL}): rebuild with {rebuild}"
                )
            return (
                f"this index was built with {snap.model} because {built_for} could not be "
                f"loaded; rebuild with {rebuild} once it can"
            )
        return None

    def warnings(
        self, requested_mode: str | None = None, used_mode: str | None = None
    ) -> list[str]:
        with self._snapshots.lease(required=False) as snap:
            return self._warnings(snap, requested_mode, used_mode)

    def _warnings(
        self, snap: Snapshot | None, requested_mode: str | None, used_mode: str | None
    ) -> list[str]:
        out = []
        model_warning = self._model_warning(snap)
        if model_warning:
            out.append(model_warning)
        if requested_mode and used_mode and requested_mode != used_mode:
            why = (
                "the index has no vectors"
                if snap is not None and snap.model is None
                else "no embedding model could be loaded"
            )
            out.append(f"{requested_mode} retrieval is unavailable ({why}); used {used_mode}")
        return out

    # ---- corpus ------------------------------------------------------------------------
    def info(self) -> dict:
        with self._snapshots.lease(required=False) as snap:
            return self._info(snap)

    def _info(self, snap: Snapshot | None) -> dict:
        base = {
            "index_dir": str(self.store.root),
            "exists": snap is not None,
            "configured_model": self.settings.embed_model,
            "retriever": self.settings.retriever,
            "top_k": self.settings.top_k,
        }
        if snap is None:
            return base
        m = snap.manifest
        model_in_use = None
        warning = None
        if snap.model is not None:
            model_in_use = self.encoder.model_id if self.encoder is not None else None
            warning = self._model_warning(snap)
        base.update(
            {
                "generation": snap.generation,
                "index_model": snap.model,
                "model_in_use": model_in_use,
                "mode": "hybrid" if model_in_use else "bm25",
                "warning": warning
                if warning
                else (None if snap.model else "index has no vectors: BM25 keyword search only"),
                "articles": m["counts"]["articles"],
                "chunks": m["counts"]["chunks"],
                "dim": m.get("dim"),
                "faiss_index": m.get("faiss_index"),
                "chunk_size": m.get("settings", {}).get("chunk_size"),
                "chunk_overlap": m.get("settings", {}).get("chunk_overlap"),
                "created": m.get("created"),
                "versions": m.get("versions"),
                "disk_bytes": snap.disk_bytes(),
                "segments": len(snap.segments),
            }
        )
        return base

    def articles(self) -> list[dict]:
        with self._snapshots.lease(required=False) as snap:
            return snap.articles() if snap is not None else []

    def article(self, article_id: str) -> Article | None:
        with self._snapshots.lease(required=False) as snap:
            return snap.article(article_id) if snap is not None else None

    def close(self) -> None:
        with self._lock:
            self._retriever = None
        self._snapshots.close()


def build_index(
    paths: Sequence[str | Path], settings: Settings, *, progress: bool = False
) -> IngestReport:
    return Assistant(settings).ingest(paths, progress=progress)


def ask(question: str, settings: Settings) -> Answer:
    return Assistant(settings).ask(question)
