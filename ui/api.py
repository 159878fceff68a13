"""The HTTP API beside the page: /api/ask, /api/ingest, /api/articles, /api/health.

FastAPI builds the OpenAPI schema (/openapi.json, /docs) from the pydantic models below, which
mirror ``Answer.to_dict()`` and ``IngestReport.to_dict()``: ``POST /api/ask`` returns exactly
what ``rag ask --json`` prints. Errors a user can cause come back as ``{"error": "..."}`` with
a 4xx status and the same one-line message the CLI prints.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasic
from pydantic import BaseModel, Field

from rag.errors import (
    IndexBusyError,
    IndexCorruptError,
    IndexMissingError,
    InputError,
    ModelLoadError,
    ModelMismatchError,
    RagError,
    StorageError,
)
from rag.settings import RetrieverMode
from rag.types import Filters
from ui.i18n import K
from ui.uploads import UPLOAD_SUFFIXES, UploadError, check_upload, load_prepared, prepared_uploads

if TYPE_CHECKING:
    from rag.pipeline import Assistant
    from rag.settings import Settings

Mode = RetrieverMode


# ---- schemas (mirror rag.types *.to_dict()) -------------------------------------------------


class HistoryTurn(BaseModel):
    question: str
    answer: str


class AskRequest(BaseModel):
    question: str = Field(
        ..., min_length=1, max_length=2000, examples=["Hiệp ước mới thay thế những văn kiện nào?"]
    )
    history: list[HistoryTurn] = Field(
        default_factory=list, description="Earlier turns of the conversation, oldest first."
    )
    top_k: int | None = Field(None, ge=1, le=100, description="Passages to retrieve.")
    mode: Mode | None = Field(None, description="Retriever; the server's setting when omitted.")
    rerank: bool | None = Field(
        None, description="Cross-encoder reranking on/off; the server's setting when omitted."
    )
    site: str | None = Field(
        None, max_length=200, description="Cite only articles of this outlet (e.g. 'Dân trí')."
    )
    date_from: datetime.date | None = Field(
        None, description="Cite only articles published on or after this day (YYYY-MM-DD)."
    )
    date_to: datetime.date | None = Field(
        None, description="Cite only articles published on or before this day (YYYY-MM-DD)."
    )


class CitationOut(BaseModel):
    n: int
    article_id: str
    title: str
    source: str
    text: str = Field(..., description="The cited passage.")
    start: int = Field(..., description="Passage start offset in the cleaned article.")
    end: int
    score: float
    date: str | None = None
    site: str | None = Field(None, description="The outlet that published the article.")
    byline: str | None = None
    credit: str | None = Field(None, description="Sources the article credits.")
    url: str | None = None
    highlights: list[list[int]] = Field(
        default_factory=list, description="[start, end) article offsets of the quoted sentences."
    )
    also_reported_by: list[str] = Field(default_factory=list)


class RetrievalOut(BaseModel):
    mode: str
    model: str | None = None


class AskResponse(BaseModel):
    question: str
    answer: str = Field(..., description="The answer; each [n] refers to citations[n-1].")
    found: bool
    citations: list[CitationOut]
    retrieval: RetrievalOut
    confidence: float
    rewritten_query: str | None = None
    warnings: list[str] = Field(default_factory=list)


class SkippedOut(BaseModel):
    source: str
    reason: str
    line: int | None = None


class IngestResponse(BaseModel):
    added: int
    unchanged: int = Field(..., description="Articles already indexed (nothing was done).")
    chunks: int
    skipped: list[SkippedOut]
    seconds: float
    added_ids: list[str] = Field(default_factory=list)
    message: str


class ArticleHead(BaseModel):
    """What the index knows of an article besides its text (rag.types.Article)."""

    id: str
    title: str
    source: str
    date: str | None = None
    site: str | None = None
    byline: str | None = None
    credit: str | None = None
    url: str | None = None


class ArticleOut(ArticleHead):
    chunks: int
    chars: int | None = None


class ArticleFull(ArticleHead):
    text: str


class DeleteResponse(BaseModel):
    deleted: bool
    id: str


class HealthResponse(BaseModel):
    status: Literal["ok"]
    index_dir: str
    exists: bool
    articles: int = 0
    chunks: int = 0
    model_in_use: str | None = None
    index_model: str | None = None
    configured_model: str | None = None
    mode: str | None = None
    warning: str | None = None
    generation: str | None = None


class ErrorOut(BaseModel):
    error: str


# ---- errors and auth ---------------------------------------------------------------------

_STATUS: list[tuple[type[RagError], int]] = [
    (UploadError, 400),
    (InputError, 400),
    (IndexMissingError, 409),
    (ModelMismatchError, 409),
    (IndexBusyError, 503),
    # A full disk or a read-only index: the request was fine, the server cannot store it.
    (StorageError, 507),
    (IndexCorruptError, 500),
    (ModelLoadError, 500),
]


def status_for(exc: RagError) -> int:
    if isinstance(exc, UploadError):
        return {K.upload_too_big: 413, K.upload_bad_type: 415}.get(exc.key, 400)
    for cls, code in _STATUS:
        if isinstance(exc, cls):
            return code
    return 400


def install_error_handlers(app: FastAPI) -> None:
    async def on_rag_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RagError)
        return JSONResponse({"error": str(exc)}, status_code=status_for(exc))

    app.add_exception_handler(RagError, on_rag_error)

    async def on_invalid_request(request: Request, exc: Exception) -> JSONResponse:
        # The same one-line {"error": ...} as every other mistake, not FastAPI's list of dicts.
        errors = getattr(exc, "errors", lambda: [])()
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        msg = str(first.get("msg", "invalid request")).replace("\n", " ")
        return JSONResponse(
            {"error": f"{where}: {msg}" if where else msg, "detail": errors}, status_code=422
        )

    from fastapi.exceptions import RequestValidationError

    app.add_exception_handler(RequestValidationError, on_invalid_request)


class Utf8Basic(HTTPBasic):
    """HTTP Basic that decodes the credentials as UTF-8 (RFC 7617), so a password such as
    "bí-mật" works (FastAPI's HTTPBasic accepts ASCII only). Subclassing keeps the security
    scheme in the OpenAPI schema."""

    async def __call__(self, request: Request) -> tuple[str, str] | None:  # type: ignore[override]
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            raw = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            return None
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError:
            decoded = raw.decode("latin-1")
        user, sep, password = decoded.partition(":")
        return (user, password) if sep else None


def basic_auth(settings: Settings):
    """A dependency checking HTTP Basic credentials against RAG_AUTH (none when unset)."""
    if not settings.auth:
        return lambda: None
    user, _, password = settings.auth.partition(":")
    scheme = Utf8Basic(realm="rag")

    def check(credentials: tuple[str, str] | None = Depends(scheme)) -> None:
        given_user, given_pw = credentials or ("", "")
        ok_user = secrets.compare_digest(given_user.encode(), user.encode())
        ok_pw = secrets.compare_digest(given_pw.encode(), password.encode())
        if not (ok_user and ok_pw):
            raise HTTPException(
                status_code=401,
                detail="wrong or missing user:password (the server's RAG_AUTH)",
                headers={"WWW-Authenticate": 'Basic realm="rag", charset="UTF-8"'},
            )

    return check


# ---- routes ------------------------------------------------------------------------------

_ERRORS = {code: {"model": ErrorOut} for code in (400, 409, 413, 415, 503, 507)}


def ingest_message(report) -> str:
    parts = []
    if report.added:
        parts.append(f"added {report.added} article(s), {report.chunks} passage(s)")
    if report.unchanged:
        parts.append(f"{report.unchanged} article(s) already indexed: nothing to do")
    if not report.added and not report.unchanged:
        parts.append("no new article")
    if report.skipped:
        parts.append(f"skipped {len(report.skipped)}")
    parts.extend(f"warning: {w}" for w in report.warnings)
    return "; ".join(parts)


def make_router(assistant: Assistant, settings: Settings) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["rag"], dependencies=[Depends(basic_auth(settings))])

    @router.post("/ask", response_model=AskResponse, responses=_ERRORS)
    def ask(req: AskRequest) -> dict:
        """Answer a question from the indexed articles, with citations (the JSON of
        `rag ask --json`)."""
        history = [(h.question, h.answer) for h in req.history]
        extra = {"rerank": req.rerank} if req.rerank is not None else {}
        filters = Filters(
            site=req.site or None,
            date_from=req.date_from.isoformat() if req.date_from else None,
            date_to=req.date_to.isoformat() if req.date_to else None,
        )
        if filters:
            extra["filters"] = filters
        return assistant.ask(
            req.question, history, top_k=req.top_k, mode=req.mode, **extra
        ).to_dict()

    @router.post("/ingest", response_model=IngestResponse, responses=_ERRORS)
    def ingest(files: Annotated[list[UploadFile], File(description=ALLOWED)]) -> dict:
        """Index uploaded article files (.txt, .md, .html, .jsonl, or a .zip of them).
        Articles already indexed are left as they are and counted as `unchanged`."""
        tmp = Path(tempfile.mkdtemp(prefix="rag-api-"))
        try:
            saved = [_save_upload(f, tmp, i, settings.max_upload_mb) for i, f in enumerate(files)]
            with prepared_uploads(saved, settings.max_upload_mb) as prepared:
                report = assistant.ingest_articles(load_prepared(prepared))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return {
            **report.to_dict(),
            "added_ids": list(report.added_ids),
            "message": ingest_message(report),
        }

    @router.get("/articles", response_model=list[ArticleOut])
    def articles(
        q: Annotated[
            str | None, Query(description="Words to find in title/outlet/byline/source/date/id.")
        ] = None,
    ) -> list[dict]:
        """The indexed articles (id, title, source, date, passage count)."""
        from ui.render import filter_articles

        return filter_articles(assistant.articles(), q or "")

    @router.get(
        "/articles/{article_id}", response_model=ArticleFull, responses={404: {"model": ErrorOut}}
    )
    def article(article_id: str):
        """One article's cleaned text (the text the citation offsets refer to)."""
        a = assistant.article(article_id)
        if a is None:
            return JSONResponse({"error": f"no article {article_id}"}, status_code=404)
        return {
            "id": a.id,
            "title": a.title,
            "source": a.source,
            "date": a.date,
            **a.meta(),
            "text": a.text,
        }

    @router.delete(
        "/articles/{article_id}",
        response_model=DeleteResponse,
        responses={404: {"model": ErrorOut}},
    )
    def delete(article_id: str):
        """Remove an article and its passages from the index."""
        if not assistant.delete(article_id):
            return JSONResponse({"error": f"no article {article_id}"}, status_code=404)
        return {"deleted": True, "id": article_id}

    @router.get("/health", response_model=HealthResponse)
    def health() -> dict:
        """Liveness plus what is indexed and which embedding model is in use."""
        info = assistant.info()
        return {
            "status": "ok",
            **{k: info.get(k) for k in HealthResponse.model_fields if k != "status" and k in info},
        }

    return router


ALLOWED = "Article files: " + ", ".join(UPLOAD_SUFFIXES)


def _save_upload(f: UploadFile, tmp: Path, i: int, max_mb: int) -> tuple[str, Path]:
    """Write one uploaded file to ``tmp``, refusing it as soon as it passes the size limit
    (the client's declared size is not trusted)."""
    name = Path((f.filename or f"upload{i}").replace("\\", "/")).name or f"upload{i}"
    check_upload(name, 0, max_mb)  # the type, before reading anything
    limit = max_mb * 2**20
    target = tmp / f"{i:04d}{Path(name).suffix.lower()}"
    size = 0
    try:
        with open(target, "wb") as out:
            while chunk := f.file.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    check_upload(name, size, max_mb)  # raises with the size message
                out.write(chunk)
    except OSError as exc:
        from rag.store import storage_error

        err = storage_error(exc, "saving the upload", tmp, size + (1 << 20))
        if err is None:
            raise
        raise err from None
    return name, target


# ---- /docs without a CDN ---------------------------------------------------------------------


def install_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) from files served by this server. FastAPI's own /docs loads Swagger UI
    and a favicon from CDNs, which leaves it blank offline. The assets come from the
    fastapi-offline package; without it, FastAPI's CDN page is kept. /redoc is dropped: ReDoc
    still fetches its logo from cdn.redoc.ly."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles

    try:
        import fastapi_offline
    except ImportError:
        return
    assets = Path(fastapi_offline.__file__).parent / "static"
    if not (assets / "swagger-ui-bundle.js").exists():
        return
    app.router.routes = [
        r for r in app.router.routes if getattr(r, "path", None) not in ("/docs", "/redoc")
    ]
    app.mount("/api-docs-assets", StaticFiles(directory=assets), name="api-docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - API",
            swagger_js_url=f"{root}/api-docs-assets/swagger-ui-bundle.js",
            swagger_css_url=f"{root}/api-docs-assets/swagger-ui.css",
            swagger_favicon_url=f"{root}/api-docs-assets/favicon.png",
        )
