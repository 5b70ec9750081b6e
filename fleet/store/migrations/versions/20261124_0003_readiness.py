"""readiness: sessions, runs, site verdicts and open problems

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meeting_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("dial_string", sa.String(length=255), nullable=False),
        sa.Column("bridge", sa.String(length=255), nullable=False),
        sa.Column("check_set", sa.String(length=255), nullable=False),
        sa.Column("participants", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("meeting_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meeting_session_starts_at"), ["starts_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_meeting_session_status"), ["status"], unique=False)

    op.create_table(
        "readiness_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("check_set", sa.String(length=255), nullable=False),
        sa.Column("check_set_digest", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("sites", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("polled", sa.Integer(), nullable=False),
        sa.Column("reused", sa.Integer(), nullable=False),
        sa.Column("rechecked", sa.Integer(), nullable=False),
        sa.Column("deadline_s", sa.Float(), nullable=False),
        sa.Column("deadline_hit", sa.Boolean(), nullable=False),
        sa.Column("report_dir", sa.String(length=1000), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["meeting_session.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("readiness_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_readiness_run_session_id"), ["session_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_readiness_run_started_at"), ["started_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_readiness_run_status"), ["status"], unique=False)

    op.create_table(
        "readiness_problem",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("check", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("site_id", "check", "device"),
    )
    op.create_table(
        "site_verdict",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=4000), nullable=False),
        sa.Column("parties", sa.JSON(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("rechecked", sa.Boolean(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["readiness_run.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "site_id"),
    )
    with op.batch_alter_table("site_verdict", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_site_verdict_site_id"), ["site_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("site_verdict", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_site_verdict_site_id"))

    op.drop_table("site_verdict")
    op.drop_table("readiness_problem")
    with op.batch_alter_table("readiness_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_readiness_run_status"))
        batch_op.drop_index(batch_op.f("ix_readiness_run_started_at"))
        batch_op.drop_index(batch_op.f("ix_readiness_run_session_id"))

    op.drop_table("readiness_run")
    with op.batch_alter_table("meeting_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meeting_session_status"))
        batch_op.drop_index(batch_op.f("ix_meeting_session_starts_at"))

    op.drop_table("meeting_session")
