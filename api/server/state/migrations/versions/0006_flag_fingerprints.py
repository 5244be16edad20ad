"""Decisions follow the data: each flag keeps the fingerprint of its material evidence
(``flags.fingerprint``); its review state remembers the decision a change of evidence reopened
(``flag_states.prior_status``, ``changed_at``); ``flag_changes`` keeps the history of changes
(evidence changed, no longer supported by the data, raised again) with the differences.

Flags imported before this revision get their fingerprint from their next import (no change is
reported for that one: there is nothing to compare with).

Revision ID: 0006
Revises: 0005
Create Date: 2026-01-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("flags", sa.Column("fingerprint", sa.String(32), nullable=True))
    op.add_column("flag_states", sa.Column("prior_status", sa.String(24), nullable=True))
    op.add_column("flag_states", sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "flag_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "flag_id",
            sa.String(32),
            sa.ForeignKey("flags.flag_id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("scan_id", sa.Integer(), sa.ForeignKey("scans.id"), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("status_before", sa.String(24), nullable=False),
        sa.Column("status_after", sa.String(24), nullable=False),
        sa.Column("fingerprint_before", sa.String(32), nullable=True),
        sa.Column("fingerprint_after", sa.String(32), nullable=True),
        sa.Column("differences", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("flag_changes")
    with op.batch_alter_table("flag_states") as batch:
        batch.drop_column("changed_at")
        batch.drop_column("prior_status")
    with op.batch_alter_table("flags") as batch:
        batch.drop_column("fingerprint")
