"""Dependencies shared by the routers: the app's services, the current user, the scoped graph,
and the audit helpers (every review, every unmasked read of personal data, every admin action)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import Principal, authenticate
from api.errors import ApiError, request_id_of
from api.graph_access import GraphAccess, ScopedGraph
from api.masking import Masker
from api.scan_jobs import ScanRunner
from api.state.audit import AuditWriter
from api.state.db import StateDB
from api.web.session import session_principal

__all__ = [
    "AdminUser",
    "AppServices",
    "CurrentUser",
    "CypherUser",
    "Graph",
    "Services",
    "audit",
    "audit_revealed",
    "get_services",
]

#: How many revealed items one audit row lists (the count is always exact).
AUDIT_ITEMS = 200


@dataclass
class AppServices:
    """What the routers need, created once by ``api.app.create_app``."""

    graph: GraphAccess
    db: StateDB
    workspace: Path
    datasets_root: Path
    scans: ScanRunner
    version: str
    #: audit rows outside another transaction, group-committed (see AuditWriter)
    audit_log: AuditWriter


def get_services(request: Request) -> AppServices:
    return request.app.state.services


Services = Annotated[AppServices, Depends(get_services)]

_bearer = HTTPBearer(auto_error=False, description="An API token printed by `riskgraph users add`.")


def current_principal(
    request: Request,
    services: Services,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The user behind the bearer token, else behind the browser's session cookie (a
    state-changing request must then carry the session's ``X-CSRF-Token``), else 401."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        principal = session_principal(request, services.db)
        if principal is None:
            raise ApiError(401, "unauthorized", "missing bearer token or session", challenge)
        request.state.principal = principal
        return principal
    with services.db.read() as session:
        principal = authenticate(session, credentials.credentials)
    if principal is None:
        raise ApiError(401, "unauthorized", "invalid or disabled token", challenge)
    request.state.principal = principal
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]


def _require_admin(user: CurrentUser) -> Principal:
    if not user.policy.admin:
        raise ApiError(403, "forbidden", "this needs the admin role")
    return user


def _require_cypher(user: CurrentUser) -> Principal:
    if not user.policy.cypher:
        raise ApiError(403, "forbidden", "Cypher queries need the investigator or admin role")
    return user


AdminUser = Annotated[Principal, Depends(_require_admin)]
CypherUser = Annotated[Principal, Depends(_require_cypher)]


def _scoped_graph(services: Services, user: CurrentUser) -> Iterator[ScopedGraph]:
    """The graph as this user may see it, read-locked against a running scan."""
    with services.graph.lock.reading():
        yield ScopedGraph(services.graph, user)


Graph = Annotated[ScopedGraph, Depends(_scoped_graph)]


def audit(
    services: AppServices,
    request: Request,
    user: Principal,
    action: str,
    detail: dict[str, Any] | None = None,
    resource: str | None = None,
) -> None:
    """Append one audit row; return once it is committed (together with concurrent ones)."""
    services.audit_log.append(
        actor=user.name, role=user.role, action=action,
        resource=resource or f"{request.method} {request.url.path}",
        detail=detail, request_id=request_id_of(request),
    )  # fmt: skip


def audit_revealed(
    services: AppServices, request: Request, user: Principal, masker: Masker
) -> None:
    """Audit the personal data a cleared user was just shown unmasked (if any)."""
    if not masker.revealed:
        return
    items = list(dict.fromkeys(masker.revealed))
    audit(
        services, request, user, "read_personal",
        {"count": len(items), "items": items[:AUDIT_ITEMS], "query": str(request.url.query)},
    )  # fmt: skip


def require_within(user: Principal, region_code: str | None, what: str) -> None:
    """403 unless the whole of ``region_code`` lies inside the user's scope."""
    if region_code and not user.scope.contains_scope(region_code):
        raise ApiError(403, "forbidden", f"{what} {region_code} is outside your region scope")
