"""The names of the index directory's files and the versions of what they hold (the layout is
described in rag.store)."""

# The manifest's format: a reader refuses any other.
FORMAT = 2
# How the BM25 postings were tokenized (rag.tokens); a segment tokenized otherwise is
# re-tokenized in memory when it is loaded.
TOKENIZER = "nfc-lower-tone-syllables+bigrams+folded+title/3"

CURRENT = "CURRENT"  # the name of the live generation
MANIFEST = "manifest.json"  # in a generation's folder
SEGMENTS = "segments"  # the folder of the segment folders
LOCK = ".write.lock"  # held by the one writer
VECTOR_CACHE = ".vector-cache"
SENTENCE_VECTORS = "sentences.sqlite"  # rag.store.sentence_vectors

# In a segment's folder.
ROWS = "rows.sqlite"
VECTORS = "vectors.faiss"
POSTINGS = "bm25"
SEGMENT_META = "segment.json"
