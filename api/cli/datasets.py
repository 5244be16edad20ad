"""``riskgraph synth`` and ``riskgraph load``: datasets in."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from api.cli.common import (
    STORES,
    console,
    friendly,
    load_progress,
    open_graph_store,
    print_load,
)


@click.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--households", default=500, show_default=True, help="Number of poverty-aid households."
)
@click.option(
    "--enterprises", type=int, default=None, help="Number of enterprises (default households/5)."
)
@click.option("--seed", default=7, show_default=True)
@click.option("--variant", type=click.Choice(["contract", "other"]), default="contract", show_default=True,
              help="'other': other file names and headers plus a manifest.yaml.")  # fmt: skip
@friendly
def synth(out_dir: Path, households: int, enterprises: int | None, seed: int, variant: str) -> None:
    """Generate a synthetic contract dataset with planted cases and ground_truth.jsonl."""
    from fixtures.synth import generate

    report = generate(
        out_dir, households=households, seed=seed, enterprises=enterprises, variant=variant
    )
    console.print(f"dataset written to [bold]{out_dir}[/] ({report.summary_line()})")


@click.command()
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option("--workspace", type=click.Path(file_okay=False, path_type=Path), default=Path("riskgraph-workspace"),
              show_default=True, help="Embedded store directory (memory store).")  # fmt: skip
@click.option("--store", "store_kind", type=STORES, default=lambda: os.environ.get("RISKGRAPH_STORE", "memory"),
              show_default="memory or $RISKGRAPH_STORE")  # fmt: skip
@click.option("--rejects", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where rejects/<table>.csv go (default WORKSPACE/rejects).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the load report as JSON.")
@click.option("--bulk", is_flag=True,
              help="First load into an EMPTY bundled Neo4j: load into the embedded store in "
                   "WORKSPACE, then neo4j-admin's offline import (stops and restarts the server).")  # fmt: skip
@click.option("--replace", is_flag=True,
              help="With --bulk: replace a Neo4j database that already holds a graph.")  # fmt: skip
@click.option("--allow-partial", is_flag=True,
              help="Load what can be loaded when files are unmapped or unreadable or a referenced "
                   "table is missing (the problems are still reported).")  # fmt: skip
@friendly
def load(
    dataset: Path,
    workspace: Path,
    store_kind: str,
    rejects: Path | None,
    as_json: bool,
    bulk: bool = False,
    replace: bool = False,
    allow_partial: bool = False,
) -> None:
    """Load a dataset directory into the store and report per-table counts."""
    from graph_models.stores import bulk_import, store_class
    from loaders.load import load_dataset

    if bulk and not store_class(store_kind).supports_bulk_import:
        raise click.UsageError("--bulk is a way to fill Neo4j: use it with --store neo4j")
    if replace and not bulk:
        raise click.UsageError("--replace goes with --bulk")
    if bulk and not replace:
        target = open_graph_store(store_kind, workspace)
        existing = target.counts()
        target.close()
        if existing["nodes"]:
            raise click.UsageError(
                "--bulk replaces the whole Neo4j database and is for a first load only; this "
                f"database already holds {sum(existing['nodes'].values()):,} nodes "
                "(load without --bulk to add to it, or add --replace to replace it)"
            )
    # with --bulk the loaders first fill a fresh embedded store in memory (the staging graph)
    store = open_graph_store("memory", None) if bulk else open_graph_store(store_kind, workspace)
    progress, update = load_progress()
    with progress:
        report = load_dataset(
            dataset, store, rejects_dir=rejects or workspace / "rejects", progress=update,
            allow_partial=allow_partial,
        )  # fmt: skip
    if bulk:
        console.print("bulk import into Neo4j (offline: the server restarts) ...")
        files, imported = bulk_import(store_kind, store, workspace / "neo4j-import")
        store.close()
        store = imported
        console.print(
            f"imported {sum(files.nodes.values()):,} nodes and "
            f"{sum(files.relationships.values()):,} relationships; constraints and indexes created"
        )
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        print_load(report)
        console.print(f"graph: {store.counts()['nodes']}")
    store.close()
