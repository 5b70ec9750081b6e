"""Sessions, readiness runs, site verdicts, and the problems still open since their first sighting."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import case, delete, insert, update
from sqlmodel import Session, col, select

from fleet.domain.readiness import VERDICT_ORDER, CheckResult, RunStatus, SessionStatus, SiteVerdict, Verdict
from fleet.errors import FleetError, NotFoundError
from fleet.store.inventory import group_site_codes
from fleet.store.models import (
    Device,
    DeviceState,
    MeetingSession,
    OpenProblem,
    ReadinessRun,
    Site,
    SiteVerdictRow,
    Sweep,
)
from fleet.store.sweeps import reap_dead
from fleet.store.types import local_iso, show_time, utcnow

STALE_AFTER = timedelta(minutes=30)  # a running readiness run older than this without end has died


class SessionStateError(FleetError):
    exit_code = 5


# --- sessions ------------------------------------------------------------------------------------


def add_session(session: Session, meeting: MeetingSession) -> MeetingSession:
    session.add(meeting)
    session.commit()
    session.refresh(meeting)
    return meeting


def get_session(session: Session, session_id: int) -> MeetingSession:
    meeting = session.get(MeetingSession, session_id)
    if meeting is None:
        raise NotFoundError(f"no session {session_id} (fleet session list shows them)")
    return meeting


def list_sessions(
    session: Session,
    *,
    include_cancelled: bool = False,
    since: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[MeetingSession]:
    query = select(MeetingSession).order_by(col(MeetingSession.starts_at), col(MeetingSession.id))
    if not include_cancelled:
        query = query.where(col(MeetingSession.status) == SessionStatus.SCHEDULED)
    if since is not None:
        query = query.where(col(MeetingSession.starts_at) >= since)
    return list(session.exec(query.offset(offset).limit(limit)).all())


def cancel_session(session: Session, session_id: int, reason: str) -> MeetingSession:
    meeting = get_session(session, session_id)
    if meeting.status is SessionStatus.CANCELLED:
        raise SessionStateError(f"session {session_id} is already cancelled")
    meeting.status = SessionStatus.CANCELLED
    meeting.cancelled_at = utcnow()
    meeting.note = reason[:2000]
    session.add(meeting)
    session.commit()
    session.refresh(meeting)
    return meeting


def participant_codes(session: Session, meeting: MeetingSession) -> list[str]:
    """The site codes taking part, resolved now (groups and the inventory may have changed)."""
    spec = meeting.participants
    query = select(Site.code).order_by(col(Site.province_code), col(Site.code))
    if spec.get("provinces"):
        query = query.where(col(Site.province_code).in_(list(spec["provinces"])))
    elif spec.get("group"):
        codes = group_site_codes(session, str(spec["group"]))
        query = query.where(col(Site.code).in_(sorted(codes)))
    elif spec.get("sites"):
        query = query.where(col(Site.code).in_(list(spec["sites"])))
    elif not spec.get("all"):
        raise FleetError(f"session {meeting.id} names no participants")
    return list(session.exec(query).all())


def describe_participants(spec: dict[str, Any]) -> str:
    if spec.get("all"):
        return "all sites"
    if spec.get("provinces"):
        return "provinces " + ", ".join(spec["provinces"])
    if spec.get("group"):
        return f"group {spec['group']}"
    where = f" from {spec['file']}" if spec.get("file") else ""
    return f"{len(spec.get('sites', []))} listed sites{where}"


def describe_start(meeting: MeetingSession, zone: tzinfo | str | None = None) -> str:
    """When a session starts: in the NOC's zone with its offset, and in its own zone too if that differs.

    '2030-01-15 08:00 +07:00', or '2030-01-15 06:00 +07:00 (2030-01-15 08:00 +09:00 in Asia/Tokyo)'.
    """
    shown = show_time(meeting.starts_at, zone)
    own = show_time(meeting.starts_at, meeting.timezone)
    return shown if own == shown else f"{shown} ({own} in {meeting.timezone})"


# --- runs ----------------------------------------------------------------------------------------


def reap_dead_runs(session: Session, now: datetime | None = None) -> list[int]:
    """Mark 'running' runs of a process that is gone (or that never ended) as aborted."""
    return reap_dead(session, ReadinessRun, STALE_AFTER, now)


def begin_run(
    session: Session, session_id: int, check_set: str, digest: str, deadline_s: float, trigger: str
) -> ReadinessRun:
    reap_dead_runs(session)
    run = ReadinessRun(
        session_id=session_id,
        status=RunStatus.RUNNING,
        trigger=trigger,
        check_set=check_set,
        check_set_digest=digest,
        host=socket.gethostname(),
        pid=os.getpid(),
        deadline_s=deadline_s,
    )
    session.add(run)
    session.commit()
    session.refresh(run)
    return run


def end_run(session: Session, run_id: int, status: RunStatus, note: str = "") -> None:
    run = session.get(ReadinessRun, run_id)
    if run is None:
        return
    now = utcnow()
    run.status, run.finished_at, run.note = status, now, note[:2000]
    run.duration_s = (now - run.started_at).total_seconds()
    session.add(run)
    session.commit()


@dataclass(frozen=True, slots=True)
class FreshState:
    status: str
    checked_at: datetime
    problems: list[dict[str, Any]]
    facts: dict[str, Any]


def fresh_states(session: Session, names: Iterable[str], younger_than: timedelta) -> dict[str, FreshState]:
    """The latest state of each named device checked within the window by a sweep that used SSH."""
    wanted = set(names)
    since = utcnow() - younger_than
    rows = session.execute(
        select(Device.name, DeviceState, Sweep.scope)
        .join(DeviceState, col(DeviceState.device_id) == col(Device.id))
        .join(Sweep, col(Sweep.id) == col(DeviceState.sweep_id))
        .where(col(DeviceState.checked_at) >= since)
    ).all()
    return {
        name: FreshState(state.status.value, state.checked_at, state.problems, state.facts)
        for name, state, scope in rows
        if name in wanted and not scope.get("snmp_only")
    }


def result_json(result: CheckResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "check": result.check,
        "title": result.title,
        "device": result.device,
        "role": result.role.value,
        "outcome": result.outcome.value,
        "severity": result.severity.value,
        "reason": result.reason,
        "party": result.party.value if result.party else None,
        "remedy": result.remedy,
    }
    if result.cause:
        out["cause"] = result.cause
    if result.first_seen is not None:
        out["first_seen"] = local_iso(result.first_seen)
    return out


def record_run(
    session: Session,
    run_id: int,
    verdicts: Sequence[SiteVerdict],
    *,
    polled: int,
    reused: int,
    rechecked: int,
    deadline_hit: bool,
    report_dir: str = "",
) -> ReadinessRun:
    """Write every site's verdict, carry first sightings of open problems, close the run: one transaction.

    Sets ``first_seen`` on each failed or unknown check of ``verdicts`` as a side effect.
    """
    now = utcnow()
    ids = dict(session.execute(select(Site.code, Site.id)).all())
    site_ids = [ids[v.site] for v in verdicts if v.site in ids]
    open_rows = {
        (p.site_id, p.check, p.device): p.first_seen
        for p in session.exec(select(OpenProblem).where(col(OpenProblem.site_id).in_(site_ids)))
    }
    rows, problems = [], []
    for verdict in verdicts:
        site_id = ids.get(verdict.site)
        if site_id is None:
            continue  # removed from the inventory while the run went on
        for result in verdict.problems:
            result.first_seen = open_rows.get((site_id, result.check, result.device), now)
            problems.append(
                {
                    "site_id": site_id,
                    "check": result.check,
                    "device": result.device,
                    "first_seen": result.first_seen,
                    "last_seen": now,
                }
            )
        rows.append(
            {
                "run_id": run_id,
                "site_id": site_id,
                "verdict": verdict.verdict,
                "reason": verdict.reason[:4000],
                "parties": [p.value for p in verdict.parties],
                "results": [result_json(r) for r in verdict.results if r.outcome.value != "pass"],
                "source": verdict.source,
                "rechecked": verdict.rechecked,
                "checked_at": verdict.checked_at,
            }
        )
    for start in range(0, len(site_ids), 500):
        chunk = site_ids[start : start + 500]
        session.execute(delete(OpenProblem).where(col(OpenProblem.site_id).in_(chunk)))
    for start in range(0, len(problems), 1000):
        session.execute(insert(OpenProblem), problems[start : start + 1000])
    for start in range(0, len(rows), 1000):
        session.execute(insert(SiteVerdictRow), rows[start : start + 1000])
    run = session.get(ReadinessRun, run_id)
    if run is None:
        raise NotFoundError(f"no readiness run {run_id}")
    run.status = RunStatus.COMPLETED
    run.finished_at = now
    run.duration_s = (now - run.started_at).total_seconds()
    run.sites = len(rows)
    counts: dict[str, int] = {v.value: 0 for v in Verdict}
    for row in rows:
        counts[row["verdict"].value] += 1
    run.counts = counts
    run.polled, run.reused, run.rechecked, run.deadline_hit = polled, reused, rechecked, deadline_hit
    run.report_dir = report_dir
    session.add(run)
    session.commit()
    session.refresh(run)
    return run


def set_report_dir(session: Session, run_id: int, report_dir: str) -> None:
    session.execute(update(ReadinessRun).where(col(ReadinessRun.id) == run_id).values(report_dir=report_dir))
    session.commit()


def previous_run(session: Session, session_id: int, before: int) -> ReadinessRun | None:
    """The latest completed run of the same session before run ``before``."""
    return session.exec(
        select(ReadinessRun)
        .where(
            col(ReadinessRun.session_id) == session_id,
            col(ReadinessRun.id) < before,
            col(ReadinessRun.status) == RunStatus.COMPLETED,
        )
        .order_by(col(ReadinessRun.id).desc())
        .limit(1)
    ).first()


def run_verdicts(session: Session, run_id: int) -> dict[str, SiteVerdictRow]:
    """Site code -> the site's verdict row in run ``run_id``."""
    rows = session.execute(
        select(Site.code, SiteVerdictRow)
        .join(SiteVerdictRow, col(SiteVerdictRow.site_id) == col(Site.id))
        .where(col(SiteVerdictRow.run_id) == run_id)
    ).all()
    return dict(rows)


