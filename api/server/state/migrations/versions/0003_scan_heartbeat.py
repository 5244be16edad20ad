"""Scan heartbeats: the process running a scan job writes ``scans.heartbeat_at`` while it runs,
so a scan left queued or running by a process that died is recognised and marked failed instead
of refusing every later scan.

Revision ID: 0003
Revises: 0002
Create Date: 2025-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("scans", sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scans") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("heartbeat_at")
