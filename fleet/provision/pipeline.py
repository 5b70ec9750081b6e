"""One device's provisioning: back up → compare → push → verify → save; restore from the backup on failure.

Runs in an SSH worker thread. The backup is stored (``keep``, which returns once it is durable)
before anything is sent, so a device is never changed without its previous configuration on record.
Once the push has begun, any failure — a refused line, a timeout, a reset, a verify that finds a
line missing, a failed save — leads to a restore in a new session: read what the device has now,
send what turns it back into the backup, read again and compare. The device ends RESTORED only
when that comparison finds no difference; otherwise RESTORE_FAILED, for the NOC to act on.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fleet.domain.provision import AuditAction, AuditEntry, AuditOutcome, DeviceOutcome, DeviceProvision, Step
from fleet.drivers.configs import REDACTED, Config, ConfigSyntax
from fleet.transports.errors import ConfigRejected, TransportError, TransportErrorKind
from fleet.transports.ssh import Connector, SshSession

# Stores a cleaned running configuration (source: why it was read) before the caller goes on;
# raises when it cannot.
Keep = Callable[[str, str, str], None]


@dataclass(frozen=True, slots=True)
class DeviceJob:
    device: str
    site: str
    driver: str
    syntax: ConfigSyntax
    intended: Config | None  # None: back up only
    exclusive: tuple[str, ...] = ()


class Incomplete(TransportError):
    """A configuration read that is not whole (empty, cut short): never kept, never planned from."""

    def __init__(self, read: str, problem: str) -> None:
        super().__init__(TransportErrorKind.INCOMPLETE, problem)
        self.read = read  # which read: backup, verify or restore


class VerifyFailed(Exception):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        super().__init__("; ".join(problems[:3]) + more)


def _read(session: SshSession, syntax: ConfigSyntax, read: str) -> tuple[str, Config]:
    """The running configuration, cleaned and parsed; Incomplete unless the device sent all of it."""
    raw = session.send(syntax.show_running)
    problem = syntax.incomplete(raw)
    if problem:
        raise Incomplete(read, problem)
    cleaned = syntax.clean(raw)
    return cleaned, syntax.parse(cleaned)


def provision(
    connector: Connector,
    job: DeviceJob,
    *,
    apply: bool,
    keep: Keep,
    stop: threading.Event | None = None,
    source: str = "backup",
) -> DeviceProvision:
    """The whole pipeline for one device; never raises for the device's own failures."""
    started = time.monotonic()
    result = DeviceProvision(job.device, job.site, job.driver, DeviceOutcome.FAILED)
    if stop is not None and stop.is_set():
        result.outcome, result.reason = DeviceOutcome.NOT_STARTED, "the run stopped before this device"
        return result
    try:
        _provision(connector, job, result, apply=apply, keep=keep, source=source)
    finally:
        result.elapsed = time.monotonic() - started
    return result


def _provision(
    connector: Connector, job: DeviceJob, result: DeviceProvision, *, apply: bool, keep: Keep, source: str
) -> None:
    syntax = job.syntax
    step = Step.LOGIN
    backup: tuple[str, Config] | None = None
    pushing = False
    opened: SshSession | None = None
    try:
        with connector.session() as session:
            opened = session
            step = Step.BACKUP
            cleaned, running = _read(session, syntax, "backup")
            backup = (cleaned, running)
            result.backup_digest = syntax.digest(cleaned)
            keep(job.device, cleaned, source)
            result.audit.append(
                AuditEntry(
                    AuditAction.BACKUP, AuditOutcome.OK, job.device, f"sha256 {result.backup_digest[:12]}"
                )
            )
            if job.intended is None:
                result.outcome = DeviceOutcome.UNCHANGED
                return
            plan = syntax.plan(running, job.intended, job.exclusive)
            if plan.empty:
                result.outcome = DeviceOutcome.UNCHANGED
                return
            result.commands = plan.commands
            result.diff = plan.diff(syntax, running, job.device)
            step = Step.PUSH
            secret = next((c for c in plan.commands if REDACTED in c), None)
            if secret is not None:  # fleet never holds the secret, so it cannot send it back
                raise TransportError(
                    TransportErrorKind.INTERNAL,
                    f"'{secret}' would send a secret fleet does not keep; change that line by hand",
                )
            if not apply:
                result.outcome = DeviceOutcome.WOULD_CHANGE
                return
            step, pushing = Step.PUSH, True
            session.configure(
                plan.commands,
                error_pattern=syntax.error_pattern,
                mode=syntax.config_mode,
                terminator=syntax.terminator,
            )
            result.audit.append(
                AuditEntry(
                    AuditAction.PUSH,
                    AuditOutcome.OK,
                    job.device,
                    f"{len(plan.commands)} line(s)",
                    result.diff,
                )
            )
            step = Step.VERIFY
            after_text, after = _read(session, syntax, "verify")
            problems = syntax.missing(after, job.intended, job.exclusive)
            if problems:
                raise VerifyFailed(problems)
            result.audit.append(
                AuditEntry(AuditAction.VERIFY, AuditOutcome.OK, job.device, "every line present")
            )
            if syntax.saves:
                step = Step.SAVE
                _save(session, syntax)
                result.audit.append(AuditEntry(AuditAction.SAVE, AuditOutcome.OK, job.device))
            _keep_after(keep, job.device, after_text, "after_push", result)
            result.outcome = DeviceOutcome.CHANGED
    except (TransportError, VerifyFailed) as exc:
        # A push that failed before any line reached the device (say, the link was too slow to even
        # enter configuration mode) left it as it was: nothing to restore, nothing to report as lost.
        untouched = pushing and opened is not None and opened.lines_sent == 0
        note = "; no line was sent: the device is as it was" if untouched else ""
        _failed(connector, job, result, exc, step, backup if pushing and not untouched else None, keep, note)


