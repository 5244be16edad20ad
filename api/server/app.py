"""The FastAPI application: ``create_app(store=..., state_db_url=...)``.

Endpoints live under ``/api/v1`` (one router per resource, ``api.server.routes.API_ROUTERS``), take a
bearer token (``riskgraph users add``), and answer errors in one JSON shape (``api.server.errors``).
The state DB is migrated on startup.

Examples
--------
>>> import tempfile
>>> from graph_models.stores import open_store
>>> app = create_app(store=open_store("memory"), state_db_url=f"sqlite:///{tempfile.mkdtemp()}/s.sqlite")
>>> sorted(p for p in app.openapi()["paths"] if p.startswith("/api/v1/flags"))[:2]
['/api/v1/flags', '/api/v1/flags/{flag_id}']
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import metadata
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI

from api.server.auth.principals import PrincipalCache
from api.server.denials import DenialAuditMiddleware, drain_denials, limiter_from_settings
from api.server.deps import AppServices
from api.server.errors import RequestIdMiddleware, install_error_handlers
from api.server.graph.access import GraphAccess
from api.server.routes import API_ROUTERS
from api.server.scan_jobs import (
    ScanFollower,
    ScanRunner,
    latest_graph_scan,
    recover_committed_scan,
)
from api.server.state.audit import AuditWriter
from api.server.state.db import StateDB, resolve_state_db_url
from api.server.web.router import web_router
from graph_models.store import GraphStore
from graph_models.stores import open_store

__all__ = ["API_PREFIX", "create_app"]

API_PREFIX = "/api/v1"
TAGS = [
    {"name": "health", "description": "Liveness (no token)."},
    {"name": "users", "description": "The current user."},
    {"name": "entities", "description": "Search, detail, neighbourhood, ownership control."},
    {"name": "graph", "description": "Paths between entities; read-only Cypher (investigators)."},
    {"name": "flags", "description": "Detector findings, with evidence and subgraph."},
    {"name": "reviews", "description": "Decisions on flags."},
    {"name": "cases", "description": "Groups of flags under investigation."},
    {"name": "scans", "description": "Background scan jobs (admin)."},
    {"name": "audit", "description": "The tamper-evident audit trail (admin)."},
]
DESCRIPTION = """\
Graph API of riskgraph. Authenticate with `Authorization: Bearer <token>` (tokens come from
`riskgraph users add NAME --role ROLE --region CODE`).

