"""The web app (FastAPI, server-rendered Jinja2 pages; one small script, the review queue's
keyboard shortcuts): overview per category, the evidence gap map, theme pages with cited quotes,
hybrid search, report views with tagged sentences highlighted, and the audit queue with undo. Every route opens its own short store connection and calls library
functions; nothing here computes results."""

from __future__ import annotations

import io
from importlib import resources
import secrets
import sqlite3
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Form, Query, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape
from pydantic import BaseModel, Field

from ... import store
from ...categories import CATEGORIES
from ...errors import CollabmineError, Errors, NotFoundError, StoreError
from ...evidence.confidence import NOT_REVIEWED
from ...evidence.gapmap import build_gap_map, support_chart
from ...evidence.outputs import write_csv
from ...settings import Settings
from ...tagging import tagger_thresholds
from ...themes import curation
from .. import browse
from .. import query as search_lib
from .. import review as review_lib
from .security import BodyLimit, SameOrigin, SecurityHeaders, TokenGate, new_csrf_token, safe_next

REVIEWER_COOKIE = "collabmine_reviewer"
DOC_ID = r"^[0-9a-f]{64}$"
SPAN_ID = r"^[0-9a-f]{20}$"
QUEUE_PAGE = 20
QUOTES_PAGE = 25
#: The keyboard shortcuts of the review queue, read once.
REVIEW_SCRIPT = (resources.files("collabmine.explore.web") / "static" / "review.js").read_text(encoding="utf-8")
#: Longest error message a page shows.
MAX_ERROR_CHARS = 1000


def _environment() -> Environment:
    # The evidence outputs' templates too: the gap map is drawn by one macro in both places.
    return Environment(loader=ChoiceLoader([PackageLoader("collabmine.explore.web", "templates"),
                                            PackageLoader("collabmine.evidence.outputs", "templates")]),
                       autoescape=select_autoescape(default=True, default_for_string=True))


class ReviewIn(BaseModel):
    """A decision posted as JSON to /api/reviews."""

    span_id: str = Field(pattern=SPAN_ID)
    action: str = Field(pattern=r"^(accept|reject|move|comment|categories|teach)$")
    reviewer: str = Field(min_length=1, max_length=review_lib.MAX_REVIEWER)
    category: str | None = None
    theme_id: str | None = Field(default=None, max_length=100)
    comment: str | None = Field(default=None, max_length=review_lib.MAX_COMMENT)
    categories: list[str] | None = None


