"""The ``riskgraph`` command line.

Every command prints one readable line and exits non-zero on bad input (a missing directory, an
unreadable file, a wrong-typed column); ``--debug`` adds the traceback.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from graph_models.errors import DataError

__all__ = ["main"]

console = Console(stderr=True)
STORES = click.Choice(["memory", "neo4j"])


class _State:
    debug = False


def _friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn exceptions into one line and an exit code (2: their data, 1: our failure)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DataError as e:
            if _State.debug:
                raise
            console.print(f"[bold red]error[/]: {e.message}  [dim]({e.code})[/]", highlight=False)
            sys.exit(2)
        except click.exceptions.ClickException:
            raise
        except Exception as e:
            if _State.debug:
                raise
            from graph_models.neo4j_errors import describe_neo4j_error

            msg = describe_neo4j_error(e) or f"{type(e).__name__}: {e}"
            console.print(
                f"[bold red]error[/]: {msg}  [dim](rerun with --debug for details)[/]",
                highlight=False,
            )
            sys.exit(1)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
@click.version_option(package_name="riskgraph")
def main(debug: bool) -> None:
    """riskgraph: graph analytics for hidden debt, guarantee circles and aid fraud."""
    _State.debug = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def _open_store(kind: str, workspace: Path | None) -> Any:
    from graph_models.store import open_store

    return open_store(kind, workspace)


def _load_progress() -> tuple[Progress, Callable[[str, int], None]]:
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    )
    tasks: dict[str, Any] = {}

    def update(table: str, rows: int) -> None:
        if table not in tasks:
            tasks[table] = progress.add_task(table, total=None)
        progress.advance(tasks[table], rows)

    return progress, update


def _print_load(report: Any) -> None:
    table = Table(title="load", show_lines=False)
    for col in ("table", "file", "encoding", "read", "loaded", "rejected", "duplicate", "dangling"):
        table.add_column(
            col, justify="right" if col not in ("table", "file", "encoding") else "left"
        )
    for name, r in report.tables.items():
        table.add_row(
            name, r.file, r.encoding or "-", f"{r.read:,}", f"{r.loaded:,}", f"{r.rejected:,}",
            f"{r.duplicate:,}", f"{r.dangling:,}",
        )  # fmt: skip
    console.print(table)
    if report.missing_tables:
        console.print(f"[dim]tables not present: {', '.join(report.missing_tables)}[/]")
    if report.ignored_files:
        console.print(
            f"[yellow]ignored files (not in the contract): {', '.join(report.ignored_files)}[/]"
        )


@main.command()
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
@_friendly
def synth(out_dir: Path, households: int, enterprises: int | None, seed: int, variant: str) -> None:
    """Generate a synthetic contract dataset with planted cases and ground_truth.jsonl."""
    from fixtures.synth import generate

    report = generate(
        out_dir, households=households, seed=seed, enterprises=enterprises, variant=variant
    )
    console.print(f"dataset written to [bold]{out_dir}[/] ({report.summary_line()})")


@main.command()
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
@_friendly
def load(
    dataset: Path,
    workspace: Path,
    store_kind: str,
    rejects: Path | None,
    as_json: bool,
    bulk: bool = False,
    replace: bool = False,
) -> None:
    """Load a dataset directory into the store and report per-table counts."""
    from loaders.load import load_dataset

    if bulk and store_kind != "neo4j":
        raise click.UsageError("--bulk is a way to fill Neo4j: use it with --store neo4j")
    if replace and not bulk:
        raise click.UsageError("--replace goes with --bulk")
    if bulk and not replace:
        target = _open_store("neo4j", workspace)
        existing = target.counts()
        target.close()
        if existing["nodes"]:
            raise click.UsageError(
                "--bulk replaces the whole Neo4j database and is for a first load only; this "
                f"database already holds {sum(existing['nodes'].values()):,} nodes "
                "(load without --bulk to add to it, or add --replace to replace it)"
            )
    if bulk:  # staging: the loaders fill a fresh in-memory embedded store first
        from graph_models.memory_store import MemoryStore

        store = MemoryStore()
    else:
        store = _open_store(store_kind, workspace)
    progress, update = _load_progress()
    with progress:
        report = load_dataset(
            dataset, store, rejects_dir=rejects or workspace / "rejects", progress=update
        )
    if bulk:
        from graph_models.neo4j_bulk import bulk_import

        console.print("bulk import into Neo4j (offline: the server restarts) ...")
        files, neo4j = bulk_import(store, workspace / "neo4j-import")
        store.close()
        store = neo4j
        console.print(
            f"imported {sum(files.nodes.values()):,} nodes and "
            f"{sum(files.relationships.values()):,} relationships; constraints and indexes created"
        )
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        _print_load(report)
        console.print(f"graph: {store.counts()['nodes']}")
    store.close()


def _read_settings(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    import yaml

    try:
        doc = yaml.safe_load(path.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise DataError("bad_settings", f"{path}: cannot read settings ({e})") from e
    return doc.get("detectors", doc)


def _run_scan(
    dataset: Path | None, out: Path, workspace: Path | None, store_kind: str, settings: Path | None,
    only: tuple[str, ...], as_of: str | None, engine: str = "embedded",
    spark_master: str | None = None, spark_graph: str | None = None,
) -> Any:  # fmt: skip
    from api.pipeline import scan_dataset

    if dataset is not None and not dataset.is_dir():
        raise DataError("missing_dataset", f"{dataset}: no such dataset directory")
    store = _open_store(store_kind, workspace or out / "workspace")
    progress, update = _load_progress()
    as_of_date = dt.date.fromisoformat(as_of) if as_of else None
    with progress:
        outcome = scan_dataset(
            store, out, dataset, settings_doc=_read_settings(settings), only=list(only) or None,
            as_of=as_of_date, load_progress=update,
            detector_progress=lambda d: console.print(f"[dim]running {d}[/]") if _State.debug else None,
            engine=engine, spark_master=spark_master, spark_graph=spark_graph,
        )  # fmt: skip
    store.close()
    return outcome


_scan_options = [
    click.option("--workspace", type=click.Path(file_okay=False, path_type=Path), default=None,
                 help="Embedded store directory (default OUT/workspace)."),
    click.option("--store", "store_kind", type=STORES, default=lambda: os.environ.get("RISKGRAPH_STORE", "memory")),
    click.option("--settings", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                 help="YAML/JSON file: {detector_id: {setting: value}}."),
    click.option("--only", multiple=True, help="Run only this detector id (repeatable)."),
    click.option("--as-of", default=None, help="Reference date YYYY-MM-DD for open intervals (default today)."),
    click.option("--engine", type=click.Choice(["embedded", "spark"]),
                 default=lambda: os.environ.get("RISKGRAPH_ENGINE", "embedded"), show_default="embedded",
                 help="Where the detectors run: in this process, or on Apache Spark (docs/spark.md)."),
    click.option("--spark-master", default=None,
                 help="Spark master for --engine spark (default: spark-submit's, $SPARK_MASTER, local[*])."),
    click.option("--spark-graph", default=None,
                 help="Graph tables Spark reads (default WORKSPACE/graph; hdfs://, s3a://, oss:// URIs)."),
]  # fmt: skip


def _with_options(options: list[Callable[..., Any]]) -> Callable[..., Any]:
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        for opt in reversed(options):
            fn = opt(fn)
        return fn

    return wrap


@main.command()
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True)
@_with_options(_scan_options)
@click.option(
    "--report/--no-report", default=True, show_default=True, help="Also write report.html."
)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@_friendly
def scan(
    dataset: Path, out: Path, workspace: Path | None, store_kind: str, settings: Path | None,
    only: tuple[str, ...], as_of: str | None, engine: str, spark_master: str | None,
    spark_graph: str | None, report: bool, lang: str,
) -> None:  # fmt: skip
    """Load DATASET, run every detector, write flags.jsonl, flags.csv, summary.json, rejects/."""
    outcome = _run_scan(dataset, out, workspace, store_kind, settings, only, as_of, engine,
                        spark_master, spark_graph)  # fmt: skip
    if outcome.load:
        _print_load(outcome.load)
    _print_flags(outcome.summary)
    if report:
        from api.report import write_report

        write_report(out, out / "report.html", lang=lang)
    console.print(f"outputs in [bold]{out}[/]: flags.jsonl, flags.csv, summary.json, rejects/"
                  + (", report.html" if report else ""))  # fmt: skip


def _print_flags(summary: dict[str, Any]) -> None:
    table = Table(title=f"flags ({summary['flags_total']:,})")
    for col in ("detector", "total", "high", "medium", "low"):
        table.add_column(col, justify="left" if col == "detector" else "right")
    for det, c in summary["flags"].items():
        table.add_row(det, *(f"{c.get(k, 0):,}" for k in ("total", "high", "medium", "low")))
    console.print(table)
    for det, why in sorted(summary["skipped"].items()):
        console.print(f"[dim]skipped {det}: {why}[/]")


@main.command()
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-out"),
              show_default=True)  # fmt: skip
@click.option("--households", default=500, show_default=True)
@click.option("--seed", default=7, show_default=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@_friendly
def demo(out: Path, households: int, seed: int, lang: str) -> None:
    """Generate the demo dataset, load it into the embedded store, scan, write the report."""
    import shutil

    from api.report import write_report
    from fixtures.synth import SNAPSHOT_DATE, generate

    dataset = out / "dataset"
    if dataset.exists():
        shutil.rmtree(dataset)
    console.print(f"generating {households} households (seed {seed}) ...")
    generate(dataset, households=households, seed=seed)
    workspace = out / "workspace"
    if workspace.exists():
        shutil.rmtree(workspace)
    console.print(f"reference date (--as-of) {SNAPSHOT_DATE}: the synthetic registers' export date")
    outcome = _run_scan(dataset, out, workspace, "memory", None, (), SNAPSHOT_DATE.isoformat())
    if outcome.load:
        _print_load(outcome.load)
    _print_flags(outcome.summary)
    path = write_report(out, out / "report.html", lang=lang)
    from engine.evaluation import evaluate, format_evaluation

    ev = evaluate(out / "flags.jsonl", dataset / "ground_truth.jsonl")
    ev.to_csv(out / "evaluation.csv", index=False)
    click.echo(format_evaluation(ev), err=True)
    console.print(
        f"\n[bold green]done[/]: flags in {out / 'flags.jsonl'}, report in [bold]{path}[/]"
    )


@main.command()
@click.argument("scan_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--truth", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="ground_truth.jsonl written by 'riskgraph synth'.")  # fmt: skip
@_friendly
def evaluate(scan_dir: Path, truth: Path) -> None:
    """Precision and recall of every detector against a synthetic dataset's ground truth."""
    from engine.evaluation import evaluate as run_eval
    from engine.evaluation import format_evaluation

    ev = run_eval(scan_dir / "flags.jsonl", truth)
    click.echo(format_evaluation(ev))


