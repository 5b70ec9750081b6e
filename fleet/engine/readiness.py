"""A readiness run: judge every participating site of a session against its check set, by a deadline.

1. Sites whose devices were all swept recently enough (the check set's reuse_minutes, by a sweep
   that used SSH) are judged from that data; every other site is polled now, in one sweep that
   logs in to codecs (routers and cameras answer over SNMP; a router silent on SNMP is tried over
   SSH to tell a dead agent from a dead box). The sweep is recorded like any other.
2. Each site is judged (fleet.checks.readiness); root cause comes from the check set's 'requires'.
3. No verdict rests on one lost packet or on stale data. In the poll, SNMP asks a silent device
   again before calling it silent, and SSH asks again at once after a refused or reset connection
   or a missing banner (a timeout is final: the device had its whole time limit). Sites judged
   from earlier sweeps that are not READY are polled afresh, if time remains before the deadline,
   and judged again.
4. The verdicts are recorded in one transaction, with the first sighting of each open problem,
   compared with the session's previous run, and written out as the HTML, CSV and JSON report.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fleet.checks.checkset import CheckSet, DeviceView, find_check_set, load_check_set
from fleet.checks.readiness import SessionContext, SiteInput, evaluate_site
from fleet.domain.enums import Role
from fleet.domain.health import DeviceHealth, Finding, Party, Problem
from fleet.domain.readiness import RunStatus, SessionStatus, SiteVerdict, Verdict
from fleet.engine.runner import run_sweep
from fleet.engine.sweep import SweepOptions
from fleet.engine.targets import Scope, build_targets, require_credentials
from fleet.errors import FleetError
from fleet.inventory.schema import DeviceRecord, SiteRecord
from fleet.report.document import build_document
from fleet.report.readiness import write_reports
from fleet.store import readiness as repo
from fleet.store.db import Store
from fleet.store.inventory import load_inventory, province_names
from fleet.store.models import MeetingSession, ReadinessRun
from fleet.store.readiness import FreshState, SessionStateError
from fleet.store.types import utcnow

log = logging.getLogger(__name__)
RECHECK_MIN_SECONDS = 5.0  # no re-check is started with less time than this before the deadline


class NothingToCheck(FleetError):
    exit_code = 4


@dataclass(frozen=True, slots=True)
class ReadinessOptions:
    sweep: SweepOptions
    deadline_s: float = 110.0
    reuse_minutes: float | None = None  # None: the check set's
    recheck: bool | None = None  # None: the check set's
    report_dir: Path = Path("reports")
    retention: timedelta = timedelta(days=30)


@dataclass(slots=True)
class ReadinessOutcome:
    run: ReadinessRun
    meeting: MeetingSession
    check_set: CheckSet
    verdicts: list[SiteVerdict]
    sites: dict[str, SiteRecord]
    previous: ReadinessRun | None
    reports: dict[str, Path]
    document: dict[str, Any]  # what the report's JSON file holds


Stage = Callable[[str], None]


def _view(device: DeviceRecord, problems: list[Problem], facts: dict[str, Any]) -> DeviceView:
    return DeviceView(device.name, device.role, device.driver, facts, problems)


def _from_state(device: DeviceRecord, state: FreshState) -> DeviceView:
    problems = [
        Problem(Finding(p["finding"]), p["detail"], Party(p["party"]), p.get("cause")) for p in state.problems
    ]
    return _view(device, problems, state.facts)


def _from_health(device: DeviceRecord, health: DeviceHealth) -> DeviceView:
    return _view(device, health.problems, health.facts)


def run_readiness(  # noqa: PLR0915 - the steps of the module notes, in order
    store: Store,
    session_id: int,
    options: ReadinessOptions,
    *,
    listeners: tuple[Any, ...] = (),
    on_stage: Stage | None = None,
    trigger: str = "cli",
    on_begin: Callable[[int], None] | None = None,
) -> ReadinessOutcome:
    """Run the session's check set on every participating site and record the verdicts and report."""
    stage = on_stage or (lambda _message: None)
    deadline = time.monotonic() + options.deadline_s
    with store.session() as db:
        meeting = repo.get_session(db, session_id)
        if meeting.status is SessionStatus.CANCELLED:
            raise SessionStateError(f"session {session_id} is cancelled: {meeting.note or 'no reason given'}")
        check_set = load_check_set(find_check_set(meeting.check_set))
        codes = repo.participant_codes(db, meeting)
        inventory = load_inventory(db)
        provinces = province_names(db)
    wanted = set(codes)
    sites = {s.code: s for s in inventory.sites if s.code in wanted}
    if not sites:
        raise NothingToCheck(f"session {session_id} has no participating site in the inventory")
    devices: dict[str, list[DeviceRecord]] = {code: [] for code in sites}
    for device in inventory.devices:
        if device.site_code in devices:
            devices[device.site_code].append(device)
    # Any site may need polling (a re-check), so every participant's credentials must resolve first.
    require_credentials(build_targets(inventory, Scope(sites=frozenset(sites))))
    reuse = options.reuse_minutes if options.reuse_minutes is not None else check_set.reuse_minutes
    recheck = options.recheck if options.recheck is not None else check_set.recheck
    with store.session() as db:
        run = repo.begin_run(db, session_id, meeting.check_set, check_set.digest, options.deadline_s, trigger)
        names = [d.name for members in devices.values() for d in members]
        fresh = repo.fresh_states(db, names, timedelta(minutes=reuse)) if reuse > 0 else {}
    run_id = run.id or 0
    if on_begin is not None:
        on_begin(run_id)
    reused_sites = [c for c in sites if devices[c] and all(d.name in fresh for d in devices[c])]
    views: dict[str, DeviceView] = {}
    checked_at: dict[str, datetime] = {}
    for code in reused_sites:
        for device in devices[code]:
            views[device.name] = _from_state(device, fresh[device.name])
        checked_at[code] = min(fresh[d.name].checked_at for d in devices[code])
    reused = set(reused_sites)
    to_poll = [c for c in sites if c not in reused]
    ctx = SessionContext(meeting.dial_string, meeting.bridge)
    sweep_options = replace(options.sweep, ssh_roles=frozenset({Role.CODEC}), ssh_confirm=recheck)
    polled = 0
    try:
        stage(
            f"readiness run {run_id} of session {session_id}: {len(sites):,} sites, "
            f"{len(reused_sites):,} judged from sweeps younger than {reuse:g} min, {len(to_poll):,} to poll "
            f"(deadline {options.deadline_s:g} s)"
        )
        if to_poll:
            reserve = min(20.0, options.deadline_s * 0.2) if recheck else 0.0
            polled += _poll(store, to_poll, devices, views, checked_at, sweep_options, options, listeners,
                            deadline - reserve)  # fmt: skip
        verdicts = {code: _judge(check_set, sites[code], devices[code], views, ctx) for code in sites}
        for code in reused_sites:
            verdicts[code].source = "reused"
        # Polled sites were confirmed device by device in the poll; sites judged from older data
        # that are not READY are polled afresh.
        failing = [code for code in reused_sites if verdicts[code].verdict is not Verdict.READY]
        rechecked = 0
        if recheck and failing and deadline - time.monotonic() > RECHECK_MIN_SECONDS:
            stage(f"re-checking the {len(failing):,} sites judged from earlier sweeps that are not READY")
            polled += _poll(
                store, failing, devices, views, checked_at, sweep_options, options, listeners, deadline
            )
            for code in failing:
                verdicts[code] = _judge(check_set, sites[code], devices[code], views, ctx)
                verdicts[code].rechecked = True
            rechecked = len(failing)
        elif recheck and failing:
            stage(f"no time left to re-check {len(failing):,} sites before the deadline")
        for code, verdict in verdicts.items():
            verdict.checked_at = checked_at.get(code)
        ordered = [verdicts[code] for code in codes if code in verdicts]
        deadline_hit = any(p.finding is Finding.NOT_CHECKED for view in views.values() for p in view.problems)
        with store.session() as db:
            run = repo.record_run(
                db,
                run_id,
                ordered,
                polled=polled,
                reused=sum(len(devices[c]) for c in reused_sites),
                rechecked=rechecked,
                deadline_hit=deadline_hit,
            )
            previous = repo.previous_run(db, session_id, run_id)
            before = repo.run_verdicts(db, previous.id or 0) if previous is not None else {}
        doc = build_document(run, meeting, check_set, ordered, sites, provinces, previous, before)
        reports = write_reports(doc, options.report_dir / f"session-{session_id}", f"run-{run_id}")
        with store.session() as db:
            repo.set_report_dir(db, run_id, str(reports["html"].parent))
        run.report_dir = str(reports["html"].parent)
    except BaseException as exc:
        status = RunStatus.ABORTED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED
        note = "interrupted by the operator" if isinstance(exc, KeyboardInterrupt) else repr(exc)
        try:
            with store.session() as db:
                run_row = db.get(type(run), run_id)
                if run_row is not None and run_row.status is RunStatus.RUNNING:
                    repo.end_run(db, run_id, status, note)
        except Exception:  # the original error matters more; the next run reaps this one
            log.exception("could not record readiness run %s as %s", run_id, status.value)
        raise
    return ReadinessOutcome(run, meeting, check_set, ordered, sites, previous, reports, doc)


def _poll(
    store: Store,
    codes: Iterable[str],
    devices: dict[str, list[DeviceRecord]],
    views: dict[str, DeviceView],
    checked_at: dict[str, datetime],
    sweep_options: SweepOptions,
    options: ReadinessOptions,
    listeners: tuple[Any, ...],
    deadline: float,
) -> int:
    """Sweep the sites' devices now (recorded as a sweep) and keep what was found for judging."""
    codes = list(codes)
    done = run_sweep(
        store,
        Scope(sites=frozenset(codes)),
        sweep_options,
        retention=options.retention,
        listeners=listeners,
        trigger="readiness",
        deadline=deadline,
    )
    healths = {h.device: h for h in done.result.healths}
    now = utcnow()
    for code in codes:
        for device in devices[code]:
            if device.name in healths:
                views[device.name] = _from_health(device, healths[device.name])
        checked_at[code] = now
    return len(healths)


def _judge(
    check_set: CheckSet,
    site: SiteRecord,
    members: list[DeviceRecord],
    views: dict[str, DeviceView],
    ctx: SessionContext,
) -> SiteVerdict:
    present = [views[d.name] for d in members if d.name in views]
    return evaluate_site(check_set, SiteInput(site.code, site.carrier, present), ctx)
