"""A corpus of about a million passages for the scale benchmarks: the VNTC articles again and
again, each copy with perturbed text, until the original and its copies reach ``--passages``.

    python benchmarks/scale_corpus.py ../shared/data/vntc/vntc_train.jsonl.gz \
        --out /tmp/vntc_copies.jsonl.gz --passages 1000000

Writes the copies only (give the original to `rag embed` beside them). Copy k of an article has
every number shifted by k and ~5% of its words swapped for other words of the same article (a
seeded choice per copy and article): new text and new content ids, the same length, vocabulary
and topics as the news, so passages, BM25 postings and vectors grow as a larger archive's
would. Passages are counted by the project's own loading, cleaning and chunking (900/150), so
the original plus the copies hold at least ``--passages`` passages as `rag embed` cuts them.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.chunk import chunk_article  # noqa: E402
from rag.load import parse_record  # noqa: E402
from rag.types import Article  # noqa: E402

SWAP_SHARE = 0.05
_NUMBER = re.compile(r"\d+")
_WORD = re.compile(r"\w+")


def perturb(text: str, copy: int, rng: random.Random) -> str:
    """``text`` with its numbers shifted by ``copy`` and ~SWAP_SHARE of its words swapped for
    other words of the text."""
    # Width kept: "1.000" stays a thousand-like "1.001", not "1.1".
    text = _NUMBER.sub(lambda m: str(int(m.group()) + copy).zfill(len(m.group())), text)
    words = _WORD.findall(text)
    if not words:
        return text

    def swap(m: re.Match) -> str:
        return rng.choice(words) if rng.random() < SWAP_SHARE else m.group()

    return _WORD.sub(swap, text)


def passages(line: str, line_no: int, seen: set[str]) -> int:
    """The passages `rag embed` makes of ``line``: none for a repeat of an article in ``seen``."""
    rec = parse_record(line, source="scale", line_no=line_no)
    if not isinstance(rec, Article) or rec.id in seen:
        return 0
    seen.add(rec.id)
    return len(chunk_article(rec))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path, help="VNTC's JSONL (.gz): id, title, text")
    ap.add_argument("--out", type=Path, required=True, help="the copies, JSONL.gz")
    ap.add_argument("--passages", type=int, default=1_000_000, help="original + copies")
    args = ap.parse_args()

    t0 = time.perf_counter()
    with gzip.open(args.source, "rt", encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    seen: set[str] = set()
    total = sum(passages(json.dumps(r), i, seen) for i, r in enumerate(records, 1))
    original = total
    copies = written = 0
    with gzip.open(args.out, "wt", encoding="utf-8", compresslevel=3) as out:
        copy = 0
        while total < args.passages:
            copy += 1
            for r in records:
                if total >= args.passages:
                    break
                if not isinstance(r.get("text"), str) or not r["text"].strip():
                    continue
                rng = random.Random(f"{copy}:{r.get('id')}")
                rec = {
                    "id": f"{r.get('id')}~{copy}",
                    "topic": r.get("topic"),
                    "title": perturb(r.get("title") or "", copy, rng),
                    "text": perturb(r["text"], copy, rng),
                }
                line = json.dumps(rec, ensure_ascii=False)
                written += 1
                total += passages(line, written, seen)
                out.write(line + "\n")
            copies = copy
    print(
        json.dumps(
            {
                "original_passages": original,
                "copies": copies,
                "articles_written": written,
                "passages": total,
                "seconds": round(time.perf_counter() - t0, 1),
                "out": str(args.out),
            }
        )
    )


if __name__ == "__main__":
    main()
