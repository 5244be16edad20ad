"""Graph queries: shortest paths between two entities, and read-only Cypher for investigators."""

from __future__ import annotations

import datetime as dt
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
from api.server.graph.access import ScopedGraph, neo4j_driver
from api.server.models import CypherRequest, CypherResultPublic, PathsPublic, built_json_response
from api.server.routes.entities import parse_types

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


def _driver(store: Any) -> Any:
    driver = neo4j_driver(store)
    if driver is None:
        raise ApiError(400, "cypher_unavailable", "cypher needs the neo4j store")
    return driver


class _RowFilter:
    """Turns driver values into JSON, masked and scoped; counts rows that touch hidden nodes."""

    def __init__(self, graph: ScopedGraph) -> None:
        self.graph = graph
        self.scalars_allowed = graph.principal.scope.national

    def _node(self, node: Any) -> dict[str, Any] | None:
        props = dict(node)
        label = next((lb for lb in node.labels if lb in self.graph.store.schema.nodes), None)
        node_id = props.pop("id", None)
        if label is None or node_id is None or not self.graph.visible(label, str(node_id), props):
            return None
        return {"kind": "node", **self.graph.public_node({"id": node_id, "label": label,
                                                          "properties": props})}  # fmt: skip

    def _rel(self, rel: Any) -> dict[str, Any] | None:
        ends = [self._node(n) for n in (rel.start_node, rel.end_node)]
        if any(e is None for e in ends) or rel.start_node is None:
            return None
        props = dict(rel)
        rid = props.pop("id", rel.element_id)
        record = {
            "id": rid, "type": rel.type,
            "src": str(dict(rel.start_node).get("id")), "src_label": ends[0]["label"],
            "dst": str(dict(rel.end_node).get("id")), "dst_label": ends[1]["label"],
            "properties": props,
        }  # fmt: skip
        return {"kind": "relationship", **self.graph.masker.edge(record)}

    def value(self, v: Any) -> Any:
        from neo4j.graph import Node, Path, Relationship

        if isinstance(v, Node):
            out = self._node(v)
        elif isinstance(v, Relationship):
            out = self._rel(v)
        elif isinstance(v, Path):
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
            return _scalar(v)
        if out is None:
            raise _Hidden
        return out


class _Hidden(Exception):
    """A row touches a node outside the user's role or regions."""


def _scalar(v: Any) -> Any:
    if isinstance(v, (str, int, float, bool)):
        return v
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    iso = getattr(v, "iso_format", None)
    return iso() if callable(iso) else str(v)


def _run_read_only(
    graph: ScopedGraph, body: CypherRequest
) -> tuple[list[str], list[list[Any]], bool, int]:
    from neo4j import READ_ACCESS
    from neo4j.exceptions import ClientError, Neo4jError, TransientError

    driver = _driver(graph.store)
    rows: list[list[Any]] = []
    dropped = 0
    truncated = False
    keep = _RowFilter(graph)
    try:
        with driver.session(
            database=getattr(graph.store, "database", None), default_access_mode=READ_ACCESS
        ) as session:
            tx = session.begin_transaction(timeout=body.timeout_s)
            try:
                result = tx.run(body.query, body.parameters)
                columns = list(result.keys())
                for record in result:
                    if len(rows) >= body.limit:
                        truncated = True
                        break
                    try:
                        rows.append([keep.value(v) for v in record.values()])
                    except _Hidden:
                        dropped += 1
            finally:
                tx.close()
    except (ClientError, TransientError) as e:
        code = getattr(e, "code", "") or ""
        if "AccessMode" in code or "Forbidden" in code:
            raise ApiError(400, "cypher_rejected", "the query tried to write") from e
        if "TimedOut" in code or "Timeout" in code or "Terminated" in code:
            raise ApiError(400, "cypher_timeout", f"query exceeded {body.timeout_s} s") from e
        message = (getattr(e, "message", None) or str(e)).splitlines()[0][:300]
        raise ApiError(400, "cypher_error", message) from e
    except Neo4jError as e:
        raise ApiError(400, "cypher_error", str(e).splitlines()[0][:300]) from e
    return columns, rows, truncated, dropped


@router.post(
    "/cypher",
    summary="Read-only Cypher (investigators)",
    response_model=CypherResultPublic,
    responses=error_responses(400, 401, 403, 422),
)
def cypher(
    request: Request, services: Services, user: CypherUser, graph: Graph, body: CypherRequest
) -> CypherResultPublic:
    """One read-only, parameterised statement on the Neo4j store, in a READ transaction with a
    time limit, at most ``limit`` rows. Writes, procedure calls outside a read-only list and
    other databases are refused before the query is sent. Rows touching nodes outside your
    regions are dropped; with a regional scope only nodes, relationships and paths may be
    returned (how many rows were dropped is not said: that would leak; it is audited).
    Every query is audited."""
    if graph.store.name != "neo4j":
        raise ApiError(400, "cypher_unavailable", "cypher needs the neo4j store")
    try:
        check_read_only(body.query)
    except CypherRejected as e:
        audit(services, request, user, "cypher_rejected", {"query": body.query, "reason": str(e)})
        raise ApiError(400, "cypher_rejected", str(e)) from e
    columns, rows, truncated, dropped = _run_read_only(graph, body)
    audit(
        services, request, user, "cypher",
        {"query": body.query, "parameters": sorted(body.parameters), "rows": len(rows),
         "dropped_rows": dropped},
    )  # fmt: skip
    audit_revealed(services, request, user, graph.masker)
    return CypherResultPublic(columns=columns, rows=rows, truncated=truncated)
