"""The values that flow forward through the pipeline: load -> clean -> chunk -> embed -> store
-> retrieve -> answer. All frozen: a stage returns new values and never edits what it was given."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Article:
    """One cleaned article. ``id`` is a content hash of title + text, so re-ingesting the same
    article (from another path, another encoding) maps to the same row."""

    id: str
    title: str
    text: str
    source: str = ""
    date: str | None = None
    site: str | None = None  # the outlet ("Dân trí"), see rag.metadata
    byline: str | None = None  # the author ("Minh Phương")
    credit: str | None = None  # sources the article credits ("TASS, AFP, Reuters")
    url: str | None = None

    def meta(self) -> dict[str, str]:
        """site, byline, credit and url, those that are known."""
        fields = (("site", self.site), ("byline", self.byline), ("credit", self.credit))
        return {k: v for k, v in (*fields, ("url", self.url)) if v}


@dataclass(frozen=True)
class Chunk:
    """A passage of an article; ``article_text[start:end] == text`` always holds."""

    article_id: str
    index: int
    text: str
    start: int
    end: int
    title: str = ""

    @property
    def id(self) -> str:
        return f"{self.article_id}:{self.index}"


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score, its rank (0-based) and each retriever's score."""

    chunk: Chunk
    score: float
    rank: int
    scores: dict[str, float] = field(default_factory=dict, compare=False, hash=False)
    source: str = ""
    date: str | None = None
    also: tuple[str, ...] = ()  # article ids whose near-duplicate passages were collapsed here
    meta: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Filters:
    """Which articles a search may cite: an outlet (``site``, matched without regard to case)
    and a publication date range (ISO dates, both ends included). An article with no known
    date is outside any date range."""

    site: str | None = None
    date_from: str | None = None
    date_to: str | None = None

    def __bool__(self) -> bool:
        return bool(self.site or self.date_from or self.date_to)

    def admits(self, hit: Hit) -> bool:
        return self.allows(hit.meta.get("site"), hit.date)

    def allows(self, site: str | None, date: str | None) -> bool:
        """Whether an article of this outlet and publication date may be cited."""
        if self.site and (site or "").casefold() != self.site.casefold():
            return False
        if self.date_from or self.date_to:
            day = (date or "")[:10]
            if not day:
                return False
            if self.date_from and day < self.date_from:
                return False
            if self.date_to and day > self.date_to:
                return False
        return True


@dataclass(frozen=True)
class Citation:
    """One cited passage. ``start``/``end`` locate the passage in its article; ``highlights``
    are (start, end) article offsets of the sentences the answer quotes from it."""

    n: int
    article_id: str
    title: str
    source: str
    text: str
    start: int
    end: int
    score: float
    date: str | None = None
    highlights: tuple[tuple[int, int], ...] = ()
    also_reported_by: tuple[str, ...] = ()  # titles of articles carrying the same passage
    meta: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict:
        return {
            "n": self.n,
            "article_id": self.article_id,
            "title": self.title,
            "source": self.source,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "score": round(float(self.score), 6),
            "date": self.date,
            "site": self.meta.get("site"),
            "byline": self.meta.get("byline"),
            "credit": self.meta.get("credit"),
            "url": self.meta.get("url"),
            "highlights": [list(h) for h in self.highlights],
            "also_reported_by": list(self.also_reported_by),
        }


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    found: bool
    citations: tuple[Citation, ...] = ()
    mode: str = "hybrid"
    model: str | None = None
    confidence: float = 0.0
    rewritten_query: str | None = None
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """The JSON shape of `rag ask --json` and `POST /api/ask`."""
        return {
            "question": self.question,
            "answer": self.text,
            "found": self.found,
            "citations": [c.to_dict() for c in self.citations],
            "retrieval": {"mode": self.mode, "model": self.model},
            "confidence": round(float(self.confidence), 4),
            "rewritten_query": self.rewritten_query,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class Skipped:
    """An input that was not ingested, and why (shown in ingest reports)."""

    source: str
    reason: str
    line: int | None = None


@dataclass(frozen=True)
class IngestReport:
    added: int = 0
    unchanged: int = 0
    chunks: int = 0
    skipped: tuple[Skipped, ...] = ()
    seconds: float = 0.0
    added_ids: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # what went wrong without failing the ingest

    def to_dict(self) -> dict:
        return {
            "added": self.added,
            "unchanged": self.unchanged,
            "chunks": self.chunks,
            "skipped": [
                {"source": s.source, "reason": s.reason, "line": s.line} for s in self.skipped
            ],
            "seconds": round(self.seconds, 3),
            "warnings": list(self.warnings),
        }
