"""The one place that composes the stages: load -> clean -> chunk -> embed -> store for
ingest, and retrieve -> answer for questions.

An Assistant holds what is expensive to load (the encoder, the loaded index snapshot) and is
shared by the CLI, the web UI and the evaluation. It reloads the snapshot when a writer (this
process or another) commits a new generation, so the chat keeps answering during and after an
ingest. Every request leases one snapshot for its whole run (rag.store.SnapshotHolder): it
answers from one generation, and a commit never closes the files under it.

Somewhat over 500 lines because it is the one place the stages meet: each method leases a
snapshot and hands over to the stage's module (rag.ingest, rag.passages, rag.merges,
rag.retrieve, rag.answer, rag.status), and splitting the class would split that one lifetime.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from rag import status
from rag.chunk import passage_for_embedding
from rag.errors import InputError, ModelMismatchError
from rag.ingest import Tally, in_batches, index_settings, new_articles
from rag.load import load_paths
from rag.merges import LOCK_WAIT_SECONDS, Merges
from rag.passages import encode_passages
from rag.query import Query, clean_question
from rag.settings import DEFAULT_MODEL, Settings
from rag.store import (
    SEGMENT_ROWS,
    Snapshot,
    SnapshotHolder,
    Store,
    VectorCache,
    generation_bytes,
)
from rag.types import Answer, Article, Filters, Hit, IngestReport, Skipped

log = logging.getLogger(__name__)
# A filtered search ranks this many times the usual pool (at least FILTER_MIN_POOL passages)
# and keeps the passages the filters admit.
FILTER_DEPTH, FILTER_MIN_POOL = 8, 200
# Articles whose sentences `rag index sentences` encodes and stores in one transaction.
SENTENCE_ARTICLES = 64


def _articles_with_passages(snap: Snapshot, ids: Sequence[str]):
    """(article text, its passages' texts) of the articles ``ids`` still holds, a batch of
    SENTENCE_ARTICLES at a time, each batch's passages read in one call."""
    for i in range(0, len(ids), SENTENCE_ARTICLES):
        part = ids[i : i + SENTENCE_ARTICLES]
        passages: dict[str, list[str]] = {a: [] for a in part}
        for sc in snap.chunks(snap.rows_of(part)):
            passages[sc.chunk.article_id].append(sc.chunk.text)
        articles = ((snap.article(a), passages[a]) for a in part)
        yield [(article.text, texts) for article, texts in articles if article is not None]


def reads_sentences(model: str | None) -> bool:
    """Whether questions over an index of ``model`` read sentence vectors: answers chosen by
    meaning (rag.answer.MEANING) or hybrid retrieval's second stage (rag.fusion)."""
    from rag import fusion
    from rag.answer import meaning_for

    if model is None:
        return False
    return meaning_for(model) is not None or any(
        w[3] > 0 for w in fusion.model_weights(model).values()
    )


class Assistant:
    def __init__(self, settings: Settings, *, queries_only: bool = False) -> None:
        """``queries_only``: this assistant answers and never ingests (``rag ask``), so its
        questions may be encoded by the torch-free export of the model (embeddings.light)."""
        self.settings = settings
        self.queries_only = queries_only
        self.store = Store(settings.index_dir, faiss_threshold=settings.faiss_threshold)
        self._snapshots = SnapshotHolder(self.store)
        self._choice = None
        self._backend_encoder = None  # (encoder, the same run by settings.embed_backend)
        self._retriever = None
        self._similarity = None  # rag.similarity.SentenceSimilarity over the query encoder
        self._stored = None  # rag.store.SentenceVectors of the index, for the snapshot's model
        self._lock = threading.RLock()
        self.merges = Merges(self.store, self._snapshots)
        self._closing = threading.Event()  # stops warm()

    @classmethod
    def open(cls, settings: Settings) -> Assistant:
        return cls(settings)

    @property
    def background_merges(self) -> bool:
        """`rag serve` merges segments in a background thread after each commit."""
        return self.merges.background

    @background_merges.setter
    def background_merges(self, on: bool) -> None:
        self.merges.background = on

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
            similarity = self._sentence_similarity(encoder) if encoder is not None else None
            if similarity is not None:
                similarity.use_stored(self._stored_sentences(snap, encoder))
            retriever = Retriever(
                snap,
                encoder,
                self.settings.dense_weight,
                similarity,
                rescore=self.settings.sentence_rescore,
            )
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
            self.merges.after_commit()
        return report

    def _ingest_into(
        self,
        base: Snapshot | None,
        items: Iterable[Article | Skipped],
        progress: bool,
        t0: float,
    ) -> IngestReport:
        """Ingest onto ``base`` (leased by the caller, None for a new index); under the lock.
        The articles are read, chunked, encoded and written a batch at a time (INGEST_BATCH_ROWS
        passages) into segments of ``segment_rows`` rows, so memory holds a batch and one
        segment whatever the input's size; one commit at the end makes them all current."""
        chunk_size, overlap = self._chunking(base)
        tally = Tally()
        batches = in_batches(new_articles(items, base, chunk_size, overlap, tally))
        first = next(batches, None)
        if first is None:
            return IngestReport(
                0, tally.unchanged, 0, tuple(tally.skipped), time.perf_counter() - t0
            )
        encoder = self.encoder
        if base is not None and base.size > 0:
            self._check_model(base)
            if base.model is None:
                encoder = None  # keep a BM25-only index consistent: no half-embedded rows
        cache = known = backend = passage_encoder = writer = None
        if encoder is not None:
            backend = self._backend(encoder)
            passage_encoder = self._passage_encoder(encoder)
            cache = VectorCache(
                self.store.root,
                f"{encoder.model_id}|{backend}|{encoder.dim}|{encoder.spec.passage_prompt}",
            )
            known = cache.load()  # what a failed or killed run encoded already
            writer = self._sentence_writer(passage_encoder, encoder.model_id)
        added: list[str] = []
        counts = {"chunks": 0, "text": 0}
        bar = None
        if progress and encoder is not None:
            from tqdm import tqdm

            bar = tqdm(unit=" passages", desc="embedding", delay=2)  # large ingests only

        def encoded():
            for batch in itertools.chain([first], batches):
                added.extend(a.id for a, _ in batch)
                counts["chunks"] += sum(len(cs) for _, cs in batch)
                counts["text"] += sum(
                    len(a.text.encode()) + sum(len(c.text.encode()) for c in cs) for a, cs in batch
                )
                vectors = None
                if encoder is not None:
                    vectors = encode_passages(
                        passage_encoder,
                        [passage_for_embedding(c) for _, chunks in batch for c in chunks],
                        batch_size=self.settings.batch_size,
                        batch_tokens=self.settings.batch_tokens,
                        root=self.store.root,
                        cache=cache,
                        need=generation_bytes(base, batch, encoder.dim),
                        known=known,
                        bar=bar,
                    )
                if writer is not None:
                    writer.add([(a.text, [c.text for c in cs]) for a, cs in batch])
                yield batch, vectors

        try:
            self.store.write_batches(
                base=base,
                batches=encoded(),
                rows=None,
                text_bytes=lambda: counts["text"],
                model=encoder.model_id if encoder is not None else None,
                dim=encoder.dim if encoder is not None else None,
                settings_info=index_settings(
                    chunk_size,
                    overlap,
                    # An index keeps what was first asked for: an upload into an index built
                    # with a fallback must not record the fallback as the requested model.
                    requested_model=(
                        base.manifest.get("settings", {}).get("requested_model") if base else None
                    )
                    or self.choice.requested,
                    embed_backend=backend,
                    query_prompt=encoder.spec.query_prompt if encoder else None,
                    passage_prompt=encoder.spec.passage_prompt if encoder else None,
                ),
                segment_rows=self.settings.segment_rows or SEGMENT_ROWS,
            )
        finally:
            if bar is not None:
                bar.close()
            if writer is not None:
                writer.close()
        if cache is not None:
            cache.clear()  # committed: the vectors live in the new generation now
        return IngestReport(
            added=len(added),
            unchanged=tally.unchanged,
            chunks=counts["chunks"],
            skipped=tuple(tally.skipped),
            seconds=time.perf_counter() - t0,
            added_ids=tuple(added),
            warnings=(writer.warning,) if writer is not None and writer.warning else (),
        )

    def _sentence_writer(self, encoder, model: str):
        """A rag.similarity.SentenceWriter for an ingest with ``encoder`` (passages' backend),
        when the sentence_vectors setting asks for one (by default: when ``model`` reads
        sentences)."""
        from rag.similarity import SentenceWriter

        wanted = self.settings.sentence_vectors
        if wanted is None:
            wanted = reads_sentences(model)
        if not wanted:
            return None
        return SentenceWriter(
            encoder,
            self.store.root,
            model,
            batch_size=self.settings.batch_size,
            batch_tokens=self.settings.batch_tokens,
        )

    def _stored_sentences(self, snap: Snapshot, encoder):
        """The index's stored sentence vectors for ``snap``'s model (None when the setting is
        off), one reader per model."""
        from rag.store import SentenceVectors

        if self.settings.sentence_vectors is False or snap.model is None:
            return None
        cur = self._stored
        if cur is None or cur.model != snap.model or cur.dim != encoder.dim:
            cur = self._stored = SentenceVectors(self.store.root, snap.model, encoder.dim)
        return cur

    def store_sentences(self, *, progress: bool = False) -> tuple[int, int, str | None]:
        """Encode and store the sentences of every indexed article that the index's stored
        sentence vectors lack (an index built before they were, or by `rag embed`): the
        articles read, the sentences encoded, and a warning if storing failed. ``progress``:
        a bar over the articles (large indexes)."""
        from tqdm import tqdm

        from rag.similarity import SentenceWriter

        with self._snapshots.lease() as snap:
            if snap.model is None or self.encoder is None:
                raise InputError(
                    f"the index {self.store.root} has no vectors (BM25 only): there are no "
                    "sentence vectors to store"
                )
            self._check_model(snap)
            writer = SentenceWriter(
                self._passage_encoder(self.encoder),
                self.store.root,
                snap.model,
                batch_size=self.settings.batch_size,
                batch_tokens=self.settings.batch_tokens,
            )
            ids = [a["id"] for a in snap.articles()]
            bar = tqdm(
                total=len(ids), unit=" articles", desc="sentences", delay=2, disable=not progress
            )
            try:
                for batch in _articles_with_passages(snap, ids):
                    writer.add(batch)
                    bar.update(len(batch))
                    if writer.warning:
                        break
            finally:
                bar.close()
                writer.close()
            return len(ids), writer.encoded, writer.warning

    def prune_sentences(self) -> tuple[int, int]:
        """Delete the stored sentence vectors no indexed article's sentences need any more
        (articles deleted or replaced, another model's): (deleted, kept). Under the index's
        writer lock, so no ingest stores vectors meanwhile; questions go on reading."""
        import sqlite3

        from rag.errors import StorageError
        from rag.similarity import sentences_of
        from rag.store import SentenceVectors
        from rag.store.layout import SENTENCE_VECTORS
        from rag.store.sentence_vectors import sentence_key

        path = self.store.root / SENTENCE_VECTORS
        if not path.is_file():
            return 0, 0
        with (
            self.store.lock(timeout=LOCK_WAIT_SECONDS),
            self._snapshots.lease(required=False, current=True) as snap,
        ):
            keep: set[bytes] = set()
            if snap is not None and snap.model is not None:
                ids = [a["id"] for a in snap.articles()]
                for batch in _articles_with_passages(snap, ids):
                    keep.update(
                        sentence_key(snap.model, t)
                        for text, passages in batch
                        for t in sentences_of(text, passages)
                    )
            # Pruning reads keys only: no model or dimension of its own.
            store = SentenceVectors(self.store.root, "", 0, writable=True)
            try:
                deleted = store.prune(keep)
                return deleted, store.count()
            except (sqlite3.Error, OSError) as exc:
                raise StorageError(
                    f"could not prune the sentence vectors at {path} ({exc}); nothing was "
                    "deleted: make the index folder writable, free some space and run it again"
                ) from None
            finally:
                store.close()

    def _chunking(self, base: Snapshot | None) -> tuple[int, int]:
        """An existing index keeps the chunking it was built with, so its passages stay alike."""
        if base is not None and base.size > 0:
            s = base.manifest.get("settings", {})
            return int(s.get("chunk_size", self.settings.chunk_size)), int(
                s.get("chunk_overlap", self.settings.chunk_overlap)
            )
        return self.settings.chunk_size, self.settings.chunk_overlap

    def _backend(self, encoder) -> str:
        """The configured backend, "auto" resolved for the CPU ``encoder`` runs on."""
        from embeddings.backends import resolve_backend

        return resolve_backend(self.settings.embed_backend, cpu=encoder.on_cpu)

    def _passage_encoder(self, encoder):
        """The encoder for passages: ``encoder`` run by the configured backend (built once)."""
        backend = self._backend(encoder)
        if backend == "torch":
            return encoder
        with self._lock:
            cached = self._backend_encoder
            if cached is None or cached[0] is not encoder:
                from embeddings.backends import with_backend

                cached = (encoder, with_backend(encoder, backend))
                self._backend_encoder = cached
            return cached[1]

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
        self.merges.after_commit()
        return True

    def optimize(
        self, full: bool = False, max_merges: int | None = None, *, reindex: bool = False
    ) -> int:
        """Run the merges the policy asks for (rag.merges; ``reindex``: and give each segment
        the FAISS kind the threshold says); returns how many ran."""
        return self.merges.optimize(full, max_merges, reindex=reindex)

    def warm(self, wait: bool = False) -> int | None:
        """Read the index's segment files into the page cache (rag.store.warm): in a
        background thread (`rag serve`, returns None), or here with ``wait`` (the bytes read).
        Questions are answered meanwhile; they only find more pages in memory as it goes."""
        from rag.store.layout import SENTENCE_VECTORS
        from rag.store.warm import WARM_SHARE, available_memory, segment_files, warm

        with self._snapshots.lease(required=False) as snap:
            dirs = [] if snap is None else [seg.gen_dir for seg in snap.segments]

        def run() -> int:
            t0 = time.perf_counter()
            budget = int(available_memory() * WARM_SHARE)
            # The stored sentence vectors last: a question reads a few pages of them.
            files = [*segment_files(dirs), self.store.root / SENTENCE_VECTORS]
            done = warm(files, budget, self._closing)
            log.info(
                "read %.0f MiB of %s into the page cache in %.1f s",
                done / 2**20,
                self.store.root,
                time.perf_counter() - t0,
            )
            return done

        if wait:
            return run()
        threading.Thread(target=run, name="rag-warm", daemon=True).start()
        return None

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
            return self._retrieve(
                retriever, retriever.prepare(query, mode), k, mode, rerank, filters
            )

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
        query: Query,
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
            hits = reranker.rerank(query.text, hits, pool)
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
        # The question analysed (and encoded) once; every stage below reads this value.
        analysed = retriever.prepare(query, used)
        hits = self._retrieve(retriever, analysed, k, used, rerank, filters)
        model = (
            retriever.encoder.model_id if retriever.encoder is not None and used != "bm25" else None
        )
        also = [a for h in hits for a in h.also]
        titles = {k: v["title"] for k, v in retriever.snapshot.article_meta(also).items()}
        answer = compose(
            analysed,
            hits,
            retriever.idf,
            mode=used,
            model=model,
            titles=titles,
            known=retriever.known,
            cosines=self._cosines(retriever, analysed, model),
            article_text=lambda article_id: getattr(snap.article(article_id), "text", None),
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

    def _cosines(self, retriever, query: Query, model: str | None):
        """Sentences -> cosine with ``query``, for a model whose sentence weights are fitted."""
        from rag.answer import meaning_for

        if model is None or retriever.encoder is None or meaning_for(model) is None:
            return None
        vector = query.vector if query.vector is not None else retriever.query_vector(query.text)
        return retriever.similarity.for_question(query.text, vector)

    def _sentence_similarity(self, encoder):
        """The sentence vectors of ``encoder``, cached across snapshots: retrieval's second
        stage and the answers read the same ones."""
        from rag.similarity import SentenceSimilarity

        sim = self._similarity
        if sim is None or sim.encoder is not encoder:
            sim = self._similarity = SentenceSimilarity(encoder)
        return sim

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
        return status.model_warning(snap, self.choice.warning, self.store.root)

    def warnings(
        self, requested_mode: str | None = None, used_mode: str | None = None
    ) -> list[str]:
        with self._snapshots.lease(required=False) as snap:
            return self._warnings(snap, requested_mode, used_mode)

    def _warnings(
        self, snap: Snapshot | None, requested_mode: str | None, used_mode: str | None
    ) -> list[str]:
        found = (self._model_warning(snap), status.mode_warning(snap, requested_mode, used_mode))
        return [w for w in found if w]

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
        model_in_use = warning = None
        if snap is not None and snap.model is not None:
            model_in_use = self.encoder.model_id if self.encoder is not None else None
            warning = self._model_warning(snap)
        return status.index_info(snap, base, model_in_use, warning)

    def articles(self) -> list[dict]:
        with self._snapshots.lease(required=False) as snap:
            return snap.articles() if snap is not None else []

    def article(self, article_id: str) -> Article | None:
        with self._snapshots.lease(required=False) as snap:
            return snap.article(article_id) if snap is not None else None

    def close(self) -> None:
        self._closing.set()
        with self._lock:
            self._retriever = None
            if self._stored is not None:
                self._stored.close()
        self._snapshots.close()


def build_index(
    paths: Sequence[str | Path], settings: Settings, *, progress: bool = False
) -> IngestReport:
    return Assistant(settings).ingest(paths, progress=progress)


def ask(question: str, settings: Settings) -> Answer:
    return Assistant(settings).ask(question)
