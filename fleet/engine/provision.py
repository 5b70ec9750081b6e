"""Provisioning runs: from a playbook to every device's outcome, with the safety rails around it.

Before any device is contacted the whole run is prepared: the playbook's rules resolved against the
inventory, every device's intended configuration rendered and parsed. A bad value or template
refuses the run (ProvisionRefused) with every problem listed; nothing is sent. Then:

- dry run (the default): read, back up and compare; nothing is changed;
- apply: devices at sites in a session inside the change freeze are left alone unless the freeze
  is overridden with a reason (recorded in the audit trail); a canary batch goes first and the run
  stops if its failure rate passes the threshold; the rest run ``workers`` at a time, and the run
  stops starting devices once the failure rate passes the threshold;
- every result, backup and audit entry is written by one writer thread as it comes, so an
  interrupted run loses nothing it finished.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from fleet.domain.enums import Carrier
from fleet.domain.provision import (
    AuditAction,
    AuditEntry,
    AuditOutcome,
    DeviceOutcome,
    DeviceProvision,
    ProvisionMode,
)
from fleet.domain.readiness import RunStatus, SessionStatus
from fleet.drivers.configs import ConfigSyntaxError, digest
from fleet.engine.targets import Scope, Target, build_targets, require_credentials
from fleet.errors import FleetError, NotFoundError
from fleet.inventory.problems import Problem
from fleet.inventory.validate import Inventory
from fleet.provision.pipeline import DeviceJob, provision
from fleet.provision.playbook import Playbook, Rule
from fleet.provision.templates import TemplateFailed, Templates, UnsafeValue
from fleet.store import configs as repo
from fleet.store import inventory as inventory_repo
from fleet.store import readiness as sessions_repo
from fleet.store.db import Store
from fleet.store.models import MeetingSession
from fleet.store.types import local_iso, show_time, utcnow
from fleet.transports.errors import TransportError, TransportErrorKind
from fleet.transports.ssh import Connector, SshClient
from fleet.transports.ssh_types import SshTarget

log = logging.getLogger(__name__)


class ProvisionRefused(FleetError):
    """The run cannot start: every problem listed; nothing was sent to any device."""

    exit_code = 2

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        more = f"\n… and {len(problems) - 50} more" if len(problems) > 50 else ""
        shown = "\n".join(problems[:50]) + more
        super().__init__(f"{len(problems)} problem(s); nothing was sent to any device\n{shown}")


@dataclass(frozen=True, slots=True)
class Planned:
    target: Target
    job: DeviceJob
    rule: Rule | None = None


@dataclass(frozen=True, slots=True)
class Freeze:
    before: timedelta  # sessions starting within this are frozen …
    after: timedelta  # … and those that started less than this ago (still in progress)


@dataclass(frozen=True, slots=True)
class ProvisionOptions:
    mode: ProvisionMode = ProvisionMode.DRY_RUN
    actor: str = "unknown"
    workers: int = 20
    canary: int = 5
    max_failure_rate: float = 0.1
    time_limit: float = 60.0
    connect_timeout: float = 10.0
    known_hosts: Path = Path("known_hosts")
    transcripts: Path | None = None
    freeze: Freeze = field(default_factory=lambda: Freeze(timedelta(hours=2), timedelta(hours=4)))
    override_reason: str = ""  # non-empty: the change freeze is overridden for this reason
    request_id: str = ""  # the API request that started the run, kept in its audit entries

    @property
    def applies(self) -> bool:
        return self.mode is ProvisionMode.APPLY


@dataclass(slots=True)
class ProvisionOutcome:
    run_id: int
    mode: ProvisionMode
    results: list[DeviceProvision]
    seconds: float
    stopped: str = ""
    frozen_sessions: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return dict(Counter(r.outcome.value for r in self.results))

    @property
    def failed(self) -> list[DeviceProvision]:
        return [r for r in self.results if r.outcome.failed]


Listener = Callable[[DeviceProvision, int, int], None]  # result, done, total


# --- preparing ---------------------------------------------------------------------------------


def _site_context(site: Any, province_name: str) -> dict[str, Any]:
    return {
        "code": site.code,
        "name": site.name,
        "admin_code": site.admin_code,
        "province_code": site.province_code,
        "province_name": province_name,
        "carrier": site.carrier.value if isinstance(site.carrier, Carrier) else str(site.carrier),
        "address": site.address,
        "contact_name": site.contact_name,
    }


def _device_context(device: Any) -> dict[str, Any]:
    return {
        "name": device.name,
        "role": device.role.value,
        "vendor": device.vendor,
        "model": device.model,
        "driver": device.driver,
        "mgmt_address": device.mgmt_address,
        "expected_firmware": device.expected_firmware,
    }


def _resolve_rules(session: Session, playbook: Playbook) -> dict[int, tuple[frozenset[str], frozenset[str]]]:
    """Each rule's provinces (as codes) and groups (as site codes), resolved against the inventory."""
    problems: list[str] = []
    resolved: dict[int, tuple[frozenset[str], frozenset[str]]] = {}
    for rule in playbook.rules:
        provinces: set[str] = set()
        sites: set[str] = set()
        for text in rule.match.provinces:
            try:
                provinces.add(inventory_repo.resolve_province(session, text).code)
            except NotFoundError as exc:
                problems.append(str(Problem(playbook.path, rule.line, "match.province", text, str(exc))))
        for name in rule.match.groups:
            try:
                sites |= inventory_repo.group_site_codes(session, name)
            except NotFoundError as exc:
                problems.append(str(Problem(playbook.path, rule.line, "match.group", name, str(exc))))
        resolved[rule.index] = (frozenset(provinces), frozenset(sites))
    if problems:
        raise ProvisionRefused(problems)
    return resolved


