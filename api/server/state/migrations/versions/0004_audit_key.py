"""A keyed audit chain: ``audit_head`` gains the chain's random id (inside every keyed row's
HMAC, and naming its head log outside the database) and the first row hashed with the key.
Rows already written keep their plain SHA-256 hashes; the first keyed row's HMAC covers them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-01-20
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_head") as batch:
        batch.add_column(sa.Column("chain_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("keyed_from", sa.Integer(), nullable=True))
    head = sa.table(
        "audit_head",
        sa.column("id", sa.Integer()),
        sa.column("seq", sa.Integer()),
        sa.column("chain_id", sa.String(32)),
        sa.column("keyed_from", sa.Integer()),
    )
    op.execute(
        head.update()
        .where(head.c.id == 1)
        .values(chain_id=uuid.uuid4().hex, keyed_from=head.c.seq + 1)
    )
    with op.batch_alter_table("audit_head") as batch:
        batch.alter_column("chain_id", existing_type=sa.String(32), nullable=False)
        batch.alter_column("keyed_from", existing_type=sa.Integer(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("keyed_from")
        batch.drop_column("chain_id")
