"""The `rag` command: ingest, ask, serve, info, index optimize, index sentences, eval, embed.

One module on purpose, though long: it is the one entry point and the one composition root,
and each command is its options and help plus a few lines handing over to the pipeline.

Imports of the pipeline happen inside each command, so `rag --help` answers at once. Every
RagError becomes one line on stderr and a non-zero exit; a traceback means a bug, not a user
mistake.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

import click

from rag.errors import RagError
from rag.settings import ANSWER_MODES, EMBED_BACKENDS, RETRIEVER_MODES

INDEX_HELP = "Index directory (default .rag/index, or RAG_INDEX_DIR)."


def _settings(**overrides):
    from rag.settings import Settings

    return Settings.load(**overrides)


def _quiet_libraries() -> None:
    """Library chatter (progress bars of model loading, HTTP retries) is not for CLI users;
    our own warnings still print as one line each."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
    for name in (
        "sentence_transformers",
        "transformers",
        "huggingface_hub",
        "httpx",
        "faiss",
        "bm25s",
    ):
        logging.getLogger(name).setLevel(logging.ERROR)


def _echo_json(obj) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rag-vi-news", prog_name="rag")
def cli() -> None:
    """Cited question answering over Vietnamese news.

    \b
    rag ingest seeds/                 index articles (.txt .md .html .jsonl, folders)
    rag ask "Hiệp ước mới thay thế những văn kiện nào?"
    rag serve                         chat at http://127.0.0.1:7860
    rag info                          what is indexed, which model is in use
    """
    _quiet_libraries()


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--index", "index_dir", type=click.Path(path_type=Path), help=INDEX_HELP)
@click.option("--rebuild", is_flag=True, help="Drop the existing index and build it anew.")
@click.option("--chunk-size", type=int, help="Passage size in characters (new index only).")
@click.option("--chunk-overlap", type=int, help="Overlap between passages in characters.")
@click.option(
    "--backend",
    type=click.Choice(EMBED_BACKENDS),
    help="How passages are encoded (default auto: bf16 on a CPU with bf16 units, else torch fp32).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def ingest(paths, index_dir, rebuild, chunk_size, chunk_overlap, backend, as_json) -> None:
    """Index articles: files, folders, JSONL (one {"id","title","text","source","date"} a line).

    Unchanged articles are recognized by content and not embedded again.

    \b
    Example:  rag ingest seeds/ more-news.jsonl
              rag ingest archive.jsonl.gz --backend onnx-int8
    """
    from rag.pipeline import Assistant

    settings = _settings(
        index_dir=index_dir,
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        embed_backend=backend,
    )
    assistant = Assistant(settings)
    report = assistant.ingest(list(paths), progress=not as_json, rebuild=rebuild)
    if report.added:
        # New segments: merge small ones as the policy asks (each merge its own commit).
        assistant.optimize()
    if as_json:
        _echo_json(report.to_dict())
        return
    click.echo(
        f"added {report.added} article(s), {report.chunks} passage(s); "
        f"{report.unchanged} unchanged; {len(report.skipped)} skipped "
        f"({report.seconds:.1f} s) -> {settings.index_dir}"
    )
    for s in report.skipped:
        where = f"{s.source}:{s.line}" if s.line else s.source
        click.echo(f"  skipped {where}: {s.reason}", err=True)
    for w in report.warnings:
        click.echo(f"warning: {w}", err=True)


@cli.command()
@click.argument("question")
@click.option("--index", "index_dir", type=click.Path(path_type=Path), help=INDEX_HELP)
@click.option("-k", "--top-k", type=int, help="Passages to retrieve (default 5).")
@click.option("--retriever", type=click.Choice(RETRIEVER_MODES), help="Retrieval mode.")
@click.option(
    "--answer-mode",
    type=click.Choice(ANSWER_MODES),
    help="extractive (default) or llm: an OpenAI-compatible endpoint (RAG_LLM_URL, RAG_LLM_MODEL).",
)
@click.option("--site", help="Cite only articles of this outlet, e.g. 'Dân trí'.")
@click.option(
    "--since",
    "date_from",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Published on or after (YYYY-MM-DD).",
)
@click.option(
    "--until",
    "date_to",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Published on or before (YYYY-MM-DD).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def ask(
    question, index_dir, top_k, retriever, answer_mode, site, date_from, date_to, as_json
) -> None:
    """Answer a question from the indexed articles, with citations.

    \b
    Example:  rag ask "Hiệp ước mới thay thế những văn kiện nào?"
    """
    from rag.pipeline import Assistant
    from rag.query import clean_question

    clean_question(question)  # a bad question fails before any model loads
    settings = _settings(
        index_dir=index_dir, top_k=top_k, retriever=retriever, answer_mode=answer_mode
    )
    from rag.types import Filters

    filters = Filters(
        site=site or None,
        date_from=date_from.date().isoformat() if date_from else None,
        date_to=date_to.date().isoformat() if date_to else None,
    )
    assistant = Assistant(settings, queries_only=True)
    assistant.prefetch_query_encoder()  # loads while the index opens
    answer = assistant.ask(question, filters=filters or None)
    if as_json:
        _echo_json(answer.to_dict())
        return
    click.echo(answer.text)
    for c in answer.citations:
        click.echo(f"\n[{c.n}] {c.title} — {c.source} (chars {c.start}-{c.end})")
        click.echo("    " + c.text.replace("\n", " ")[:400])
    for w in answer.warnings:
        click.echo(f"warning: {w}", err=True)


@cli.command()
@click.option("--index", "index_dir", type=click.Path(path_type=Path), help=INDEX_HELP)
@click.option(
    "--seeds",
    "seeds_dir",
    type=click.Path(path_type=Path),
    help="Articles to index on first start (default seeds/).",
)
@click.option("--host", help="Address to bind (default 127.0.0.1: this machine only).")
@click.option("--port", type=int, help="Port (default 7860).")
def serve(index_dir, seeds_dir, host, port) -> None:
    """Start the chat at http://127.0.0.1:7860 (indexes seeds/ on first start)."""
    from rag.pipeline import Assistant

    settings = _settings(index_dir=index_dir, seeds_dir=seeds_dir, host=host, port=port)
    assistant = Assistant(settings)
    if not assistant.store.exists():
        if not settings.seeds_dir.exists():
            raise RagError(
                f"no index at {settings.index_dir} and no seeds folder {settings.seeds_dir}: run `rag ingest PATH` first"
            )
        click.echo(f"first start: indexing {settings.seeds_dir} into {settings.index_dir} ...")
        report = assistant.ingest([settings.seeds_dir], progress=True)
        click.echo(f"indexed {report.added} article(s), {report.chunks} passage(s)")
    elif warning := assistant.model_warning():
        # e.g. an index built with the MiniLM fallback while the configured model loads now.
        click.echo(f"warning: {warning}", err=True)
    if settings.host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(
            f"warning: binding {settings.host}: the chat is reachable from other machines"
            + ("" if settings.auth else "; set RAG_AUTH=user:password to require a login"),
            err=True,
        )
    assistant.background_merges = True  # merge new segments after each commit, in a thread
    assistant.warm()  # the segments' files into the page cache, in a thread
    from ui.app import serve as serve_app

    serve_app(settings, assistant=assistant)


@cli.group()
def index() -> None:
    """Maintain the index directory."""


@index.command()
@click.option("--index", "index_dir", type=click.Path(path_type=Path), help=INDEX_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def sentences(index_dir, as_json) -> None:
    """Encode and store the sentences of the indexed articles that have none stored yet.

    Questions read the sentence vectors of their passages (hybrid retrieval's second stage, the
    answers); `rag ingest` stores them for what it adds, and this stores them for an index
    built before, or by `rag embed --build-index`. Readers keep answering meanwhile; an
    interrupted run keeps what it stored, and the next one goes on from there.

    \b
    Example:  rag index sentences --index archive-index
    """
    from rag.pipeline import Assistant

    assistant = Assistant(_settings(index_dir=index_dir))
    if not assistant.store.exists():
        assistant.store.open()  # IndexMissingError, with the how-to
    t0 = time.perf_counter()
    articles, encoded, warning = assistant.store_sentences(progress=not as_json)
    data = {
        "articles": articles,
        "encoded": encoded,
        "seconds": round(time.perf_counter() - t0, 3),
        "warning": warning,
    }
    if as_json:
        _echo_json(data)
    else:
        click.echo(
            f"{encoded} sentence(s) encoded and stored for {articles} article(s) in "
            f"{data['seconds']:.1f} s"
        )
    if warning:
        from rag.errors import StorageError

        raise StorageError(warning)


@index.command()
@click.option("--index", "index_dir", type=click.Path(path_type=Path), help=INDEX_HELP)
@click.option(
    "--full",
    is_flag=True,
    help="Merge every segment into one, dropping deleted rows and unused sentence vectors.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def optimize(index_dir, full, as_json) -> None:
    """Merge segments: small ones of similar size (the merge policy), or all with --full.

    A segment whose FAISS index is not the kind RAG_FAISS_THRESHOLD gives its rows (exact
    below, HNSW from it on; an index written under another threshold) is rewritten alone.
    --full also deletes the stored sentence vectors that no indexed article needs any more
    (of articles deleted or replaced, or of another model).

    Readers keep answering meanwhile; each merge is one commit, so an interrupted run loses
    nothing.

    \b
    Example:  rag index optimize --full
    """
    from rag.pipeline import Assistant

    assistant = Assistant(_settings(index_dir=index_dir))
    if not assistant.store.exists():
        assistant.store.open()  # IndexMissingError, with the how-to
    t0 = time.perf_counter()
    merges = assistant.optimize(full=full, reindex=True)
    pruned, kept = assistant.prune_sentences() if full else (0, None)
    info = assistant.info()
    data = {
        "merges": merges,
        "sentence_vectors_deleted": pruned,
        "sentence_vectors_kept": kept,
        "segments": info.get("segments"),
        "articles": info.get("articles"),
        "chunks": info.get("chunks"),
        "generation": info.get("generation"),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    if as_json:
        _echo_json(data)
        return
    click.echo(
        f"{merges} merge(s) in {data['seconds']:.1f} s: {data['segments']} segment(s), "
        f"{data['articles']} article(s), {data['chunks']} passage(s) ({data['generation']})"
    )
    if full and (pruned or kept):
        click.echo(f"sentence vectors: {pruned} deleted, {kept} kept")


@cli.command()
@click.option("--index", "index_dir", type=click.Path(path_type=Path), help=INDEX_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def info(index_dir, as_json) -> None:
    """What is indexed and which embedding model is in use."""
    from rag.pipeline import Assistant

    data = Assistant(_settings(index_dir=index_dir)).info()
    if as_json:
        _echo_json(data)
        return
    if not data["exists"]:
        click.echo(f"no index at {data['index_dir']} yet: run `rag ingest PATH` or `rag serve`")
        return
    click.echo(
        f"index       {data['index_dir']} ({data['generation']}, {data['disk_bytes'] / 1e6:.1f} MB)"
    )
    click.echo(f"articles    {data['articles']}   passages {data['chunks']}")
    click.echo(
        f"model       {data['model_in_use'] or 'none (BM25 only)'}   index built with {data['index_model'] or 'no vectors'}"
    )
    click.echo(
        f"retrieval   {data['mode']}   FAISS {data['faiss_index'] or '-'}   chunks {data['chunk_size']}/{data['chunk_overlap']}"
    )
    if data.get("warning"):
        click.echo(f"warning     {data['warning']}")


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Output folder: shards/, manifest.json, skipped.jsonl (and index/).",
)
@click.option("--model", help="Embedding model id or local folder (default RAG_EMBED_MODEL).")
@click.option("--chunk-size", type=int, help="Passage size in characters (as `rag ingest`).")
@click.option("--chunk-overlap", type=int, help="Overlap between passages in characters.")
@click.option("--no-chunk", is_flag=True, help="Embed each record whole, without chunking.")
@click.option(
    "--dtype",
    type=click.Choice(["float32", "float16"]),
    default="float32",
    show_default=True,
    help="Storage type of the vectors in the shards.",
)
@click.option(
    "--backend",
    type=click.Choice(EMBED_BACKENDS),
    help="auto (bf16 on a CPU with bf16 units, else fp32), torch (fp32), torch-bf16 (autocast), "
    "or ONNX Runtime (fp32, int8) (default RAG_EMBED_BACKEND, else auto).",
)
@click.option(
    "--batch-size", type=int, help="Texts per encoding batch (default RAG_BATCH_SIZE, else 32)."
)
@click.option(
    "--batch-tokens",
    type=int,
    help="Cap on padded tokens per batch (default: RAG_BATCH_TOKENS, else 2048 on a CPU, where "
    "small batches of long texts run faster, and none on a GPU; 0: no cap).",
)
@click.option(
    "--shard-size",
    type=int,
    default=2048,
    show_default=True,
    help="Records per output shard (the unit of --resume).",
)
@click.option(
    "--max-seq-length", type=int, help="Truncate passages to this many tokens (faster, less exact)."
)
@click.option("--resume", is_flag=True, help="Finish a killed or stopped job in --out.")
@click.option(
    "--build-index",
    is_flag=True,
    help="Also write OUT/index, for `rag serve --index` and `rag ask --index`.",
)
@click.option(
    "--index-type",
    type=click.Choice(["auto", "flat", "hnsw"]),
    default="auto",
    show_default=True,
    help="FAISS index for --build-index (auto: by size).",
)
@click.option(
    "--segment-rows",
    type=int,
    help="Rows per index segment for --build-index (default RAG_SEGMENT_ROWS, else 16384).",
)
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--address", help="Ray cluster address for --engine ray (e.g. auto).")
@click.option("--workers", type=int, help="Ray encoder actors (default: one per GPU, or CPUs/2).")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
def embed(inputs, out_dir, model, chunk_size, chunk_overlap, no_chunk, dtype, backend, batch_size,
          batch_tokens, shard_size, max_seq_length, resume, build_index, index_type,
          segment_rows, engine, address, workers, as_json) -> None:  # fmt: skip
    """Embed articles into Parquet shards, restartably (JSONL, .jsonl.gz, Parquet, folders).

    \b
    Example:  rag embed archive.jsonl.gz --out emb/ --build-index
              rag embed archive.jsonl.gz --out emb/ --resume      (after a kill)
    """
    from rag.jobs import EmbedJob, run_job
    from rag.jobs import build_index as write_index

    settings = _settings(
        embed_model=model,
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        embed_backend=backend,
        batch_size=batch_size,
        batch_tokens=batch_tokens,
        segment_rows=segment_rows,
    )
    job = EmbedJob.from_settings(
        settings,
        inputs=inputs,
        out_dir=out_dir,
        no_chunk=no_chunk,
        dtype=dtype,
        shard_size=shard_size,
        max_seq_length=max_seq_length,
    )
    ray_options = {"address": address, "workers": workers,
                   "connect_timeout": settings.ray_connect_timeout}  # fmt: skip
    report = run_job(job, resume=resume, progress=not as_json, engine=engine,
                     ray_options=ray_options)  # fmt: skip
    manifest = report.manifest
    if build_index:
        manifest["index_dir"] = str(
            write_index(job, faiss_kind=index_type, segment_rows=settings.segment_rows)
        )
    if as_json:
        _echo_json(manifest)
        return
    rate = manifest["timings"]["records_per_second"]
    click.echo(
        f"embedded {report.records} passage(s) of {report.articles} article(s) in "
        f"{report.shards} shard(s) ({report.shards_reused} reused); {report.skipped} skipped; "
        f"{report.seconds:.1f} s" + (f", {rate:.1f} passages/s" if rate else "") + f" -> {out_dir}"
    )
    for s in report.skipped_records[:10]:
        where = f"{s.source}:{s.line}" if s.line else s.source
        click.echo(f"  skipped {where}: {s.reason}", err=True)
    if report.skipped:
        click.echo(f"  all {report.skipped} skipped records: {out_dir / 'skipped.jsonl'}", err=True)
    if build_index:
        click.echo(f"index: {manifest['index_dir']}  (rag serve --index {manifest['index_dir']})")


def _export_feedback(settings, out: Path) -> None:
    """The web chat's feedback as a Q&A set that `rag eval --dataset OUT` scores."""
    from rag.errors import InputError
    from rag.feedback import feedback_path, write_feedback_set

    source = feedback_path(settings.index_dir)
    if not source.exists():
        raise InputError(f"no feedback yet at {source}: rate answers in the chat (👍/👎) first")
    count = write_feedback_set(source, out)
    click.echo(f"exported {count} question(s) from {source} to {out}")


@cli.command("eval")
@click.option(
    "-d",
    "--dataset",
    default="seeds",
    show_default=True,
    help="seeds, seeds-chat, xquad-vi, xquad-en-vi, xquad-vi+news, or a Q&A .jsonl path.",
)
@click.option("--retriever", help="Retrieval mode: bm25, dense or hybrid (default: settings).")
@click.option(
    "--compare",
    help="Several runs side by side, e.g. bm25,dense,hybrid or hybrid:dense_weight=0.3.",
)
@click.option("-k", "--top-k", type=int, help="Passages the answer reads (default 5).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    help="Report folder (default eval/out/<timestamp>).",
)
@click.option("--no-report", is_flag=True, help="Print the figures only; write no files.")
@click.option(
    "--news-size",
    type=int,
    default=3000,
    show_default=True,
    help="Distractor news articles (xquad-vi+news).",
)
@click.option("--limit", type=int, help="Evaluate the first N questions only.")
@click.option(
    "--corpus",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Articles for a Q&A .jsonl dataset (default seeds/); repeatable.",
)
@click.option("--model", "embed_model", help="Embedding model (id or local folder).")
@click.option("--chunk-size", type=int, help="Passage size in characters.")
@click.option("--chunk-overlap", type=int, help="Overlap between passages in characters.")
@click.option(
    "--cache",
    "cache_dir",
    type=click.Path(path_type=Path),
    help="Where evaluation indexes are cached (default .rag/eval).",
)
@click.option("--rebuild", is_flag=True, help="Rebuild the cached evaluation index.")
@click.option(
    "--export-feedback",
    "export_to",
    type=click.Path(path_type=Path),
    help="Write the chat's thumbs up/down and corrections as a Q&A .jsonl set, then stop.",
)
@click.option(
    "--index", "index_dir", type=click.Path(path_type=Path), help="Index whose feedback to export."
)
def eval_command(
    dataset,
    retriever,
    compare,
    top_k,
    as_json,
    out_dir,
    no_report,
    news_size,
    limit,
    corpus,
    embed_model,
    chunk_size,
    chunk_overlap,
    cache_dir,
    rebuild,
    export_to,
    index_dir,
) -> None:
    """Score the assistant on a Q&A set: retrieval (Recall@1/5/10, MRR, nDCG) and answers
    (hit, token F1, citation precision, abstention), with latency.

    Prints a table and writes report.md, results.json and recall.png to --out.

    \b
    Examples:
      rag eval
      rag eval --dataset xquad-vi --compare bm25,dense,hybrid
      rag eval --dataset xquad-en-vi --retriever hybrid --json
    """
    import shlex

    from rag.datasets import load_dataset
    from rag.errors import InputError
    from rag.evaluation.report import format_table, results_json, write_report
    from rag.evaluation.run import run_compare
    from rag.evaluation.specs import apply_spec, parse_run_specs

    if export_to is not None:
        _export_feedback(_settings(index_dir=index_dir), export_to)
        return
    if retriever and compare:
        raise InputError("use --retriever for one run or --compare for several, not both")
    settings = _settings(
        top_k=top_k,
        embed_model=embed_model,
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
    )
    specs = parse_run_specs(compare or retriever or settings.retriever)
    for spec in specs:
        apply_spec(settings, spec)  # a bad run fails now, not after the index is built
    ds = load_dataset(
        dataset,
        seeds_dir=settings.seeds_dir,
        corpus=list(corpus) or None,
        news_size=news_size,
        limit=limit,
    )

    def log(msg: str) -> None:
        click.echo(msg, err=True)

    click.echo(f"{ds.description}", err=True)
    results = run_compare(
        ds, settings, specs, cache_dir=cache_dir, rebuild=rebuild, progress=True, log=log
    )
    command = "rag " + shlex.join(sys.argv[1:]) if sys.argv[1:] else None
    paths = {}
    if not no_report:
        out = out_dir or Path("eval") / "out" / time.strftime("%Y%m%d-%H%M%S")
        paths = write_report(results, out, command=command)
    if as_json:
        summary = results_json(results, command)
        summary["runs"] = [r.to_dict(questions=False) for r in results]
        summary["report"] = {k: str(v) for k, v in paths.items()}
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    click.echo(format_table(results))
    warning = results[0].model.get("warning")
    if warning:
        click.echo(f"warning: {warning}", err=True)
    for r in results:
        if list(r.modes_used) != [r.retriever]:
            used = ", ".join(r.modes_used)
            click.echo(f"warning: run {r.run} used {used} retrieval", err=True)
    if paths:
        click.echo(f"report: {paths['markdown']}  figures: {paths['json']}")


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except RagError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
