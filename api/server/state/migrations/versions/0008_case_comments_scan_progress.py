"""Case comment threads (``case_comments``) and the progress of a running scan
(``scans.progress``), both shown in the web pages.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_comments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "case_id", sa.Integer, sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_case_comments_case_id", "case_comments", ["case_id"])
    op.add_column("scans", sa.Column("progress", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scans") as batch:
        batch.drop_column("progress")
    op.drop_index("ix_case_comments_case_id", "case_comments")
    op.drop_table("case_comments")
