"""``riskgraph db``, ``users``, ``import-flags`` and ``audit``: the state DB."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from api.cli.common import (
    STATE_OPTIONS,
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
@friendly
def users_add(
    name: str, role: str, regions: tuple[str, ...], workspace: Path, state_db: str | None
) -> None:
    """Add a user and print their API token (shown once; only its hash is stored)."""
    from api.server.auth.principals import create_user
    from api.server.state.audit import append_audit

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
