"""The web pages: sign-in and sign-out, the flag queue, one flag, one entity, the regional
dashboard, and the pages' static files. Each page is an HTML shell (``render.py``) whose
scripts read the JSON API and ``/web/api`` (``data.py``) with the session cookie; a hidden
flag or entity answers the same 404 page as a missing one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from api.server.auth.login_limits import login_keys
from api.server.auth.principals import Principal
from api.server.auth.sessions import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    check_csrf,
    clear_session_cookies,
    new_csrf_token,
    principal_for_user,
    session_principal,
    session_store,
    set_session_cookies,
    sign_in,
    sign_out,
)
from api.server.deps import AppServices, Services, audit
from api.server.errors import ApiError, request_id_of
from api.server.flag_views import get_visible_flag
from api.server.graph.scoped import ScopedGraph
from api.server.state.audit import append_audit
from api.server.web.data import graph_region_names
from api.server.web.render import render_page, secured

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_STATIC = Path(__file__).resolve().parent / "static"


def _page(request: Request, services: AppServices, principal: Principal, template: str,
          **kwargs: Any) -> HTMLResponse:  # fmt: skip
    """A signed-in page, with the graph's region names for its scripts."""
    return render_page(
        request, principal, template, csrf=_csrf_of(request),
        region_names=graph_region_names(services.graph, principal.scope), **kwargs,
    )  # fmt: skip


def _error_page(request: Request, principal: Principal | None, status: int) -> HTMLResponse:
    return render_page(
        request,
        principal,
        "error.html",
        page="error",
        title_key="error_title",
        csrf=_csrf_of(request),
        status=status,
    )


def _csrf_of(request: Request) -> str:
    sess = getattr(request.state, "web_session", None)
    return sess.csrf_token if sess is not None else ""


def _page_principal(request: Request, services: AppServices) -> Principal | None:
    try:
        return session_principal(request, services.db)
    except ApiError:
        return None


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/web/login?next={quote(target, safe='')}", status_code=303)


