"""Evaluation datasets: a corpus of Articles and a list of QAItems whose gold articles are in it.

Named datasets:

- ``seeds``: ``eval/seeds_qa.jsonl`` over the seed articles (``seeds/``). Its ``article_ids``
  are seed file stems ("000_67af0a77a16df922"), mapped to content ids through the ``source`` of
  the loaded articles, so the file survives changes to cleaning (which change the ids).
- ``seeds-chat``: ``eval/seeds_chat.jsonl``, conversations over the seed articles: each item's
  ``turns`` are asked first, in order, and its ``question`` is a follow-up to them ("Nó được ký
  ở đâu?"), scored like any other question.
- ``xquad-vi``: XQuAD's Vietnamese questions over its 240 Vietnamese paragraphs, one article per
  paragraph (no title: the Wikipedia titles are English and would hint the cross-lingual case).
- ``xquad-en-vi``: the English questions (same ids) over the same Vietnamese paragraphs.
  Accepted answers are the Vietnamese spans, plus the English spans for an answerer that replies
  in English.
- ``xquad-vi+news``: the ``xquad-vi`` questions with the paragraphs mixed into ``news_size``
  VNTC articles (a fixed-seed sample of those with text) as distractors.

Any other name is read as the path of a Q&A JSONL file (same format as ``eval/seeds_qa.jsonl``)
whose ``article_ids`` name articles of ``corpus`` (paths; the seed articles by default) by id,
file stem, file name or source.

The Q&A JSONL format, one object a line: ``id``, ``question``, ``answers`` (accepted answer
strings), ``article_ids`` (gold articles), ``lang``; optional ``answerable`` (default true; false
for questions the corpus cannot answer, with empty answers and articles), ``kind`` (a label
for per-kind figures: fact, number, date, list, multi, ...) and ``turns`` (the earlier questions
of a conversation, oldest first, for a follow-up question).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.errors import InputError
from rag.settings import Settings
from rag.types import Article, Skipped

REPO_ROOT = Path(__file__).resolve().parents[1]
SEEDS_QA = REPO_ROOT / "eval" / "seeds_qa.jsonl"
SEEDS_CHAT = REPO_ROOT / "eval" / "seeds_chat.jsonl"
DEFAULT_NEWS_SIZE = 3000
NAMED = ("seeds", "seeds-chat", "xquad-vi", "xquad-en-vi", "xquad-vi+news")
_EMPTY_TEXT = re.compile(r'"text":\s*""')


@dataclass(frozen=True)
class QAItem:
    id: str
    question: str
    answers: tuple[str, ...]
    article_ids: tuple[str, ...]  # content ids of the gold articles
    lang: str
    answerable: bool = True
    kind: str = ""
    turns: tuple[str, ...] = ()  # earlier questions of the conversation, oldest first


@dataclass(frozen=True)
class EvalDataset:
    """``corpus`` names the article set (datasets sharing one, like xquad-vi and xquad-en-vi,
    share a cached index); ``articles`` are ingested as they are."""

    name: str
    corpus: str
    articles: tuple[Article, ...]
    items: tuple[QAItem, ...]
    description: str = ""

    def corpus_fingerprint(self) -> str:
        """A hash of the article ids (content hashes): the index to build depends on this."""
        digest = hashlib.sha1()
        for article_id in sorted(a.id for a in self.articles):
            digest.update(article_id.encode())
        return digest.hexdigest()[:12]

    def article(self, article_id: str) -> Article | None:
        return self._by_id().get(article_id)

    def _by_id(self) -> dict[str, Article]:
        cached = self.__dict__.get("_by_id_cache")
        if cached is None:
            cached = {a.id: a for a in self.articles}
            object.__setattr__(self, "_by_id_cache", cached)  # frozen: a cache, not state
        return cached


def data_dir(settings: Settings | None = None) -> Path:
    """Where the shared data lives: the ``data_dir`` setting (``$RAG_DATA_DIR``), else
    ``../shared/data`` beside the repository."""
    configured = (settings if settings is not None else Settings.load()).data_dir
    return configured if configured is not None else REPO_ROOT.parent / "shared" / "data"


def load_dataset(
    name: str,
    *,
    seeds_dir: Path | None = None,
    corpus: Sequence[str | Path] | None = None,
    news_size: int = DEFAULT_NEWS_SIZE,
    news_seed: int = 0,
    limit: int | None = None,
) -> EvalDataset:
    """A named dataset (see the module docstring) or a Q&A JSONL path. ``limit`` keeps the first
    ``limit`` questions (the corpus stays whole, so retrieval is as hard as in the full run)."""
    if name == "seeds":
        ds = _seeds(seeds_dir or REPO_ROOT / "seeds")
    elif name == "seeds-chat":
        ds = _seeds(seeds_dir or REPO_ROOT / "seeds", chat=True)
    elif name == "xquad-vi":
        ds = _xquad(question_lang="vi")
    elif name == "xquad-en-vi":
        ds = _xquad(question_lang="en")
    elif name == "xquad-vi+news":
        ds = _xquad_news(news_size, news_seed)
    elif Path(name).suffix in (".jsonl", ".ndjson") or Path(name).is_file():
        ds = _from_path(Path(name), corpus or [seeds_dir or REPO_ROOT / "seeds"])
    else:
        raise InputError(
            f"unknown dataset {name!r}: use one of {', '.join(NAMED)} or the path of a Q&A .jsonl"
        )
    if limit is not None:
        if limit < 1:
            raise InputError(f"--limit must be at least 1, got {limit}")
        ds = EvalDataset(ds.name, ds.corpus, ds.articles, ds.items[:limit], ds.description)
    return ds


# --- Q&A files -------------------------------------------------------------------------------


def read_qa_jsonl(path: Path) -> list[dict]:
    """Validated raw records of a Q&A JSONL file (article ids not yet resolved)."""
    if not path.is_file():
        raise InputError(f"no such Q&A file: {path}")
    records = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{n}: invalid JSON ({exc.msg})") from None
            records.append(_check_record(rec, f"{path}:{n}"))
            if rec["id"] in seen:
                raise InputError(f"{path}:{n}: duplicate id {rec['id']!r}")
            seen.add(rec["id"])
    if not records:
        raise InputError(f"{path} holds no questions")
    return records


def _check_record(rec: object, where: str) -> dict:
    if not isinstance(rec, dict):
        raise InputError(f"{where}: each line must be a JSON object")
    for key, kind in (("id", str), ("question", str), ("answers", list), ("article_ids", list)):
        if not isinstance(rec.get(key), kind):
            raise InputError(f"{where}: '{key}' is missing or not a {kind.__name__}")
    if not rec["question"].strip():
        raise InputError(f"{where}: empty question")
    answerable = rec.get("answerable", True)
    if not isinstance(answerable, bool):
        raise InputError(f"{where}: 'answerable' must be true or false")
    if answerable and (not rec["answers"] or not rec["article_ids"]):
        raise InputError(f"{where}: an answerable question needs answers and article_ids")
    if not all(isinstance(a, str) and a.strip() for a in rec["answers"]):
        raise InputError(f"{where}: answers must be non-empty strings")
    turns = rec.get("turns", [])
    if not isinstance(turns, list) or not all(isinstance(t, str) and t.strip() for t in turns):
        raise InputError(f"{where}: 'turns' must be a list of non-empty questions")
    return rec


def _resolve(records: list[dict], articles: Sequence[Article], where: Path) -> list[QAItem]:
    """Map each record's article names (id, file stem, file name or source) to content ids."""
    names: dict[str, str] = {}
    for a in articles:
        names[a.id] = a.id
        if a.source:
            names[a.source] = a.id
            names[Path(a.source).name] = a.id
            names[Path(a.source).stem] = a.id
    items = []
    for rec in records:
        ids = []
        for name in rec["article_ids"]:
            if name not in names:
                raise InputError(
                    f"{where}: question {rec['id']!r} names article {name!r}, which is not in "
                    "the corpus (use an article id, file stem or source)"
                )
            ids.append(names[name])
        items.append(
            QAItem(
                id=rec["id"],
                question=rec["question"].strip(),
                answers=tuple(rec["answers"]),
                article_ids=tuple(dict.fromkeys(ids)),
                lang=str(rec.get("lang") or ""),
                answerable=rec.get("answerable", True),
                kind=str(rec.get("kind") or ""),
                turns=tuple(t.strip() for t in rec.get("turns", [])),
            )
        )
    return items


