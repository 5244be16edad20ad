"""What the commands share: the console, one-line errors, store and state-DB opening, tables."""

from __future__ import annotations

import functools
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
from graph_models.stores import STORE_KINDS

console = Console(stderr=True)
STORES = click.Choice(STORE_KINDS)


class State:
    """Options given to the whole command (``riskgraph --debug``)."""

    debug = False


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn exceptions into one line and an exit code (2: their data, 1: our failure)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DataError as e:
            if State.debug:
                raise
            report = getattr(e, "report", None)  # a LoadFailed carries every problem found
            if report is not None and len(report.problems) > 1:
                print_problems(report, "error")
            else:
                console.print(
                    f"[bold red]error[/]: {e.message}  [dim]({e.code})[/]", highlight=False
                )
            if report is not None:
                console.print(
                    "the load stopped before writing the graph; the clerks' validation report "
                    "(validation-report.html/.xlsx) is beside the reject files; --allow-partial "
                    "loads what can be loaded",
                    highlight=False,
                )
            sys.exit(2)
        except click.exceptions.ClickException:
            raise
        except Exception as e:
            if State.debug:
                raise
            from graph_models.stores import describe_store_error

            msg = describe_store_error(e) or f"{type(e).__name__}: {e}"
            console.print(
                f"[bold red]error[/]: {msg}  [dim](rerun with --debug for details)[/]",
                highlight=False,
            )
            sys.exit(1)

    return wrapper


def open_graph_store(kind: str, workspace: Path | None) -> Any:
    """:func:`graph_models.stores.open_store`, imported when a command needs it (fast --help)."""
    from graph_models.stores import open_store

    return open_store(kind, workspace)


def load_progress() -> tuple[Progress, Callable[[str, int], None]]:
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


def print_problems(report: Any, level: str) -> None:
    """Every problem of a load, one line each (``level``: "error" or "partial load")."""
    colour = "bold red" if level == "error" else "yellow"
    console.print(f"[{colour}]{level}[/]: {len(report.problems)} problem(s):", highlight=False)
    for p in report.problems:
        console.print(f"  - {p['message']}  [dim]({p['code']})[/]", highlight=False)


def print_load(report: Any) -> None:
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
    skipped = sum(sum(f.skipped.values()) for f in report.files)
    blanked = sum(f.blanked for f in report.files)
    if skipped or blanked:
        console.print(
            f"[dim]skipped lines (titles, blank, totals): {skipped:,}; optional cells blanked: "
            f"{blanked:,}[/]"
        )
    if report.identity_conflicts:
        console.print(
            f"[yellow]identity conflicts (one ID, two names; the later record refused): "
            f"{len(report.identity_conflicts):,}[/]"
        )
    if report.problems:
        print_problems(report, "partial load")


def read_settings(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    import yaml

    try:
        doc = yaml.safe_load(path.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise DataError("bad_settings", f"{path}: cannot read settings ({e})") from e
    return doc.get("detectors", doc)


def with_options(options: list[Callable[..., Any]]) -> Callable[..., Any]:
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        for opt in reversed(options):
            fn = opt(fn)
        return fn

    return wrap


def print_flags(summary: dict[str, Any]) -> None:
    table = Table(title=f"flags ({summary['flags_total']:,})")
    for col in ("detector", "total", "high", "medium", "low"):
        table.add_column(col, justify="left" if col == "detector" else "right")
    for det, c in summary["flags"].items():
        table.add_row(det, *(f"{c.get(k, 0):,}" for k in ("total", "high", "medium", "low")))
    console.print(table)
    for det, why in sorted(summary["skipped"].items()):
        console.print(f"[dim]skipped {det}: {why}[/]")


STATE_OPTIONS = [
    click.option("--workspace", type=click.Path(file_okay=False, path_type=Path),
                 default=lambda: Path(os.environ.get("RISKGRAPH_WORKSPACE", "riskgraph-workspace")),
                 show_default="riskgraph-workspace or $RISKGRAPH_WORKSPACE",
                 help="Workspace (default home of the state DB and the embedded store)."),
    click.option("--state-db", "state_db", default=None,
                 help="State DB URL or SQLite path (default $RISKGRAPH_STATE_DB or "
                      "WORKSPACE/riskgraph-state.sqlite)."),
]  # fmt: skip


def open_state_db(state_db: str | None, workspace: Path) -> Any:
    from api.server.state.db import StateDB, resolve_state_db_url

    return StateDB(resolve_state_db_url(state_db, workspace))


def cli_actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"