Every read is limited to your role and region scopes (a region code covers everything under
it); personal identifiers are masked unless your role has personal-data clearance, and every
unmasked read of personal data and every decision is written to a hash-chained audit trail.
Errors are always `{"error": {"code", "message", "request_id"}}`.
"""


def _version() -> str:
    try:
        return metadata.version("riskgraph")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def _setting(given: float | None, env: str, default: float, what: str) -> float:
    """``given``, else the environment variable ``env``, else ``default``; never negative."""
    if given is not None:
        return max(0.0, float(given))
    raw = os.environ.get(env)
    if raw is None:
        return default
    try:
        return max(0.0, float(raw))
    except ValueError:
        raise ValueError(f"{env} must be {what}, not {raw!r}") from None


#: Threads for blocking work (sync endpoints, Neo4j reads). Each takes the interpreter lock in
#: turn: on 2 cores, 40 threads (anyio's default) running flag lists at once did 77 req/s with
#: p99 1.1 s; 8 did 114 req/s with p99 0.5 s; 2-hop neighbourhoods on Neo4j p99 2.8 -> 1.0 s.
DEFAULT_THREADS = 8


_VENDOR = "/web/static/vendor"


def _local_docs(app: FastAPI) -> None:
    """Swagger UI at ``/docs`` and ReDoc at ``/redoc``, their scripts and styles served by this
    server (``api/server/web/static/vendor``), so the docs work without internet access."""
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
    from fastapi.responses import HTMLResponse

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title="riskgraph API",
            swagger_js_url=f"{_VENDOR}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{_VENDOR}/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{_VENDOR}/swagger-ui/favicon-32x32.png",
        )  # fmt: skip

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json", title="riskgraph API",
            redoc_js_url=f"{_VENDOR}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{_VENDOR}/swagger-ui/favicon-32x32.png", with_google_fonts=False,
        )  # fmt: skip


def _with_examples(app: FastAPI) -> None:
    """The OpenAPI document with an example for every operation (api/server/openapi_examples)."""
    from fastapi.openapi.utils import get_openapi

    from api.server.openapi_examples import add_examples

    def openapi() -> dict:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes, tags=app.openapi_tags,
            )  # fmt: skip
            app.openapi_schema = add_examples(spec)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(
    store: GraphStore | None = None,
    state_db_url: str | None = None,
    *,
    workspace: str | os.PathLike[str] | None = None,
    datasets_root: str | os.PathLike[str] | None = None,
    store_kind: str | None = None,
    auth_cache_seconds: float | None = None,
    freeze_gc: bool = False,
    graph: GraphAccess | None = None,
    follow_seconds: float = 1.0,
    threads: int | None = None,
) -> FastAPI:
    """Build the app.

    Parameters
    ----------
    store : GraphStore, optional
        The graph store; by default ``open_store(store_kind, workspace)`` (closed on shutdown).
    state_db_url : str, optional
        SQLAlchemy URL or SQLite path; default ``$RISKGRAPH_STATE_DB`` or
        ``WORKSPACE/riskgraph-state.sqlite``.
    workspace : path, optional
        Default ``$RISKGRAPH_WORKSPACE`` or ``riskgraph-workspace``; scan outputs go to
        ``WORKSPACE/scans/<id>``.
    datasets_root : path, optional
        ``POST /scans`` only reads dataset directories under it (default: current directory).
    auth_cache_seconds : float, optional
        How long a bearer token, once checked, is trusted without asking the state DB again
        (default ``$RISKGRAPH_AUTH_CACHE_SECONDS`` or 5; 0 checks every request). A disabled
        user is refused at the latest this long after the change.
    freeze_gc : bool
        Once the graph caches are built, ``gc.freeze()`` the heap so full garbage collections
        do not walk the loaded graph (a 200 ms stall at 100k households). Process-wide, so
        ``riskgraph serve`` sets it and library users decide for themselves.
    graph : GraphAccess, optional
        A store already opened and warmed (``riskgraph serve --workers N`` builds it once, then
        forks the workers); replaces ``store``.
    follow_seconds : float
        How often to check the state DB for a scan finished by another worker process (whose
        graph this process then loads); 0 never checks.
    threads : int, optional
        Threads for blocking work: plain ``def`` endpoints (state-DB reads, flag lists) and
        Neo4j reads (default ``$RISKGRAPH_THREADS`` or :data:`DEFAULT_THREADS`). Requests
        beyond it wait for a thread rather than crowd the interpreter lock.
    """
    ws = Path(workspace or os.environ.get("RISKGRAPH_WORKSPACE", "riskgraph-workspace"))
    db = StateDB(resolve_state_db_url(state_db_url, ws))
    if graph is not None:
        access, owns_store = graph, True
    else:
        # the generation first: a scan finishing while the store opens is then reloaded, not lost
        generation = latest_graph_scan(db)
        owns_store = store is None
        graph_store = store if store is not None else open_store(store_kind, ws)
        recovered = recover_committed_scan(db, graph_store)
        if recovered is not None:  # the opened generation is that scan's: serve it as such
            generation = max(generation, recovered)
        # a store the app opened itself it may open afresh when another worker's scan replaced it
        access = GraphAccess(
            graph_store, freeze_gc=freeze_gc, generation=generation, reopen=owns_store
        )
    runner = ScanRunner(db, access)
    follower = ScanFollower(db, access, follow_seconds) if follow_seconds > 0 else None
    services = AppServices(
        graph=access, db=db, workspace=ws,
        datasets_root=Path(datasets_root or os.environ.get("RISKGRAPH_DATASETS", ".")),
        scans=runner, version=_version(), audit_log=AuditWriter(db),
        principals=PrincipalCache(_setting(
            auth_cache_seconds, "RISKGRAPH_AUTH_CACHE_SECONDS", 5.0, "a number of seconds"
        )),
        worker=int(os.environ.get("RISKGRAPH_WORKER", "1")),
    )  # fmt: skip

    denials = limiter_from_settings()
    thread_count = max(1, int(_setting(threads, "RISKGRAPH_THREADS", DEFAULT_THREADS,
                                       "a whole number of threads")))  # fmt: skip

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # the default thread limiter belongs to this event loop: sync endpoints and
        # run_in_threadpool both draw on it
        anyio.to_thread.current_default_thread_limiter().total_tokens = thread_count
        # the region index takes seconds on a large graph: start it before the first request
        warm = threading.Thread(target=access.warm, name="riskgraph-warm", daemon=True)
        warm.start()
        if follower is not None:
            follower.start()
        yield
        # the warm-up reads the store: let it finish before anything (the caller included)
        # closes the store, or a driver closed under it fails mid-send
        warm.join()
        if follower is not None:
            follower.stop()
        runner.shutdown()
        drain_denials(denials, services.audit_log)
        services.audit_log.close()
        db.close()
        if owns_store:
            access.store.close()

    app = FastAPI(
        title="riskgraph API",
        version=services.version,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        docs_url=None,  # served below from vendored assets, not a CDN (intranets)
        redoc_url=None,
    )
    _local_docs(app)
    _with_examples(app)
    app.state.services = services
    app.state.denial_limiter = denials
    install_error_handlers(app)
    # inside the request id's middleware (added last, so outermost): denials carry its id
    app.add_middleware(DenialAuditMiddleware, limiter=denials)
    app.add_middleware(RequestIdMiddleware)
    for router in API_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(web_router)
    return app
