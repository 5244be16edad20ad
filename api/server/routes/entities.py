"""Entities: search, detail, neighbourhood and ownership control, all region-scoped and masked."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.server.deps import CurrentUser, Graph, Services, audit_revealed, audit_revealed_async
from api.server.errors import ApiError, error_responses
from api.server.graph.scoped import ScopedGraph
from api.server.graph.search import search_visible
from api.server.models import (
    ControlPublic,
    EntitySearchPublic,
    NodePublic,
    SubgraphPublic,
    built_json_response,
)
from graph_models.store import NEIGHBOURHOOD_HUB_DEGREE

__all__ = ["parse_types", "router"]

router = APIRouter(prefix="/entities", tags=["entities"])
_ERRORS = error_responses(400, 401, 404, 422)
_CJK = re.compile(r"[\u3400-\u9fff]")


def check_label(graph: ScopedGraph, label: str | None) -> None:
    if label is not None and label not in graph.store.schema.nodes:
        raise ApiError(400, "unknown_label", f"unknown node label {label!r}")


def parse_types(graph: ScopedGraph, types: list[str] | None) -> list[str] | None:
    """Relationship types from repeated and/or comma-separated ``types`` parameters."""
    if not types:
        return None
    wanted = [t.strip() for value in types for t in value.split(",") if t.strip()]
    unknown = [t for t in wanted if t not in graph.store.schema.relationships]
    if unknown:
        raise ApiError(400, "unknown_type", f"unknown relationship type(s): {', '.join(unknown)}")
    return wanted or None


def visible_entity(graph: ScopedGraph, entity_id: str, label: str | None) -> dict:
    check_label(graph, label)
    rec = graph.entity(entity_id, label)
    if rec is None:
        raise ApiError(404, "not_found", "entity not found")
    return rec


@router.get(
    "",
    summary="Search entities by id prefix or name",
    response_model=EntitySearchPublic,
    responses=_ERRORS,
)
def search_entities(
    request: Request,
    services: Services,
    user: CurrentUser,
    graph: Graph,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=100,
            description="Id prefix or part of a name: at least two characters, or one Chinese "
            "character (a surname).",
        ),
    ],
    label: Annotated[str | None, Query(description="Only this node label.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> EntitySearchPublic:
    """Nodes you may see whose id starts with ``q`` or whose name contains it. Without
    personal-data clearance, personal ids and names are not searched."""
    if len(q.strip()) < 2 and not _CJK.search(q):
        raise ApiError(422, "too_short", "q: at least two characters, or one Chinese character")
    check_label(graph, label)
    found, truncated = search_visible(graph, q.strip(), label, limit)
    out = EntitySearchPublic(items=[graph.public_node(r) for r in found], truncated=truncated)
    audit_revealed(services, request, user, graph.masker)
    return out


@router.get("/{entity_id}", summary="One entity", response_model=NodePublic, responses=_ERRORS)
async def get_entity(
    request: Request,
    services: Services,
    user: CurrentUser,
    graph: Graph,
    entity_id: str,
    label: Annotated[str | None, Query(description="Node label, if the id is ambiguous.")] = None,
) -> Response:
    """The node with its properties (masked for your role) and its regions; 404 when it does
    not exist or is outside your role or regions."""
    node = await graph.run(lambda: graph.public_node(visible_entity(graph, entity_id, label)))
    await audit_revealed_async(services, request, user, graph.masker)
    return built_json_response(node, NodePublic)


@router.get(
    "/{entity_id}/neighborhood",
    summary="Neighbourhood of an entity",
    response_model=SubgraphPublic,
    responses=_ERRORS,
)
async def neighborhood(
    request: Request,
    services: Services,
    user: CurrentUser,
    graph: Graph,
    entity_id: str,
    label: str | None = None,
    hops: Annotated[int, Query(ge=1, le=3)] = 1,
    types: Annotated[
        list[str] | None, Query(description="Relationship types (repeat or comma-separate).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=2000, description="Nodes walked at most.")] = 500,
    hub_degree: Annotated[
        int,
        Query(
            ge=1,
            le=1_000_000,
            description="Nodes (other than this entity) with more relationships are returned "
            "but not walked through; they are listed in `hubs`.",
        ),
    ] = NEIGHBOURHOOD_HUB_DEGREE,
) -> Response:
    """Nodes within ``hops`` of the entity, over visible nodes only: a node reachable only
    through a node outside your role or regions is not returned. Hubs (a county's Region node,
    a clerk who approved every payment in a village) are shown but not expanded."""

    def read() -> dict:
        rec = visible_entity(graph, entity_id, label)
        return graph.neighborhood(rec, hops, parse_types(graph, types), limit, hub_degree)

    sub = await graph.run(read)
    await audit_revealed_async(services, request, user, graph.masker)
    return built_json_response(sub, SubgraphPublic)


@router.get(
    "/{entity_id}/control",
    summary="Ownership chain and ultimate controllers",
    response_model=ControlPublic,
    responses=_ERRORS,
)
def control(
    request: Request, services: Services, user: CurrentUser, graph: Graph, entity_id: str
) -> ControlPublic:
    """Direct shareholders and ultimate controllers (majority > 50 %, else the largest holder
    >= 25 %, followed up the chain) from the HOLDS_SHARES relationships. Controllers whose chain
    passes through an entity you may not see are left out."""
    rec = graph.entity(entity_id, None)
    if rec is None or rec["label"] not in ("Enterprise", "GovUnit"):
        raise ApiError(404, "not_found", "company not found")
    result = graph.control(rec)
    out = ControlPublic(company=NodePublic(**graph.public_node(rec)), **result)
    audit_revealed(services, request, user, graph.masker)
    return out
