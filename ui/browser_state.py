"""The browser's copy of the conversation and settings (gr.BrowserState, in localStorage), and
the hidden plain-text copies of the answers that ui/static/copy.js reads."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ui import render
from ui.i18n import DEFAULT_LANG, LANGS, K, t

if TYPE_CHECKING:
    from rag.settings import Settings

SAVED_TURNS = 20  # turns kept in the browser's localStorage across reloads
MODES = ("hybrid", "bm25", "dense")
META_FIELDS = ("site", "byline", "credit", "url")  # a citation's article metadata


def turn_to_json(turn: dict) -> dict:
    answer = turn.get("answer")
    return {
        "question": turn["question"],
        "answer": answer.to_dict() if answer is not None else None,
        "error": turn.get("error"),
    }


def turn_from_json(data: dict) -> dict:
    """Inverse of turn_to_json; raises KeyError/TypeError/ValueError on a damaged entry."""
    from rag.types import Answer, Citation

    a = data.get("answer")
    answer = None
    if a is not None:
        cites = tuple(
            Citation(
                n=int(c["n"]),
                article_id=str(c["article_id"]),
                title=str(c["title"]),
                source=str(c.get("source") or ""),
                text=str(c["text"]),
                start=int(c["start"]),
                end=int(c["end"]),
                score=float(c.get("score") or 0.0),
                date=c.get("date"),
                highlights=tuple((int(h[0]), int(h[1])) for h in c.get("highlights") or ()),
                also_reported_by=tuple(str(x) for x in c.get("also_reported_by") or ()),
                meta={k: str(c[k]) for k in META_FIELDS if c.get(k)},
            )
            for c in a.get("citations") or ()
        )
        retrieval = a.get("retrieval") or {}
        answer = Answer(
            question=str(a["question"]),
            text=str(a["answer"]),
            found=bool(a.get("found")),
            citations=cites,
            mode=str(retrieval.get("mode") or "hybrid"),
            model=retrieval.get("model"),
            confidence=float(a.get("confidence") or 0.0),
            rewritten_query=a.get("rewritten_query"),
            warnings=tuple(a.get("warnings") or ()),
        )
    return {"question": str(data["question"]), "answer": answer, "error": data.get("error")}


FILTER_FIELDS = ("site", "date_from", "date_to")


def saved_value(
    turns: list[dict],
    lang: str,
    mode: str,
    top_k: float,
    rerank: bool,
    answer_mode: str,
    site: str | None = "",
    date_from: str | None = "",
    date_to: str | None = "",
) -> dict:
    """What gr.BrowserState keeps: the settings, the source filters as typed, and the last
    SAVED_TURNS turns."""
    return {
        "lang": lang,
        "mode": mode,
        "top_k": top_k,
        "rerank": bool(rerank),
        "answer_mode": answer_mode,
        "filters": {"site": site or "", "date_from": date_from or "", "date_to": date_to or ""},
        "turns": [turn_to_json(x) for x in (turns or [])][-SAVED_TURNS:],
    }


def read_saved(saved: Any, mode: str, can_rerank: bool, answer_modes: tuple[str, ...]) -> dict:
    """A saved value back, checked: the turns (none when damaged or saved by an older page),
    the language, retriever, top-k, rerank and answer mode. ``top_k`` and ``answer_mode`` are
    None where the saved one is missing or not offered (the page keeps its own); ``mode`` is
    the given one in that case. ``filters``: the source filters as they were typed ("" for
    each one missing or damaged; a date that is not one comes back as typed, and says so)."""
    saved = saved if isinstance(saved, dict) else {}
    try:
        turns = [turn_from_json(x) for x in saved.get("turns") or []]
    except (KeyError, TypeError, ValueError):
        turns = []  # saved by an older page, or damaged: start afresh
    top_k = saved.get("top_k")
    answer_mode = saved.get("answer_mode")
    filters = saved.get("filters") if isinstance(saved.get("filters"), dict) else {}
    return {
        "turns": turns,
        "lang": saved.get("lang") if saved.get("lang") in LANGS else DEFAULT_LANG,
        "mode": saved.get("mode") if saved.get("mode") in MODES else mode,
        "top_k": int(top_k) if isinstance(top_k, (int, float)) and 1 <= top_k <= 20 else None,
        "rerank": bool(saved.get("rerank")) and can_rerank,
        "answer_mode": answer_mode if answer_mode in answer_modes else None,
        "filters": {
            k: filters[k][:200] if isinstance(filters.get(k), str) else "" for k in FILTER_FIELDS
        },
    }


def copy_data_html(turns: list[dict], lang: str) -> str:
    """Hidden data for ui/static/copy.js: each answer as plain text (what the copy button
    copies) and the spoken names of the two speakers (the bubbles' aria-labels)."""
    plain = {
        str(i): render.answer_plain(turn["answer"], lang)
        for i, turn in enumerate(turns)
        if turn.get("answer") is not None
    }
    data = {"plain": plain, "you": t(K.you_said, lang), "bot": t(K.assistant_said, lang)}
    return f'<div id="rag-copy-data" data-copy="{render.esc(json.dumps(data))}"></div>'


def state_secret(settings: Settings) -> str:
    """The key gr.BrowserState encrypts the saved conversation with, kept beside the index so
    a restarted server can still read what browsers saved (a fresh one would lose it)."""
    path = Path(settings.index_dir).resolve().parent / "ui-state.key"
    try:
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(32)
        path.write_text(key, encoding="utf-8")
        return key
    except OSError:
        return secrets.token_urlsafe(32)