def create_app(settings: Settings, *, token: str | None = None) -> FastAPI:
    """The app over ``settings.out_dir``'s store. With ``token``, every request must carry it."""
    app = FastAPI(title="collabmine", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.csrf = new_csrf_token()
    env = _environment()
    # Inside the others (the last added is outermost): a refused body still gets the security
    # headers and passes the token gate first. ``answer`` is defined below with the pages.
    app.add_middleware(BodyLimit, answer=lambda request, status, message: answer(request, status, message))
    app.add_middleware(SecurityHeaders)
    app.add_middleware(SameOrigin)
    if token:
        app.add_middleware(TokenGate, token=token)

    @contextmanager
    def connection(*, read: bool = True) -> Iterator[sqlite3.Connection]:
        """A page reads one state of the store (a run may commit meanwhile); a form that writes
        takes its own write transaction instead."""
        con = store.connect(settings.store_path, create=False)
        try:
            if read:
                with store.snapshot(con):
                    yield con
            else:
                yield con
        except sqlite3.DatabaseError as exc:
            if not store.is_damage(exc):
                raise
            raise store.damaged(settings.store_path, exc) from exc   # the app's page with E024, not a 500
        finally:
            con.close()

    def page(request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
        context |= {"request": request, "csrf": app.state.csrf, "categories": CATEGORIES,
                    "reviewer": request.cookies.get(REVIEWER_COOKIE, ""), "path": _current(request)}
        return HTMLResponse(env.get_template(template).render(**context), status_code=status_code)

    def answer(request: Request, status: int, message: str) -> Response:
        """An error as the app's own page (JSON under /api/), with its code and what to do."""
        message = message[:MAX_ERROR_CHARS]
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, status_code=status)
        return page(request, "error.html.j2", status_code=status, message=message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        # The framework's own refusals (a form field over its size, an unknown page, a method
        # not allowed) in the app's words instead of bare {"detail": ...}.
        if exc.status_code == 400 and "maximum size" in str(exc.detail):
            return answer(request, 413, Errors.E099.format(size="a field over 1 MB", limit="1 MB per field"))
        return answer(request, exc.status_code, Errors.E102.format(status=exc.status_code, detail=str(exc.detail)[:200]))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        # Name the bad parameters and what is wrong, never echo their values (a 100 KB query
        # came straight back before), and answer as the app's own page for a browser.
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg', '')[:120]}"
                             for e in exc.errors()[:5])
        message = Errors.E097.format(problems=problems)[:MAX_ERROR_CHARS]
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, status_code=422)
        return page(request, "error.html.j2", status_code=422, message=message)

    @app.exception_handler(CollabmineError)
    async def _error(request: Request, exc: CollabmineError) -> Response:
        status = 404 if isinstance(exc, NotFoundError) else 503 if isinstance(exc, StoreError) else 422
        link = getattr(exc, "link", None)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": str(exc), **({"link": link} if link else {})}, status_code=status)
        return page(request, "error.html.j2", status_code=status, message=str(exc), link=link)

    @app.get("/", response_class=HTMLResponse)
    def overview(request: Request, sort: str = Query("size", max_length=20)) -> HTMLResponse:
        with connection() as con:
            return page(request, "overview.html.j2", overview=browse.overview(con, sort=sort), sort=sort,
                        sorts=list(browse.SORTS), not_reviewed_note=NOT_REVIEWED,
                        progress=review_lib.progress(con), reports=browse.reports(con))

    @app.get("/gaps", response_class=HTMLResponse)
    def gaps(request: Request) -> HTMLResponse:
        with connection() as con:
            gap = build_gap_map(con, frame=curation.project_frame(settings))
        return page(request, "gaps.html.j2", gap=gap, chart=support_chart(gap),
                    theme_href=lambda theme_id: f"/themes/{quote(theme_id)}",
                    cell_href=lambda theme_id, doc_id: f"/themes/{quote(theme_id)}?report={quote(doc_id)}")

    @app.get("/themes/{theme_id}", response_class=HTMLResponse)
    def theme(request: Request, theme_id: str, page_no: int = Query(1, alias="page", ge=1),
              report: str = Query("", max_length=64), edited: str = Query("", max_length=20)) -> HTMLResponse:
        with connection() as con:
            detail = browse.theme_detail(con, theme_id, report=report or None)
        detail["edited"] = edited
        pages = max(1, -(-len(detail["rows"]) // QUOTES_PAGE))
        page_no = min(page_no, pages)
        detail["rows"] = detail["rows"][(page_no - 1) * QUOTES_PAGE:page_no * QUOTES_PAGE]
        return page(request, "theme.html.j2", page_no=page_no, pages=pages, **detail)

    @app.get("/search", response_class=HTMLResponse)
    def search(request: Request, q: str = Query("", max_length=500), category: str = "", report: str = "",
               top: int = Query(20, ge=1, le=search_lib.MAX_TOP), mode: str = "hybrid") -> HTMLResponse:
        hits, theme, reranked = None, None, False
        if q.strip():
            with connection() as con:
                found = search_lib.search(con, q, category=category or None, report=report or None, top=top, mode=mode)
            hits, theme, reranked = found.to_dict("records"), found.attrs.get("theme"), found.attrs.get("reranked")
        return page(request, "search.html.j2", q=q, category=category, report=report, top=top, mode=mode,
                    hits=hits, theme=theme, reranked=reranked, rerank_depth=search_lib.RERANK_DEPTH,
                    modes=search_lib.MODES)

    @app.get("/reports", response_class=HTMLResponse)
    def reports(request: Request) -> HTMLResponse:
        with connection() as con:
            return page(request, "reports.html.j2", reports=browse.reports(con))

    @app.get("/reports/{doc_id}", response_class=HTMLResponse)
    def report(request: Request, doc_id: str, page_no: int = Query(1, alias="page", ge=1),
               span: str | None = Query(None, pattern=SPAN_ID)) -> HTMLResponse:
        if not _matches(DOC_ID, doc_id):
            # A report's file name (or corpus path) opens it too: looked up in the store, never
            # on the file system, then redirected to its id.
            with connection() as con:
                found = browse.report_by_name(con, doc_id)
            if found is None:
                raise NotFoundError(Errors.E093.format(doc_id=doc_id[:200]))
            return RedirectResponse(f"/reports/{found}" + (f"?span={span}" if span else ""), status_code=303)
        with connection() as con:
            return page(request, "report.html.j2", view=browse.report_page(con, doc_id, page=page_no, focus=span))

    @app.get("/review", response_class=HTMLResponse)
    def review_queue(request: Request, category: str = "", status: str = "unreviewed", theme: str = "",
                     span: str = "", offset: int = Query(0, ge=0), done: str = Query("", max_length=2000),
                     undone: int = Query(-1)) -> HTMLResponse:
        with connection() as con:
            items = review_lib.queue(con, category=category or None, status=status, theme_id=theme or None,
                                     span_id=span or None, limit=QUEUE_PAGE, offset=offset)
            recorded = review_lib.describe(con, _review_ids(done)[:50])
            return page(request, "review.html.j2", items=items, progress=review_lib.progress(con),
                        recorded=recorded, done=done, undone=undone, here=_without(request, "done", "undone"),
                        comments=browse.comments(con, [it.span_id for it in items]),
                        options=browse.theme_options(con), category=category, status=status, theme=theme,
                        offset=offset, page_size=QUEUE_PAGE, statuses=review_lib.STATUSES)

    @app.get("/review.js")
    def review_script() -> Response:
        """The review queue's keyboard shortcuts (the only script the app serves)."""
        return Response(REVIEW_SCRIPT, media_type="text/javascript",
                        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})

    @app.get("/review/teach", response_class=HTMLResponse)
    def teach_queue(request: Request, category: str = "", offset: int = Query(0, ge=0)) -> HTMLResponse:
        with connection() as con:
            items = review_lib.learning_queue(con, category=category or None, limit=QUEUE_PAGE, offset=offset,
                                              thresholds=tagger_thresholds(settings))
            return page(request, "teach.html.j2", items=items, category=category, offset=offset,
                        page_size=QUEUE_PAGE)

    @app.post("/review")
    def post_review(request: Request, csrf: str = Form(""), span_id: str = Form(...), action: str = Form(...),
                    reviewer: str = Form(""), category: str = Form(""), theme_id: str = Form(""),
                    comment: str = Form(""), categories: list[str] = Form([]), next: str = Form("/review")) -> Response:
        if not secrets.compare_digest(csrf.encode(), app.state.csrf.encode()):
            return page(request, "error.html.j2", status_code=403,
                        message="403: the form is stale or came from another site; reload the page and try again.")
        reviewer = reviewer or request.cookies.get(REVIEWER_COOKIE, "")
        with connection(read=False) as con:
            if action in ("accept", "reject", "categories") and category:
                # The review page's one form: the decision, and a move and a comment when given.
                ids = review_lib.decide(con, span_id=span_id, category=category, action=action, reviewer=reviewer,
                                        categories=categories, theme_id=theme_id or None, comment=comment or None)
            else:
                ids = _apply(con, ReviewIn.model_construct(span_id=span_id, action=action, reviewer=reviewer,
                                                           category=category or None, theme_id=theme_id or None,
                                                           comment=comment or None, categories=categories))
        # The queue confirms what was recorded and offers to undo it (teaching codes a sentence whole: no undo).
        response = RedirectResponse(_with_done(safe_next(next, "/review"), ids if action != "teach" else []),
                                    status_code=303)
        _remember(response, reviewer)
        return response

    @app.post("/review/undo")
    def post_undo(request: Request, csrf: str = Form(""), review_ids: str = Form(..., max_length=2000),
                  next: str = Form("/review")) -> Response:
        """Take back the decisions one submit recorded (the confirmation's Undo button)."""
        if not secrets.compare_digest(csrf.encode(), app.state.csrf.encode()):
            return page(request, "error.html.j2", status_code=403,
                        message="403: the form is stale or came from another site; reload the page and try again.")
        ids = _review_ids(review_ids)
        with connection(read=False) as con:
            written = review_lib.undo(con, review_ids=ids, reviewer=request.cookies.get(REVIEWER_COOKIE, ""))
        target = safe_next(next, "/review")
        return RedirectResponse(f"{target}{'&' if '?' in target else '?'}undone={len(written)}", status_code=303)

    @app.post("/themes/{theme_id}/edit")
    def post_theme_edit(request: Request, theme_id: str, csrf: str = Form(""), action: str = Form(...),
                        reviewer: str = Form(""), name: str = Form("", max_length=200),
                        description: str = Form("", max_length=600), into: str = Form(""),
                        comment: str = Form("", max_length=2000)) -> Response:
        """Curate a theme (rename, merge, promote, dismiss): logged, and applied by the next run."""
        if not secrets.compare_digest(csrf.encode(), app.state.csrf.encode()):
            return page(request, "error.html.j2", status_code=403,
                        message="403: the form is stale or came from another site; reload the page and try again.")
        with connection(read=False) as con:
            curation.record_edit(con, settings, action=action, theme_id=theme_id, reviewer=reviewer,
                                 name=name or None, description=description or None, target_theme_id=into or None,
                                 comment=comment or None)
        response = RedirectResponse(f"/themes/{quote(theme_id)}?edited={quote(action)}", status_code=303)
        _remember(response, reviewer)
        return response

    @app.post("/reviewer")
    def set_reviewer(csrf: str = Form(""), name: str = Form("", max_length=200), next: str = Form("/")) -> Response:
        """Who is reviewing, asked once per browser session; without a name, forget it (another
        person takes over the browser: the review page asks again)."""
        if not secrets.compare_digest(csrf.encode(), app.state.csrf.encode()):
            return Response("403: stale or missing form token; reload the page.", status_code=403)
        response = RedirectResponse(safe_next(next, "/review"), status_code=303)
        if name.strip():
            _remember(response, review_lib.clean_reviewer(name))
        else:
            response.delete_cookie(REVIEWER_COOKIE)
        return response

    @app.get("/reviews.csv")
    def reviews_csv() -> Response:
        with connection() as con:
            buffer = io.StringIO()
            write_csv(review_lib.review_log(con), buffer)
        return Response(buffer.getvalue(), media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="collabmine-reviews.csv"'})

    # --- JSON, for scripts ---
    @app.get("/api/themes")
    def api_themes(category: str = "") -> list[dict]:
        with connection() as con:
            return [t for c in browse.overview(con) for t in c["themes"] if not category or c["name"] == category]

    @app.get("/api/themes/{theme_id}")
    def api_theme(theme_id: str) -> dict:
        with connection() as con:
            return browse.theme_detail(con, theme_id)

    @app.get("/api/search")
    def api_search(q: str = Query(..., max_length=500), category: str = "", report: str = "",
                   top: int = Query(10, ge=1, le=search_lib.MAX_TOP), mode: str = "hybrid") -> list[dict]:
        with connection() as con:
            return search_lib.search(con, q, category=category or None, report=report or None, top=top,
                                     mode=mode).to_dict("records")

    @app.get("/api/progress")
    def api_progress() -> list[dict]:
        with connection() as con:
            return [p.__dict__ | {"precision": p.precision, "interval": p.interval} for p in review_lib.progress(con)]

    @app.post("/api/reviews")
    def api_review(request: Request, body: ReviewIn) -> dict:
        # A custom header cannot be sent cross-site without a CORS preflight, which this app never grants.
        sent = request.headers.get("x-csrf-token", "")
        if not secrets.compare_digest(sent.encode(), app.state.csrf.encode()):
            return JSONResponse({"error": "403: send the X-CSRF-Token header (GET /api/csrf gives it)."},
                                status_code=403)
        with connection(read=False) as con:
            ids = _apply(con, body)
        return {"review_ids": ids}

    @app.get("/api/csrf")
    def api_csrf() -> dict:
        return {"csrf": app.state.csrf}

    return app


def _apply(con: sqlite3.Connection, body: ReviewIn) -> list[int]:
    if body.action == "teach":
        return review_lib.label_sentence(con, span_id=body.span_id, categories=body.categories or [],
                                         reviewer=body.reviewer)
    if body.action == "categories":
        return review_lib.set_categories(con, span_id=body.span_id, categories=body.categories or [],
                                         reviewer=body.reviewer, comment=body.comment)
    return [review_lib.record_review(con, span_id=body.span_id, action=body.action, reviewer=body.reviewer,
                                     category=body.category, theme_id=body.theme_id, comment=body.comment)]


def _remember(response: Response, reviewer: str) -> None:
    response.set_cookie(REVIEWER_COOKIE, " ".join(reviewer.split())[:review_lib.MAX_REVIEWER],
                        httponly=True, samesite="strict")


def _review_ids(text: str) -> list[int]:
    """Review ids as a form or link carries them ("12,13"); anything else in it is ignored."""
    return [int(i) for i in text.split(",") if i.strip().isdigit()]


def _with_done(target: str, ids: list[int]) -> str:
    """``target`` (a local path, maybe with a #fragment) telling the page what was just recorded,
    so it can confirm it and offer to undo it."""
    if not ids:
        return target
    path, _, fragment = target.partition("#")
    path += ("&" if "?" in path else "?") + "done=" + ",".join(str(i) for i in ids)
    return path + (f"#{fragment}" if fragment else "")


def _matches(pattern: str, value: str) -> bool:
    import re

    return re.fullmatch(pattern.strip("^$"), value) is not None


def _without(request: Request, *names: str) -> str:
    """The current page's path and query without the parameters ``names``."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in names]
    return request.url.path + (f"?{urlencode(kept)}" if kept else "")


def _current(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")
