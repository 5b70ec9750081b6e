"""Sweep records, the latest state of each device, and the sample history."""

from __future__ import annotations

import os
import socket
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import delete, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from fleet.domain.enums import Carrier, Role
from fleet.domain.health import DeviceHealth, DeviceStatus, Problem
from fleet.domain.readiness import RunStatus
from fleet.domain.sweep import SweepStatus
from fleet.errors import NotFoundError
from fleet.store.inventory import resolve_province, resolve_site
from fleet.store.models import (
    Device,
    DeviceSample,
    DeviceState,
    Province,
    ProvisionRun,
    ReadinessRun,
    Site,
    Sweep,
)
from fleet.store.types import local_iso, show_time, utcnow

STALE_AFTER = timedelta(minutes=10)  # a running sweep with no heartbeat for this long has died


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_dead(
    session: Session,
    model: type[ReadinessRun] | type[ProvisionRun],
    stale_after: timedelta,
    now: datetime | None = None,
) -> list[int]:
    """Mark 'running' runs of a process that is gone (or that never ended) as aborted; return their ids."""
    now = now or utcnow()
    here = socket.gethostname()
    found = session.exec(select(model).where(col(model.status) == RunStatus.RUNNING)).all()
    running = cast("list[ReadinessRun | ProvisionRun]", list(found))
    dead = [
        run.id or 0
        for run in running
        if (run.host == here and not pid_alive(run.pid)) or now - run.started_at > stale_after
    ]
    if dead:
        session.execute(
            update(model)
            .where(col(model.id).in_(dead))
            .values(status=RunStatus.ABORTED, finished_at=now, note="the process running it died")
        )
        session.commit()
    return dead


def reap_dead_sweeps(session: Session, now: datetime | None = None) -> list[int]:
    """Mark 'running' sweeps whose process is gone (or silent too long) as aborted; return their ids."""
    now = now or utcnow()
    host = socket.gethostname()
    reaped = []
    for sweep in session.exec(select(Sweep).where(col(Sweep.status) == SweepStatus.RUNNING)).all():
        dead_here = sweep.host == host and not pid_alive(sweep.pid)
        if dead_here or now - sweep.heartbeat_at > STALE_AFTER:
            sweep.status = SweepStatus.ABORTED
            sweep.finished_at = now
            sweep.note = (
                f"found still running at {show_time(now, seconds=True)} after its process "
                f"({sweep.host} pid {sweep.pid}) {'ended' if dead_here else 'stopped reporting'}"
            )
            session.add(sweep)
            reaped.append(sweep.id or 0)
    session.commit()
    return reaped


def running_sweep(session: Session) -> Sweep | None:
    """A sweep still running (reap the dead ones first), or None."""
    query = select(Sweep).where(col(Sweep.status) == SweepStatus.RUNNING).order_by(col(Sweep.id))
    return session.exec(query.limit(1)).first()


def begin_sweep(session: Session, scope: dict[str, Any], devices: int, trigger: str = "cli") -> Sweep:
    reap_dead_sweeps(session)
    sweep = Sweep(
        status=SweepStatus.RUNNING,
        trigger=trigger,
        scope=scope,
        devices=devices,
        host=socket.gethostname(),
        pid=os.getpid(),
    )
    session.add(sweep)
    session.commit()
    session.refresh(sweep)
    return sweep


def heartbeat(session: Session, sweep_id: int) -> None:
    session.execute(update(Sweep).where(col(Sweep.id) == sweep_id).values(heartbeat_at=utcnow()))
    session.commit()


def end_sweep(session: Session, sweep_id: int, status: SweepStatus, note: str = "") -> None:
    """Close a sweep that stops without results (interrupted or failed)."""
    now = utcnow()
    sweep = session.get(Sweep, sweep_id)
    if sweep is None:
        raise NotFoundError(f"no sweep {sweep_id}")
    sweep.status, sweep.finished_at, sweep.note = status, now, note[:2000]
    sweep.duration_s = (now - sweep.started_at).total_seconds()
    session.add(sweep)
    session.commit()


def problem_json(problem: Problem) -> dict[str, Any]:
    out = {"finding": problem.finding.value, "detail": problem.detail, "party": problem.party.value}
    if problem.cause:
        out["cause"] = problem.cause
    return out


def _upsert_states(session: Session, rows: list[dict[str, Any]]) -> None:
    dialect = session.get_bind().dialect.name
    ins = postgresql.insert(DeviceState) if dialect == "postgresql" else sqlite.insert(DeviceState)
    columns = ("sweep_id", "status", "since", "checked_at", "problems", "facts")
    stmt = ins.on_conflict_do_update(
        index_elements=["device_id"], set_={c: getattr(ins.excluded, c) for c in columns}
    )
    for start in range(0, len(rows), 1000):
        session.execute(stmt, rows[start : start + 1000])


