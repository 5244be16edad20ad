"""One router per resource; ``API_ROUTERS`` are mounted under ``/api/v1`` by ``api.server.app``.

Another app (e.g. a web UI) can mount the same routers: ``app.include_router(r, prefix=...)``
for each, with ``app.state.services`` set as ``api.server.app.create_app`` does.
"""

from api.server.routes import audit, cases, entities, flags, graph, health, reviews, scans, users

__all__ = ["API_ROUTERS"]

API_ROUTERS = [
    health.router,
    users.router,
    entities.router,
    graph.router,
    flags.router,
    reviews.router,
    cases.router,
    scans.router,
    audit.router,
]
