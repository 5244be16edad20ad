"""Which flags a user may see, and a flag as that user may see it.

A flag is visible when the role covers its family (``debt``/``guarantee``/``ownership`` for debt
analysts, ``aid`` for aid inspectors, all for investigators and admins) and its ``region_code``
is inside the user's scope (a flag without a region only with a national scope). A hidden flag
answers 404, exactly like a flag that does not exist.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Select, and_, case, select
from sqlalchemy.orm import Session, contains_eager

from api.access.masking import Masker
from api.server.auth.principals import Principal
from api.server.errors import ApiError
from api.server.graph.scoped import ScopedGraph
from api.server.state.models import FlagRecord, FlagState

__all__ = [
    "SEVERITY_RANK",
    "flag_order",
    "flag_public",
    "get_visible_flag",
    "org_ids",
    "person_names",
    "visible_flags",
]

#: Severity first everywhere (queue, lists, reports, exports): high, medium, low, then the
#: score within it (scores are per detector, in their own units: engine/scores.py).
SEVERITY_RANK = case(
    (FlagRecord.severity == "high", 0), (FlagRecord.severity == "medium", 1), else_=2
)


def flag_order(ascending: bool = False) -> tuple[Any, ...]:
    """ORDER BY severity (high first), then score (highest first unless ``ascending``), then id."""
    score = FlagRecord.score.asc() if ascending else FlagRecord.score.desc()
    return (SEVERITY_RANK, score, FlagRecord.flag_id)


_PERSON_ID = re.compile(r"^\d{17}[\dX]$")


def _visibility(user: Principal) -> Any:
    clauses = []
    families = user.policy.flag_families
    if families is not None:
        clauses.append(FlagRecord.family.in_(sorted(families)))
    if not user.scope.national:
        clauses.append(user.scope.sql_clause(FlagRecord.region_code))
    return and_(*clauses) if clauses else None


def visible_flags(user: Principal) -> Select[Any]:
    """``SELECT flags JOIN flag_states`` restricted to what ``user`` may see."""
    query = (
        select(FlagRecord, FlagState)
        .join(FlagState, FlagState.flag_id == FlagRecord.flag_id)
        # the state is already joined: fill FlagRecord.state from it, not from a second join
        .options(contains_eager(FlagRecord.state))
    )
    clause = _visibility(user)
    return query.where(clause) if clause is not None else query


def get_visible_flag(
    session: Session, user: Principal, flag_id: str
) -> tuple[FlagRecord, FlagState]:
    row = session.execute(visible_flags(user).where(FlagRecord.flag_id == flag_id)).first()
    if row is None:
        raise ApiError(404, "not_found", f"flag {flag_id} not found")
    return row[0], row[1]


def person_names(graph: ScopedGraph, flag: FlagRecord | Any) -> list[str]:
    """Names of the persons a flag involves (to mask them in its texts for uncleared roles)."""
    if graph.principal.policy.personal_clearance:
        return []
    names = []
    for eid in flag.entities or []:
        if isinstance(eid, str) and _PERSON_ID.match(eid):
            rec = graph.store.get_entity(eid, "Person")
            name = rec["properties"].get("name") if rec else None
            if isinstance(name, str):
                names.append(name)
    return names


def org_ids(graph: ScopedGraph, flag: FlagRecord | Any) -> list[str]:
    """Ids of the organisations among a flag's entities (never masked, even when a code looks
    like a resident ID); only looked up for roles that mask."""
    if graph.principal.policy.personal_clearance:
        return []
    out = []
    for eid in flag.entities or []:
        if isinstance(eid, str) and _PERSON_ID.match(eid):
            rec = graph.store.get_entity(eid)
            if rec is not None and rec["label"] in ("Enterprise", "GovUnit"):
                out.append(eid)
    return out


def flag_public(
    flag: FlagRecord | Any,
    state: FlagState | Any,
    masker: Masker,
    names: list[str],
    detail: bool = False,
    orgs: list[str] | tuple[str, ...] = (),
) -> dict[str, Any]:
    """The flag's fields for the API, personal parts masked (or recorded as revealed). ``flag``
    and ``state`` are the ORM objects, or one result row with their columns as attributes.
    ``names`` (:func:`person_names`) and ``orgs`` (:func:`org_ids`) tell the masker whom the
    flag involves."""
    personal: dict[str, Any] = {
        "subject_id": flag.subject_id,
        "entities": list(flag.entities or []),
        "explanation": dict(flag.explanation or {}),
    }
    if detail:
        personal["evidence"] = dict(flag.evidence or {})
    personal = masker.flag(personal, flag.flag_id, names, orgs)
    out = {
        "flag_id": flag.flag_id, "detector": flag.detector, "family": flag.family,
        "severity": flag.severity, "score": flag.score, "region_code": flag.region_code,
        "subject_type": flag.subject_type, "status": state.status,
        "review_count": state.review_count, "scan_id": flag.scan_id,
        "imported_at": flag.imported_at, "updated_at": state.updated_at, **personal,
    }  # fmt: skip
    if detail:
        out["settings_digest"] = flag.settings_digest
    return out
