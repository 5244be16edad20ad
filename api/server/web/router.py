"""The web pages for inspectors and analysts, served by the API app (no Node at run time).

Pages (HTML shells; their scripts call the JSON API ``/api/v1/...`` with the session cookie):

==========================  ====================================================================
``/web/login``              sign in with an API token (``POST`` the form), ``/web/logout``
``/web/flags``              the flag queue: filters, counts per filter, sort, downloads
``/web/flags/{flag_id}``    one flag on one screen: explanation, evidence, graph, decision
``/web/entities/{id}``      an entity: properties (masked per role), neighbours, control, flags
``/web/regions``            regional debt and guarantee risk for debt analysts (charts)
``/web/report.html``        printable HTML report of the queue's current filter (download)
``/web/export.xlsx``        the queue's current filter as an Excel workbook (download)
==========================  ====================================================================

The few JSON reads the API does not offer live under ``/web/api`` (the queue with date filter
and per-filter counts, the flags involving an entity, the dashboard figures); they reuse the
API's visibility and masking (``api.server.flag_views``, ``api.server.graph.access``) and its audit of
revealed personal data. A hidden flag or entity answers the same 404 page as a missing one.

``api.server.app.create_app`` mounts ``web_router``; ``api.server.deps.current_principal`` accepts the
session cookie (CSRF-checked on writes) where no bearer token is sent.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy import Select, Text, cast, func, select

from api.access.scopes import RegionScope
from api.reports.html_report import render_queue_report
from api.reports.i18n import STRINGS, pick_lang
from api.reports.workbook import flags_workbook_bytes
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
from api.server.deps import (
    AppServices,
    CurrentUser,
    Graph,
    Services,
    audit,
    audit_revealed,
    require_within,
)
from api.server.errors import ApiError, request_id_of
from api.server.flag_views import flag_public, get_visible_flag, person_names, visible_flags
from api.server.graph.scoped import ScopedGraph
from api.server.models import FlagPublic, FlagStatus
from api.server.state.audit import append_audit
from api.server.state.models import FlagRecord, FlagState, ReviewDecision

__all__ = ["web_router"]

web_router = APIRouter(include_in_schema=False)

_HERE = Path(__file__).resolve().parent
_TEMPLATES = _HERE / "templates"
_STATIC = _HERE / "static"
LANG_COOKIE = "rg_lang"
#: Flags a report or an export holds at most.
EXPORT_LIMIT = 5000
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
_VAR = re.compile(r"\{\{(\w+)\}\}")
_DASHBOARD_DETECTORS = ("debt.region_risk", "guarantee.circle", "guarantee.contagion")
Severity = Literal["high", "medium", "low"]
Sort = Literal["score_desc", "score_asc"]


# -- rendering ----------------------------------------------------------------------------------


@lru_cache(maxsize=32)
def _template(name: str) -> str:
    return (_TEMPLATES / name).read_text("utf-8")


def render_template(name: str, lang: str, **context: Any) -> str:
    """Fill ``{{key}}`` from the language's strings and ``context`` (values ending in ``_html``
    or ``_json`` go in as they are, everything else is HTML-escaped)."""
    values = {**STRINGS[lang], **context}

    def fill(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in values:
            raise KeyError(f"template {name}: no value for {key}")
        value = values[key]
        return str(value) if key.endswith(("_html", "_json")) else html.escape(str(value))

    return _VAR.sub(fill, _template(name))


def _lang(request: Request) -> str:
    return pick_lang(request.query_params.get("lang") or request.cookies.get(LANG_COOKIE))


def _secured(response: Response) -> Response:
    for key, value in _SECURITY_HEADERS.items():
        response.headers[key] = value
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _script_json(value: Any) -> str:
    """JSON safe inside ``<script type="application/json">``."""
    return json.dumps(value, ensure_ascii=False, default=str).replace("<", "\\u003c")


def _detector_titles() -> dict[str, dict[str, str]]:
    from engine.registry import all_detectors

    return {s.id: {"zh": s.title_zh, "en": s.title_en} for s in all_detectors()}


def _nav(principal: Principal | None, lang: str, page: str) -> str:
    if principal is None:
        return ""
    t = STRINGS[lang]
    links = [("queue", "/web/flags", t["nav_queue"])]
    if principal.policy.sees_flag_family("debt"):
        links.append(("dashboard", "/web/regions", t["nav_dashboard"]))
    return "".join(
        f'<a href="{href}"{" aria-current=page" if key == page else ""}>{html.escape(text)}</a>'
        for key, href, text in links
    )


def _account(principal: Principal | None, lang: str, csrf: str) -> str:
    if principal is None:
        return ""
    t = STRINGS[lang]
    role = t.get(f"role_{principal.role}", principal.role)
    scope = ", ".join(principal.scope.codes)
    return (
        f'<span class="who">{html.escape(t["signed_in_as"])}: <strong>{html.escape(principal.name)}'
        f"</strong> · {html.escape(role)} · {html.escape(t['scope'])} {html.escape(scope)}</span>"
        f'<form method="post" action="/web/logout" class="inline">'
        f'<input type="hidden" name="csrf_token" value="{html.escape(csrf)}">'
        f'<button type="submit" class="btn btn-quiet">{html.escape(t["sign_out"])}</button></form>'
    )


def _page(
    request: Request,
    principal: Principal | None,
    *,
    page: str,
    title_key: str,
    body: str,
    csrf: str = "",
    config: dict[str, Any] | None = None,
    scripts: tuple[str, ...] = (),
    status: int = 200,
) -> HTMLResponse:
    lang = _lang(request)
    t = STRINGS[lang]
    cfg = {
        "lang": lang,
        "strings": t,
        "page": page,
        "user": None
        if principal is None
        else {
            "name": principal.name,
            "role": principal.role,
            "regions": list(principal.scope.codes),
            "clearance": principal.policy.personal_clearance,
        },
        "detectors": _detector_titles() if principal is not None else {},
        **(config or {}),
    }
    document = render_template(
        "base.html", lang,
        html_lang="zh-CN" if lang == "zh" else "en", csrf=csrf, title=t[title_key], page=page,
        nav_html=_nav(principal, lang, page), account_html=_account(principal, lang, csrf),
        other_lang="en" if lang == "zh" else "zh",
        other_html_lang="en" if lang == "zh" else "zh-CN", body_html=body, config_json=_script_json(cfg),
        scripts_html="".join(
            f'<script src="/web/static/{quote(s)}"></script>' for s in scripts
        ),
    )  # fmt: skip
    return _secured(HTMLResponse(document, status_code=status))  # type: ignore[return-value]


def _error_page(request: Request, principal: Principal | None, status: int) -> HTMLResponse:
    lang = _lang(request)
    body = render_template(
        "error.html", lang, status=status, message=STRINGS[lang][f"error_{status}"]
    )
    csrf = _csrf_of(request)
    return _page(request, principal, page="error", title_key="error_title", body=body,
                 csrf=csrf, status=status)  # fmt: skip


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


# -- sign-in ------------------------------------------------------------------------------------


@web_router.get("/", response_class=RedirectResponse)
def root() -> RedirectResponse:
    return RedirectResponse("/web/flags", status_code=303)


@web_router.get("/web", response_class=RedirectResponse)
@web_router.get("/web/", response_class=RedirectResponse)
def web_root() -> RedirectResponse:
    return RedirectResponse("/web/flags", status_code=303)


def _login_page(
    request: Request, next_path: str, message_key: str | None = None, status: int = 200
) -> HTMLResponse:
    lang = _lang(request)
    csrf = new_csrf_token()
    message = ""
    if message_key:
        cls = "notice" if message_key == "signed_out" else "error-msg"
        role = "status" if message_key == "signed_out" else "alert"
        message = f'<p class="{cls}" role="{role}">{html.escape(STRINGS[lang][message_key])}</p>'
    body = render_template("login.html", lang, csrf=csrf, next=next_path, message_html=message)
    response = _page(request, None, page="login", title_key="login_title", body=body,
                     csrf=csrf, status=status)  # fmt: skip
    set_session_cookies(response, request, None, csrf)
    return response


@web_router.get("/web/login", response_class=HTMLResponse)
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
            session, actor="anonymous", role="none", action=action,
            resource=f"{request.method} {request.url.path}", detail=detail,
            request_id=request_id_of(request),
        )  # fmt: skip


@web_router.post("/web/login", response_class=HTMLResponse)
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
    result = sign_in(request, services.db, form.get("token", ""))
    if result is None:
        client = request.client.host if request.client else ""
        _audit_system(services, request, "web_sign_in_failed", {"client": client})
        return _login_page(request, next_path, "login_failed", status=401)
    session_id, sess, principal = result
    audit(services, request, principal, "web_sign_in", {"sessions": len(session_store(request))})
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookies(response, request, session_id, sess.csrf_token)
    return _secured(response)


@web_router.post("/web/logout", response_class=RedirectResponse)
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
    return _secured(response)


# -- pages --------------------------------------------------------------------------------------


@web_router.get("/web/flags", response_class=HTMLResponse)
def queue_page(request: Request, services: Services) -> Response:
    principal = _page_principal(request, services)
    if principal is None:
        return _to_login(request)
    body = render_template("queue.html", _lang(request))
    return _page(request, principal, page="queue", title_key="queue_title", body=body,
                 csrf=_csrf_of(request), scripts=("queue.js",))  # fmt: skip


@web_router.get("/web/flags/{flag_id}", response_class=HTMLResponse)
def flag_page(request: Request, services: Services, flag_id: str) -> Response:
    principal = _page_principal(request, services)
    if principal is None:
        return _to_login(request)
    try:
        with services.db.read() as session:
            get_visible_flag(session, principal, flag_id)
    except ApiError:
        return _error_page(request, principal, 404)
    body = render_template("flag.html", _lang(request))
    return _page(request, principal, page="flag", title_key="flag_title", body=body,
                 csrf=_csrf_of(request), config={"flag_id": flag_id},
                 scripts=("vendor/cytoscape/cytoscape.min.js", "graph.js", "flag.js"))  # fmt: skip


@web_router.get("/web/entities/{entity_id}", response_class=HTMLResponse)
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
    body = render_template("entity.html", _lang(request))
    return _page(request, principal, page="entity", title_key="entity_title", body=body,
                 csrf=_csrf_of(request), config={"entity_id": entity_id, "label": rec["label"]},
                 scripts=("vendor/cytoscape/cytoscape.min.js", "graph.js", "entity.js"))  # fmt: skip


@web_router.get("/web/regions", response_class=HTMLResponse)
def dashboard_page(request: Request, services: Services) -> Response:
    principal = _page_principal(request, services)
    if principal is None:
        return _to_login(request)
    if not principal.policy.sees_flag_family("debt"):
        return _error_page(request, principal, 403)
    body = render_template("dashboard.html", _lang(request))
    return _page(request, principal, page="dashboard", title_key="dashboard_title", body=body,
                 csrf=_csrf_of(request), scripts=("charts.js", "dashboard.js"))  # fmt: skip


@web_router.get("/web/static/{path:path}")
def static_file(path: str) -> Response:
    target = (_STATIC / path).resolve()
    if not target.is_relative_to(_STATIC) or not target.is_file():
        raise ApiError(404, "not_found", "no such file")
    response = FileResponse(target)
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# -- JSON reads the API does not offer ------------------------------------------------------------


class QueueFilters:
    """The queue's filters, from the query string (shared by the list, report and export)."""

    def __init__(
        self,
        detector: Annotated[str | None, Query(max_length=64)] = None,
        family: Annotated[str | None, Query(max_length=32)] = None,
        region: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
        severity: Severity | None = None,
        status: FlagStatus | None = None,
        since: dt.date | None = None,
        until: dt.date | None = None,
        sort: Sort = "score_desc",
    ) -> None:
        self.detector, self.family, self.region = detector, family, region
        self.severity, self.status = severity, status
        self.since, self.until, self.sort = since, until, sort

    def as_dict(self) -> dict[str, str]:
        return {
            k: str(v)
            for k, v in vars(self).items()
            if v is not None and not (k == "sort" and v == "score_desc")
        }

    def query(self, user: Principal, skip: str | None = None) -> Select[Any]:
        """Visible flags matching every filter but ``skip`` (for that filter's counts)."""
        q = visible_flags(user)
        if self.detector and skip != "detector":
            q = q.where(FlagRecord.detector == self.detector)
        if self.family and skip != "family":
            q = q.where(FlagRecord.family == self.family)
        if self.region and skip != "region":
            require_within(user, self.region, "region")
            q = q.where(RegionScope([self.region]).sql_clause(FlagRecord.region_code))
        if self.severity and skip != "severity":
            q = q.where(FlagRecord.severity == self.severity)
        if self.status and skip != "status":
            q = q.where(FlagState.status == self.status)
        if self.since:
            start = dt.datetime.combine(self.since, dt.time(), dt.UTC)
            q = q.where(FlagRecord.imported_at >= start)
        if self.until:
            end = dt.datetime.combine(self.until + dt.timedelta(days=1), dt.time(), dt.UTC)
            q = q.where(FlagRecord.imported_at < end)
        return q

    def ordered(self, user: Principal) -> Select[Any]:
        score = FlagRecord.score.asc() if self.sort == "score_asc" else FlagRecord.score.desc()
        return self.query(user).order_by(score, FlagRecord.flag_id)