def prepare(
    session: Session, inventory: Inventory, scope: Scope, playbook: Playbook | None, templates: Templates
) -> list[Planned]:
    """Every device in scope that the playbook covers, with its intended configuration rendered.

    ``playbook`` None: every configurable device in scope, for a backup. ProvisionRefused lists
    every problem (a province or group the inventory lacks, a bad value, a failing template).
    """
    resolved = _resolve_rules(session, playbook) if playbook is not None else {}
    records = {d.name: d for d in inventory.devices}
    sites_by_code = {s.code: s for s in inventory.sites}
    names = inventory_repo.province_names(session)
    planned: list[Planned] = []
    problems: list[str] = []
    failed_templates: set[str] = set()
    for target in build_targets(inventory, scope):
        driver = target.ref.driver
        if driver.config is None:
            continue
        device = records[target.ref.name]
        site = sites_by_code[device.site_code]
        if playbook is None:
            planned.append(
                Planned(target, DeviceJob(device.name, site.code, driver.name, driver.config, None))
            )
            continue
        rule = next(
            (
                r
                for r in playbook.rules
                if r.applies_to(driver.name) and r.match.matches(device, site, *resolved[r.index])
            ),
            None,
        )
        template = rule.template_for(driver.name) if rule is not None else ""
        if rule is None or template in failed_templates:
            continue
        context = {
            **playbook.variables(rule),
            "device": _device_context(device),
            "site": _site_context(site, names.get(site.province_code, "")),
            "playbook": {"name": playbook.name},
        }
        try:
            intended = driver.config.parse_intended(templates.render(template, context))
        except UnsafeValue as exc:
            problems.append(f"device {device.name} (site {site.code}): {exc}")
            continue
        except (TemplateFailed, ConfigSyntaxError) as exc:
            failed_templates.add(template)
            problems.append(f"{template} (for {device.name}, {playbook.path}:{rule.line}): {exc}")
            continue
        secrets = driver.config.secret_lines(intended)
        if secrets:
            failed_templates.add(template)
            problems.append(
                f"{template} (for {device.name}, {playbook.path}:{rule.line}): sets a secret "
                f"({secrets[0]}): fleet never stores secrets, so it could not verify or restore it"
            )
            continue
        job = DeviceJob(device.name, site.code, driver.name, driver.config, intended, rule.exclusive)
        planned.append(Planned(target, job, rule))
    if problems:
        raise ProvisionRefused(problems)
    return planned


NO_BACKUP = "no backup kept yet: run 'fleet config backup'"


def stored_drift(session: Session, planned: Sequence[Planned], playbook: Playbook) -> list[dict[str, Any]]:
    """Drift from the latest kept backups (no device is contacted); a summary item comes last.

    A device that differs has ``drift`` true; one that could not be compared (no backup kept yet)
    has ``drift`` false and the ``reason``, so "0 differ" is never said of devices that were not
    looked at; the summary counts ``checked`` (every planned device).
    """
    out: list[dict[str, Any]] = []
    latest = repo.latest_backups(session, [p.job.device for p in planned])
    for p in planned:
        job = p.job
        kept = latest.get(job.device)
        base = {"device": job.device, "site": job.site, "driver": job.driver, "playbook": playbook.name}
        if kept is None:
            out.append(base | {"drift": False, "reason": NO_BACKUP})
            continue
        if job.intended is None:
            continue
        running = job.syntax.parse(kept.text)
        plan = job.syntax.plan(running, job.intended, job.exclusive)
        if not plan.empty:
            out.append(
                base
                | {
                    "drift": True,
                    "lines": list(plan.commands),
                    "diff": plan.diff(job.syntax, running, job.device),
                    "backup_version": kept.version,
                    "backup_taken_at": local_iso(kept.taken_at),
                }
            )
    out.append({"playbook": playbook.name, "checked": len(planned), "summary": True})
    return out