def list_runs(
    session: Session, session_id: int | None = None, limit: int = 20, offset: int = 0
) -> list[ReadinessRun]:
    query = select(ReadinessRun).order_by(col(ReadinessRun.id).desc()).offset(offset).limit(limit)
    if session_id is not None:
        query = query.where(col(ReadinessRun.session_id) == session_id)
    return list(session.exec(query).all())


def get_run(session: Session, run_id: int) -> ReadinessRun:
    run = session.get(ReadinessRun, run_id)
    if run is None:
        raise NotFoundError(f"no readiness run {run_id}")
    return run


def verdict_page(
    session: Session, run_id: int, verdicts: Sequence[str] = (), limit: int = 100, offset: int = 0
) -> list[tuple[str, str, SiteVerdictRow]]:
    """(site code, site name, verdict row) of a run, worst first then by site code."""
    order = case({v.value: i for i, v in enumerate(VERDICT_ORDER)}, value=col(SiteVerdictRow.verdict))
    query = (
        select(Site.code, Site.name, SiteVerdictRow)
        .join(SiteVerdictRow, col(SiteVerdictRow.site_id) == col(Site.id))
        .where(col(SiteVerdictRow.run_id) == run_id)
    )
    if verdicts:
        query = query.where(col(SiteVerdictRow.verdict).in_(list(verdicts)))
    query = query.order_by(order, col(Site.code)).offset(offset).limit(limit)
    return [(code, name, row) for code, name, row in session.execute(query).all()]