def _failed(
    connector: Connector,
    job: DeviceJob,
    result: DeviceProvision,
    exc: TransportError | VerifyFailed,
    step: Step,
    backup: tuple[str, Config] | None,
    keep: Keep,
    note: str = "",
) -> None:
    """Record why and where the pipeline failed; restore from ``backup`` when the push had begun."""
    result.step = step
    result.reason = _reason(exc) + note
    if isinstance(exc, ConfigRejected):
        result.failed_line = exc.line
    action = {Step.PUSH: AuditAction.PUSH, Step.VERIFY: AuditAction.VERIFY, Step.SAVE: AuditAction.SAVE}
    if step in action:
        result.audit.append(
            AuditEntry(action[step], AuditOutcome.FAILED, job.device, result.reason, result.diff)
        )
    if backup is None:
        result.outcome = DeviceOutcome.FAILED
        if step is Step.BACKUP:
            result.audit.append(
                AuditEntry(AuditAction.BACKUP, AuditOutcome.FAILED, job.device, result.reason)
            )
        return
    _restore(connector, job, result, backup, saved=step is Step.SAVE, keep=keep)


def _save(session: SshSession, syntax: ConfigSyntax) -> None:
    """Save, and fail on the platform's error in the answer (netmiko does not look)."""
    output = session.save()
    found = re.search(syntax.error_pattern, output)
    if found:
        raise ConfigRejected("save", found.group(0).strip())


def _keep_after(keep: Keep, device: str, text: str, source: str, result: DeviceProvision) -> None:
    """Keep the configuration a change (or restore) left; failing to record it does not undo it."""
    try:
        keep(device, text, source)
    except TransportError as exc:
        note = f"the configuration it now has was not recorded ({exc.detail})"
        result.reason = f"{result.reason}; {note}" if result.reason else note


def _reason(exc: BaseException) -> str:
    if isinstance(exc, VerifyFailed):
        return f"verify: {exc}"
    if isinstance(exc, Incomplete):
        return f"{exc.read}_incomplete: {exc.detail}"
    if isinstance(exc, ConfigRejected):
        return f"the device refused '{exc.line}': {exc.message}"
    if isinstance(exc, TransportError):
        return f"{exc.kind.value}: {exc.detail}"
    return str(exc)


def _restore(
    connector: Connector,
    job: DeviceJob,
    result: DeviceProvision,
    backup: tuple[str, Config],
    *,
    saved: bool,
    keep: Keep,
) -> None:
    """Put the device back to ``backup`` in a new session and prove it; ``saved``: a save was attempted."""
    syntax = job.syntax
    cleaned, config = backup
    try:
        with connector.session() as session:
            now_text, now = _read(session, syntax, "restore")
            plan = syntax.plan_restore(now, config)
            secret = next((c for c in plan.commands if REDACTED in c), None)
            if secret is not None:  # the backup holds the line redacted: fleet cannot put it back
                raise VerifyFailed(
                    [f"'{secret}' holds a secret fleet does not keep; restore that line by hand"]
                )
            if plan.empty:  # the read just made proves it: no second (slow) read to fail on
                after_text, after = now_text, now
            else:
                session.configure(
                    plan.commands,
                    error_pattern=syntax.error_pattern,
                    mode=syntax.config_mode,
                    terminator=syntax.terminator,
                )
                after_text, after = _read(session, syntax, "restore")
            left = syntax.differences(after, config)
            if left:
                raise VerifyFailed(left)
            if saved and syntax.saves:
                _save(session, syntax)  # the failed save may have written part of the change
            _keep_after(keep, job.device, after_text, "restore", result)
    except (TransportError, VerifyFailed) as exc:
        result.outcome = DeviceOutcome.RESTORE_FAILED
        result.reason = f"{result.reason}; restore failed: {_reason(exc)}"
        result.audit.append(
            AuditEntry(
                AuditAction.ROLLBACK,
                AuditOutcome.FAILED,
                job.device,
                f"{_reason(exc)}; the device may hold part of the change: restore it from backup "
                f"sha256 {syntax.digest(cleaned)[:12]} by hand",
            )
        )
        return
    result.outcome = DeviceOutcome.RESTORED
    sent = len(plan.commands)
    result.audit.append(
        AuditEntry(
            AuditAction.ROLLBACK,
            AuditOutcome.OK,
            job.device,
            f"restored from backup sha256 {syntax.digest(cleaned)[:12]} ({sent} line(s) sent); verified",
        )
    )
