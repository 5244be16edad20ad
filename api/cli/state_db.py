"""``riskgraph db``, ``users``, ``import-flags`` and ``audit``: the state DB."""

from __future__ import annotations

import os
import sys
from pathlib import Path

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
@with_options(STATE_OPTIONS)
@click.option("--store", "store_kind", type=STORES, default=lambda: os.environ.get("RISKGRAPH_STORE", "memory"),
              show_default="memory or $RISKGRAPH_STORE", help="The graph whose regions are checked.")  # fmt: skip
@click.option("--allow-unknown-region", is_flag=True,
              help="Add the user even if a --region is not a region of the graph (e.g. before "
                   "its data is loaded).")  # fmt: skip
@friendly
def users_add(
    name: str, role: str, regions: tuple[str, ...], workspace: Path, state_db: str | None,
    store_kind: str = "memory", allow_unknown_region: bool = False,
) -> None:  # fmt: skip
    """Add a user and print their API token (shown once; only its hash is stored).

    Each --region must be a region of the workspace's graph (or cover one): a scope the data
    does not contain would give an empty queue. With --allow-unknown-region it is added with a
    warning; a graph without any region (nothing loaded yet) only warns.
    """
    from api.server.auth.principals import create_user
    from api.server.state.audit import append_audit

    _check_regions(regions, workspace, store_kind, allow_unknown_region)
    state = open_state_db(state_db, workspace)
    with state.write() as session:
        token = create_user(session, name, role, list(regions))
        append_audit(
            session,
            actor=cli_actor(),
            role="system",
            action="user_add",
            resource=f"user {name}",
            detail={"role": role, "regions": sorted(set(regions))},
        )
    state.close()
    console.print(f"user [bold]{name}[/] ({role}) added; the token is shown once:")
    click.echo(token)


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


@click.command("import-flags")
@click.argument("scan_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@with_options(STATE_OPTIONS)
@friendly
def import_flags_cmd(scan_dir: Path, workspace: Path, state_db: str | None) -> None:
    """Load a scan's flags.jsonl into the state DB (idempotent; review state is kept)."""
    from api.server.state.audit import append_audit
    from api.server.state.flag_import import import_scan_dir

    state = open_state_db(state_db, workspace)
    with state.write() as session:
        result = import_scan_dir(session, scan_dir, requested_by=cli_actor())
        append_audit(
            session, actor=cli_actor(), role="system", action="import_flags",
            resource=f"scan {result.scan_id}",
            detail={"scan_dir": str(scan_dir.resolve()), "created": result.created,
                    "updated": result.updated},
        )  # fmt: skip
    state.close()
    console.print(
        f"imported {result.total:,} flags ({result.created:,} new, {result.updated:,} updated) "
        f"as scan {result.scan_id}"
    )


@click.group()
def audit() -> None:
    """The hash-chained audit trail."""


@audit.command("verify")
@with_options(STATE_OPTIONS)
@friendly
def audit_verify(workspace: Path, state_db: str | None) -> None:
    """Recompute the hash chain; exit 1 naming the first bad row."""
    from api.server.state.audit import verify_chain

    state = open_state_db(state_db, workspace)
    with state.read() as session:
        report = verify_chain(session)
    state.close()
    if not report.ok:
        console.print(f"[bold red]tampered[/]: {report.describe()}", highlight=False)
        sys.exit(1)
    console.print(report.describe())
