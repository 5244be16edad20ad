"""Flags: the list (filtered, paginated), one flag with its evidence subgraph, graph export."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import defer

from api.access.scopes import RegionScope
from api.server.deps import CurrentUser, Graph, Services, audit_revealed, require_within
from api.server.errors import ApiError, error_responses
from api.server.flag_views import (
    FlagReader,
    flag_order,
    get_visible_flag,
    scoped_flags,
    visible_flags,
)
from api.server.graph.scoped import ScopedGraph
from api.server.models import (
    EvidencePage,
    FlagChangePublic,
    FlagDetailPublic,
    FlagPage,
    FlagPublic,
    FlagStatus,
    ReviewPublic,
    SubgraphPublic,
    json_response,
)
from api.server.state.models import UNSUPPORTED, FlagChange, FlagRecord, FlagState, ReviewDecision
from engine.evidence import EVIDENCE_LIMIT

__all__ = ["router"]

router = APIRouter(prefix="/flags", tags=["flags"])

#: What a flag list item shows (``FlagReader.flag`` without ``detail``).
_LIST_COLUMNS = (
    FlagRecord.flag_id, FlagRecord.detector, FlagRecord.family, FlagRecord.severity,
    FlagRecord.score, FlagRecord.region_code, FlagRecord.subject_type, FlagRecord.subject_id,
    FlagRecord.entities, FlagRecord.explanation, FlagRecord.scan_id, FlagRecord.imported_at,
    FlagRecord.fingerprint, FlagState.status, FlagState.review_count, FlagState.updated_at, FlagState.prior_status,
)  # fmt: skip
Severity = Literal["high", "medium", "low"]


@router.get(
    "",
    summary="List flags",
    response_model=FlagPage,
    responses=error_responses(401, 403, 422),
)
def list_flags(
    request: Request,
    services: Services,
    user: CurrentUser,
    graph: Graph,
    detector: Annotated[str | None, Query(max_length=64)] = None,
    family: Annotated[str | None, Query(max_length=32)] = None,
    region: Annotated[
        str | None,
        Query(pattern=r"^\d{6}$", description="A region code; covers everything under it."),
    ] = None,
    severity: Severity | None = None,
    status: FlagStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """Flags you may see (your role's families, your regions), high severity first and the
    highest score within a severity first (scores are per detector, in its own unit: see
    `riskgraph detectors`), with the total count for paging."""
    query = visible_flags(user).options(defer(FlagRecord.evidence))
    if detector:
        query = query.where(FlagRecord.detector == detector)
    if family:
        query = query.where(FlagRecord.family == family)
    if region:
        require_within(user, region, "region")
        query = query.where(RegionScope([region]).sql_clause(FlagRecord.region_code))
    if severity:
        query = query.where(FlagRecord.severity == severity)
    if status:
        query = query.where(FlagState.status == status)
    else:  # the active queue: flags the data no longer supports only when asked for
        query = query.where(FlagState.status != UNSUPPORTED)
    with services.db.read() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        # page the ids first (sorting narrow rows), then load just those flags: at 7,700 flags
        # ~4 ms instead of ~6 ms for one query sorting whole rows with their JSON columns
        page = session.scalars(
            query.with_only_columns(FlagRecord.flag_id)
            .order_by(*flag_order())
            .limit(limit)
            .offset(offset)
        ).all()
        # the page's rows as plain columns, not ORM objects (whose loading was a third of this
        # endpoint's CPU): a row has every attribute FlagReader reads, of flag and state alike
        # a scoped user's flags are cut to their scope: the evidence tells which ids they name
        columns = (*_LIST_COLUMNS, FlagRecord.evidence) if graph.scoped else _LIST_COLUMNS
        found = {r.flag_id: r for r in session.execute(
            query.with_only_columns(*columns).where(FlagRecord.flag_id.in_(page))
        )}  # fmt: skip
        rows = [found[i] for i in page if i in found]
    items = [FlagPublic(**f) for f in scoped_flags(graph, rows)]
    audit_revealed(services, request, user, graph.masker)
    return json_response(FlagPage(items=items, total=total, limit=limit, offset=offset))


def _flag_subgraph(graph: ScopedGraph, flag: FlagRecord) -> dict:
    """The flag's entities the user may see, with their visible 1-hop neighbours."""
    return graph.around(flag.entities or [])


@router.get(
    "/{flag_id}",
    summary="One flag with its evidence and subgraph",
    response_model=FlagDetailPublic,
    responses=error_responses(401, 404, 422),
)
def get_flag(
    request: Request, services: Services, user: CurrentUser, graph: Graph, flag_id: str
) -> Response:
    """The flag, its evidence, its review history and the subgraph of its entities with their
    1-hop neighbours (entities you may not see are left out)."""
    with services.db.read() as session:
        flag, state = get_visible_flag(session, user, flag_id)
        reviews = session.scalars(
            select(ReviewDecision)
            .where(ReviewDecision.flag_id == flag_id)
            .order_by(ReviewDecision.id)
        ).all()
        changes = session.scalars(
            select(FlagChange).where(FlagChange.flag_id == flag_id).order_by(FlagChange.id)
        ).all()
    reader = FlagReader(graph)
    reader.prepare([flag], reviews, changes)
    public = reader.flag(flag, state, detail=True)
    public["evidence"], totals = shorten_evidence(public["evidence"], EVIDENCE_LIMIT)
    out = FlagDetailPublic(
        **public,
        evidence_totals=totals,
        evidence_page=EVIDENCE_LIMIT,
        reviews=[ReviewPublic(**r) for r in reader.reviews(flag, reviews)],
        subgraph=SubgraphPublic(**_flag_subgraph(graph, flag)),
        changes=[FlagChangePublic(**c) for c in reader.changes(flag, changes)],
    )
    audit_revealed(services, request, user, graph.masker)
    return json_response(out)


def shorten_evidence(evidence: dict[str, Any], limit: int) -> tuple[dict[str, Any], dict[str, int]]:
    """The evidence with each top-level list cut to ``limit`` items, and every list's length."""
    totals = {k: len(v) for k, v in evidence.items() if isinstance(v, list)}
    short = {k: v[:limit] if isinstance(v, list) else v for k, v in evidence.items()}
    return short, totals


@router.get(
    "/{flag_id}/evidence/{section}",
    summary="Page through one evidence list of a flag",
    response_model=EvidencePage,
    responses=error_responses(401, 404, 422),
)
def flag_evidence(
    request: Request,
    services: Services,
    user: CurrentUser,
    graph: Graph,
    flag_id: str,
    section: Annotated[str, Path(max_length=64, description="An evidence list, e.g. `payments`.")],
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = EVIDENCE_LIMIT,
) -> Response:
    """Records ``offset`` .. ``offset + limit - 1`` of one evidence list (every record the
    detector found, in its order: payments by date), masked for your role; 404 for a flag you
    may not see or a list it does not have."""
    with services.db.read() as session:
        flag, state = get_visible_flag(session, user, flag_id)
    records = (flag.evidence or {}).get(section)
    if not isinstance(records, list):
        raise ApiError(404, "not_found", f"flag {flag_id} has no evidence list {section!r}")
    # cut to the reader's scope first: the total counts only the records they may see
    records = scoped_flags(graph, [(flag, state)], detail=True)[0]["evidence"].get(section) or []
    items = records[offset : offset + limit]
    audit_revealed(services, request, user, graph.masker)
    return json_response(
        EvidencePage(flag_id=flag_id, section=section, total=len(records), offset=offset,
                     limit=limit, items=items)
    )  # fmt: skip


def _graphml(sub: dict) -> str:
    import json

    import networkx as nx

    g = nx.MultiDiGraph()

    def flat(props: dict) -> dict:
        return {
            f"p_{k}": v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            for k, v in props.items()
        }

    for n in sub["nodes"]:
        g.add_node(f"{n['label']}:{n['id']}", label=n["label"], entity_id=n["id"],
                   **flat(n["properties"]))  # fmt: skip
    for e in sub["edges"]:
        g.add_edge(f"{e['src_label']}:{e['src']}", f"{e['dst_label']}:{e['dst']}", key=e["id"],
                   type=e["type"], **flat(e["properties"]))  # fmt: skip
    return "\n".join(nx.generate_graphml(g, encoding="utf-8", prettyprint=True))


@router.get(
    "/{flag_id}/graph",
    summary="Export a flag's subgraph",
    response_model=SubgraphPublic,
    responses={
        **error_responses(401, 404, 422),
        200: {
            "description": "JSON (default) or GraphML.",
            "content": {"application/graphml+xml": {"schema": {"type": "string"}}},
        },
    },
)
def flag_graph(
    request: Request,
    services: Services,
    user: CurrentUser,
    graph: Graph,
    flag_id: str,
    format: Literal["json", "graphml"] = "json",
) -> Response | SubgraphPublic:
    """The same subgraph as in the flag's detail, as JSON or GraphML (for Gephi, yEd, Cytoscape)."""
    with services.db.read() as session:
        flag, _state = get_visible_flag(session, user, flag_id)
    sub = _flag_subgraph(graph, flag)
    audit_revealed(services, request, user, graph.masker)
    if format == "graphml":
        return Response(
            _graphml(sub),
            media_type="application/graphml+xml",
            headers={"Content-Disposition": f'attachment; filename="{flag_id}.graphml"'},
        )
    return SubgraphPublic(**sub)