def _load_articles(paths: Iterable[str | Path]) -> list[Article]:
    from rag.load import load_paths

    articles = []
    for item in load_paths(paths):
        if isinstance(item, Skipped):
            continue
        articles.append(item)
    if not articles:
        raise InputError(f"no articles found in {', '.join(str(p) for p in paths)}")
    return articles


def _seeds(seeds_dir: Path, chat: bool = False) -> EvalDataset:
    articles = _load_articles([seeds_dir])
    path, name = (SEEDS_CHAT, "seeds-chat") if chat else (SEEDS_QA, "seeds")
    items = _resolve(read_qa_jsonl(path), articles, path)
    what = "follow-up questions in conversations" if chat else "Q&A"
    # Both sets share the seeds corpus name: one cached evaluation index serves them.
    return EvalDataset(
        name, "seeds", tuple(articles), tuple(items), f"hand-written {what} over the seed articles"
    )


def _from_path(path: Path, corpus: Sequence[str | Path]) -> EvalDataset:
    articles = _load_articles(corpus)
    items = _resolve(read_qa_jsonl(path), articles, path)
    corpus_name = "+".join(Path(p).name for p in corpus)
    return EvalDataset(
        path.stem, corpus_name, tuple(articles), tuple(items), f"{path} over {corpus_name}"
    )