def record_sweep(
    session: Session, sweep_id: int, healths: Sequence[DeviceHealth], retention: timedelta
) -> Sweep:
    """Write the latest state and a sample per device and close the sweep, in one transaction."""
    now = utcnow()
    ids = dict(session.execute(select(Device.name, Device.id)).all())
    previous = {
        device_id: (status, since)
        for device_id, status, since in session.execute(
            select(DeviceState.device_id, DeviceState.status, DeviceState.since)
        ).all()
    }
    states, samples = [], []
    for health in healths:
        device_id = ids.get(health.device)
        if device_id is None:
            continue  # removed from the inventory while the sweep ran
        problems = [problem_json(p) for p in health.problems]
        old = previous.get(device_id)
        since = old[1] if old is not None and old[0] == health.status else now
        states.append(
            {
                "device_id": device_id,
                "sweep_id": sweep_id,
                "status": health.status,
                "since": since,
                "checked_at": now,
                "problems": problems,
                "facts": health.facts,
            }
        )
        samples.append(
            {
                "sweep_id": sweep_id,
                "device_id": device_id,
                "at": now,
                "status": health.status,
                "problems": problems,
                "facts": health.facts,
            }
        )
    _upsert_states(session, states)
    for start in range(0, len(samples), 1000):
        session.execute(insert(DeviceSample), samples[start : start + 1000])
    session.execute(delete(DeviceSample).where(col(DeviceSample.at) < now - retention))
    sweep = session.get(Sweep, sweep_id)
    if sweep is None:
        raise NotFoundError(f"no sweep {sweep_id}")
    sweep.status = SweepStatus.COMPLETED
    sweep.finished_at = now
    sweep.duration_s = (now - sweep.started_at).total_seconds()
    sweep.devices = len(states)
    sweep.counts = dict(Counter(row["status"].value for row in states))
    session.add(sweep)
    session.commit()
    session.refresh(sweep)
    return sweep


def latest_facts(session: Session) -> dict[str, dict[str, Any]]:
    """Facts of the last sweep per device name (for counters compared across sweeps)."""
    rows = session.execute(select(Device.name, DeviceState.facts).join(DeviceState)).all()
    return dict(rows)


def troubled_devices(session: Session) -> set[str]:
    """Devices whose last verdict was not up: a sweep reads them first (their sessions run long)."""
    query = select(Device.name).join(DeviceState).where(DeviceState.status != DeviceStatus.UP)
    return set(session.execute(query).scalars())


def get_sweep(session: Session, sweep_id: int) -> Sweep:
    sweep = session.get(Sweep, sweep_id)
    if sweep is None:
        raise NotFoundError(f"no sweep {sweep_id}")
    return sweep


def list_sweeps(session: Session, limit: int = 20, offset: int = 0) -> list[Sweep]:
    query = select(Sweep).order_by(col(Sweep.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)).all())


def samples(
    session: Session,
    *,
    sweep_id: int | None = None,
    device: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[tuple[str, DeviceSample]]:
    """Sweep samples with their device's name, newest first (a device's history, or a sweep's results)."""
    query = select(Device.name, DeviceSample).join(Device, col(Device.id) == col(DeviceSample.device_id))
    if sweep_id is not None:
        query = query.where(col(DeviceSample.sweep_id) == sweep_id)
    if device is not None:
        query = query.where(col(Device.name) == device)
    query = query.order_by(col(DeviceSample.at).desc(), col(Device.name))
    return [(name, row) for name, row in session.execute(query.offset(offset).limit(limit)).all()]


@dataclass(frozen=True, slots=True)
class StateRow:
    device: str
    role: Role
    site_code: str
    site_name: str
    province_code: str
    province_name: str
    carrier: Carrier
    status: DeviceStatus
    since: datetime
    checked_at: datetime
    problems: list[dict[str, Any]]
    facts: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "role": self.role.value,
            "site": self.site_code,
            "site_name": self.site_name,
            "province": self.province_code,
            "province_name": self.province_name,
            "carrier": self.carrier.value,
            "status": self.status.value,
            "since": local_iso(self.since),
            "checked_at": local_iso(self.checked_at),
            "problems": self.problems,
            "facts": self.facts,
        }


def device_states(
    session: Session,
    *,
    site: str | None = None,
    province: str | None = None,
    carrier: Carrier | None = None,
    statuses: Sequence[DeviceStatus] = (),
    device: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[StateRow]:
    """The latest state of devices matching every filter given, by province, site and role."""
    query = (
        select(Device, Site, Province, DeviceState)
        .join(Site, col(Device.site_id) == col(Site.id))
        .join(Province, col(Site.province_code) == col(Province.code))
        .join(DeviceState, col(DeviceState.device_id) == col(Device.id))
    )
    if site is not None:
        query = query.where(col(Site.id) == resolve_site(session, site).id)
    if province is not None:
        query = query.where(col(Site.province_code) == resolve_province(session, province).code)
    if carrier is not None:
        query = query.where(col(Site.carrier) == carrier)
    if statuses:
        query = query.where(col(DeviceState.status).in_(list(statuses)))
    if device is not None:
        query = query.where(col(Device.name) == device)
    query = query.order_by(col(Site.province_code), col(Site.code), col(Device.role), col(Device.name))
    query = query.offset(offset).limit(limit)
    return [
        StateRow(
            dev.name,
            dev.role,
            s.code,
            s.name,
            prov.code,
            prov.name,
            s.carrier,
            state.status,
            state.since,
            state.checked_at,
            state.problems,
            state.facts,
        )
        for dev, s, prov, state in session.execute(query).all()
    ]