@main.command()
@click.option("--scan", "scan_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=Path("demo-out"), show_default=True, help="A scan output directory.")  # fmt: skip
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--unmasked", is_flag=True, help="Show resident ID numbers in full.")
@_friendly
def report(scan_dir: Path, out_file: Path, lang: str, unmasked: bool) -> None:
    """Write a printable HTML report of a scan."""
    from api.report import write_report

    if not (scan_dir / "summary.json").exists():
        raise DataError("missing_scan", f"{scan_dir}: no summary.json (run 'riskgraph scan' first)")
    path = write_report(scan_dir, out_file, lang=lang, unmasked=unmasked)
    console.print(f"report written to [bold]{path}[/]")


@main.command()
@click.option("--json", "as_json", is_flag=True)
def detectors(as_json: bool) -> None:
    """List the detectors: what each requires, reads and uses, where it runs, its settings."""
    from engine.registry import all_detectors
    from engine.settings import settings_doc
    from engine.spark.engine import placement_note

    specs = all_detectors()
    if as_json:
        doc = [
            {"id": s.id, "title_zh": s.title_zh, "title_en": s.title_en,
             "subject": list(s.subjects), "reads": list(s.reads),
             "requires": [str(r) for r in s.requires], "uses": list(s.uses),
             "runs_on": {"embedded": True, "spark": s.partition is not None},
             "partition": s.partition, "spark": placement_note(s.partition),
             "settings": settings_doc(s.settings)}
            for s in specs
        ]  # fmt: skip
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2, default=str))
        return
    for s in specs:
        click.echo(f"{s.id:32s} {s.title_zh} / {s.title_en}")
        click.echo(f"    requires: {', '.join(map(str, s.requires)) or '-'}")
        click.echo(f"    reads:    {', '.join(s.reads)}")
        if s.uses:
            click.echo(f"    uses:     {', '.join(s.uses)}")
        click.echo(f"    runs on:  embedded; {placement_note(s.partition)}")
        for item in settings_doc(s.settings):
            click.echo(f"    {item['name']} = {item['default']!r}: {item['doc']}")


