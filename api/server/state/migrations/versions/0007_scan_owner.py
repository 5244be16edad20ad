"""Scan owners: the host, pid and process start time of the process that took a scan job, so
a process that finds an active scan whose owner on this host is gone marks it failed at once
(instead of waiting for its heartbeat to go stale).

Revision ID: 0007
Revises: 0006
Create Date: 2026-01-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("scans", sa.Column("owner_host", sa.String(255), nullable=True))
    op.add_column("scans", sa.Column("owner_pid", sa.Integer(), nullable=True))
    op.add_column("scans", sa.Column("owner_started", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scans") as batch:
        batch.drop_column("owner_started")
        batch.drop_column("owner_pid")
        batch.drop_column("owner_host")
