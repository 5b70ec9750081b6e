"""Database tables (SQLModel). Every schema change goes through an Alembic migration."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Unicode,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from fleet.domain.enums import (
    Carrier,
    DivisionType,
    GroupMemberKind,
    Role,
    SnmpAuthProtocol,
    SnmpPrivProtocol,
    SnmpVersion,
)
from fleet.domain.health import DeviceStatus
from fleet.domain.provision import AuditAction, AuditOutcome, DeviceOutcome, ProvisionMode, Step
from fleet.domain.readiness import RunStatus, SessionStatus, Verdict
from fleet.domain.service import ApiRole, JobKind, JobRunStatus
from fleet.domain.sweep import SweepStatus
from fleet.store.types import StrEnumType, UTCDateTime, utcnow


class Province(SQLModel, table=True):
    __tablename__ = "province"

    code: str = Field(primary_key=True, max_length=2)
    name: str = Field(max_length=100)
    codename: str = Field(max_length=100, unique=True)
    division_type: DivisionType = Field(sa_type=StrEnumType(DivisionType))


class AdminUnit(SQLModel, table=True):
    """A commune, ward or special zone: the official unit a site serves."""

    __tablename__ = "admin_unit"

    code: str = Field(primary_key=True, max_length=5)
    name: str = Field(max_length=100)
    division_type: DivisionType = Field(sa_type=StrEnumType(DivisionType))
    province_code: str = Field(foreign_key="province.code", index=True, max_length=2)


class CredentialProfile(SQLModel, table=True):
    """Who fleet logs in as. Secret fields hold references (env:NAME, file:PATH), never values."""

    __tablename__ = "credential_profile"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=64)
    snmp_version: SnmpVersion = Field(sa_type=StrEnumType(SnmpVersion))
    snmp_community_ref: str | None = Field(default=None, max_length=255)
    snmp_user: str | None = Field(default=None, max_length=64)
    snmp_auth_protocol: SnmpAuthProtocol | None = Field(default=None, sa_type=StrEnumType(SnmpAuthProtocol))
    snmp_auth_key_ref: str | None = Field(default=None, max_length=255)
    snmp_priv_protocol: SnmpPrivProtocol | None = Field(default=None, sa_type=StrEnumType(SnmpPrivProtocol))
    snmp_priv_key_ref: str | None = Field(default=None, max_length=255)
    ssh_user: str | None = Field(default=None, max_length=64)
    ssh_password_ref: str | None = Field(default=None, max_length=255)
    ssh_key_ref: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Site(SQLModel, table=True):
    __tablename__ = "site"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=32)
    admin_code: str = Field(foreign_key="admin_unit.code", index=True, max_length=5)
    province_code: str = Field(foreign_key="province.code", index=True, max_length=2)
    name: str = Field(max_length=200)
    carrier: Carrier = Field(sa_type=StrEnumType(Carrier), index=True)
    contact_name: str = Field(default="", max_length=200)
    contact_phone: str = Field(default="", max_length=32)
    address: str = Field(default="", max_length=400)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Device(SQLModel, table=True):
    __tablename__ = "device"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=64)
    site_id: int = Field(
        sa_column=Column(Integer, ForeignKey("site.id", ondelete="CASCADE"), index=True, nullable=False)
    )
    role: Role = Field(sa_type=StrEnumType(Role), index=True)
    vendor: str = Field(max_length=64)
    model: str = Field(max_length=64)
    driver: str = Field(max_length=64)
    mgmt_address: str = Field(unique=True, max_length=45)
    snmp_port: int
    ssh_port: int | None = Field(default=None)
    credential_profile_id: int = Field(foreign_key="credential_profile.id", index=True)
    expected_firmware: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SiteGroup(SQLModel, table=True):
    """A named set of sites, e.g. a rollout wave; membership by province and/or by site."""

    __tablename__ = "site_group"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=64)
    description: str = Field(default="", max_length=400)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SiteGroupMember(SQLModel, table=True):
    __tablename__ = "site_group_member"
    __table_args__ = (UniqueConstraint("group_id", "kind", "value"),)

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(
        sa_column=Column(Integer, ForeignKey("site_group.id", ondelete="CASCADE"), index=True, nullable=False)
    )
    kind: GroupMemberKind = Field(sa_type=StrEnumType(GroupMemberKind, length=16))
    value: str = Field(sa_column=Column(String(32), nullable=False))


class Sweep(SQLModel, table=True):
    """One health sweep: what it covered, how it ended, and what it counted."""

    __tablename__ = "sweep"

    id: int | None = Field(default=None, primary_key=True)
    status: SweepStatus = Field(sa_type=StrEnumType(SweepStatus), index=True)
    trigger: str = Field(default="cli", max_length=32)
    scope: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    heartbeat_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    host: str = Field(default="", max_length=255)
    pid: int = 0
    devices: int = 0
    counts: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    duration_s: float | None = None
    note: str = Field(default="", max_length=2000)


class DeviceState(SQLModel, table=True):
    """The latest verdict on each device, and since when it has held."""

    __tablename__ = "device_state"

    device_id: int = Field(
        sa_column=Column(Integer, ForeignKey("device.id", ondelete="CASCADE"), primary_key=True)
    )
    sweep_id: int = Field(
        sa_column=Column(Integer, ForeignKey("sweep.id", ondelete="CASCADE"), index=True, nullable=False)
    )
    status: DeviceStatus = Field(sa_type=StrEnumType(DeviceStatus), index=True)
    since: datetime = Field(sa_type=UTCDateTime)
    checked_at: datetime = Field(sa_type=UTCDateTime)
    problems: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    facts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class DeviceSample(SQLModel, table=True):
    """History: one row per device per sweep, kept for the configured retention."""

    __tablename__ = "device_sample"
    __table_args__ = (Index("ix_device_sample_device_at", "device_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    sweep_id: int = Field(
        sa_column=Column(Integer, ForeignKey("sweep.id", ondelete="CASCADE"), index=True, nullable=False)
    )
    device_id: int = Field(
        sa_column=Column(Integer, ForeignKey("device.id", ondelete="CASCADE"), nullable=False)
    )
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    status: DeviceStatus = Field(sa_type=StrEnumType(DeviceStatus))
    problems: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    facts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class MeetingSession(SQLModel, table=True):
    """A conference session the sites must be ready for ('session' in the CLI)."""

    __tablename__ = "meeting_session"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=300)
    starts_at: datetime = Field(sa_type=UTCDateTime, index=True)
    timezone: str = Field(default="Asia/Ho_Chi_Minh", max_length=64)
    dial_string: str = Field(max_length=255)
    bridge: str = Field(default="", max_length=255)
    check_set: str = Field(default="default", max_length=255)
    # {"all": true} | {"provinces": [...]} | {"group": name} | {"sites": [...], "file": name}
    participants: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: SessionStatus = Field(sa_type=StrEnumType(SessionStatus), index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    note: str = Field(default="", max_length=2000)


class ReadinessRun(SQLModel, table=True):
    """One readiness run of a session: how it went and what it counted."""

    __tablename__ = "readiness_run"

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("meeting_session.id", ondelete="CASCADE"), index=True, nullable=False
        )
    )
    status: RunStatus = Field(sa_type=StrEnumType(RunStatus), index=True)
    trigger: str = Field(default="cli", max_length=32)
    check_set: str = Field(max_length=255)
    check_set_digest: str = Field(default="", max_length=64)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    duration_s: float | None = None
    host: str = Field(default="", max_length=255)
    pid: int = 0
    sites: int = 0
    counts: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    polled: int = 0  # devices polled by this run
    reused: int = 0  # devices judged from a recent sweep
    rechecked: int = 0  # sites whose devices were polled again before the verdict
    deadline_s: float = 0.0
    deadline_hit: bool = False
    report_dir: str = Field(default="", max_length=1000)
    note: str = Field(default="", max_length=2000)


class SiteVerdictRow(SQLModel, table=True):
    """A site's verdict in one run, with every failed, unknown or skipped check."""

    __tablename__ = "site_verdict"
    __table_args__ = (UniqueConstraint("run_id", "site_id"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(
        sa_column=Column(Integer, ForeignKey("readiness_run.id", ondelete="CASCADE"), nullable=False)
    )
    site_id: int = Field(
        sa_column=Column(Integer, ForeignKey("site.id", ondelete="CASCADE"), index=True, nullable=False)
    )
    verdict: Verdict = Field(sa_type=StrEnumType(Verdict))
    reason: str = Field(default="", max_length=4000)
    parties: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    results: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    source: str = Field(default="polled", max_length=16)
    rechecked: bool = False
    checked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OpenProblem(SQLModel, table=True):
    """A check failing on a device since first_seen, kept while readiness runs keep finding it."""

    __tablename__ = "readiness_problem"

    site_id: int = Field(
        sa_column=Column(Integer, ForeignKey("site.id", ondelete="CASCADE"), primary_key=True)
    )
    check: str = Field(sa_column=Column(String(64), primary_key=True))
    device: str = Field(sa_column=Column(String(64), primary_key=True))
    first_seen: datetime = Field(sa_type=UTCDateTime)
    last_seen: datetime = Field(sa_type=UTCDateTime)


class ConfigBackup(SQLModel, table=True):
    """A version of a device's running configuration: kept whenever fleet reads one that changed.

    Keyed by device name rather than row, so a device's history outlives its inventory row.
    """

    __tablename__ = "config_backup"
    __table_args__ = (UniqueConstraint("device", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    device: str = Field(max_length=64, index=True)
    version: int
    taken_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sha256: str = Field(max_length=64)
    size: int = 0
    text: str = Field(sa_column=Column(Text, nullable=False))
    source: str = Field(default="backup", max_length=32)  # backup, dry_run, apply, after_push, restore
    run_id: int | None = Field(default=None, index=True)


class ProvisionRun(SQLModel, table=True):
    """One provisioning, backup or drift run: who, what, how it went."""

    __tablename__ = "provision_run"

    id: int | None = Field(default=None, primary_key=True)
    mode: ProvisionMode = Field(sa_type=StrEnumType(ProvisionMode))
    playbook: str = Field(default="", max_length=255)
    playbook_digest: str = Field(default="", max_length=64)
    actor: str = Field(max_length=255)
    status: RunStatus = Field(sa_type=StrEnumType(RunStatus), index=True)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    duration_s: float | None = None
    host: str = Field(default="", max_length=255)
    pid: int = 0
    scope: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    options: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    devices: int = 0
    counts: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    override_reason: str = Field(default="", max_length=2000)
    stopped: str = Field(default="", max_length=2000)  # why the run stopped early, if it did
    note: str = Field(default="", max_length=2000)


class ProvisionResult(SQLModel, table=True):
    """How one device ended in a provisioning run."""

    __tablename__ = "provision_result"
    __table_args__ = (UniqueConstraint("run_id", "device"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(
        sa_column=Column(Integer, ForeignKey("provision_run.id", ondelete="CASCADE"), nullable=False)
    )
    device: str = Field(max_length=64, index=True)
    site: str = Field(default="", max_length=16)
    outcome: DeviceOutcome = Field(sa_type=StrEnumType(DeviceOutcome), index=True)
    step: Step | None = Field(default=None, sa_type=StrEnumType(Step))
    reason: str = Field(default="", max_length=4000)
    failed_line: str = Field(default="", max_length=1000)
    diff: str = Field(default="", sa_column=Column(Text, nullable=False))
    lines: int = 0
    backup_sha256: str = Field(default="", max_length=64)
    elapsed_s: float = 0.0


class AuditEvent(SQLModel, table=True):
    """The audit trail: append-only (the database refuses updates and deletes of its rows)."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=255, index=True)
    action: AuditAction = Field(sa_type=StrEnumType(AuditAction), index=True)
    outcome: AuditOutcome = Field(sa_type=StrEnumType(AuditOutcome))
    device: str = Field(default="", max_length=64, index=True)
    run_id: int | None = Field(default=None, index=True)
    detail: str = Field(default="", max_length=4000)
    diff: str = Field(default="", sa_column=Column(Text, nullable=False))
    request_id: str = Field(default="", max_length=64, index=True)  # the API request that did it


class ApiToken(SQLModel, table=True):
    """A bearer token of the API. Only its SHA-256 is kept: the token itself is shown once."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, index=True)  # whose it is: the actor in the audit trail
    role: ApiRole = Field(sa_type=StrEnumType(ApiRole, length=16))
    sha256: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=16)  # the first characters, to recognise a token in a list
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: str = Field(default="", max_length=255)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SchedulerLease(SQLModel, table=True):
    """Who runs the scheduler against this database, until when (renewed while it lives)."""

    __tablename__ = "scheduler_lease"

    name: str = Field(primary_key=True, max_length=32)
    holder: str = Field(max_length=255)
    acquired_at: datetime = Field(sa_type=UTCDateTime)
    renewed_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    generation: int = 0  # goes up at every change of holder (a fencing token)


class JobRun(SQLModel, table=True):
    """One firing of a scheduled job; the unique key makes each firing run at most once."""

    __tablename__ = "job_run"
    __table_args__ = (UniqueConstraint("job_id", "scheduled_for"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(max_length=100, index=True)
    kind: JobKind = Field(sa_type=StrEnumType(JobKind, length=16))
    scheduled_for: datetime = Field(sa_type=UTCDateTime, index=True)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: JobRunStatus = Field(sa_type=StrEnumType(JobRunStatus, length=16), index=True)
    holder: str = Field(default="", max_length=255)
    late_s: float = 0.0  # how long after its time it started
    session_id: int | None = Field(default=None, index=True)
    sweep_id: int | None = None
    readiness_run_id: int | None = None
    note: str = Field(default="", max_length=2000)


# APScheduler's job store, declared here so that migrations own it; the columns are the ones
# APScheduler 3's SQLAlchemyJobStore defines (it finds the table present and leaves it alone).
scheduler_job = Table(
    "scheduler_job",
    SQLModel.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
