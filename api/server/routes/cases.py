"""Cases: a group of flags under one title, assigned to someone, with a status.

A case belongs to a region (default: your first region scope); it is visible to users whose
scope contains that whole region. Its flags must be visible to whoever adds them and lie inside
the case's region; a viewer sees only the case's flags they may see themselves.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.access.roles import ROLES
from api.access.scopes import NATIONAL, RegionScope
from api.server.auth.principals import Principal, principal_of
from api.server.deps import CurrentUser, Services, require_within
from api.server.errors import ApiError, error_responses, request_id_of
from api.server.flag_views import visible_flags
from api.server.models import (
    CaseCommentCreate,
    CaseCommentPublic,
    CaseCreate,
    CasePage,
    CasePublic,
    CaseStatus,
    CaseUpdate,
)
from api.server.state.audit import append_audit
from api.server.state.models import Case, CaseComment, CaseFlag, FlagRecord, User, utcnow

__all__ = ["router"]

router = APIRouter(prefix="/cases", tags=["cases"])
#: A case id as the path gives it (the state DB's integers are 64-bit).
CaseId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The case's id.")]


def visible_cases(user: Principal):
    query = select(Case)
    return query if user.scope.national else query.where(user.scope.sql_clause(Case.region_code))


def _get_case(session: Session, user: Principal, case_id: int) -> Case:
    case = session.execute(visible_cases(user).where(Case.id == case_id)).scalar_one_or_none()
    if case is None:
        raise ApiError(404, "not_found", f"case {case_id} not found")
    return case


def _names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


def _public(session: Session, user: Principal, cases: list[Case]) -> list[CasePublic]:
    names = _names(
        session, {c.created_by for c in cases} | {c.assignee_id for c in cases if c.assignee_id}
    )
    all_flags = {cf.flag_id for c in cases for cf in c.flags}
    visible: set[str] = set()
    if all_flags:
        visible = set(
            session.scalars(
                visible_flags(user)
                .where(FlagRecord.flag_id.in_(all_flags))
                .with_only_columns(FlagRecord.flag_id)
            )
        )
    return [
        CasePublic(
            id=c.id, title=c.title, description=c.description, status=c.status,
            region_code=c.region_code,
            assignee=names.get(c.assignee_id) if c.assignee_id else None,
            created_by=names.get(c.created_by, "?"), created_at=c.created_at,
            updated_at=c.updated_at, version=c.version,
            flag_ids=[cf.flag_id for cf in c.flags if cf.flag_id in visible],
        )
        for c in cases
    ]  # fmt: skip


def _assignee(session: Session, name: str, region_code: str) -> int:
    """The id of the user a case may be assigned to. An unknown, disabled or expired name and
    a user who cannot see the region get the same answer: the error must not tell which user
    names exist."""
    target = principal_of(session.scalars(select(User).where(User.name == name)).one_or_none())
    if target is None or not target.scope.contains_scope(region_code):
        raise ApiError(
            400, "bad_assignee",
            f"the case cannot be assigned to {name!r}: no active user of that name sees region "
            f"{region_code}",
        )  # fmt: skip
    return target.user_id


def _check_flags(session: Session, user: Principal, flag_ids: list[str], region_code: str) -> None:
    if not flag_ids:
        return
    wanted = set(flag_ids)
    found = dict(
        session.execute(
            visible_flags(user)
            .where(FlagRecord.flag_id.in_(wanted))
            .with_only_columns(FlagRecord.flag_id, FlagRecord.region_code)
        ).all()
    )
    missing = sorted(wanted - set(found))
    if missing:
        raise ApiError(404, "not_found", f"flag(s) not found: {', '.join(missing[:10])}")
    case_scope = RegionScope([region_code])
    outside = sorted(f for f, rc in found.items() if not case_scope.covers(rc))
    if outside:
        raise ApiError(
            400, "flag_out_of_case_region",
            f"flag(s) outside the case's region {region_code}: {', '.join(outside[:10])}",
        )  # fmt: skip


@router.post(
    "",
    summary="Open a case",
    status_code=201,
    response_model=CasePublic,
    responses=error_responses(400, 401, 403, 404, 422),
)
def create_case(
    request: Request, services: Services, user: CurrentUser, body: CaseCreate
) -> CasePublic:
    region = body.region_code or user.scope.codes[0]
    require_within(user, region, "region")
    with services.db.write() as session:
        _check_flags(session, user, body.flag_ids, region)
        now = utcnow()
        case = Case(
            title=body.title, description=body.description, status="open", region_code=region,
            assignee_id=_assignee(session, body.assignee, region) if body.assignee else None,
            created_by=user.user_id, created_at=now, updated_at=now, version=1,
        )  # fmt: skip
        case.flags = [
            CaseFlag(flag_id=f, added_by=user.name, added_at=now)
            for f in dict.fromkeys(body.flag_ids)
        ]
        session.add(case)
        session.flush()
        append_audit(
            session, actor=user.name, role=user.role, action="case_create",
            resource=f"case {case.id}", request_id=request_id_of(request),
            detail={"title": body.title, "region_code": region, "flags": body.flag_ids},
        )  # fmt: skip
        return _public(session, user, [case])[0]


@router.get(
    "",
    summary="List cases",
    response_model=CasePage,
    responses=error_responses(401, 422),
)
def list_cases(
    services: Services,
    user: CurrentUser,
    status: CaseStatus | None = None,
    assignee: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> CasePage:
    query = visible_cases(user)
    if status:
        query = query.where(Case.status == status)
    if assignee:
        query = query.join(User, User.id == Case.assignee_id).where(User.name == assignee)
    with services.db.read() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        cases = list(
            session.scalars(
                query.order_by(Case.updated_at.desc(), Case.id.desc()).limit(limit).offset(offset)
            )
        )
        return CasePage(
            items=_public(session, user, cases), total=total, limit=limit, offset=offset
        )


@router.get(
    "/{case_id}",
    summary="One case",
    response_model=CasePublic,
    responses=error_responses(401, 404, 422),
)
def get_case(services: Services, user: CurrentUser, case_id: CaseId) -> CasePublic:
    with services.db.read() as session:
        return _public(session, user, [_get_case(session, user, case_id)])[0]


@router.patch(
    "/{case_id}",
    summary="Update a case",
    response_model=CasePublic,
    responses=error_responses(400, 401, 404, 409, 422),
)
def update_case(
    request: Request, services: Services, user: CurrentUser, case_id: CaseId, body: CaseUpdate
) -> CasePublic:
    """Change title, description, status or assignee, add or remove flags. Send the
    ``version`` you read to be refused (409) if someone changed the case meanwhile."""
    with services.db.write() as session:
        case = _get_case(session, user, case_id)
        if body.version is not None and body.version != case.version:
            raise ApiError(
                409, "conflict", f"case {case_id} is at version {case.version}, not {body.version}"
            )
        changes = body.model_dump(exclude_unset=True, exclude={"version"})
        for field in ("title", "description", "status"):
            if changes.get(field) is not None:
                setattr(case, field, changes[field])
        if "assignee" in changes:
            case.assignee_id = (
                _assignee(session, body.assignee, case.region_code) if body.assignee else None
            )
        _check_flags(session, user, body.add_flags + body.remove_flags, case.region_code)
        now = utcnow()
        have = {cf.flag_id for cf in case.flags}
        for f in dict.fromkeys(body.add_flags):
            if f not in have:
                case.flags.append(CaseFlag(flag_id=f, added_by=user.name, added_at=now))
        drop = set(body.remove_flags)
        case.flags = [cf for cf in case.flags if cf.flag_id not in drop]
        case.version += 1
        case.updated_at = now
        session.flush()
        append_audit(
            session, actor=user.name, role=user.role, action="case_update",
            resource=f"case {case_id}", request_id=request_id_of(request), detail=changes,
        )  # fmt: skip
        return _public(session, user, [case])[0]


@router.delete(
    "/{case_id}",
    summary="Delete a case",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 403, 404, 422),
)
def delete_case(
    request: Request, services: Services, user: CurrentUser, case_id: CaseId
) -> Response:
    """Only the case's creator or an admin may delete it (its flags and reviews stay)."""
    with services.db.write() as session:
        case = _get_case(session, user, case_id)
        if case.created_by != user.user_id and not user.policy.admin:
            raise ApiError(403, "forbidden", "only the creator or an admin may delete a case")
        session.delete(case)
        append_audit(
            session, actor=user.name, role=user.role, action="case_delete",
            resource=f"case {case_id}", request_id=request_id_of(request),
            detail={"title": case.title},
        )  # fmt: skip
    return Response(status_code=204)


