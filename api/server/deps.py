"""Dependencies shared by the routers: the app's services, the current user, the scoped graph,
and the audit helpers (every review, every unmasked read of personal data, every admin action)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.access.masking import Masker
from api.server.auth.login_limits import LoginLimits, login_keys
from api.server.auth.principals import Principal, PrincipalCache
from api.server.auth.sessions import session_principal
from api.server.errors import ApiError, request_id_of
from api.server.graph.access import GraphAccess
from api.server.graph.scoped import ScopedGraph
from api.server.scan_jobs import ScanRunner
from api.server.state.audit import AuditWriter
from api.server.state.db import StateDB

__all__ = [
    "AdminUser",
    "AppServices",
    "CurrentUser",
    "CypherUser",
    "Graph",
    "Services",
    "audit",
    "audit_revealed",
    "audit_revealed_async",
    "get_services",
]

#: How many revealed items one audit row lists (the count is always exact).
AUDIT_ITEMS = 200


@dataclass
class AppServices:
    """What the routers need, created once by ``api.server.app.create_app``."""

    graph: GraphAccess
    db: StateDB
    workspace: Path
    datasets_root: Path
    scans: ScanRunner
    version: str
    #: audit rows outside another transaction, group-committed (see AuditWriter)
    audit_log: AuditWriter
    #: bearer tokens recently authenticated (RISKGRAPH_AUTH_CACHE_SECONDS, default 5; 0 = off)
    principals: PrincipalCache
    #: which worker process this is (1..N, ``riskgraph serve --workers N``)
    worker: int = 1
    #: failed sign-ins per user name and client address (``api.server.auth.login_limits``)
    login_limits: LoginLimits = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.login_limits is None:
            self.login_limits = LoginLimits(self.db)


# The dependencies below are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in
# the thread pool, a hop per dependency per request that cost more CPU than a 2-hop neighbourhood
# under load. They run on the event loop and hand anything that can block (a state-DB lookup,
# waiting for a scan to release the graph) to a worker thread.


async def get_services(request: Request) -> AppServices:
    return request.app.state.services


Services = Annotated[AppServices, Depends(get_services)]

_bearer = HTTPBearer(auto_error=False, description="An API token printed by `riskgraph users add`.")


async def current_principal(
    request: Request,
    services: Services,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The user behind the bearer token, else behind the browser's session cookie (a
    state-changing request must then carry the session's ``X-CSRF-Token``), else 401."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        principal = await run_in_threadpool(session_principal, request, services.db)
        if principal is None:
            raise ApiError(401, "unauthorized", "missing bearer token or session", challenge)
        request.state.principal = principal
        return principal
    token = credentials.credentials
    principal = services.principals.cached(token)
    if principal is None:
        client = request.client.host if request.client else ""
        principal = await run_in_threadpool(_sign_in_token, services, token, client)
    if principal is None:
        raise ApiError(401, "unauthorized", "invalid, disabled or expired token", challenge)
    request.state.principal = principal
    return principal


def _sign_in_token(services: AppServices, token: str, client: str) -> Principal | None:
    """A token the cache does not vouch for: refused with 429 while its user name or client
    address has too many failed sign-ins (``api.server.auth.login_limits``), else checked
    against the state DB, the outcome counted."""
    limits = services.login_limits
    keys = login_keys(token, client)
    wait, counted = limits.check(keys)
    if wait is not None:
        raise ApiError(
            429, "too_many_requests", "too many failed sign-ins; try again later",
            {"Retry-After": str(wait)},
        )  # fmt: skip
    principal = services.principals.authenticate(services.db, token)
    if principal is None:
        limits.failed(keys)
    elif counted:
        limits.succeeded(counted)
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]


async def _require_admin(user: CurrentUser) -> Principal:
    if not user.policy.admin:
        raise ApiError(403, "forbidden", "this needs the admin role")
    return user


#: What anyone who may not run Cypher is told, whatever they asked (see :func:`_require_cypher`).
CYPHER_REFUSED = "Cypher queries are not available to you"


async def _require_cypher(request: Request, services: Services, user: CurrentUser) -> Principal:
    """Cypher is for investigators and admins with a national scope only.

    Neo4j Community has no per-user security, and a query's predicates can read what its
    results do not return (``WHERE EXISTS { MATCH (p:Person {id: $x}) WHERE p.name STARTS WITH
    $c }`` answers one row or none): filtering results cannot make Cypher safe for a regional
    scope, and rewriting arbitrary Cypher into a scoped view cannot be proven complete. So
    every other user gets the same 403, whatever the query, and the refusal is audited.
    """
    if not (user.policy.cypher and user.scope.national):
        request.state.cypher_audited = True
        body = await request.body()
        await services.audit_log.append_async(
            **_audit_row(request, user, "cypher_refused", {
                "outcome": "refused", "query": body[:4000].decode("utf-8", "replace"),
            }, None)
        )  # fmt: skip
        raise ApiError(403, "forbidden", CYPHER_REFUSED)
    return user


AdminUser = Annotated[Principal, Depends(_require_admin)]
CypherUser = Annotated[Principal, Depends(_require_cypher)]


async def _scoped_graph(services: Services, user: CurrentUser) -> AsyncIterator[ScopedGraph]:
    """The graph as this user may see it, read-locked against a running scan."""
    access = services.graph
    if not access.lock.acquire_read(blocking=False):
        await run_in_threadpool(access.lock.acquire_read)
    try:
        if access.ready:
            graph = ScopedGraph(access, user)
        else:  # the startup build is still running: wait for it off the event loop
            graph = await run_in_threadpool(ScopedGraph, access, user)
        yield graph
    finally:
        access.lock.release_read()


Graph = Annotated[ScopedGraph, Depends(_scoped_graph)]


def _audit_row(
    request: Request,
    user: Principal,
    action: str,
    detail: dict[str, Any] | None,
    resource: str | None,
) -> dict[str, Any]:
    return {
        "actor": user.name, "role": user.role, "action": action,
        "resource": resource or f"{request.method} {request.url.path}",
        "detail": detail, "request_id": request_id_of(request),
    }  # fmt: skip


def audit(
    services: AppServices,
    request: Request,
    user: Principal,
    action: str,
    detail: dict[str, Any] | None = None,
    resource: str | None = None,
) -> None:
    """Append one audit row; return once it is committed (together with concurrent ones)."""
    services.audit_log.append(**_audit_row(request, user, action, detail, resource))


def _revealed(request: Request, masker: Masker) -> dict[str, Any] | None:
    if not masker.revealed:
        return None
    items = list(dict.fromkeys(masker.revealed))
    return {"count": len(items), "items": items[:AUDIT_ITEMS], "query": str(request.url.query)}


def audit_revealed(
    services: AppServices, request: Request, user: Principal, masker: Masker
) -> None:
    """Audit the personal data a cleared user was just shown unmasked (if any)."""
    detail = _revealed(request, masker)
    if detail is not None:
        audit(services, request, user, "read_personal", detail)


async def audit_revealed_async(
    services: AppServices, request: Request, user: Principal, masker: Masker
) -> None:
    """:func:`audit_revealed` for ``async`` endpoints: the commit is awaited, no thread held."""
    detail = _revealed(request, masker)
    if detail is not None:
        row = _audit_row(request, user, "read_personal", detail, None)
        await services.audit_log.append_async(**row)


def require_within(user: Principal, region_code: str | None, what: str) -> None:
    """403 unless the whole of ``region_code`` lies inside the user's scope."""
    if region_code and not user.scope.contains_scope(region_code):
        raise ApiError(403, "forbidden", f"{what} {region_code} is outside your region scope")
