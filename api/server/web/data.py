"""The few JSON reads the pages need that the API does not offer, under ``/web/api``: the queue
with its date filter and per-filter counts, the flags involving an entity, the dashboard's
figures. They reuse the API's visibility and masking (``api.server.flag_views``,
``api.server.graph``) and its audit of revealed personal data.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import Select, Text, cast, func, select

from api.access.scopes import RegionScope
from api.server.auth.principals import Principal
from api.server.deps import CurrentUser, Graph, Services, audit_revealed, require_within
from api.server.errors import ApiError
from api.server.flag_views import flag_order, scoped_flag, scoped_flags, visible_flags
from api.server.graph.scoped import ScopedGraph
from api.server.graph.search import search_visible
from api.server.models import FlagPublic, FlagStatus
from api.server.state.models import UNSUPPORTED, FlagRecord, FlagState

__all__ = [
    "Filters",
    "QueueFilters",
    "graph_region_names",
    "public_flag",
    "public_flags",
    "region_names",
    "router",
]

router = APIRouter(include_in_schema=False)

_DASHBOARD_DETECTORS = ("debt.region_risk", "guarantee.circle", "guarantee.contagion")
Severity = Literal["high", "medium", "low"]
Sort = Literal["score_desc", "score_asc"]


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
        elif not self.status and skip != "status":
            # the active queue: flags the data no longer supports only when asked for (their
            # count still shows among the status filter's values)
            q = q.where(FlagState.status != UNSUPPORTED)
        if self.since:
            start = dt.datetime.combine(self.since, dt.time(), dt.UTC)
            q = q.where(FlagRecord.imported_at >= start)
        if self.until:
            end = dt.datetime.combine(self.until + dt.timedelta(days=1), dt.time(), dt.UTC)
            q = q.where(FlagRecord.imported_at < end)
        return q

    def ordered(self, user: Principal) -> Select[Any]:
        """Severity first, then the score within it (the chosen direction)."""
        return self.query(user).order_by(*flag_order(self.sort == "score_asc"))


Filters = Annotated[QueueFilters, Depends()]
_FACETS = {
    "detector": FlagRecord.detector,
    "family": FlagRecord.family,
    "region": FlagRecord.region_code,
    "severity": FlagRecord.severity,
    "status": FlagState.status,
}


def region_names(graph: ScopedGraph, codes: list[str]) -> dict[str, str]:
    """The names of the Region nodes among ``codes`` (codes without a named Region left out)."""
    out = {}
    for code in codes:
        rec = graph.store.get_entity(code, "Region")
        name = rec["properties"].get("name") if rec else None
        if isinstance(name, str):
            out[code] = name
    return out


_REGION_NAMES: dict[int, tuple[object, dict[str, str]]] = {}


def graph_region_names(access: Any, scope: RegionScope) -> dict[str, str]:
    """The names of the Region nodes ``scope`` may see (its own and those above them: another
    county's code is as much out of scope as its households), by code; the graph's names are
    worked out once per graph served (``access`` is the app's
    :class:`~api.server.graph.access.GraphAccess`)."""
    store = access.store
    cached = _REGION_NAMES.get(id(access))
    if cached is not None and cached[0] is store:
        names = cached[1]
    else:
        frame = store.nodes("Region", ["id", "name"])
        names = {
            str(i): n for i, n in zip(frame["id"], frame["name"], strict=True) if isinstance(n, str)
        }
        _REGION_NAMES[id(access)] = (store, names)
    if scope.national:
        return names
    return {code: name for code, name in names.items() if scope.in_sight(code)}


def public_flag(
    graph: ScopedGraph, flag: FlagRecord, state: FlagState, detail: bool = False
) -> dict:
    """A flag as the API shows it to the graph's user: cut to their scope, masked for their
    role (``api.server.flag_views.FlagReader``; for many flags :func:`public_flags` looks
    their ids up in one go)."""
    return scoped_flag(graph, flag, state, detail=detail)


def public_flags(graph: ScopedGraph, rows: Any, detail: bool = False) -> list[dict]:
    """:func:`public_flag` of many ``(flag, state)`` rows."""
    return scoped_flags(graph, [(f, s) for f, s in rows], detail=detail)


@router.get("/web/api/flags")
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
    items = [FlagPublic(**f) for f in public_flags(graph, rows)]
    audit_revealed(services, request, user, graph.masker)
    return {
        "items": items, "total": total, "limit": limit, "offset": offset, "facets": facets,
        "region_names": region_names(graph, codes),
    }  # fmt: skip


#: What the pages' search box looks in: names, resident IDs, credit codes, household and
#: account numbers (a role sees only what it may: ``search_visible``).
SEARCH_LABELS = ("Person", "Enterprise", "GovUnit", "Household", "Account", "Region", "Project")
_CJK = re.compile(r"[\u3400-\u9fff]")


def _region_of(rec: dict[str, Any]) -> str | None:
    props = rec.get("properties") or {}
    code = props.get("region_code") or (rec["id"] if rec["label"] == "Region" else None)
    return str(code) if code else None


@router.get("/web/api/search")
def search(
    request: Request,
    services: Services,
    user: CurrentUser,
    graph: Graph,
    q: Annotated[str, Query(min_length=1, max_length=100)],
    limit: Annotated[int, Query(ge=1, le=50)] = 15,
) -> dict[str, Any]:
    """Search as you type: entities you may see whose id starts with ``q`` or whose name
    contains it. One character is enough when it is Chinese (a surname); otherwise two."""
    text = q.strip()
    if not text or (len(text) < 2 and not _CJK.search(text)):
        raise ApiError(422, "too_short", "type at least two characters (one Chinese character)")
    per_label: list[list[dict[str, Any]]] = []
    truncated = False
    for label in SEARCH_LABELS:
        if label not in graph.store.schema.nodes:
            continue
        hits, more = search_visible(graph, text, label, limit)
        per_label.append(hits)
        truncated = truncated or more
    # round robin over the labels: a household number's prefix is also a resident ID's
    found: list[dict[str, Any]] = []
    for rank in range(limit):
        found.extend(hits[rank] for hits in per_label if rank < len(hits))
    truncated = truncated or len(found) > limit
    found = found[:limit]
    items = []
    for rec in found:
        node = graph.public_node(rec)
        props = node.get("properties") or {}
        items.append({
            "id": node["id"], "label": node["label"],
            "name": props.get("name") if isinstance(props.get("name"), str) else None,
            "region": _region_of(rec),
        })  # fmt: skip
    audit_revealed(services, request, user, graph.masker)
    return {"items": items, "truncated": truncated}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@router.get("/web/api/entities/{entity_id}/flags")
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
        rows = session.execute(query.order_by(*flag_order()).limit(200)).all()
    items = [FlagPublic(**f) for f in public_flags(graph, rows)]
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


@router.get("/web/api/dashboard")
def dashboard_data(
    request: Request,
    services: Services,
    user: CurrentUser,
    graph: Graph,
    region: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
) -> dict[str, Any]:
    """Every role's dashboard over its own regions: flag counts by county and family, and by
    detector and severity; for roles that see debt flags also the debt ratio by county,
    guarantee circles and the most systemic firms."""
    scope = user.scope
    query = visible_flags(user).where(FlagState.status != UNSUPPORTED)
    if region:
        require_within(user, region, "region")
        scope = RegionScope([region])
        query = query.where(scope.sql_clause(FlagRecord.region_code))
    sees_debt = user.policy.sees_flag_family("debt")
    with services.db.read() as session:
        counted = query.with_only_columns(FlagRecord.region_code, FlagRecord.family, func.count())
        counts = session.execute(counted.group_by(FlagRecord.region_code, FlagRecord.family)).all()
        by_sev = query.with_only_columns(FlagRecord.detector, FlagRecord.severity, func.count())
        severities = session.execute(
            by_sev.group_by(FlagRecord.detector, FlagRecord.severity)
        ).all()
        by_status = query.with_only_columns(FlagState.status, func.count())
        statuses = dict(session.execute(by_status.group_by(FlagState.status)).all())
        rows = []
        if sees_debt:
            rows = session.execute(
                query.where(FlagRecord.detector.in_(_DASHBOARD_DETECTORS)).order_by(*flag_order())
            ).all()
    by_detector: dict[str, list[dict]] = {d: [] for d in _DASHBOARD_DETECTORS}
    for flag in public_flags(graph, rows, detail=True):
        by_detector[flag["detector"]].append(flag)
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
    counties = (
        _dashboard_counties(graph, scope, by_detector["debt.region_risk"]) if sees_debt else []
    )
    by_county: dict[str, dict[str, int]] = {}
    for code, family, n in counts:
        by_county.setdefault(str(code), {})[family] = n
    detectors: dict[str, dict[str, int]] = {}
    for det, sev, n in severities:
        detectors.setdefault(det, {})[sev] = n
    families = sorted({f for c in by_county.values() for f in c})
    codes = sorted({*by_county, *user.scope.codes} - {"None", "000000"})
    audit_revealed(services, request, user, graph.masker)
    return {
        "debt": sees_debt, "families": families,
        "counties": counties, "circles": circles, "systemic": systemic[:15],
        "flag_counts": by_county, "by_detector": detectors, "by_status": statuses,
        "region_names": region_names(graph, codes),
    }  # fmt: skip
