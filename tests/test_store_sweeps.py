"""Sweep records, latest state and history, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func
from sqlmodel import select

from fleet.domain.enums import Carrier
from fleet.domain.health import DeviceHealth, DeviceStatus, Finding, Party, Problem
from fleet.domain.sweep import SweepStatus
from fleet.inventory.validate import validate_paths
from fleet.store import inventory as inventory_repo
from fleet.store import sweeps as repo
from fleet.store.db import Store
from fleet.store.models import DeviceSample, Sweep
from fleet.store.types import utcnow
from tests.helpers import write_inventory

RETENTION = timedelta(days=30)


def load(store: Store, tmp_path: Path) -> list[str]:
    result = validate_paths([write_inventory(tmp_path / "inv")])
    assert result.problems == []
    with store.session() as session:
        inventory_repo.import_inventory(session, result.inventory)
    return [d.name for d in result.inventory.devices]


def health(name: str, site: str, status: DeviceStatus, *problems: Problem) -> DeviceHealth:
    return DeviceHealth(name, site, status, list(problems), {"uptime_s": 10.0})


def test_states_keep_since_until_the_status_changes_and_samples_accumulate(
    store: Store, tmp_path: Path
) -> None:
    names = load(store, tmp_path)
    down = Problem(Finding.NO_ANSWER, "no answer to SNMP", Party.carrier(Carrier.VNPT))
    with store.session() as session:
        first = repo.begin_sweep(session, {"roles": ["router"]}, len(names))
        repo.record_sweep(session, first.id or 0, [health(n, "x", DeviceStatus.UP) for n in names], RETENTION)
    with store.session() as session:
        since_first = {r.device: r.since for r in repo.device_states(session)}
        second = repo.begin_sweep(session, {}, len(names))
        done = repo.record_sweep(
            session,
            second.id or 0,
            [health(names[0], "x", DeviceStatus.DOWN, down)]
            + [health(n, "x", DeviceStatus.UP) for n in names[1:]],
            RETENTION,
        )
    assert done.status is SweepStatus.COMPLETED
    assert done.counts == {"down": 1, "up": len(names) - 1}
    assert done.duration_s is not None and done.finished_at is not None
    with store.session() as session:
        rows = {r.device: r for r in repo.device_states(session)}
        assert rows[names[0]].status is DeviceStatus.DOWN
        assert rows[names[0]].since > since_first[names[0]]
        assert rows[names[0]].problems == [
            {"finding": "no_answer", "detail": "no answer to SNMP", "party": "VNPT"}
        ]
        assert rows[names[1]].since == since_first[names[1]]  # still up: since unchanged
        assert session.exec(select(func.count()).select_from(DeviceSample)).one() == 2 * len(names)
        faults = repo.device_states(session, statuses=[DeviceStatus.DOWN])
        assert [r.device for r in faults] == [names[0]]


def test_samples_older_than_the_retention_are_pruned(store: Store, tmp_path: Path) -> None:
    names = load(store, tmp_path)
    with store.session() as session:
        sweep = repo.begin_sweep(session, {}, len(names))
        repo.record_sweep(session, sweep.id or 0, [health(n, "x", DeviceStatus.UP) for n in names], RETENTION)
        old = utcnow() - timedelta(days=40)
        for sample in session.exec(select(DeviceSample)).all():
            sample.at = old
            session.add(sample)
        session.commit()
        again = repo.begin_sweep(session, {}, len(names))
        repo.record_sweep(session, again.id or 0, [health(n, "x", DeviceStatus.UP) for n in names], RETENTION)
        assert session.exec(select(func.count()).select_from(DeviceSample)).one() == len(names)


def test_a_sweep_whose_process_died_is_marked_aborted_at_the_next_start(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    with store.session() as session:
        orphan = repo.begin_sweep(session, {}, 3)
        orphan.pid = int(dead.stdout)  # a process that has exited
        session.add(orphan)
        stale = Sweep(
            status=SweepStatus.RUNNING, host="another-host", pid=1, heartbeat_at=utcnow() - timedelta(hours=1)
        )
        alive = Sweep(status=SweepStatus.RUNNING, host="another-host", pid=1)  # recent heartbeat elsewhere
        session.add(stale)
        session.add(alive)
        session.commit()
        ids = (orphan.id, stale.id, alive.id)
        fresh = repo.begin_sweep(session, {}, 3)
    with store.session() as session:
        status = {s.id: s for s in session.exec(select(Sweep)).all()}
        assert status[ids[0]].status is SweepStatus.ABORTED and "ended" in status[ids[0]].note
        assert status[ids[1]].status is SweepStatus.ABORTED and "stopped reporting" in status[ids[1]].note
        assert status[ids[2]].status is SweepStatus.RUNNING  # another host's live sweep is left alone
        assert status[fresh.id].status is SweepStatus.RUNNING
        repo.end_sweep(session, fresh.id or 0, SweepStatus.ABORTED, "interrupted by the operator")
        assert session.get(Sweep, fresh.id).status is SweepStatus.ABORTED  # type: ignore[union-attr]