Filters = Annotated[QueueFilters, Depends()]
_FACETS = {
    "detector": FlagRecord.detector,
    "family": FlagRecord.family,
    "region": FlagRecord.region_code,
    "severity": FlagRecord.severity,
    "status": FlagState.status,
}


def _region_names(graph: ScopedGraph, codes: list[str]) -> dict[str, str]:
    out = {}
    for code in codes:
        rec = graph.store.get_entity(code, "Region")
        name = rec["properties"].get("name") if rec else None
        if isinstance(name, str):
            out[code] = name
    return out


def _public(graph: ScopedGraph, flag: FlagRecord, state: FlagState, detail: bool = False) -> dict:
    return flag_public(flag, state, graph.masker, person_names(graph, flag), detail=detail)


@web_router.get("/web/api/flags")
def queue_data(
    request: Request,
    services: Services,
    user: CurrentUser,
    graph: Graph,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=200)] = 25,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    """The queue page's data: a page of flags, the total, and counts per filter value (each
    counted under the other filters)."""
    facets: dict[str, dict[str, int]] = {}
    with services.db.read() as session:
        query = filters.query(user)
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.execute(filters.ordered(user).limit(limit).offset(offset)).all()
        for name, column in _FACETS.items():
            counted = filters.query(user, skip=name).with_only_columns(column, func.count())
            facets[name] = {
                str(value): n for value, n in session.execute(counted.group_by(column)).all()
            }
    codes = sorted({*facets["region"], *user.scope.codes} - {"None", "000000"})
    items = [FlagPublic(**_public(graph, f, s)) for f, s in rows]
    audit_revealed(services, request, user, graph.masker)
    return {
        "items": items, "total": total, "limit": limit, "offset": offset, "facets": facets,
        "region_names": _region_names(graph, codes),
    }  # fmt: skip


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@web_router.get("/web/api/entities/{entity_id}/flags")
def entity_flags(
    request: Request,
    services: Services,
    user: CurrentUser,
    graph: Graph,
    entity_id: str,
    label: str | None = None,
) -> dict[str, Any]:
    """Visible flags whose subject or entities include the entity (at most 200, by score)."""
    if label is not None and label not in graph.store.schema.nodes:
        raise ApiError(400, "unknown_label", f"unknown node label {label!r}")
    rec = graph.entity(entity_id, label)
    if rec is None:
        raise ApiError(404, "not_found", "entity not found")
    needle = f"%{_escape_like(json.dumps(str(rec['id'])))}%"
    query = visible_flags(user).where(
        (FlagRecord.subject_id == str(rec["id"]))
        | cast(FlagRecord.entities, Text).like(needle, escape="\\")
    )
    with services.db.read() as session:
        rows = session.execute(
            query.order_by(FlagRecord.score.desc(), FlagRecord.flag_id).limit(200)
        ).all()
    items = [FlagPublic(**_public(graph, f, s)) for f, s in rows]
    audit_revealed(services, request, user, graph.masker)
    return {"items": items}


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _dashboard_counties(
    graph: ScopedGraph, scope: RegionScope, flags: list[dict]
) -> list[dict[str, Any]]:
    flagged: dict[str, dict[str, Any]] = {}
    for f in flags:
        ev = f["evidence"]
        region = ev.get("region") or {}
        code = str(region.get("region_code") or f["subject_id"])
        flagged[code] = {
            "code": code, "name": region.get("name"), "level": region.get("level"),
            "ratio": _num(ev.get("debt_ratio")), "grade": ev.get("grade"),
            "statutory": _num(ev.get("statutory_debt")), "hidden": _num(ev.get("hidden_debt")),
            "resources": _num(ev.get("comprehensive_resources")), "flag_id": f["flag_id"],
            "lines": ev.get("lines") or {},
        }  # fmt: skip
    regions = graph.store.nodes("Region", ["id", "name", "level"])
    counties = []
    for row in regions.to_dict("records") if len(regions) else []:
        code = str(row["id"])
        if row.get("level") != "county" or not scope.covers(code):
            continue
        counties.append(
            flagged.pop(code, None) or {"code": code, "name": row.get("name"), "level": "county",
                                        "ratio": None, "grade": None, "flag_id": None}
        )  # fmt: skip
    counties.extend(v for v in flagged.values() if v.get("level") == "county")
    counties.sort(key=lambda c: (-(c.get("ratio") or 0.0), c["code"]))
    return counties