# -- state DB, users, audit trail, API server --------------------------------------------------

_state_options = [
    click.option("--workspace", type=click.Path(file_okay=False, path_type=Path),
                 default=Path("riskgraph-workspace"), show_default=True,
                 help="Workspace (default home of the state DB and the embedded store)."),
    click.option("--state-db", "state_db", default=None,
                 help="State DB URL or SQLite path (default $RISKGRAPH_STATE_DB or "
                      "WORKSPACE/riskgraph-state.sqlite)."),
]  # fmt: skip


def _state_db(state_db: str | None, workspace: Path) -> Any:
    from api.state.db import StateDB, resolve_state_db_url

    return StateDB(resolve_state_db_url(state_db, workspace))


def _cli_actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@main.group()
def db() -> None:
    """The state DB (users, reviews, cases, scans, audit trail)."""


@db.command("upgrade")
@_with_options(_state_options)
@_friendly
def db_upgrade(workspace: Path, state_db: str | None) -> None:
    """Apply the state DB migrations (also done on every use)."""
    state = _state_db(state_db, workspace)
    console.print(f"state DB at revision [bold]{state.current_revision()}[/]")
    state.close()


@main.group()
def users() -> None:
    """API users: roles and region scopes."""


@users.command("add")
@click.argument("name")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["debt_analyst", "aid_inspector", "investigator", "admin"]),
)
@click.option(
    "--region",
    "regions",
    multiple=True,
    help="Region scope (6 digits, covers everything under it; repeatable; "
    "000000 = whole country). Needed for every role but admin.",
)
@_with_options(_state_options)
@_friendly
def users_add(
    name: str, role: str, regions: tuple[str, ...], workspace: Path, state_db: str | None
) -> None:
    """Add a user and print their API token (shown once; only its hash is stored)."""
    from api.auth import create_user
    from api.state.audit import append_audit

    state = _state_db(state_db, workspace)
    with state.write() as session:
        token = create_user(session, name, role, list(regions))
        append_audit(
            session,
            actor=_cli_actor(),
            role="system",
            action="user_add",
            resource=f"user {name}",
            detail={"role": role, "regions": sorted(set(regions))},
        )
    state.close()
    console.print(f"user [bold]{name}[/] ({role}) added; the token is shown once:")
    click.echo(token)