@router.get(
    "/{case_id}/comments",
    summary="A case's comment thread",
    response_model=list[CaseCommentPublic],
    responses=error_responses(401, 404, 422),
)
def list_comments(
    services: Services, user: CurrentUser, case_id: CaseId
) -> list[CaseCommentPublic]:
    """Every comment on the case, oldest first."""
    with services.db.read() as session:
        _get_case(session, user, case_id)
        rows = session.scalars(
            select(CaseComment).where(CaseComment.case_id == case_id).order_by(CaseComment.id)
        ).all()
        return [CaseCommentPublic.model_validate(r) for r in rows]


@router.post(
    "/{case_id}/comments",
    summary="Comment on a case",
    status_code=201,
    response_model=CaseCommentPublic,
    responses=error_responses(401, 404, 422),
)
def add_comment(
    request: Request,
    services: Services,
    user: CurrentUser,
    case_id: CaseId,
    body: CaseCommentCreate,
) -> CaseCommentPublic:
    """Add a comment to the case's thread (audited; comments are never edited)."""
    with services.db.write() as session:
        case = _get_case(session, user, case_id)
        now = utcnow()
        comment = CaseComment(case_id=case_id, author=user.name, body=body.body, created_at=now)
        session.add(comment)
        case.updated_at = now
        session.flush()
        append_audit(
            session, actor=user.name, role=user.role, action="case_comment",
            resource=f"case {case_id}", request_id=request_id_of(request),
            detail={"comment_id": comment.id, "chars": len(body.body)},
        )  # fmt: skip
        return CaseCommentPublic.model_validate(comment)


@router.get(
    "/{case_id}/assignees",
    summary="Who can be assigned a case",
    response_model=list[str],
    responses=error_responses(401, 404, 422),
)
def assignees(services: Services, user: CurrentUser, case_id: CaseId) -> list[str]:
    """Names of the active users whose scope covers the case's region."""
    with services.db.read() as session:
        case = _get_case(session, user, case_id)
        out = []
        for target in session.scalars(select(User).where(User.disabled.is_(False))):
            codes = (
                [NATIONAL] if ROLES[target.role].admin else [r.region_code for r in target.regions]
            )
            if codes and RegionScope(codes).contains_scope(case.region_code):
                out.append(target.name)
        return sorted(out)