def frozen_sites(session: Session, freeze: Freeze, now: datetime | None = None) -> dict[str, list[str]]:
    """Site code -> the sessions that freeze it (scheduled, starting within the window or in progress)."""
    now = now or utcnow()
    meetings = session.exec(
        select(MeetingSession).where(
            col(MeetingSession.status) == SessionStatus.SCHEDULED,
            col(MeetingSession.starts_at) >= now - freeze.after,
            col(MeetingSession.starts_at) <= now + freeze.before,
        )
    ).all()
    out: dict[str, list[str]] = {}
    for meeting in meetings:
        label = f"session {meeting.id} '{meeting.title}' at {show_time(meeting.starts_at)}"
        for code in sessions_repo.participant_codes(session, meeting):
            out.setdefault(code, []).append(label)
    return out


# --- the writer --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Item:
    backup: repo.BackupItem | None = None
    result: DeviceProvision | None = None
    audit: list[AuditEntry] = field(default_factory=list)
    done: threading.Event | None = None
    error: str = ""


class Writer:
    """The run's only database writer: a thread committing backups, results and audit in batches.

    ``keep`` blocks until its backup is committed (a push never starts before its backup is
    durable); ``result`` and ``audit`` return at once. ``close`` writes what is left.
    """

    BATCH = 200

    def __init__(self, store: Store, run_id: int, actor: str, request_id: str = "") -> None:
        self.store, self.run_id, self.actor, self.request_id = store, run_id, actor, request_id
        self._queue: queue.Queue[_Item | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="fleet-writer", daemon=True)
        self._failed = ""
        self.versions_new = 0
        self._thread.start()

    def keep(self, device: str, text: str, source: str, timeout: float = 60.0) -> None:
        item = _Item(backup=repo.BackupItem(device, text, digest(text), source), done=threading.Event())
        self._queue.put(item)
        if not item.done.wait(timeout):  # type: ignore[union-attr]
            raise BackupNotStored(f"the backup could not be stored within {timeout:g} s")
        if item.error:
            raise BackupNotStored(f"the backup could not be stored: {item.error}")

    def result(self, result: DeviceProvision) -> None:
        self._queue.put(_Item(result=result, audit=list(result.audit)))

    def audit(self, entries: Sequence[AuditEntry]) -> None:
        self._queue.put(_Item(audit=list(entries)))

    def close(self) -> str:
        """Write what is queued and stop; the error that stopped writing, if any."""
        self._queue.put(None)
        self._thread.join()
        return self._failed

    def _loop(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            items = [first]
            while len(items) < self.BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stopping = True
                    break
                items.append(nxt)
            self._write(items)

    def _write(self, items: list[_Item]) -> None:
        try:
            with self.store.session() as session:
                backups = [i.backup for i in items if i.backup is not None]
                kept = repo.record_backups(session, backups, self.run_id)
                self.versions_new += sum(k.new for k in kept)
                repo.record_results(session, self.run_id, [i.result for i in items if i.result is not None])
                repo.add_audit(
                    session, [e for i in items for e in i.audit], self.actor, self.run_id, self.request_id
                )
        except Exception as exc:  # the database went away: every waiting push must not go ahead
            log.exception("writing the provisioning run failed")
            self._failed = self._failed or f"{type(exc).__name__}: {exc}"
            for item in items:
                item.error = self._failed
        for item in items:
            if item.done is not None:
                item.done.set()


class RecordingFailed(FleetError):
    """The run went ahead but its results could not all be stored: look at the devices themselves."""

    exit_code = 3

    def __init__(self, run_id: int, problem: str) -> None:
        super().__init__(
            f"run {run_id}: recording its results failed ({problem}); devices may have changed without "
            "a record: run 'fleet config drift' once the database is back"
        )


class BackupNotStored(Exception):
    """The writer could not commit a backup: the device it belongs to must not be changed."""


# --- running -----------------------------------------------------------------------------------


class _Run:
    """One run's moving parts: the writer, the results so far, and the stop flag the workers read.

    Results are recorded by the worker thread that produced them (not by the event loop), so a
    device that finishes after the run was interrupted is still recorded as it really ended.
    """

    def __init__(
        self,
        planned: Sequence[Planned],
        options: ProvisionOptions,
        writer: Writer,
        listener: Listener | None,
    ):
        self.planned, self.options, self.writer, self.listener = planned, options, writer, listener
        self.results: dict[str, DeviceProvision] = {}
        self.tried = self.failures = 0  # devices the pipeline ran on, and how many of them failed
        self.stop = threading.Event()
        self.stopped = ""
        self.watching = False  # past the canary batch: stop starting devices past the threshold
        self._lock = threading.Lock()
        self.by_name = {p.job.device: p for p in planned}

    def record(self, result: DeviceProvision, *, ran: bool = True) -> None:
        """Keep and write one device's result (from any thread); ``ran``: the pipeline ran on it."""
        with self._lock:
            self.results[result.device] = result
            if ran and result.outcome is not DeviceOutcome.NOT_STARTED:
                self.tried += 1
                self.failures += result.outcome.failed
            over = self.tried >= max(self.options.canary, 1) and (
                self.failures / self.tried > self.options.max_failure_rate
            )
            if self.watching and self.options.applies and over:
                self.stop.set()
        self.writer.result(result)

    def progress(self, result: DeviceProvision) -> None:
        if self.listener is not None:
            self.listener(result, len(self.results), len(self.planned))

    def keep(self, device: str, text: str, source: str) -> None:
        try:
            self.writer.keep(device, text, source)
        except BackupNotStored as exc:
            raise TransportError(TransportErrorKind.INTERNAL, str(exc)) from None

    def task(self, p: Planned) -> Callable[[Connector], DeviceProvision]:
        apply = self.options.applies
        source = self.options.mode.value

        def run_one(connector: Connector) -> DeviceProvision:
            try:
                result = provision(
                    connector, p.job, apply=apply, keep=self.keep, stop=self.stop, source=source
                )
            except Exception as exc:  # a bug in fleet: this device says so, the run goes on
                log.error("provisioning %s failed inside fleet", p.job.device, exc_info=exc)
                reason = f"internal: {type(exc).__name__}: {exc}"
                result = DeviceProvision(
                    p.job.device, p.job.site, p.job.driver, DeviceOutcome.FAILED, reason=reason
                )
            self.record(result, ran=result.outcome is not DeviceOutcome.NOT_STARTED)
            return result

        return run_one

    def crashed(self, target: SshTarget, exc: BaseException) -> DeviceProvision:
        job = self.by_name[target.name].job  # run_one catches everything: this is a last resort
        return DeviceProvision(
            job.device, job.site, job.driver, DeviceOutcome.FAILED, reason=f"internal: {exc}"
        )

    def skip(self, p: Planned, outcome: DeviceOutcome, reason: str) -> None:
        result = DeviceProvision(p.job.device, p.job.site, p.job.driver, outcome, reason=reason)
        self.record(result, ran=False)
        self.progress(result)

    async def execute(self, client: SshClient, work: list[Planned]) -> None:
        opts = self.options
        threshold = opts.max_failure_rate
        canary = work[: opts.canary] if opts.applies and opts.canary > 0 else []
        rest = work[len(canary) :]
        if canary:
            jobs = [(p.target.ssh, self.task(p)) for p in canary if p.target.ssh]
            await client.run_tasks(jobs, self.crashed, self.progress)
            failed = sum(self.results[p.job.device].outcome.failed for p in canary)
            if failed / len(canary) > threshold:
                self.stop.set()
                self.stopped = (
                    f"the canary batch failed on {failed} of {len(canary)} device(s) "
                    f"({failed / len(canary):.0%} > {threshold:.0%}); the other {len(rest)} were not started"
                )
        self.watching = True
        if rest:
            jobs = [(p.target.ssh, self.task(p)) for p in rest if p.target.ssh]
            await client.run_tasks(jobs, self.crashed, self.progress)
            if self.stop.is_set() and not self.stopped:
                skipped = sum(self.results[p.job.device].outcome is DeviceOutcome.NOT_STARTED for p in rest)
                rate = self.failures / max(self.tried, 1)
                self.stopped = f"the failure rate passed {threshold:.0%} ({rate:.0%}); "
                self.stopped += f"{skipped} device(s) were not started"


def _begin(
    store: Store,
    planned: Sequence[Planned],
    options: ProvisionOptions,
    playbook: Playbook | None,
    scope: dict[str, Any] | None,
) -> int:
    """Record the run as begun; its id."""
    with store.session() as session:
        run_row = repo.begin_run(
            session,
            mode=options.mode,
            actor=options.actor,
            playbook=playbook.name if playbook else "",
            digest=playbook.digest if playbook else "",
            scope=scope,
            options={
                "workers": options.workers,
                "canary": options.canary,
                "max_failure_rate": options.max_failure_rate,
                "time_limit": options.time_limit,
            },
            devices=len(planned),
            override_reason=options.override_reason if options.applies else "",
        )
    return run_row.id or 0


async def run_provision(  # noqa: PLR0915 - the run's steps in order
    store: Store,
    planned: Sequence[Planned],
    options: ProvisionOptions,
    *,
    playbook: Playbook | None = None,
    scope: dict[str, Any] | None = None,
    frozen: dict[str, list[str]] | None = None,
    listener: Listener | None = None,
    on_begin: Callable[[int], None] | None = None,
) -> ProvisionOutcome:
    """Run the pipeline on every planned device (see the module notes); records everything."""
    started = time.monotonic()
    frozen = frozen or {}
    apply = options.applies
    held = {p.job.device for p in planned if apply and p.job.site in frozen and not options.override_reason}
    require_credentials([p.target for p in planned], snmp=False)  # before anything is recorded or sent
    run_id = _begin(store, planned, options, playbook, scope)
    if on_begin is not None:
        on_begin(run_id)
    writer = Writer(store, run_id, options.actor, options.request_id)
    run = _Run(planned, options, writer, listener)
    sessions = sorted({label for p in planned if p.job.site in frozen for label in frozen[p.job.site]})
    what = f", playbook {playbook.name}" if playbook else ""
    writer.audit(
        [
            AuditEntry(
                AuditAction.RUN,
                AuditOutcome.STARTED,
                detail=f"{options.mode.value} of {len(planned)} device(s){what}",
            )
        ]
    )
    if apply and options.override_reason and sessions:
        overridden = sum(p.job.site in frozen for p in planned)
        detail = (
            f"change freeze overridden for {overridden} device(s) of {'; '.join(sessions)}: "
            f"{options.override_reason}"
        )
        writer.audit([AuditEntry(AuditAction.OVERRIDE, AuditOutcome.OK, detail=detail)])
    for p in planned:
        if p.job.device in held:
            run.skip(p, DeviceOutcome.FROZEN, "change freeze: " + "; ".join(frozen[p.job.site]))
        elif p.target.ssh is None:
            run.skip(
                p,
                DeviceOutcome.FAILED,
                "; ".join(p.target.ssh_problems) or "no SSH access configured for this device",
            )
    work = [p for p in planned if p.job.device not in run.results]
    status = RunStatus.COMPLETED
    client: SshClient | None = None
    try:
        client = SshClient(
            options.known_hosts,
            workers=options.workers,
            time_limit=options.time_limit,
            connect_timeout=options.connect_timeout,
            transcripts=options.transcripts,
        )
        await run.execute(client, work)
    except BaseException:
        status = RunStatus.ABORTED
        raise
    finally:
        run.stop.set()  # interrupted: start nothing more …
        if client is not None:
            if status is RunStatus.ABORTED:
                log.warning("interrupted: waiting for the devices in progress to finish (or be restored)")
            client.close(wait=True)  # … and let every device in progress end as it really ends
        for p in planned:  # interrupted: say so for every device not reached
            if p.job.device not in run.results:
                run.skip(p, DeviceOutcome.NOT_STARTED, "the run was interrupted")
        counts = dict(Counter(r.outcome.value for r in run.results.values()))
        end = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no devices"
        stopped = f"; stopped: {run.stopped}" if run.stopped else ""
        ok = AuditOutcome.OK if not run.stopped and status is RunStatus.COMPLETED else AuditOutcome.FAILED
        writer.audit([AuditEntry(AuditAction.RUN, ok, detail=f"{options.mode.value} ended: {end}{stopped}")])
        problem = writer.close()
        with contextlib.suppress(Exception), store.session() as session:
            note = f"recording failed: {problem}" if problem else ""
            repo.end_run(session, run_id, RunStatus.FAILED if problem else status, counts, run.stopped, note)
    if problem:
        raise RecordingFailed(run_id, problem)
    ordered = [run.results[p.job.device] for p in planned]
    return ProvisionOutcome(
        run_id, options.mode, ordered, time.monotonic() - started, run.stopped, sessions if held else []
    )
