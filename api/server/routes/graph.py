"""Graph queries: shortest paths between two entities, and read-only Cypher for investigators."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from api.server.cypher_guard import CypherRejected, check_read_only
from api.server.deps import (
    CurrentUser,
    CypherUser,
    Graph,
    Services,
    audit,
    audit_revealed,
    audit_revealed_async,
)
from api.server.errors import ApiError, error_responses
from api.server.graph.scoped import ScopedGraph
from api.server.models import CypherRequest, CypherResultPublic, PathsPublic, built_json_response
from api.server.routes.entities import parse_types
from graph_models.errors import QueryError
from graph_models.store import GraphNode, GraphPath, GraphRelationship, QueryResult

__all__ = ["router"]

router = APIRouter(tags=["graph"])


@router.get(
    "/paths",
    summary="Shortest paths between two entities",
    response_model=PathsPublic,
    responses=error_responses(400, 401, 404, 422),
)
async def paths(
    request: Request,
    services: Services,
    user: CurrentUser,
    graph: Graph,
    source: Annotated[str, Query(min_length=1, max_length=200)],
    target: Annotated[str, Query(min_length=1, max_length=200)],
    max_hops: Annotated[int, Query(ge=1, le=6)] = 4,
    types: Annotated[list[str] | None, Query(description="Relationship types to walk.")] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> Response:
    """All shortest paths (up to ``limit``) of at most ``max_hops`` relationships, in either
    direction. Paths through an entity outside your role or regions are dropped."""
    wanted = parse_types(graph, types)

    def read() -> list[dict[str, Any]]:
        src = graph.entity(source)
        dst = graph.entity(target)
        if src is None or dst is None:
            missing = "source" if src is None else "target"
            raise ApiError(404, "not_found", f"{missing} not found")
        return graph.paths(src, dst, max_hops, wanted, limit)

    found = await graph.run(read)
    await audit_revealed_async(services, request, user, graph.masker)
    return built_json_response({"paths": found}, PathsPublic)


class _RowFilter:
    """Masks and scopes the store's plain values; a row touching a hidden node is dropped."""

    def __init__(self, graph: ScopedGraph) -> None:
        self.graph = graph
        self.scalars_allowed = graph.principal.scope.national

    def row(self, values: list[Any]) -> list[Any] | None:
        """The row as JSON values, or None when it touches a node the user may not see."""
        try:
            return [self.value(v) for v in values]
        except _Hidden:
            return None

    def _node(self, node: GraphNode) -> dict[str, Any] | None:
        label, node_id, props = node.label, node.id, node.properties
        if label is None or node_id is None or not self.graph.visible(label, str(node_id), props):
            return None
        return {"kind": "node", **self.graph.public_node({"id": node_id, "label": label,
                                                          "properties": props})}  # fmt: skip

    def _rel(self, rel: GraphRelationship) -> dict[str, Any] | None:
        ends = [self._node(n) for n in (rel.start, rel.end)]
        if any(e is None for e in ends):
            return None
        record = {
            "id": rel.id, "type": rel.type,
            "src": str(rel.start.id), "src_label": ends[0]["label"],
            "dst": str(rel.end.id), "dst_label": ends[1]["label"],
            "properties": rel.properties,
        }  # fmt: skip
        return {"kind": "relationship", **self.graph.public_edge(record)}

    def value(self, v: Any) -> Any:
        if isinstance(v, GraphNode):
            out = self._node(v)
        elif isinstance(v, GraphRelationship):
            out = self._rel(v)
        elif isinstance(v, GraphPath):
            nodes = [self._node(n) for n in v.nodes]
            rels = [self._rel(r) for r in v.relationships]
            out = None if any(x is None for x in nodes + rels) else {
                "kind": "path", "nodes": nodes, "relationships": rels
            }  # fmt: skip
        elif isinstance(v, list):
            return [self.value(x) for x in v]
        elif isinstance(v, dict):
            return {str(k): self.value(x) for k, x in v.items()}
        elif v is None:
            return None
        else:
            if not self.scalars_allowed:
                raise ApiError(
                    400, "scalars_not_allowed",
                    "with a regional scope, Cypher may return only nodes, relationships and "
                    "paths (their properties are scoped and masked); return n, not n.name",
                )  # fmt: skip
            return v  # the store gives plain values: str, int, float, bool, ISO dates
        if out is None:
            raise _Hidden
        return out


class _Hidden(Exception):
    """A row touches a node outside the user's role or regions."""


def _run_read_only(graph: ScopedGraph, body: CypherRequest) -> QueryResult:
    """The statement on the store (read-only, time and row limits), rows filtered for the user."""
    try:
        return graph.store.read_cypher(
            body.query, body.parameters, timeout_s=body.timeout_s, limit=body.limit,
            keep=_RowFilter(graph).row,
        )  # fmt: skip
    except QueryError as e:
        raise ApiError(400, e.code, e.message) from e


#: ``QueryError`` codes of the store -> the outcome written to the audit trail
_OUTCOMES = {"cypher_timeout": "timeout", "cypher_rejected": "rejected",
             "cypher_unavailable": "unavailable"}  # fmt: skip


@router.post(
    "/cypher",
    summary="Read-only Cypher (national-scope investigators and admins)",
    response_model=CypherResultPublic,
    responses=error_responses(400, 401, 403, 422),
)
def cypher(
    request: Request, services: Services, user: CypherUser, graph: Graph, body: CypherRequest
) -> CypherResultPublic:
    """One read-only, parameterised statement on a store that runs Cypher (Neo4j), in a READ
    transaction with a time limit, at most ``limit`` rows. Writes, procedure calls outside a
    read-only list and other databases are refused before the query is sent.

    Only investigators and admins whose scope is the whole country (``000000``) may run
    Cypher: a query's predicates can read what its results do not return, so no filtering of
    results makes it safe for a regional scope. Everyone else gets the same 403, whatever the
    query. Every request is audited with its outcome (``ok``, ``rejected``, ``error``,
    ``timeout``, ``unavailable``, ``invalid``, ``refused``)."""
    request.state.cypher_audited = True
    detail: dict[str, Any] = {"query": body.query, "parameters": sorted(body.parameters)}

    def done(action: str, outcome: str, **more: Any) -> None:
        audit(services, request, user, action, {**detail, "outcome": outcome, **more})

    if not graph.store.supports_cypher:
        done("cypher_failed", "unavailable")
        raise ApiError(400, "cypher_unavailable", "cypher needs the neo4j store")
    try:
        check_read_only(body.query)
    except CypherRejected as e:
        done("cypher_rejected", "rejected", reason=str(e))
        raise ApiError(400, "cypher_rejected", str(e)) from e
    try:
        result = _run_read_only(graph, body)
    except ApiError as e:
        outcome = _OUTCOMES.get(e.code, "error")
        done("cypher_rejected" if outcome == "rejected" else "cypher_failed", outcome,
             code=e.code, message=e.message[:300])  # fmt: skip
        raise
    except Exception as e:
        done("cypher_failed", "error", code="internal_error", message=type(e).__name__)
        raise
    done("cypher", "ok", rows=len(result.rows), dropped_rows=result.dropped)
    audit_revealed(services, request, user, graph.masker)
    return CypherResultPublic(columns=result.columns, rows=result.rows, truncated=result.truncated)
