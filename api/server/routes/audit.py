"""The audit trail (admin): list it, verify its hash chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from api.server.deps import AdminUser, Services
from api.server.errors import error_responses
from api.server.models import AuditEntryPublic, AuditPage, AuditVerifyPublic
from api.server.state.audit import verify_chain
from api.server.state.models import AuditEntry

__all__ = ["router"]

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get(
    "",
    summary="Audit trail",
    response_model=AuditPage,
    responses=error_responses(401, 403, 422),
)
def list_audit(
    services: Services,
    user: AdminUser,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[str | None, Query(max_length=32, description="ISO time, UTC.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=100_000_000)] = 0,
) -> AuditPage:
    """Newest first. Rows are exactly as stored and hashed."""
    query = select(AuditEntry)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action == action)
    if since:
        query = query.where(AuditEntry.at >= since)
    with services.db.read() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(query.order_by(AuditEntry.seq.desc()).limit(limit).offset(offset))
        items = [AuditEntryPublic.model_validate(r) for r in rows]
    return AuditPage(items=items, total=total, limit=limit, offset=offset)


@router.get(
    "/verify",
    summary="Verify the audit hash chain",
    response_model=AuditVerifyPublic,
    responses=error_responses(401, 403),
)
def verify_audit(services: Services, user: AdminUser) -> AuditVerifyPublic:
    """Recompute every row's hash; report the first row that does not fit."""
    with services.db.read() as session:
        report = verify_chain(session, seal=services.db.seal)
    return AuditVerifyPublic(
        ok=report.ok, rows=report.rows, first_bad_seq=report.first_bad_seq, reason=report.reason
    )
