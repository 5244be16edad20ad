"""Initial state DB: users, roles, region scopes, flags and their review state, reviews, cases,
scans and the hash-chained audit trail (append-only, enforced by triggers).

Revision ID: 0001
Revises:
Create Date: 2025-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64
ROLES = [
    ("debt_analyst", "Debt, guarantee and ownership flags; enterprise, government, loan, bond "
     "and project data. No personal-data clearance.", False),
    ("aid_inspector", "Poverty-aid flags and aid data in the user's regions; personal-data "
     "clearance within scope.", True),
    ("investigator", "Every flag and graph query (incl. read-only Cypher) in the user's "
     "regions; personal-data clearance within scope.", True),
    ("admin", "Everything, every region, the audit trail and scans.", True),
]  # fmt: skip


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    roles = op.create_table(
        "roles",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("personal_clearance", sa.Boolean(), nullable=False),
    )
    op.bulk_insert(
        roles, [{"name": n, "description": d, "personal_clearance": c} for n, d, c in ROLES]
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("role", sa.String(32), sa.ForeignKey("roles.name"), nullable=False),
        sa.Column("token_selector", sa.String(16), nullable=False, unique=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
    )
    op.create_table(
        "user_regions",
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("region_code", sa.String(6), primary_key=True),
    )  # fmt: skip
    op.create_table(
        "scans",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("dataset_dir", sa.Text(), nullable=True),
        sa.Column("out_dir", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("started_at", _utc(), nullable=True),
        sa.Column("finished_at", _utc(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("flags_imported", sa.Integer(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
    )
    op.create_table(
        "flags",
        sa.Column("flag_id", sa.String(32), primary_key=True),
        sa.Column("detector", sa.String(64), nullable=False, index=True),
        sa.Column("family", sa.String(32), nullable=False, index=True),
        sa.Column("severity", sa.String(8), nullable=False, index=True),
        sa.Column("score", sa.Float(), nullable=False, index=True),
        sa.Column("region_code", sa.String(6), nullable=True, index=True),
        sa.Column("subject_type", sa.String(32), nullable=False),
        sa.Column("subject_id", sa.Text(), nullable=False),
        sa.Column("entities", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("explanation", sa.JSON(), nullable=False),
        sa.Column("settings_digest", sa.String(64), nullable=False),
        sa.Column("scan_id", sa.Integer(), sa.ForeignKey("scans.id"), nullable=True),
        sa.Column("imported_at", _utc(), nullable=False),
    )
    op.create_table(
        "flag_states",
        sa.Column(
            "flag_id", sa.String(32), sa.ForeignKey("flags.flag_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("status", sa.String(24), nullable=False, index=True),
        sa.Column("review_count", sa.Integer(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=True),
        sa.Column("updated_by", sa.String(100), nullable=True),
    )  # fmt: skip
    op.create_table(
        "review_decisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "flag_id", sa.String(32), sa.ForeignKey("flags.flag_id"), nullable=False, index=True
        ),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("user_name", sa.String(100), nullable=False),
        sa.Column("decision", sa.String(24), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("region_code", sa.String(6), nullable=False, index=True),
        sa.Column("assignee_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_table(
        "case_flags",
        sa.Column(
            "case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("flag_id", sa.String(32), sa.ForeignKey("flags.flag_id"), primary_key=True),
        sa.Column("added_by", sa.String(100), nullable=False),
        sa.Column("added_at", _utc(), nullable=False),
    )  # fmt: skip
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("at", sa.String(32), nullable=False, index=True),
        sa.Column("actor", sa.String(100), nullable=False, index=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("action", sa.String(64), nullable=False, index=True),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS_HASH}])
    _append_only_triggers()


def _append_only_triggers() -> None:
    """The audit trail refuses UPDATE and DELETE; the chain still catches whoever drops these."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION riskgraph_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'audit trail is append-only'; END $$"
        )
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "FOR EACH ROW EXECUTE FUNCTION riskgraph_audit_append_only()"
            )
        op.execute(
            "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
            "FOR EACH ROW EXECUTE FUNCTION riskgraph_audit_append_only()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END"
        )
    op.execute(
        "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
        "BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END"
    )


def downgrade() -> None:
    for table in (
        "audit_head", "audit_log", "case_flags", "cases", "review_decisions", "flag_states",
        "flags", "scans", "user_regions", "users", "roles",
    ):  # fmt: skip
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS riskgraph_audit_append_only()")