@web_router.get("/web/api/dashboard")
def dashboard_data(
    request: Request,
    services: Services,
    user: CurrentUser,
    graph: Graph,
    region: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
) -> dict[str, Any]:
    """Debt ratio by county, guarantee circles, most systemic firms and flag counts by county,
    from the visible flags of the debt, guarantee and ownership families."""
    if not user.policy.sees_flag_family("debt"):
        raise ApiError(403, "forbidden", "the regional dashboard is for debt analysts")
    scope = user.scope
    query = visible_flags(user).where(FlagRecord.family.in_(("debt", "guarantee", "ownership")))
    if region:
        require_within(user, region, "region")
        scope = RegionScope([region])
        query = query.where(scope.sql_clause(FlagRecord.region_code))
    with services.db.read() as session:
        counted = query.with_only_columns(FlagRecord.region_code, FlagRecord.family, func.count())
        counts = session.execute(counted.group_by(FlagRecord.region_code, FlagRecord.family)).all()
        rows = session.execute(
            query.where(FlagRecord.detector.in_(_DASHBOARD_DETECTORS)).order_by(
                FlagRecord.score.desc(), FlagRecord.flag_id
            )
        ).all()
    by_detector: dict[str, list[dict]] = {d: [] for d in _DASHBOARD_DETECTORS}
    for f, s in rows:
        by_detector[f.detector].append(_public(graph, f, s, detail=True))
    circles = []
    for f in by_detector["guarantee.circle"]:
        ev = f["evidence"]
        central = (ev.get("central_firms") or [{}])[0]
        circles.append({
            "flag_id": f["flag_id"], "region_code": f["region_code"], "circle": f["subject_id"],
            "size": ev.get("size"), "guarantee_count": ev.get("guarantee_count"),
            "total_guaranteed": _num(ev.get("total_guaranteed")),
            "leverage": _num(ev.get("leverage")), "central_firm": central.get("name"),
        })  # fmt: skip
    systemic = []
    for f in by_detector["guarantee.contagion"]:
        ev = f["evidence"]
        firm = graph.entity(f["subject_id"])
        systemic.append({
            "flag_id": f["flag_id"], "region_code": f["region_code"], "id": f["subject_id"],
            "name": (firm or {}).get("properties", {}).get("name"),
            "debtrank": _num(ev.get("debtrank")), "firms_hit": ev.get("firms_hit"),
            "expected_loss": _num((ev.get("stress") or {}).get("expected_loss_total")),
        })  # fmt: skip
    systemic.sort(key=lambda r: -(r["debtrank"] or 0.0))
    counties = _dashboard_counties(graph, scope, by_detector["debt.region_risk"])
    by_county: dict[str, dict[str, int]] = {}
    for code, family, n in counts:
        by_county.setdefault(str(code), {})[family] = n
    codes = sorted({*by_county, *user.scope.codes} - {"None", "000000"})
    audit_revealed(services, request, user, graph.masker)
    return {
        "counties": counties, "circles": circles, "systemic": systemic[:15],
        "flag_counts": by_county, "region_names": _region_names(graph, codes),
    }  # fmt: skip


