"""The HTTP API over real HTTP, against a real server (uvicorn + FastAPI + Gradio) on a real
index of the seed articles."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import requests

from tests.ui.conftest import seeded, start_server

TREATY_Q = "Hiệp ước mới thay thế những văn kiện nào?"
CAT = "Mèo Mướp ở Hà Nội\n\nCon mèo Mướp sống ở phố Hàng Bạc từ năm 2015 và thích ăn cá kho.\n"


@pytest.fixture(scope="module")
def api(tmp_path_factory, tiny_model_dir: Path, seeds_dir: Path):
    settings, assistant = seeded(
        tmp_path_factory.mktemp("api"), tiny_model_dir, seeds_dir, max_upload_mb=1
    )
    server = start_server(settings, assistant)
    yield server
    server.stop()
    assistant.close()


def test_health_reports_model_and_index_size(api):
    r = requests.get(f"{api.url}/api/health", timeout=30)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["articles"] == 5 and body["chunks"] > 5
    assert body["model_in_use"] == str(api.settings.embed_model)
    assert body["warning"] is None


def test_openapi_schema_describes_the_api(api):
    spec = requests.get(f"{api.url}/openapi.json", timeout=30).json()
    for path in ("/api/ask", "/api/ingest", "/api/articles", "/api/health"):
        assert path in spec["paths"], path
    ask = spec["components"]["schemas"]["AskResponse"]["properties"]
    assert set(ask) == {
        "question", "answer", "found", "citations", "retrieval", "confidence",
        "rewritten_query", "warnings",
    }  # fmt: skip
    docs = requests.get(f"{api.url}/docs", timeout=30)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_ask_returns_the_json_of_rag_ask(api):
    r = requests.post(f"{api.url}/api/ask", json={"question": TREATY_Q}, timeout=60)
    assert r.status_code == 200
    body = r.json()
    assert body == api.assistant.ask(TREATY_Q).to_dict()  # the same shape as `rag ask --json`
    assert body["found"] and "[1]" in body["answer"] and "1961" in body["answer"]
    c = body["citations"][0]
    text = api.assistant.article(c["article_id"]).text
    assert text[c["start"] : c["end"]] == c["text"]
    s, e = c["highlights"][0]
    assert "1961" in text[s:e]


def test_ask_takes_history_top_k_and_mode(api):
    r = requests.post(
        f"{api.url}/api/ask",
        json={
            "question": "Nó thay thế những văn kiện nào?",
            "history": [{"question": "Nga và Triều Tiên ký gì?", "answer": "Một hiệp ước. [1]"}],
            "top_k": 2,
            "mode": "bm25",
        },
        timeout=60,
    )
    assert r.status_code == 200
    assert r.json()["retrieval"]["mode"] == "bm25"


def test_bad_questions_get_a_one_line_error(api):
    r = requests.post(f"{api.url}/api/ask", json={"question": "   "}, timeout=30)
    assert r.status_code == 400 and "question is empty" in r.json()["error"]
    r = requests.post(f"{api.url}/api/ask", json={"question": "x", "mode": "magic"}, timeout=30)
    assert r.status_code == 422
    assert r.json()["error"].startswith("mode:") and "\n" not in r.json()["error"]


def upload(api, *files: tuple[str, bytes]) -> requests.Response:
    return requests.post(
        f"{api.url}/api/ingest",
        files=[("files", (name, data)) for name, data in files],
        timeout=120,
    )


def test_ingest_then_reupload_does_nothing_and_says_so(api):
    r = upload(api, ("meo.txt", CAT.encode()))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["added"] == 1 and body["unchanged"] == 0 and len(body["added_ids"]) == 1
    again = upload(api, ("ban-sao.txt", CAT.encode())).json()
    assert again["added"] == 0 and again["unchanged"] == 1
    assert "already indexed: nothing to do" in again["message"]
    listed = requests.get(f"{api.url}/api/articles", params={"q": "meo muop"}, timeout=30).json()
    assert [a["id"] for a in listed] == body["added_ids"]
    assert listed[0]["source"] == "meo.txt"
    answer = requests.post(
        f"{api.url}/api/ask", json={"question": "Mèo Mướp thích ăn gì?"}, timeout=60
    ).json()
    assert "cá kho" in answer["answer"]


def test_ingest_a_zip_of_articles(api):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a/bao1.txt", "Giá lúa tăng\n\nGiá lúa ở Cần Thơ tăng 5% trong tuần.")
        zf.writestr("bao2.html", "<html><head><title>Bão số 3</title></head><body><article>"
                    "<h1>Bão số 3</h1><p>Bão số 3 đổ bộ vào Quảng Ninh chiều thứ Bảy với "
                    "sức gió mạnh cấp 12, gây mưa lớn ở nhiều tỉnh phía Bắc.</p></article>"
                    "</body></html>")  # fmt: skip
        zf.writestr("anh.jpg", b"\xff\xd8\xff")
    body = upload(api, ("tin.zip", buf.getvalue())).json()
    assert body["added"] == 2
    assert [s["source"] for s in body["skipped"]] == ["tin.zip/anh.jpg"]
    sources = {a["source"] for a in requests.get(f"{api.url}/api/articles", timeout=30).json()}
    assert {"tin.zip/a/bao1.txt", "tin.zip/bao2.html"} <= sources


def test_upload_type_and_size_limits(api):
    r = upload(api, ("bai.pdf", b"%PDF-1.4"))
    assert r.status_code == 415 and "not supported" in r.json()["error"]
    r = upload(api, ("lon.txt", b"a" * (2**20 + 10)))
    assert r.status_code == 413 and "over the 1 MB upload limit" in r.json()["error"]


def test_get_and_delete_an_article(api):
    target = requests.get(f"{api.url}/api/articles", timeout=30).json()[0]
    full = requests.get(f"{api.url}/api/articles/{target['id']}", timeout=30).json()
    assert full["title"] == target["title"] and len(full["text"]) > 0
    r = requests.delete(f"{api.url}/api/articles/{target['id']}", timeout=60)
    assert r.json() == {"deleted": True, "id": target["id"]}
    assert requests.get(f"{api.url}/api/articles/{target['id']}", timeout=30).status_code == 404
    assert requests.delete(f"{api.url}/api/articles/{target['id']}", timeout=30).status_code == 404


def test_gradio_client_api(api):
    from gradio_client import Client

    client = Client(api.url + "/", verbose=False)
    result = client.predict(TREATY_Q, 5, "hybrid", api_name="/ask")
    assert result == api.assistant.ask(TREATY_Q, top_k=5, mode="hybrid").to_dict()
    health = client.predict(api_name="/health")
    assert health["articles"] == len(api.assistant.articles())


@pytest.fixture(scope="module")
def locked(tmp_path_factory, tiny_model_dir: Path, seeds_dir: Path):
    settings, assistant = seeded(
        tmp_path_factory.mktemp("auth"), tiny_model_dir, seeds_dir, auth="ana:bí-mật"
    )
    server = start_server(settings, assistant)
    yield server
    server.stop()
    assistant.close()


def test_rag_auth_protects_the_api_and_the_page(locked):
    assert requests.get(f"{locked.url}/api/health", timeout=30).status_code == 401
    wrong = requests.get(f"{locked.url}/api/health", auth=("ana", "sai"), timeout=30)
    assert wrong.status_code == 401
    ok = requests.get(f"{locked.url}/api/health", auth=("ana", "bí-mật".encode()), timeout=30)
    assert ok.status_code == 200
    # The page's own endpoints need Gradio's login (a cookie from /login).
    assert requests.get(f"{locked.url}/config", timeout=30).status_code == 401
    s = requests.Session()
    login = s.post(
        f"{locked.url}/login", data={"username": "ana", "password": "bí-mật"}, timeout=30
    )
    assert login.status_code == 200
    assert s.get(f"{locked.url}/config", timeout=30).status_code == 200


def test_ask_filters_by_outlet_and_validates_dates(api):
    r = requests.post(
        f"{api.url}/api/ask", json={"question": TREATY_Q, "site": "Dân trí"}, timeout=60
    )
    assert r.status_code == 200
    sites = {c["site"] for c in r.json()["citations"]}
    assert sites <= {"Dân trí"}
    r = requests.post(
        f"{api.url}/api/ask", json={"question": TREATY_Q, "date_from": "19/6/2024"}, timeout=60
    )
    assert r.status_code == 422
    # The seeds carry no publication date: a date range admits none of them.
    r = requests.post(
        f"{api.url}/api/ask", json={"question": TREATY_Q, "date_from": "2024-01-01"}, timeout=60
    )
    assert r.status_code == 200 and r.json()["found"] is False