def _local_next(value: str | None) -> str:
    """Only same-site paths under /web/ (no open redirect)."""
    if value and value.startswith("/web/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/web/flags"


@router.get("/", response_class=RedirectResponse)
def root() -> RedirectResponse:
    return RedirectResponse("/web/flags", status_code=303)


@router.get("/web", response_class=RedirectResponse)
@router.get("/web/", response_class=RedirectResponse)
def web_root() -> RedirectResponse:
    return RedirectResponse("/web/flags", status_code=303)


def _login_page(
    request: Request, next_path: str, message_key: str | None = None, status: int = 200
) -> HTMLResponse:
    csrf = new_csrf_token()
    response = render_page(
        request,
        None,
        "login.html",
        page="login",
        title_key="login_title",
        csrf=csrf,
        status=status,
        next=next_path,
        message_key=message_key,
    )
    set_session_cookies(response, request, None, csrf)
    return response


@router.get("/web/login", response_class=HTMLResponse)
def login_form(request: Request, services: Services) -> Response:
    if _page_principal(request, services) is not None:
        return RedirectResponse(_local_next(request.query_params.get("next")), status_code=303)
    message = "signed_out" if request.query_params.get("out") else None
    return _login_page(request, _local_next(request.query_params.get("next")), message)


async def _form(request: Request) -> dict[str, str]:
    """A small url-encoded form (no multipart needed for a token and two hidden fields)."""
    raw = await request.body()
    if len(raw) > 8192:
        raise ApiError(413, "too_large", "form too large")
    parsed = parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def _audit_system(services: AppServices, request: Request, action: str, detail: dict) -> None:
    with services.db.write() as session:
        append_audit(
            session,
            actor="anonymous",
            role="none",
            action=action,
            resource=f"{request.method} {request.url.path}",
            detail=detail,
            request_id=request_id_of(request),
        )


@router.post("/web/login", response_class=HTMLResponse)
async def login(request: Request, services: Services) -> Response:
    form = await _form(request)
    next_path = _local_next(form.get("next"))
    expected = request.cookies.get(CSRF_COOKIE, "")
    try:
        check_csrf(request, expected, form.get("csrf_token")) if expected else None
    except ApiError:
        expected = ""
    if not expected:
        return _login_page(request, next_path, "login_expired", status=403)
    client = request.client.host if request.client else ""
    limits, keys = services.login_limits, login_keys(form.get("token", ""), client)
    wait, counted = limits.check(keys)
    if wait is not None:  # too many failed sign-ins of this name or from this address
        response = _login_page(request, next_path, "login_too_many", status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    result = sign_in(request, services.db, form.get("token", ""))
    if result is None:
        limits.failed(keys)
        _audit_system(services, request, "web_sign_in_failed", {"client": client})
        return _login_page(request, next_path, "login_failed", status=401)
    if counted:
        limits.succeeded(counted)
    session_id, sess, principal = result
    audit(services, request, principal, "web_sign_in", {"sessions": len(session_store(request))})
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookies(response, request, session_id, sess.csrf_token)
    return secured(response)


@router.post("/web/logout", response_class=RedirectResponse)
async def logout(request: Request, services: Services) -> Response:
    form = await _form(request)
    store = session_store(request)
    sess = store.get(request.cookies.get(SESSION_COOKIE, ""))
    if sess is not None:
        check_csrf(
            request, sess.csrf_token, form.get("csrf_token") or request.headers.get(CSRF_HEADER)
        )
        with services.db.read() as session:
            principal = principal_for_user(session, sess.user_id, sess.token_hash)
        if principal is not None:
            audit(services, request, principal, "web_sign_out")
        sign_out(request)
    response = RedirectResponse("/web/login?out=1", status_code=303)
    clear_session_cookies(response)
    return secured(response)


# -- pages --------------------------------------------------------------------------------------


@router.get("/web/flags", response_class=HTMLResponse)
def queue_page(request: Request, services: Services) -> Response:
    principal = _page_principal(request, services)
    if principal is None:
        return _to_login(request)
    return _page(
        request,
        services,
        principal,
        "queue.html",
        page="queue",
        title_key="queue_title",
        scripts=("queue.js",),
    )


@router.get("/web/flags/{flag_id}", response_class=HTMLResponse)
def flag_page(request: Request, services: Services, flag_id: str) -> Response:
    principal = _page_principal(request, services)
    if principal is None:
        return _to_login(request)
    try:
        with services.db.read() as session:
            get_visible_flag(session, principal, flag_id)
    except ApiError:
        return _error_page(request, principal, 404)
    return _page(
        request,
        services,
        principal,
        "flag.html",
        page="flag",
        title_key="flag_title",
        config={"flag_id": flag_id},
        scripts=("vendor/cytoscape/cytoscape.min.js", "graph.js", "flag.js"),
    )


@router.get("/web/entities/{entity_id}", response_class=HTMLResponse)
def entity_page(
    request: Request, services: Services, entity_id: str, label: str | None = None
) -> Response:
    principal = _page_principal(request, services)
    if principal is None:
        return _to_login(request)
    with services.graph.lock.reading():
        graph = ScopedGraph(services.graph, principal)
        known = label is None or label in graph.store.schema.nodes
        rec = graph.entity(entity_id, label) if known else None
    if rec is None:
        return _error_page(request, principal, 404)
    return _page(
        request,
        services,
        principal,
        "entity.html",
        page="entity",
        title_key="entity_title",
        config={"entity_id": entity_id, "label": rec["label"]},
        scripts=("vendor/cytoscape/cytoscape.min.js", "graph.js", "entity.js"),
    )


@router.get("/web/regions", response_class=HTMLResponse)
def dashboard_page(request: Request, services: Services) -> Response:
    principal = _page_principal(request, services)
    if principal is None:
        return _to_login(request)
    return _page(
        request,
        services,
        principal,
        "dashboard.html",
        page="dashboard",
        title_key="dashboard_overview",
        scripts=("charts.js", "dashboard.js"),
    )


@router.get("/web/cases", response_class=HTMLResponse)
def cases_page(request: Request, services: Services) -> Response:
    principal = _page_principal(request, services)
    if principal is None:
        return _to_login(request)
    return _page(
        request, services, principal, "cases.html", page="cases", title_key="cases_title",
        scripts=("cases.js",),
    )  # fmt: skip


@router.get("/web/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, services: Services, case_id: int) -> Response:
    from api.server.routes.cases import visible_cases
    from api.server.state.models import Case

    principal = _page_principal(request, services)
    if principal is None:
        return _to_login(request)
    with services.db.read() as session:
        found = session.execute(
            visible_cases(principal).where(Case.id == case_id).with_only_columns(Case.id)
        ).first()
    if found is None:
        return _error_page(request, principal, 404)
    return _page(
        request, services, principal, "case.html", page="cases", title_key="case_title",
        config={"case_id": case_id}, scripts=("cases.js",),
    )  # fmt: skip


@router.get("/web/scans", response_class=HTMLResponse)
def scans_page(request: Request, services: Services) -> Response:
    principal = _page_principal(request, services)
    if principal is None:
        return _to_login(request)
    if not principal.policy.admin:
        return _error_page(request, principal, 403)
    return _page(
        request, services, principal, "scans.html", page="scans", title_key="scans_title",
        scripts=("scans.js",),
    )  # fmt: skip


@router.get("/web/static/{path:path}")
def static_file(path: str) -> Response:
    target = (_STATIC / path).resolve()
    if not target.is_relative_to(_STATIC) or not target.is_file():
        raise ApiError(404, "not_found", "no such file")
    response = FileResponse(target)
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
