"""provisioning: config backups, runs, results, audit trail

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


# The audit trail is append-only: the database itself refuses to change or remove its rows.
APPEND_ONLY_SQLITE = [
    f"""CREATE TRIGGER audit_event_no_{verb} BEFORE {verb.upper()} ON audit_event
    BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END"""
    for verb in ("update", "delete")
]
APPEND_ONLY_POSTGRES = [
    """CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'audit_event is append-only'; END $$""",
    """CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()""",
    """CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()""",
]


def _append_only() -> None:
    dialect = op.get_bind().dialect.name
    for statement in APPEND_ONLY_POSTGRES if dialect == "postgresql" else APPEND_ONLY_SQLITE:
        op.execute(statement)


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.String(length=4000), nullable=False),
        sa.Column("diff", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_device"), ["device"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_run_id"), ["run_id"], unique=False)

    op.create_table(
        "config_backup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("device", "version"),
    )
    with op.batch_alter_table("config_backup", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_config_backup_device"), ["device"], unique=False)
        batch_op.create_index(batch_op.f("ix_config_backup_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_config_backup_taken_at"), ["taken_at"], unique=False)

    op.create_table(
        "provision_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=32), nullable=False),
        sa.Column("playbook", sa.String(length=255), nullable=False),
        sa.Column("playbook_digest", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("devices", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("override_reason", sa.String(length=2000), nullable=False),
        sa.Column("stopped", sa.String(length=2000), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("provision_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_provision_run_started_at"), ["started_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_provision_run_status"), ["status"], unique=False)

    op.create_table(
        "provision_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=4000), nullable=False),
        sa.Column("failed_line", sa.String(length=1000), nullable=False),
        sa.Column("diff", sa.Text(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("backup_sha256", sa.String(length=64), nullable=False),
        sa.Column("elapsed_s", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["provision_run.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "device"),
    )
    with op.batch_alter_table("provision_result", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_provision_result_device"), ["device"], unique=False)
        batch_op.create_index(batch_op.f("ix_provision_result_outcome"), ["outcome"], unique=False)

    _append_only()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event")
        op.execute("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event")
        op.execute("DROP FUNCTION IF EXISTS audit_event_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
    with op.batch_alter_table("provision_result", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provision_result_outcome"))
        batch_op.drop_index(batch_op.f("ix_provision_result_device"))

    op.drop_table("provision_result")
    with op.batch_alter_table("provision_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provision_run_status"))
        batch_op.drop_index(batch_op.f("ix_provision_run_started_at"))

    op.drop_table("provision_run")
    with op.batch_alter_table("config_backup", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_config_backup_taken_at"))
        batch_op.drop_index(batch_op.f("ix_config_backup_run_id"))
        batch_op.drop_index(batch_op.f("ix_config_backup_device"))

    op.drop_table("config_backup")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_run_id"))
        batch_op.drop_index(batch_op.f("ix_audit_event_device"))
        batch_op.drop_index(batch_op.f("ix_audit_event_at"))
        batch_op.drop_index(batch_op.f("ix_audit_event_actor"))
        batch_op.drop_index(batch_op.f("ix_audit_event_action"))

    op.drop_table("audit_event")
