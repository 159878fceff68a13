"""The index directory: immutable segments (SQLite rows, FAISS vectors, BM25 postings) listed
by a manifest, one generation at a time.

Layout::

    <index>/CURRENT                 name of the live generation ("gen-000012")
    <index>/gen-000012/manifest.json  model, chunking, versions, counts, and the live segments in
                                    order, each with its tombstones (articles deleted since)
    <index>/segments/seg-000007/    rows.sqlite, vectors.faiss (absent: BM25 only), bm25/,
                                    segment.json
    <index>/.write.lock             held by the one writer
    <index>/sentences.sqlite        sentence vectors by text (rag.store.sentence_vectors)

A write never touches a live segment: an ingest writes one new segment and a new manifest in
temporary folders, then switches CURRENT with an atomic rename (a streamed build,
Store.write_batches, writes several segments of SEGMENT_ROWS rows, then one manifest); a delete writes only a manifest
with a tombstone; a merge writes one segment for several and a manifest without them. A crash at
any point leaves the old generation intact (leftovers are swept by the next writer), and
readers keep answering from the snapshot they leased. Positions (chunk rows, FAISS ids, BM25
documents) run over the segments in manifest order.

Modules: ``layout`` (file names, format and tokenizer versions), ``files`` (durable writes,
storage errors), ``vectors`` (the vector-index interface and its FAISS implementation), ``rows``
(a segment's SQLite rows), ``segment`` (a loaded segment), ``build`` (a new segment's files),
``snapshot`` (a loaded generation, and the current one shared by threads), ``manifest``,
``merge`` (the merge policy), ``cache`` (vectors of an uncommitted write), ``sentence_vectors``
(sentence vectors stored by text, outside the generations) and ``writer`` (Store).
"""

from rag.store.cache import VectorCache
from rag.store.files import MB, generation_bytes, storage_errno, storage_error
from rag.store.layout import FORMAT, SEGMENTS, TOKENIZER
from rag.store.merge import MERGE_DELETED, MERGE_FACTOR, MERGE_FLOOR, plan_merge, segment_tier
from rag.store.rows import SCHEMA, text_sha1
from rag.store.segment import Counted, Segment, StoredChunk
from rag.store.sentence_vectors import SentenceVectors
from rag.store.snapshot import SegmentedVectors, Snapshot, SnapshotHolder
from rag.store.vectors import (
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    HNSW_THRESHOLD,
    FaissVectors,
    VectorIndex,
    faiss_params,
    make_faiss_index,
)
from rag.store.writer import SEGMENT_ROWS, Store

__all__ = [
    "FORMAT",
    "HNSW_EF_CONSTRUCTION",
    "HNSW_EF_SEARCH",
    "HNSW_M",
    "HNSW_THRESHOLD",
    "MB",
    "MERGE_DELETED",
    "MERGE_FACTOR",
    "MERGE_FLOOR",
    "SCHEMA",
    "SEGMENTS",
    "SEGMENT_ROWS",
    "SentenceVectors",
    "TOKENIZER",
    "Counted",
    "FaissVectors",
    "Segment",
    "SegmentedVectors",
    "Snapshot",
    "SnapshotHolder",
    "Store",
    "StoredChunk",
    "VectorCache",
    "VectorIndex",
    "faiss_params",
    "generation_bytes",
    "make_faiss_index",
    "plan_merge",
    "segment_tier",
    "storage_errno",
    "storage_error",
    "text_sha1",
]
