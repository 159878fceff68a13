"""Inputs for the batch-embedding tests: a JSONL corpus made from the seed articles (each
paragraph group a record), with known bad lines, small enough to embed in a second with the
tiny model. The fixture that writes it is in tests/rag/jobs/conftest.py."""

from __future__ import annotations

import json
from pathlib import Path

# Line numbers (1-based) of the bad records written into the corpus, and why they are bad.
BAD_LINES = {3: "invalid JSON", 7: "empty or missing 'text'", 12: "empty or missing 'text'"}


def corpus_records(seeds_dir: Path) -> list[dict]:
    """~50 records: each seed article, plus its paragraphs two at a time (distinct texts); only
    those with text left after rag.clean, so that the bad lines below are the only skips."""
    from rag.load import make_article

    records = []
    for path in sorted(seeds_dir.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        records.append({"id": path.stem, "title": "", "text": text, "source": path.name})
        paras = [p for p in text.split("\n") if p.strip()]
        for i in range(1, len(paras) - 1, 2):
            records.append(
                {
                    "id": f"{path.stem}-{i}",
                    "title": paras[0],
                    "text": "\n".join(paras[i : i + 2]),
                    "source": f"{path.name}#{i}",
                }
            )
    return [r for r in records if make_article(r["text"], title=r["title"] or None) is not None]


def write_corpus(path: Path, seeds_dir: Path) -> Path:
    lines = [json.dumps(r, ensure_ascii=False) for r in corpus_records(seeds_dir)]
    for line_no in sorted(BAD_LINES):
        bad = (
            '{"id": "broken", "text": "no closing'
            if "JSON" in BAD_LINES[line_no]
            else (json.dumps({"id": f"empty-{line_no}", "title": "t", "text": "   "}))
        )
        lines.insert(line_no - 1, bad)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
