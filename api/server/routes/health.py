"""``GET /healthz``: liveness of the API, its graph store and its state DB (no token needed)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from api.server.deps import Services
from api.server.errors import ApiError, error_responses
from api.server.models import HealthPublic

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    summary="Health check",
    response_model=HealthPublic,
    responses=error_responses(503),
)
def healthz(services: Services) -> HealthPublic:
    """The store kind, the state DB backend, the version and whether the graph is loaded and its
    caches built (``warm``; never on an empty graph); 503 if the state DB is down."""
    try:
        with services.db.read() as session:
            session.execute(text("SELECT 1"))
    except Exception as e:
        raise ApiError(503, "unavailable", "state DB unreachable") from e
    return HealthPublic(
        status="ok",
        store=services.graph.store.name,
        state_db=services.db.dialect,
        version=services.version,
        warm=services.graph.warmed.is_set() and bool(services.graph.node_count),
        nodes=services.graph.node_count,
        generation=services.graph.generation,
        worker=services.worker,
    )
