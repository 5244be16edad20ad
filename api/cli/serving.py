"""``riskgraph serve``: the API and the web pages."""

from __future__ import annotations

import os
from pathlib import Path

import click

from api.cli.common import (
    STATE_OPTIONS,
    STORES,
    console,
    friendly,
    with_options,
)


@click.command()
@click.option("--store", "store_kind", type=STORES, default=lambda: os.environ.get("RISKGRAPH_STORE", "memory"),
              show_default="memory or $RISKGRAPH_STORE")  # fmt: skip
@with_options(STATE_OPTIONS)
@click.option("--datasets", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="POST /scans reads dataset directories under this one.")  # fmt: skip
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", type=click.IntRange(1, 64),
              default=lambda: int(os.environ.get("RISKGRAPH_WORKERS", "1")),
              show_default="1 or $RISKGRAPH_WORKERS",
              help="Worker processes sharing the port (about one per CPU core). With the "
                   "memory store the graph is loaded once and shared by all of them.")  # fmt: skip
@friendly
def serve(
    store_kind: str,
    workspace: Path,
    state_db: str | None,
    datasets: Path,
    host: str,
    port: int,
    workers: int,
) -> None:
    """Run the API (uvicorn); OpenAPI docs at /docs."""
    from api.server.app import create_app

    options = {"state_db_url": state_db, "workspace": workspace, "datasets_root": datasets}
    console.print(
        f"riskgraph API on http://{host}:{port}/api/v1 (docs at /docs)"
        + (f", {workers} workers" if workers > 1 else "")
    )
    if workers == 1:
        import uvicorn

        app = create_app(**options, store_kind=store_kind, freeze_gc=True)
        uvicorn.run(app, host=host, port=port, log_level="warning")
        return

    from api.server.workers import bind_socket, serve_workers

    sock = bind_socket(host, port)

    def preload() -> object | None:
        """An in-process store (the embedded one), loaded and warmed once, shared by the forked
        workers."""
        from api.server.graph.access import GraphAccess
        from api.server.scan_jobs import latest_graph_scan, recover_committed_scan
        from api.server.state.db import StateDB, resolve_state_db_url
        from graph_models.stores import open_store, store_class

        db = StateDB(resolve_state_db_url(state_db, workspace))  # migrated here, once
        generation = latest_graph_scan(db)  # before the load: a scan finishing now is reloaded
        if not store_class(store_kind).in_process:
            db.close()
            return None  # nor a server store's driver: each worker opens its own
        store = open_store(store_kind, workspace)
        recovered = recover_committed_scan(db, store)
        if recovered is not None:
            generation = max(generation, recovered)
        db.close()  # no connection crosses the fork
        access = GraphAccess(store, freeze_gc=True, generation=generation, reopen=True)
        access.warm()
        return access

    def make_app(graph: object | None) -> object:
        if graph is None:
            return create_app(**options, store_kind=store_kind, freeze_gc=True)
        return create_app(**options, graph=graph)  # type: ignore[arg-type]

    raise SystemExit(serve_workers(make_app, sock, workers, preload))