@main.command("import-flags")
@click.argument("scan_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_with_options(_state_options)
@_friendly
def import_flags_cmd(scan_dir: Path, workspace: Path, state_db: str | None) -> None:
    """Load a scan's flags.jsonl into the state DB (idempotent; review state is kept)."""
    from api.state.audit import append_audit
    from api.state.flag_import import import_scan_dir

    state = _state_db(state_db, workspace)
    with state.write() as session:
        result = import_scan_dir(session, scan_dir, requested_by=_cli_actor())
        append_audit(
            session, actor=_cli_actor(), role="system", action="import_flags",
            resource=f"scan {result.scan_id}",
            detail={"scan_dir": str(scan_dir.resolve()), "created": result.created,
                    "updated": result.updated},
        )  # fmt: skip
    state.close()
    console.print(
        f"imported {result.total:,} flags ({result.created:,} new, {result.updated:,} updated) "
        f"as scan {result.scan_id}"
    )


@main.group()
def audit() -> None:
    """The hash-chained audit trail."""


@audit.command("verify")
@_with_options(_state_options)
@_friendly
def audit_verify(workspace: Path, state_db: str | None) -> None:
    """Recompute the hash chain; exit 1 naming the first bad row."""
    from api.state.audit import verify_chain

    state = _state_db(state_db, workspace)
    with state.read() as session:
        report = verify_chain(session)
    state.close()
    if not report.ok:
        console.print(f"[bold red]tampered[/]: {report.describe()}", highlight=False)
        sys.exit(1)
    console.print(report.describe())


@main.command()
@click.option("--store", "store_kind", type=STORES, default=lambda: os.environ.get("RISKGRAPH_STORE", "memory"),
              show_default="memory or $RISKGRAPH_STORE")  # fmt: skip
@_with_options(_state_options)
@click.option("--datasets", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="POST /scans reads dataset directories under this one.")  # fmt: skip
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", type=click.IntRange(1, 64),
              default=lambda: int(os.environ.get("RISKGRAPH_WORKERS", "1")),
              show_default="1 or $RISKGRAPH_WORKERS",
              help="Worker processes sharing the port (about one per CPU core). With the "
                   "memory store the graph is loaded once and shared by all of them.")  # fmt: skip
