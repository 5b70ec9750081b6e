"""What the API takes and gives: typed models, so the OpenAPI schema says exactly what comes back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from fleet.domain.enums import Carrier, Role
from fleet.domain.health import DeviceStatus
from fleet.domain.provision import AuditAction, AuditOutcome, DeviceOutcome, ProvisionMode, Step
from fleet.domain.readiness import RunStatus, SessionStatus, Verdict
from fleet.domain.service import ApiRole, JobKind, JobRunStatus
from fleet.domain.sweep import SweepStatus
from fleet.engine.sessions import date_alone, date_alone_reason
from fleet.inventory.problems import show_value
from fleet.store.types import local_zone

T = TypeVar("T")
NAME = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"  # device names, site codes, playbook names


def _one_line(value: str) -> str:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must be one line, without control characters")
    return value


def _local(moment: datetime) -> datetime:
    return moment.astimezone(local_zone())


# A time the API gives: ISO 8601 in the NOC's zone, with its offset (stored in UTC).
Time = Annotated[datetime, PlainSerializer(_local, return_type=datetime)]

# Text that ends up in the database, in logs or on a device: one line, no control characters.
Line = Annotated[str, AfterValidator(_one_line)]
Item = Annotated[str, Field(max_length=100), AfterValidator(_one_line)]  # a province, a site code


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    items: list[T]
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page; null on the last one.")


class ErrorDetail(BaseModel):
    status: int
    message: str
    request_id: str
    problems: list[dict[str, Any]] = Field(default_factory=list)


class ErrorBody(BaseModel):
    error: ErrorDetail


# --- inventory ----------------------------------------------------------------------------------------


class InventorySummary(BaseModel):
    sites: int
    devices: int
    provinces: int
    sites_by_carrier: dict[str, int]
    devices_by_role: dict[str, int]


class SiteOut(BaseModel):
    code: str
    name: str
    admin_code: str
    province_code: str
    carrier: Carrier
    contact_name: str
    contact_phone: str
    address: str
    updated_at: Time


class DeviceOut(BaseModel):
    name: str
    site: str
    site_name: str
    province_code: str
    carrier: Carrier
    role: Role
    vendor: str
    model: str
    driver: str
    mgmt_address: str
    snmp_port: int
    ssh_port: int | None
    credential_profile: str


class SiteDetailOut(SiteOut):
    province_name: str
    admin_unit: str
    groups: list[str]
    devices: list[DeviceOut]


class SitePatch(Strict):
    contact_name: Line | None = Field(default=None, max_length=200)
    contact_phone: Line | None = Field(default=None, max_length=32)
    address: Line | None = Field(default=None, max_length=400)


class DevicePatch(Strict):
    expected_firmware: Line | None = Field(default=None, max_length=64)
    credential_profile: Line | None = Field(default=None, max_length=64)


class DeviceDetailOut(DeviceOut):
    expected_firmware: str


# --- state ----------------------------------------------------------------------------------------------


class DeviceStateOut(BaseModel):
    device: str
    role: Role
    site: str
    site_name: str
    province: str
    province_name: str
    carrier: Carrier
    status: DeviceStatus
    since: Time
    checked_at: Time
    problems: list[dict[str, Any]]
    facts: dict[str, Any]


class SampleOut(BaseModel):
    device: str
    sweep_id: int
    at: Time
    status: DeviceStatus
    problems: list[dict[str, Any]]
    facts: dict[str, Any]


# --- sweeps ----------------------------------------------------------------------------------------------


class SweepStart(Strict):
    provinces: list[Item] = Field(default_factory=list, max_length=100)
    carriers: list[Carrier] = Field(default_factory=list, max_length=2)
    roles: list[Role] = Field(default_factory=list, max_length=10)
    group: Line | None = Field(default=None, max_length=64)
    snmp_only: bool = False


class PhaseOut(BaseModel):
    done: int
    total: int
    not_ok: int


class SweepOut(BaseModel):
    id: int
    status: SweepStatus
    trigger: str
    scope: dict[str, Any]
    started_at: Time
    heartbeat_at: Time
    finished_at: Time | None
    devices: int
    counts: dict[str, int]
    duration_s: float | None
    note: str
    progress: dict[str, PhaseOut] | None = Field(
        default=None, description="Live progress by phase, while the process that runs the sweep answers."
    )


# --- sessions and readiness --------------------------------------------------------------------------------


class Participants(Strict):
    all: bool = False
    provinces: list[Item] | None = Field(default=None, max_length=100)
    group: Line | None = Field(default=None, max_length=64)
    sites: list[Item] | None = Field(default=None, max_length=20000)

    @model_validator(mode="after")
    def _one(self) -> Participants:
        given = [self.all, self.provinces is not None, self.group is not None, self.sites is not None]
        if sum(given) != 1:
            raise ValueError("give exactly one of all, provinces, group or sites")
        return self

    def definition(self) -> Any:
        if self.all:
            return "all"
        if self.provinces is not None:
            return {"provinces": self.provinces}
        if self.group is not None:
            return {"group": self.group}
        return {"sites": self.sites}


def _has_time(value: str) -> str:
    day = date_alone(value)
    if day is not None:  # read as midnight, it would put the readiness runs and the freeze in the night
        raise ValueError(f"{show_value(value.strip())}: {date_alone_reason(day)}")
    return value


# A session's start: a date and a time (a date alone is refused, not read as midnight).
Start = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        description="'YYYY-MM-DD HH:MM' in the session's time zone, or an ISO time with an offset; "
        "a date alone is refused.",
    ),
    AfterValidator(_one_line),
    AfterValidator(_has_time),
]


class SessionCreate(Strict):
    title: Line = Field(min_length=1, max_length=300)
    start: Start
    timezone: Line | None = Field(default=None, max_length=64)
    dial_string: Line = Field(min_length=1, max_length=255)
    bridge: Line | None = Field(default=None, max_length=255)
    check_set: Line | None = Field(default=None, max_length=64, pattern=NAME)
    participants: Participants


class SessionPatch(Strict):
    start: Start


class SessionCancel(Strict):
    reason: Line = Field(min_length=1, max_length=2000)


class SessionOut(BaseModel):
    id: int
    title: str
    starts_at: Time
    timezone: str
    dial_string: str
    bridge: str
    check_set: str
    participants: dict[str, Any]
    status: SessionStatus
    note: str


class SessionDetailOut(SessionOut):
    sites: int
    readiness_at: list[Time] = Field(description="When the scheduler runs readiness for it.")


class ReadinessStart(Strict):
    deadline: float | None = Field(default=None, ge=5, le=3600)
    fresh: bool = False


class ReadinessRunOut(BaseModel):
    id: int
    session_id: int
    status: RunStatus
    trigger: str
    check_set: str
    started_at: Time
    finished_at: Time | None
    duration_s: float | None
    sites: int
    counts: dict[str, int]
    polled: int
    reused: int
    rechecked: int
    deadline_hit: bool
    note: str
    reports: dict[str, str] = Field(description="API paths of the HTML, CSV and JSON report, once written.")


class VerdictOut(BaseModel):
    site: str
    site_name: str
    verdict: Verdict
    reason: str
    parties: list[str]
    results: list[dict[str, Any]]
    source: str
    rechecked: bool
    checked_at: Time | None


# --- provisioning, configuration, audit --------------------------------------------------------------------


class ProvisionRequest(Strict):
    playbook: str = Field(pattern=NAME, description="A playbook name in playbooks/provision/.")
    apply: bool = Field(default=False, description="Change the devices (admin); otherwise a dry run.")
    provinces: list[Item] = Field(default_factory=list, max_length=100)
    carriers: list[Carrier] = Field(default_factory=list, max_length=2)
    roles: list[Role] = Field(default_factory=list, max_length=10)
    group: Line | None = Field(default=None, max_length=64)
    canary: int | None = Field(default=None, ge=0, le=1000)
    max_failure_rate: float | None = Field(default=None, ge=0, le=1)
    workers: int | None = Field(default=None, ge=1, le=200)
    override_freeze_reason: Line | None = Field(default=None, min_length=1, max_length=2000)


class ProvisionRunOut(BaseModel):
    id: int
    mode: ProvisionMode
    playbook: str
    actor: str
    status: RunStatus
    started_at: Time
    finished_at: Time | None
    duration_s: float | None
    devices: int
    counts: dict[str, int]
    override_reason: str
    stopped: str
    note: str


class ProvisionResultOut(BaseModel):
    device: str
    site: str
    outcome: DeviceOutcome
    step: Step | None
    reason: str
    failed_line: str
    diff: str
    lines: int
    elapsed_s: float


class BackupOut(BaseModel):
    device: str
    version: int
    taken_at: Time
    last_seen_at: Time
    sha256: str
    size: int
    source: str
    run_id: int | None


class BackupTextOut(BackupOut):
    text: str


class DriftOut(BaseModel):
    device: str
    site: str
    driver: str
    playbook: str
    drift: bool
    lines: list[str] = Field(default_factory=list)
    diff: str = ""
    backup_version: int | None = None
    backup_taken_at: Time | None = None
    reason: str = ""  # why it was not compared (drift false): no backup kept yet


class DriftReportOut(BaseModel):
    checked: int = Field(description="Devices the playbooks cover in the scope asked for.")
    differ: int = Field(description="Of those, how many differ from their playbook.")
    not_compared: int = Field(description="How many could not be compared (listed with the reason).")
    not_compared_reasons: dict[str, int] = Field(description="Why not compared, with how many devices.")
    devices: list[DriftOut] = Field(description="Each device that differs or was not compared.")


class AuditOut(BaseModel):
    id: int
    at: Time
    actor: str
    action: AuditAction
    outcome: AuditOutcome
    device: str
    run_id: int | None
    detail: str
    diff: str
    request_id: str


# --- tokens, scheduler, who am I ---------------------------------------------------------------------------


class TokenCreate(Strict):
    name: Line = Field(min_length=1, max_length=100, description="Whose token: the actor in the audit trail.")
    role: ApiRole
    expires_days: int | None = Field(default=None, ge=1, le=3650)


class TokenOut(BaseModel):
    id: int
    name: str
    role: ApiRole
    prefix: str
    created_at: Time
    created_by: str
    expires_at: Time | None
    revoked_at: Time | None
    last_used_at: Time | None


class TokenCreated(TokenOut):
    token: str = Field(description="The token itself: shown this once, never again.")


class Me(BaseModel):
    token_id: int
    name: str
    role: ApiRole


class LeaseOut(BaseModel):
    holder: str
    acquired_at: Time
    renewed_at: Time
    expires_at: Time
    generation: int
    alive: bool


class ScheduledJobOut(BaseModel):
    id: str
    next_run_at: Time | None


class FiringOut(BaseModel):
    id: int
    job_id: str
    kind: JobKind
    scheduled_for: Time
    started_at: Time | None
    finished_at: Time | None
    status: JobRunStatus
    holder: str
    late_s: float
    session_id: int | None
    sweep_id: int | None
    readiness_run_id: int | None
    note: str


class SchedulerOut(BaseModel):
    lease: LeaseOut | None
    this_process: Literal["leader", "standby", "not running"]
    sweep_interval_s: float
    readiness_offsets_min: list[float]
    jobs: list[ScheduledJobOut]
    recent: list[FiringOut]


class Health(BaseModel):
    status: Literal["ok"]
    version: str
