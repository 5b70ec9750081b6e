"""health sweeps

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sweep",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("devices", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sweep", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sweep_started_at"), ["started_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_sweep_status"), ["status"], unique=False)

    op.create_table(
        "device_sample",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sweep_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["sweep_id"], ["sweep.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("device_sample", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_sample_at"), ["at"], unique=False)
        batch_op.create_index("ix_device_sample_device_at", ["device_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_device_sample_sweep_id"), ["sweep_id"], unique=False)

    op.create_table(
        "device_state",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("sweep_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["sweep_id"], ["sweep.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("device_id"),
    )
    with op.batch_alter_table("device_state", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_state_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_device_state_sweep_id"), ["sweep_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("device_state", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_state_sweep_id"))
        batch_op.drop_index(batch_op.f("ix_device_state_status"))

    op.drop_table("device_state")
    with op.batch_alter_table("device_sample", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_sample_sweep_id"))
        batch_op.drop_index("ix_device_sample_device_at")
        batch_op.drop_index(batch_op.f("ix_device_sample_at"))

    op.drop_table("device_sample")
    with op.batch_alter_table("sweep", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sweep_status"))
        batch_op.drop_index(batch_op.f("ix_sweep_started_at"))

    op.drop_table("sweep")
