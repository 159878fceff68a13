"""ui.browser_state: the conversation and settings as the browser keeps them."""

from __future__ import annotations

from pathlib import Path

from rag.settings import Settings
from rag.types import Answer, Citation
from ui.browser_state import read_saved, state_secret, turn_from_json, turn_to_json


def turn() -> dict:
    cite = Citation(
        n=1,
        article_id="a1",
        title="Tiêu đề",
        source="https://vnexpress.net/x",
        text="Hiệp ước năm 1961.",
        start=3,
        end=21,
        score=0.5,
        date="2024-06-19",
        highlights=((0, 8),),
        also_reported_by=("tuoitre.vn",),
        meta={"site": "VnExpress", "byline": "Minh Phương", "url": "https://vnexpress.net/x"},
    )
    answer = Answer(
        question="Q?",
        text="Hiệp ước năm 1961 [1].",
        found=True,
        citations=(cite,),
        mode="bm25",
        model="m",
        confidence=0.7,
        rewritten_query="Q2?",
        warnings=("w",),
    )
    return {"question": "Q?", "answer": answer, "error": None}


def test_a_turn_round_trips():
    t = turn()
    back = turn_from_json(turn_to_json(t))
    assert back["answer"].citations == t["answer"].citations
    # the article's outlet, byline and address come back too (the card shows them)
    assert back["answer"].citations[0].meta == t["answer"].citations[0].meta
    assert back["answer"].text == t["answer"].text and back["answer"].mode == "bm25"
    assert back["answer"].rewritten_query == "Q2?" and back["answer"].warnings == ("w",)
    failed = {"question": "Q?", "answer": None, "error": "boom"}
    assert turn_from_json(turn_to_json(failed)) == failed


def test_read_saved_checks_everything():
    got = read_saved(
        {"lang": "en", "mode": "dense", "top_k": 3, "rerank": True, "answer_mode": "llm"},
        "hybrid",
        can_rerank=False,
        answer_modes=("extractive",),
    )
    assert got == {
        "turns": [],
        "lang": "en",
        "mode": "dense",
        "top_k": 3,
        "rerank": False,
        "answer_mode": None,
        "filters": {"site": "", "date_from": "", "date_to": ""},
    }
    saved = {"filters": {"site": "Dân trí", "date_from": "1/6/2024", "date_to": 5}}
    assert read_saved(saved, "hybrid", True, ())["filters"] == {
        "site": "Dân trí",
        "date_from": "1/6/2024",
        "date_to": "",
    }
    assert read_saved({"filters": "junk"}, "hybrid", True, ())["filters"]["site"] == ""
    got = read_saved(
        {"lang": "fr", "mode": "x", "top_k": 0, "turns": [{"q": 1}]}, "bm25", True, ("llm",)
    )
    assert (got["lang"], got["mode"], got["top_k"], got["turns"]) == ("vi", "bm25", None, [])
    assert read_saved("junk", "hybrid", True, ())["lang"] == "vi"


def test_the_state_key_outlives_a_restart(tmp_path: Path):
    settings = Settings.load(env={}, index_dir=tmp_path / "data" / "index")
    first = state_secret(settings)
    assert first == state_secret(settings)
    assert (tmp_path / "data" / "ui-state.key").read_text().strip() == first
