"""initial inventory schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credential_profile",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("snmp_version", sa.String(length=32), nullable=False),
        sa.Column("snmp_community_ref", sa.String(length=255), nullable=True),
        sa.Column("snmp_user", sa.String(length=64), nullable=True),
        sa.Column("snmp_auth_protocol", sa.String(length=32), nullable=True),
        sa.Column("snmp_auth_key_ref", sa.String(length=255), nullable=True),
        sa.Column("snmp_priv_protocol", sa.String(length=32), nullable=True),
        sa.Column("snmp_priv_key_ref", sa.String(length=255), nullable=True),
        sa.Column("ssh_user", sa.String(length=64), nullable=True),
        sa.Column("ssh_password_ref", sa.String(length=255), nullable=True),
        sa.Column("ssh_key_ref", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "province",
        sa.Column("code", sa.String(length=2), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("codename", sa.String(length=100), nullable=False),
        sa.Column("division_type", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("code"),
        sa.UniqueConstraint("codename"),
    )
    op.create_table(
        "site_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=400), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "admin_unit",
        sa.Column("code", sa.String(length=5), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("division_type", sa.String(length=32), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["province_code"],
            ["province.code"],
        ),
        sa.PrimaryKeyConstraint("code"),
    )
    with op.batch_alter_table("admin_unit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_admin_unit_province_code"), ["province_code"], unique=False)

    op.create_table(
        "site_group_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["site_group.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("group_id", "kind", "value"),
    )
    with op.batch_alter_table("site_group_member", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_site_group_member_group_id"), ["group_id"], unique=False)

    op.create_table(
        "site",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("admin_code", sa.String(length=5), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("carrier", sa.String(length=32), nullable=False),
        sa.Column("contact_name", sa.String(length=200), nullable=False),
        sa.Column("contact_phone", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=400), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["admin_code"],
            ["admin_unit.code"],
        ),
        sa.ForeignKeyConstraint(
            ["province_code"],
            ["province.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_site_admin_code"), ["admin_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_site_carrier"), ["carrier"], unique=False)
        batch_op.create_index(batch_op.f("ix_site_province_code"), ["province_code"], unique=False)

    op.create_table(
        "device",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("vendor", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("driver", sa.String(length=64), nullable=False),
        sa.Column("mgmt_address", sa.String(length=45), nullable=False),
        sa.Column("snmp_port", sa.Integer(), nullable=False),
        sa.Column("ssh_port", sa.Integer(), nullable=True),
        sa.Column("credential_profile_id", sa.Integer(), nullable=False),
        sa.Column("expected_firmware", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["credential_profile_id"],
            ["credential_profile.id"],
        ),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("mgmt_address"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_device_credential_profile_id"), ["credential_profile_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_device_role"), ["role"], unique=False)
        batch_op.create_index(batch_op.f("ix_device_site_id"), ["site_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_site_id"))
        batch_op.drop_index(batch_op.f("ix_device_role"))
        batch_op.drop_index(batch_op.f("ix_device_credential_profile_id"))

    op.drop_table("device")
    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_site_province_code"))
        batch_op.drop_index(batch_op.f("ix_site_carrier"))
        batch_op.drop_index(batch_op.f("ix_site_admin_code"))

    op.drop_table("site")
    with op.batch_alter_table("site_group_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_site_group_member_group_id"))

    op.drop_table("site_group_member")
    with op.batch_alter_table("admin_unit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_admin_unit_province_code"))

    op.drop_table("admin_unit")
    op.drop_table("site_group")
    op.drop_table("province")
    op.drop_table("credential_profile")
