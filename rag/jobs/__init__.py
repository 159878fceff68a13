"""The batch embedding job behind `rag embed`: articles in, Parquet shards of passages and their
vectors out, and optionally an index built from them. Pipeline work (load, clean, chunk, store)
that calls embeddings/ for the vectors.

    spec         EmbedJob: the job's settings (defaults from rag.settings) and fingerprint
    records      inputs -> articles -> passages (Records), one pass per run
    shards       the Parquet shards: write, check, read
    resume       the output folder: fresh, or this very job again (--resume)
    encode       the job's encoder and how it encodes one shard (both engines)
    run          run_job(): the one pass, the local engine, the manifest
    ray_engine   the encoding on Ray Data (--engine ray); ray_connect: reaching the cluster
    index_build  shards -> index directory (--build-index)
"""

from rag.jobs.index_build import build_index
from rag.jobs.run import EmbedReport, run_job
from rag.jobs.shards import read_shards, vectors_of
from rag.jobs.spec import EmbedJob

__all__ = ["EmbedJob", "EmbedReport", "build_index", "read_shards", "run_job", "vectors_of"]
