"""Provisioning's vocabulary: how a device ended, where it failed, and what the audit trail records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class ProvisionMode(StrEnum):
    DRY_RUN = "dry_run"  # read and compare only
    APPLY = "apply"  # push what differs
    BACKUP = "backup"  # read and keep the running configuration
    DRIFT = "drift"  # compare the running configuration with what the playbooks render


class DeviceOutcome(StrEnum):
    UNCHANGED = "unchanged"  # already as intended (or, for a backup, read and kept)
    WOULD_CHANGE = "would_change"  # a dry run found a difference
    CHANGED = "changed"  # pushed, verified and saved
    FAILED = "failed"  # failed before any change: the device is as it was
    RESTORED = "restored"  # failed after the push began; restored from its backup and verified
    RESTORE_FAILED = "restore_failed"  # failed and could not be put back: act now
    FROZEN = "frozen"  # not touched: its site is in a session inside the change freeze
    NOT_STARTED = "not_started"  # the run stopped (failure threshold) before this device

    @property
    def failed(self) -> bool:
        return self in {DeviceOutcome.FAILED, DeviceOutcome.RESTORED, DeviceOutcome.RESTORE_FAILED}


class Step(StrEnum):
    LOGIN = "login"
    BACKUP = "backup"
    PUSH = "push"
    VERIFY = "verify"
    SAVE = "save"
    RESTORE = "restore"


class AuditAction(StrEnum):
    BACKUP = "backup"
    PUSH = "push"
    VERIFY = "verify"
    SAVE = "save"
    ROLLBACK = "rollback"
    OVERRIDE = "override"  # a change freeze overridden, with the reason
    RUN = "run"  # a provisioning run began or ended
    # Writes through the API (each with the token's owner and the request id).
    INVENTORY = "inventory"
    SWEEP = "sweep"
    SESSION = "session"
    READINESS = "readiness"
    PROVISION = "provision"
    TOKEN = "token"  # noqa: S105 - the action's name, not a secret
    HOST_KEY = "host_key"  # SSH host keys enrolled, replaced or forgotten (fleet ssh trust / forget)


class AuditOutcome(StrEnum):
    OK = "ok"
    FAILED = "failed"
    STARTED = "started"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the audit trail, before it is stored (actor, time and run are added there)."""

    action: AuditAction
    outcome: AuditOutcome
    device: str = ""
    detail: str = ""
    diff: str = ""


def describe_selection(
    provinces: Sequence[str] = (),
    carriers: Sequence[str] = (),
    roles: Sequence[str] = (),
    group: str | None = None,
    **others: Sequence[str],
) -> str:
    """The devices a command was asked for, as given (``province 79; role router``), for the audit trail."""
    parts = [
        f"{what} {', '.join(values)}"
        for what, values in (
            ("province", provinces),
            ("carrier", carriers),
            ("role", roles),
            ("group", [group] if group else []),
            *others.items(),
        )
        if values
    ]
    return "; ".join(parts) or "every device"


def refusal_entry(reason: str, *, playbook: str, scope: str, apply: bool) -> AuditEntry:
    """The audit entry of a provisioning run refused before any device was contacted (no run exists)."""
    why = " | ".join(line.strip() for line in reason.splitlines() if line.strip())
    mode = "apply" if apply else "dry run"
    detail = f"{mode} of playbook {playbook} refused, nothing sent to any device (scope: {scope}): {why}"
    return AuditEntry(AuditAction.PROVISION, AuditOutcome.FAILED, detail=detail)


@dataclass(slots=True)
class DeviceProvision:
    """What happened to one device in a provisioning run, and why when it went wrong."""

    device: str
    site: str
    driver: str
    outcome: DeviceOutcome
    step: Step | None = None  # where it failed
    reason: str = ""
    failed_line: str = ""  # the configuration line the device refused (or was being sent)
    diff: str = ""  # unified diff of the running configuration against the intended one
    commands: tuple[str, ...] = ()  # what was (or would be) sent
    backup_digest: str = ""
    elapsed: float = 0.0
    audit: list[AuditEntry] = field(default_factory=list)
