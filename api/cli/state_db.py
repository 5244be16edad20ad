"""``riskgraph db``, ``users``, ``import-flags`` and ``audit``: the state DB."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from api.cli.common import (
    STATE_OPTIONS,
    STORES,
    cli_actor,
    console,
    friendly,
    open_state_db,
    with_options,
)
from graph_models.errors import DataError

if TYPE_CHECKING:
    from api.server.state.flag_import import ImportResult


@click.group()
def db() -> None:
    """The state DB (users, reviews, cases, scans, audit trail)."""


@db.command("upgrade")
@with_options(STATE_OPTIONS)
@friendly
def db_upgrade(workspace: Path, state_db: str | None) -> None:
    """Apply the state DB migrations (also done on every use)."""
    state = open_state_db(state_db, workspace)
    console.print(f"state DB at revision [bold]{state.current_revision()}[/]")
    state.close()


@click.group()
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
@click.option(
    "--expires-in",
    "expires_in",
    default=None,
    metavar="DURATION",
    help="The token stops working after this long: 90d, 12h, 30m, 2w (default: never).",
)
@with_options(STATE_OPTIONS)
@click.option("--store", "store_kind", type=STORES, default=lambda: os.environ.get("RISKGRAPH_STORE", "memory"),
              show_default="memory or $RISKGRAPH_STORE", help="The graph whose regions are checked.")  # fmt: skip
@click.option("--allow-unknown-region", is_flag=True,
              help="Add the user even if a --region is not a region of the graph (e.g. before "
                   "its data is loaded).")  # fmt: skip
@friendly
def users_add(
    name: str,
    role: str,
    regions: tuple[str, ...],
    expires_in: str | None,
    workspace: Path,
    state_db: str | None,
    store_kind: str = "memory",
    allow_unknown_region: bool = False,
) -> None:
    """Add a user and print their API token (shown once; only its hash is stored).

    Each --region must be a region of the workspace's graph (or cover one): a scope the data
    does not contain would give an empty queue. With --allow-unknown-region it is added with a
    warning; a graph without any region (nothing loaded yet) only warns.
    """
    from api.server.auth.principals import create_user
    from api.server.state.audit import append_audit

    lifetime = parse_duration(expires_in) if expires_in else None
    _check_regions(regions, workspace, store_kind, allow_unknown_region)
    state = open_state_db(state_db, workspace)
    with state.write() as session:
        token = create_user(session, name, role, list(regions), expires_in=lifetime)
        detail: dict[str, object] = {"role": role, "regions": sorted(set(regions))}
        if lifetime is not None:
            detail["expires_in_seconds"] = int(lifetime.total_seconds())
        append_audit(
            session,
            actor=cli_actor(),
            role="system",
            action="user_add",
            resource=f"user {name}",
            detail=detail,
        )
    state.close()
    until = ""
    if lifetime is not None:
        until = f", valid until {(dt.datetime.now(dt.UTC) + lifetime):%Y-%m-%d %H:%M} UTC"
    console.print(f"user [bold]{name}[/] ({role}) added{until}; the token is shown once:")
    click.echo(token)


_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> dt.timedelta:
    """``90d``, ``12h``, ``30m``, ``2w`` (or a number of days) as a timedelta.

    Examples
    --------
    >>> parse_duration("90d").days, parse_duration("12h").seconds, parse_duration("7").days
    (90, 43200, 7)
    """
    raw = text.strip().lower()
    unit = raw[-1:] if raw[-1:] in _UNITS else "d"
    number = raw[:-1] if raw[-1:] in _UNITS else raw
    try:
        value = float(number)
    except ValueError:
        raise DataError(
            "bad_duration", f"--expires-in {text!r}: write a number and a unit, e.g. 90d or 12h"
        ) from None
    if value <= 0:
        raise DataError("bad_duration", f"--expires-in {text!r}: must be positive")
    return dt.timedelta(seconds=value * _UNITS[unit])


def _check_regions(regions: tuple[str, ...], workspace: Path, store_kind: str, allow: bool) -> None:
    """Refuse (or with ``allow`` warn about) region scopes the graph holds no region under."""
    from api.access.scopes import NATIONAL, is_region_code, region_prefix
    from graph_models.errors import DataError
    from graph_models.stores import open_store

    wanted = [r for r in regions if is_region_code(r) and r != NATIONAL]
    if not wanted:
        return  # malformed codes are create_user's to refuse
    store = open_store(store_kind, workspace)
    try:
        frame = store.nodes("Region", ["id", "name"])
    finally:
        store.close()
    known = {
        str(i): (n if isinstance(n, str) else "")
        for i, n in zip(frame["id"], frame["name"], strict=True)
    }
    if not known:
        console.print(
            f"[yellow]warning[/]: the graph in {workspace} holds no regions yet (nothing loaded?); "
            f"region scope {', '.join(wanted)} not checked",
            highlight=False,
        )
        return
    unknown = [r for r in wanted if not any(k.startswith(region_prefix(r)) for k in known)]
    if not unknown:
        return
    listed = ", ".join(f"{k} {v}".strip() for k, v in sorted(known.items())[:12])
    more = f" and {len(known) - 12} more" if len(known) > 12 else ""
    message = (
        f"region {', '.join(unknown)} is not in the graph in {workspace} (its regions: "
        f"{listed}{more})"
    )
    if not allow:
        raise DataError(
            "unknown_region", message + "; add --allow-unknown-region to add the user anyway"
        )
    console.print(f"[yellow]warning[/]: {message}; added anyway", highlight=False)


def import_scan(scan_dir: Path, workspace: Path, state_db: str | None) -> ImportResult:
    """Import ``scan_dir``'s flags into the state DB as the command-line user, audited; the
    ``ImportResult``. Used by ``import-flags`` and by ``demo``."""
    from api.server.state.audit import append_audit
    from api.server.state.flag_import import import_scan_dir

    state = open_state_db(state_db, workspace)
    try:
        with state.write() as session:
            result = import_scan_dir(session, scan_dir, requested_by=cli_actor())
            append_audit(
                session, actor=cli_actor(), role="system", action="import_flags",
                resource=f"scan {result.scan_id}",
                detail={"scan_dir": str(scan_dir.resolve()), "created": result.created,
                        "updated": result.updated, "reopened": result.reopened,
                        "unsupported": result.unsupported, "raised_again": result.raised_again},
            )  # fmt: skip
    finally:
        state.close()
    return result


@click.command("import-flags")
@click.argument("scan_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@with_options(STATE_OPTIONS)
@friendly
def import_flags_cmd(scan_dir: Path, workspace: Path, state_db: str | None) -> None:
    """Load a scan's flags.jsonl into the state DB (idempotent; review state is kept)."""
    result = import_scan(scan_dir, workspace, state_db)
    console.print(
        f"imported {result.total:,} flags ({result.created:,} new, {result.updated:,} updated) "
        f"as scan {result.scan_id}"
    )
    if result.reopened or result.changed:
        console.print(
            f"evidence changed: {result.reopened:,} decided flag(s) reopened for review, "
            f"{result.changed:,} open flag(s) updated"
        )
    if result.unsupported is None:
        console.print(
            "no summary.json beside flags.jsonl: flags this scan no longer raises were not "
            "looked for"
        )
    elif result.unsupported or result.raised_again:
        console.print(
            f"{result.unsupported:,} flag(s) no longer supported by the data (out of the "
            f"queue, history kept); {result.raised_again:,} raised again"
        )


@click.group()
def audit() -> None:
    """The hash-chained audit trail."""


@audit.command("verify")
@with_options(STATE_OPTIONS)
@friendly
def audit_verify(workspace: Path, state_db: str | None) -> None:
    """Recompute the keyed hash chain and check its head against the head log kept outside
    the database (RISKGRAPH_AUDIT_KEY_FILE, RISKGRAPH_AUDIT_HEAD_FILE); exit 1 naming the
    first bad row, exit 2 when the key or the head log cannot be found."""
    from api.server.state.audit import verify_chain

    state = open_state_db(state_db, workspace)
    with state.read() as session:
        report = verify_chain(session, seal=state.seal)
    state.close()
    if not report.ok and report.first_bad_seq is None:
        console.print(f"[bold red]cannot verify[/]: {report.describe()}", highlight=False)
        sys.exit(2)
    if not report.ok:
        console.print(f"[bold red]tampered[/]: {report.describe()}", highlight=False)
        sys.exit(1)
    console.print(report.describe())