# --- XQuAD -----------------------------------------------------------------------------------


def _read_squad(path: Path) -> list[dict]:
    if not path.is_file():
        raise InputError(
            f"XQuAD file not found: {path} (set RAG_DATA_DIR to the folder holding xquad/)"
        )
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)["data"]


def _xquad_parts(question_lang: str) -> tuple[list[Article], list[QAItem]]:
    from rag.load import make_article

    vi = _read_squad(data_dir() / "xquad" / "xquad.vi.json")
    questions: dict[str, tuple[str, list[str]]] = {}
    if question_lang == "en":
        for doc in _read_squad(data_dir() / "xquad" / "xquad.en.json"):
            for para in doc["paragraphs"]:
                for qa in para["qas"]:
                    questions[qa["id"]] = (qa["question"], [a["text"] for a in qa["answers"]])
    articles: list[Article] = []
    items: list[QAItem] = []
    for doc in vi:
        for p_index, para in enumerate(doc["paragraphs"]):
            article = make_article(para["context"], source=f"xquad.vi/{doc['title']}/{p_index}")
            if article is None:
                continue
            articles.append(article)
            for qa in para["qas"]:
                answers = [a["text"] for a in qa["answers"]]
                question = qa["question"]
                if question_lang == "en":
                    question, en_answers = questions[qa["id"]]
                    answers += en_answers
                items.append(
                    QAItem(
                        id=qa["id"],
                        question=question,
                        answers=tuple(dict.fromkeys(a.strip() for a in answers if a.strip())),
                        article_ids=(article.id,),
                        lang=question_lang,
                    )
                )
    return articles, items


def _xquad(question_lang: str) -> EvalDataset:
    articles, items = _xquad_parts(question_lang)
    name = "xquad-vi" if question_lang == "vi" else "xquad-en-vi"
    what = "Vietnamese" if question_lang == "vi" else "English"
    return EvalDataset(
        name,
        "xquad-vi",
        tuple(articles),
        tuple(items),
        f"XQuAD: {len(items)} {what} questions over {len(articles)} Vietnamese paragraphs",
    )


def sample_news(size: int, seed: int = 0) -> list[Article]:
    """``size`` VNTC articles (a fixed-seed sample of those with text), cleaned as any input."""
    from rag.load import make_article

    path = data_dir() / "vntc" / "vntc_train.jsonl.gz"
    if not path.is_file():
        raise InputError(f"VNTC not found: {path} (set RAG_DATA_DIR to the folder holding vntc/)")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        lines = [line for line in fh if line.strip()]
    # Records without text carry the whole story in 'title': they are not articles as such.
    # Found on the raw line (a quote inside a JSON string is always escaped), so that only
    # the sampled lines are parsed: parsing all 33,759 takes seconds.
    eligible = [i for i, line in enumerate(lines) if not _EMPTY_TEXT.search(line)]
    if size > len(eligible):
        raise InputError(f"--news-size {size} is more than the {len(eligible)} VNTC articles")
    picked = sorted(random.Random(seed).sample(eligible, size))
    articles = []
    for i in picked:
        rec = json.loads(lines[i])
        article = make_article(rec["text"], title=rec.get("title"), source=f"vntc/{rec['id']}")
        if article is not None:
            articles.append(article)
    return articles


def _xquad_news(news_size: int, seed: int) -> EvalDataset:
    if news_size < 0:
        raise InputError(f"--news-size must be 0 or more, got {news_size}")
    articles, items = _xquad_parts("vi")
    news = sample_news(news_size, seed) if news_size else []
    return EvalDataset(
        "xquad-vi+news",
        f"xquad-vi+news{news_size}" + (f"s{seed}" if seed else ""),
        tuple(articles + news),
        tuple(items),
        f"XQuAD-vi: {len(items)} questions over {len(articles)} paragraphs mixed into "
        f"{len(news)} VNTC news articles",
    )
