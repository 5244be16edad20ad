"""Scan jobs (admin): load a dataset directory, run the detectors, import the flags."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import func, select

from api.server.deps import AdminUser, Services
from api.server.errors import ApiError, error_responses, request_id_of
from api.server.models import ScanCreate, ScanPublic
from api.server.scan_jobs import process_identity, reap_abandoned_scans
from api.server.state.audit import append_audit, lock_chain
from api.server.state.models import Scan, utcnow

__all__ = ["router"]

router = APIRouter(prefix="/scans", tags=["scans"])


@router.post(
    "",
    summary="Start a scan",
    status_code=202,
    response_model=ScanPublic,
    responses=error_responses(400, 401, 403, 409, 422),
)
def start_scan(
    request: Request, services: Services, user: AdminUser, body: ScanCreate
) -> ScanPublic:
    """Queue a background job: ``api.scan.pipeline.scan_dataset`` on ``dataset_dir`` (a directory
    under the server's datasets root) into the app's store, then import the flags. Poll
    ``GET /scans/{id}``. One scan runs at a time (409 while another is queued or running)."""
    root = services.datasets_root.resolve()
    dataset = (root / body.dataset_dir).resolve()
    if not dataset.is_relative_to(root):
        raise ApiError(400, "outside_datasets_root", "dataset_dir must lie under the datasets root")
    if not dataset.is_dir():
        raise ApiError(400, "missing_dataset", f"{body.dataset_dir}: no such dataset directory")
    with services.db.write() as session:
        # check-then-insert under one lock: on PostgreSQL two requests at once would otherwise
        # both see no active scan and both start one
        lock_chain(session)
        reap_abandoned_scans(session, services.scans.stale_after)
        busy = session.scalar(
            select(func.count()).select_from(Scan).where(Scan.status.in_(("queued", "running")))
        )
        if busy:
            raise ApiError(409, "conflict", "a scan is already queued or running")
        host, pid, started = process_identity()  # this process runs the job
        scan = Scan(
            source="api", status="queued", dataset_dir=str(dataset), out_dir="",
            options={"only": body.only, "as_of": body.as_of.isoformat() if body.as_of else None},
            requested_by=user.name, created_at=utcnow(), owner_host=host, owner_pid=pid,
            owner_started=started,
        )  # fmt: skip
        session.add(scan)
        session.flush()
        scan.out_dir = str((services.workspace / "scans" / str(scan.id)).resolve())
        append_audit(
            session, actor=user.name, role=user.role, action="scan_start",
            resource=f"scan {scan.id}", request_id=request_id_of(request),
            detail={"dataset_dir": str(dataset), "only": body.only},
        )  # fmt: skip
        out = ScanPublic.model_validate(scan)
    services.scans.submit(out.id)
    return out


@router.get(
    "",
    summary="List scans",
    response_model=list[ScanPublic],
    responses=error_responses(401, 403, 422),
)
def list_scans(
    services: Services, user: AdminUser, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[ScanPublic]:
    services.scans.reap()
    with services.db.read() as session:
        scans = session.scalars(select(Scan).order_by(Scan.id.desc()).limit(limit)).all()
        return [ScanPublic.model_validate(s) for s in scans]


@router.get(
    "/{scan_id}",
    summary="Status of a scan",
    response_model=ScanPublic,
    responses=error_responses(401, 403, 404, 422),
)
def get_scan(services: Services, user: AdminUser, scan_id: int) -> ScanPublic:
    """A scan's status; one abandoned by a server process that died reads ``failed``."""
    services.scans.reap()
    with services.db.read() as session:
        scan = session.get(Scan, scan_id)
        if scan is None:
            raise ApiError(404, "not_found", f"scan {scan_id} not found")
        return ScanPublic.model_validate(scan)