@_friendly
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
    from api.app import create_app

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

    from api.workers import bind_socket, serve_workers

    sock = bind_socket(host, port)

    def preload() -> object | None:
        """The memory store, loaded and warmed once, shared by the forked workers."""
        from api.graph_access import GraphAccess
        from api.scan_jobs import latest_graph_scan
        from api.state.db import StateDB, resolve_state_db_url
        from graph_models.store import open_store

        db = StateDB(resolve_state_db_url(state_db, workspace))  # migrated here, once
        generation = latest_graph_scan(db)  # before the load: a scan finishing now is reloaded
        db.close()  # no connection crosses the fork
        if store_kind != "memory":
            return None  # nor a Neo4j driver: each worker opens its own
        access = GraphAccess(
            open_store("memory", workspace), freeze_gc=True, generation=generation,
            reopen=lambda: open_store("memory", workspace),
        )  # fmt: skip
        access.warm()
        return access

    def make_app(graph: object | None) -> object:
        if graph is None:
            return create_app(**options, store_kind=store_kind, freeze_gc=True)
        return create_app(**options, graph=graph)  # type: ignore[arg-type]

    raise SystemExit(serve_workers(make_app, sock, workers, preload))


@main.command("export-flags")
@click.argument("scan_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The .xlsx file to write.")  # fmt: skip
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--region", default=None, help="Only flags of this region and below (6 digits).")
@click.option(
    "--unmasked", is_flag=True, help="Show resident IDs, phone and account numbers in full."
)
@_friendly
def export_flags(
    scan_dir: Path, out_file: Path, lang: str, region: str | None, unmasked: bool
) -> None:
    """Export a scan's flags to an Excel workbook (flags, evidence rows, counts)."""
    from api.exports import write_flags_xlsx
    from api.scopes import is_region_code

    if not (scan_dir / "flags.jsonl").is_file():
        raise DataError("missing_flags", f"{scan_dir}: no flags.jsonl (run 'riskgraph scan' first)")
    if region is not None and not is_region_code(region):
        raise DataError("bad_region", f"region codes are 6 digits: {region}")
    path, n = write_flags_xlsx(scan_dir, out_file, lang=lang, region=region, unmasked=unmasked)
    console.print(f"{n:,} flags written to [bold]{path}[/]")


if __name__ == "__main__":  # pragma: no cover
    main()
