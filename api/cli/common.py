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
from rich.table import Table

from graph_models.errors import DataError
from graph_models.stores import STORE_KINDS

#: the console every command writes to (stderr); when it is not a terminal (a pipe, a log file)
#: nothing is wrapped or cut at a width and tables are printed as plain lines
console = Console(stderr=True, soft_wrap=not sys.stderr.isatty())
STORES = click.Choice(STORE_KINDS)


def default_workspace() -> Path:
    """``$RISKGRAPH_WORKSPACE`` or ``riskgraph-workspace``: where ``load`` and ``scan`` keep
    the graph and ``serve`` finds it."""
    return Path(os.environ.get("RISKGRAPH_WORKSPACE") or "riskgraph-workspace")


def print_table(title: str, columns: list[str], rows: list[list[str]],
                left: tuple[str, ...] = ()) -> None:  # fmt: skip
    """A table: boxed on a terminal, else plain aligned lines at full width (never cut)."""
    if console.is_terminal:
        table = Table(title=title)
        for col in columns:
            table.add_column(col, justify="left" if col in left else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
        return
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if col in left else c.rjust(w)
            for c, w, col in zip(cells, widths, columns, strict=True)
        ).rstrip()

    lines = [title, fmt(columns), *(fmt(r) for r in rows)]
    console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True, crop=False)


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


def reporter() -> Any:
    """The progress reporter of a long command (:class:`api.cli.progress.Reporter`)."""
    from api.cli.progress import Reporter

    return Reporter(console)


def print_problems(report: Any, level: str) -> None:
    """Every problem of a load, one line each (``level``: "error" or "partial load")."""
    colour = "bold red" if level == "error" else "yellow"
    console.print(f"[{colour}]{level}[/]: {len(report.problems)} problem(s):", highlight=False)
    for p in report.problems:
        console.print(f"  - {p['message']}  [dim]({p['code']})[/]", highlight=False)


def print_load(report: Any) -> None:
    rows = []
    for name, r in report.tables.items():
        files = r.files if r.files else []
        reused = sum(1 for f in files if getattr(f, "reused", False))
        state = "reused" if files and reused == len(files) else (
            f"{reused}/{len(files)} reused" if reused else "read")  # fmt: skip
        rows.append([
            name, r.file + (f" (+{len(files) - 1})" if len(files) > 1 else ""),
            r.encoding or "-", state, f"{r.read:,}", f"{r.loaded:,}", f"{r.rejected:,}",
            f"{r.duplicate:,}", f"{r.dangling:,}",
        ])  # fmt: skip
    print_table(
        "load",
        ["table", "file", "encoding", "files", "read", "loaded", "rejected", "duplicate",
         "dangling"],
        rows, left=("table", "file", "encoding", "files"),
    )  # fmt: skip
    for d in getattr(report, "deliveries", None) or []:
        ids = ", ".join(f"{n:,} {label} ids" for label, n in d["same_ids"].items())
        console.print(
            f"[yellow]delivery {d['file']} overlaps earlier files of {d['table']}:[/] "
            f"{d['identical_rows']:,} rows identical to earlier rows (counted as duplicate)"
            + (f"; {ids} given before (the later values win)" if ids else ""),
            highlight=False,
        )
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
    new = (summary.get("new_since_previous_scan") or {}).get("by_detector")
    columns = ["detector", "total", "high", "medium", "low"] + (["new"] if new is not None else [])
    rows = []
    for det, c in summary["flags"].items():
        row = [det, *(f"{c.get(k, 0):,}" for k in ("total", "high", "medium", "low"))]
        if new is not None:
            row.append(f"{new.get(det, 0):,}")
        rows.append(row)
    print_table(f"flags ({summary['flags_total']:,})", columns, rows, left=("detector",))
    comparison = summary.get("new_since_previous_scan")
    if comparison and comparison.get("previous_scan"):
        prev = comparison["previous_scan"]
        console.print(
            f"[dim]new since the previous scan (generation {prev['generation']}, "
            f"{prev.get('at') or '?'}): {comparison['new']:,}; no longer flagged: "
            f"{comparison['no_longer_flagged']:,}[/]",
            highlight=False,
        )
    for det, why in sorted(summary["skipped"].items()):
        console.print(f"[dim]skipped {det}: {why}[/]")


STATE_OPTIONS = [
    click.option("--workspace", type=click.Path(file_okay=False, path_type=Path),
                 default=default_workspace, show_default="$RISKGRAPH_WORKSPACE or riskgraph-workspace",
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