# -- downloads ----------------------------------------------------------------------------------


def _export_rows(
    services: AppServices, user: Principal, graph: ScopedGraph, filters: QueueFilters
) -> tuple[list[dict[str, Any]], list[ReviewDecision]]:
    """The filtered flags (masked for the user) and their decisions, oldest first."""
    with services.db.read() as session:
        rows = session.execute(filters.ordered(user).limit(EXPORT_LIMIT)).all()
        ids = [f.flag_id for f, _ in rows]
        reviews: list[ReviewDecision] = []
        for start in range(0, len(ids), 500):
            reviews.extend(
                session.scalars(
                    select(ReviewDecision)
                    .where(ReviewDecision.flag_id.in_(ids[start : start + 500]))
                    .order_by(ReviewDecision.id)
                )
            )
        return [_public(graph, f, s, detail=True) for f, s in rows], reviews


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M")


@web_router.get("/web/report.html")
def report_download(
    request: Request, services: Services, graph: Graph, filters: Filters
) -> Response:
    """The queue's current filter as a self-contained, printable HTML report."""
    user = graph.principal
    rows, reviews = _export_rows(services, user, graph, filters)
    lang = _lang(request)
    names = _region_names(graph, sorted({str(r["region_code"]) for r in rows if r["region_code"]}))
    document = render_queue_report(
        rows, lang=lang, filters=filters.as_dict(), user_name=user.name, region_names=names,
        detector_titles=_detector_titles(), limit=EXPORT_LIMIT, reviews=reviews,
    )  # fmt: skip
    audit(services, request, user, "web_report", {"filters": filters.as_dict(), "flags": len(rows)})
    audit_revealed(services, request, user, graph.masker)
    response = HTMLResponse(document)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="riskgraph-report-{_stamp()}.html"'
    )
    return _secured(response)


@web_router.get("/web/export.xlsx")
def xlsx_download(request: Request, services: Services, graph: Graph, filters: Filters) -> Response:
    """The queue's current filter as an Excel workbook (flags, evidence rows, decisions)."""
    user = graph.principal
    rows, reviews = _export_rows(services, user, graph, filters)
    lang = _lang(request)
    data = flags_workbook_bytes(
        rows, lang=lang, detector_titles=_detector_titles(), reviews=reviews
    )
    audit(services, request, user, "web_export", {"filters": filters.as_dict(), "flags": len(rows)})
    audit_revealed(services, request, user, graph.masker)
    response = Response(
        data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="riskgraph-flags-{_stamp()}.xlsx"'
    )
    return _secured(response)
