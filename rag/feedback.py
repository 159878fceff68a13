"""Thumbs up/down on answers, with an optional correction, in a small SQLite file.

The file lives beside the index directory (``<index_dir>/../feedback.sqlite``), not inside it:
the index is rebuilt and replaced generation by generation, and feedback must outlive that.

``export_feedback`` turns the rows into Q&A items in the format of ``eval/seeds_qa.jsonl``, so
`rag eval` can score the pipeline on what users said (``write_feedback_set`` writes them as a
.jsonl file: `rag eval --export-feedback`). The web chat (ui/) writes the ratings here.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from pathlib import Path

from rag.types import Answer

FEEDBACK_FILE = "feedback.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    question TEXT NOT NULL,
    rewritten_query TEXT,
    answer TEXT NOT NULL,
    found INTEGER NOT NULL,
    rating INTEGER NOT NULL CHECK (rating IN (-1, 0, 1)),
    correction TEXT,
    citations TEXT NOT NULL,      -- JSON: [{n, article_id, title, text}]
    retrieval TEXT NOT NULL       -- JSON: {mode, model, top_k}
);
"""


def feedback_path(index_dir: Path) -> Path:
    """Where the feedback of the index at ``index_dir`` is kept."""
    return Path(index_dir).resolve().parent / FEEDBACK_FILE


class FeedbackStore:
    """One SQLite file; each call opens its own short connection, so the store can be shared
    by the web server's worker threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=10)
        if not self._ready:
            db.executescript(_SCHEMA)
            self._ready = True
        return db

    def add(self, answer: Answer, rating: int, *, top_k: int | None = None) -> int:
        """Store a rating (+1, -1, or 0 for 'rating removed') of ``answer``; returns its id."""
        if rating not in (-1, 0, 1):
            raise ValueError(f"rating must be -1, 0 or 1, got {rating}")
        cites = [
            {"n": c.n, "article_id": c.article_id, "title": c.title, "text": c.text}
            for c in answer.citations
        ]
        now = time.time()
        with self._lock, self._connect() as db:
            cur = db.execute(
                "INSERT INTO feedback (created, updated, question, rewritten_query, answer, found,"
                " rating, correction, citations, retrieval) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    now,
                    now,
                    answer.question,
                    answer.rewritten_query,
                    answer.text,
                    int(answer.found),
                    rating,
                    None,
                    json.dumps(cites, ensure_ascii=False),
                    json.dumps({"mode": answer.mode, "model": answer.model, "top_k": top_k}),
                ),
            )
            return int(cur.lastrowid)

    def set_rating(self, feedback_id: int, rating: int) -> bool:
        with self._lock, self._connect() as db:
            cur = db.execute(
                "UPDATE feedback SET rating = ?, updated = ? WHERE id = ?",
                (rating, time.time(), feedback_id),
            )
            return cur.rowcount == 1

    def set_correction(self, feedback_id: int, correction: str) -> bool:
        text = " ".join(correction.split())
        with self._lock, self._connect() as db:
            cur = db.execute(
                "UPDATE feedback SET correction = ?, updated = ? WHERE id = ?",
                (text or None, time.time(), feedback_id),
            )
            return cur.rowcount == 1

    def rows(self) -> list[dict]:
        if not self.path.exists():
            return []
        with self._lock, self._connect() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM feedback ORDER BY id").fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["citations"] = json.loads(d["citations"])
            d["retrieval"] = json.loads(d["retrieval"])
            d["found"] = bool(d["found"])
            out.append(d)
        return out


def export_feedback(path: Path) -> list[dict]:
    """Feedback -> Q&A items (``id``, ``question``, ``answers``, ``article_ids``, ``lang``,
    ``answerable``, ``kind`` = "feedback", plus ``rating`` and ``correction``).

    - a 👍 answer is accepted as it stands; its gold articles are the ones it cited;
    - a correction is the accepted answer; its gold articles are the cited ones whose passage
      contains the correction (none when it came from elsewhere);
    - a 👎 without a correction says only that the answer was wrong: it is left out.

    ``path`` is the feedback file, or an index directory (its feedback file is used).
    """
    from rag.answer import detect_language

    path = Path(path)
    if path.is_dir() or path.suffix not in (".sqlite", ".sqlite3", ".db"):
        path = feedback_path(path)
    items = []
    for row in FeedbackStore(path).rows():
        correction = row["correction"]
        cited = row["citations"]
        if correction:
            answers = [correction]
            folded = " ".join(correction.lower().split())
            ids = [c["article_id"] for c in cited if folded in " ".join(c["text"].lower().split())]
        elif row["rating"] > 0 and row["found"]:
            answers = [strip_citation_marks(row["answer"])]
            ids = [c["article_id"] for c in cited]
        else:
            continue
        items.append(
            {
                "id": f"feedback-{row['id']}",
                "question": row["question"],
                "answers": answers,
                "article_ids": list(dict.fromkeys(ids)),
                "lang": detect_language(row["question"]),
                "answerable": True,
                "kind": "feedback",
                "rating": row["rating"],
                "correction": correction,
            }
        )
    return items


def write_feedback_set(source: Path, out: Path) -> int:
    """Write the Q&A items of the feedback file ``source`` to ``out`` as JSON lines (replacing
    it at once, never half-written); returns how many."""
    items = export_feedback(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(
        "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8"
    )
    tmp.replace(out)
    return len(items)


def strip_citation_marks(text: str) -> str:
    """The answer without its [n] markers: what an accepted answer string looks like."""
    return " ".join(re.sub(r"\s*\[\d{1,3}\]", "", text).split())
