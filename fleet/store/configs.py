"""Configuration history, provisioning runs and their results, and the append-only audit trail."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from fleet.domain.provision import AuditEntry, DeviceProvision, ProvisionMode
from fleet.domain.readiness import RunStatus
from fleet.store.models import AuditEvent, ConfigBackup, ProvisionResult, ProvisionRun
from fleet.store.sweeps import reap_dead
from fleet.store.types import utcnow

STALE_AFTER = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class BackupItem:
    device: str
    text: str  # the cleaned running configuration
    sha256: str
    source: str  # backup, dry_run, apply, after_push, restore, drift


@dataclass(frozen=True, slots=True)
class Kept:
    device: str
    version: int
    new: bool  # False: the configuration had not changed since the version kept before


def record_backups(session: Session, items: Sequence[BackupItem], run_id: int | None) -> list[Kept]:
    """Keep each configuration as a new version when it differs from the device's latest one.

    Does not commit: the caller commits it with whatever must be durable at the same moment.
    """
    names = {i.device for i in items}
    latest: dict[str, ConfigBackup] = {}
    if names:
        newest = (
            select(ConfigBackup.device, func.max(ConfigBackup.version).label("version"))
            .where(col(ConfigBackup.device).in_(names))
            .group_by(col(ConfigBackup.device))
            .subquery()
        )
        rows = session.exec(
            select(ConfigBackup).join(
                newest,
                (col(ConfigBackup.device) == newest.c.device)
                & (col(ConfigBackup.version) == newest.c.version),
            )
        )
        latest = {row.device: row for row in rows}
    now = utcnow()
    kept = []
    for item in items:
        last = latest.get(item.device)
        if last is not None and last.sha256 == item.sha256:
            last.last_seen_at = now
            session.add(last)
            kept.append(Kept(item.device, last.version, new=False))
            continue
        version = (last.version if last is not None else 0) + 1
        row = ConfigBackup(
            device=item.device,
            version=version,
            taken_at=now,
            last_seen_at=now,
            sha256=item.sha256,
            size=len(item.text.encode()),
            text=item.text,
            source=item.source,
            run_id=run_id,
        )
        session.add(row)
        latest[item.device] = row
        kept.append(Kept(item.device, version, new=True))
    return kept


def backup_at(session: Session, device: str, at: datetime | None = None) -> ConfigBackup | None:
    """The configuration the device had at ``at`` (the newest version taken by then); None: none kept."""
    query = select(ConfigBackup).where(col(ConfigBackup.device) == device)
    if at is not None:
        query = query.where(col(ConfigBackup.taken_at) <= at)
    return session.exec(query.order_by(col(ConfigBackup.version).desc()).limit(1)).first()


def backup_version(session: Session, device: str, version: int) -> ConfigBackup | None:
    return session.exec(
        select(ConfigBackup).where(col(ConfigBackup.device) == device, col(ConfigBackup.version) == version)
    ).first()


def history(session: Session, device: str) -> list[ConfigBackup]:
    return list(
        session.exec(
            select(ConfigBackup).where(col(ConfigBackup.device) == device).order_by(col(ConfigBackup.version))
        )
    )


def latest_backups(session: Session, devices: Iterable[str]) -> dict[str, ConfigBackup]:
    wanted = set(devices)
    out: dict[str, ConfigBackup] = {}
    for row in session.exec(
        select(ConfigBackup).where(col(ConfigBackup.device).in_(wanted)).order_by(col(ConfigBackup.version))
    ):
        out[row.device] = row
    return out


# --- audit ----------------------------------------------------------------------------------------


def add_audit(
    session: Session,
    entries: Iterable[AuditEntry],
    actor: str,
    run_id: int | None,
    request_id: str = "",
) -> None:
    """Append entries to the audit trail (not committed here)."""
    now = utcnow()
    for entry in entries:
        session.add(
            AuditEvent(
                at=now,
                actor=actor,
                action=entry.action,
                outcome=entry.outcome,
                device=entry.device,
                run_id=run_id,
                detail=entry.detail[:4000],
                diff=entry.diff,
                request_id=request_id,
            )
        )


def list_audit(
    session: Session,
    *,
    device: str | None = None,
    run_id: int | None = None,
    actions: Sequence[str] = (),
    since: datetime | None = None,
    actor: str | None = None,
    request_id: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[AuditEvent]:
    query = select(AuditEvent)
    if actor:
        query = query.where(col(AuditEvent.actor) == actor)
    if request_id:
        query = query.where(col(AuditEvent.request_id) == request_id)
    if device:
        query = query.where(col(AuditEvent.device) == device)
    if run_id is not None:
        query = query.where(col(AuditEvent.run_id) == run_id)
    if actions:
        query = query.where(col(AuditEvent.action).in_(list(actions)))
    if since is not None:
        query = query.where(col(AuditEvent.at) >= since)
    return list(session.exec(query.order_by(col(AuditEvent.id).desc()).offset(offset).limit(limit)))


# --- runs -----------------------------------------------------------------------------------------


def reap_dead_runs(session: Session) -> list[int]:
    """Mark runs whose process is gone (or that never ended) as aborted."""
    return reap_dead(session, ProvisionRun, STALE_AFTER)


def begin_run(
    session: Session,
    *,
    mode: ProvisionMode,
    actor: str,
    playbook: str = "",
    digest: str = "",
    scope: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    devices: int = 0,
    override_reason: str = "",
) -> ProvisionRun:
    reap_dead_runs(session)
    run = ProvisionRun(
        mode=mode,
        playbook=playbook,
        playbook_digest=digest,
        actor=actor,
        status=RunStatus.RUNNING,
        host=socket.gethostname(),
        pid=os.getpid(),
        scope=scope or {},
        options=options or {},
        devices=devices,
        override_reason=override_reason,
    )
    session.add(run)
    session.commit()
    session.refresh(run)
    return run


def record_results(session: Session, run_id: int, results: Iterable[DeviceProvision]) -> None:
    """Store each device's outcome (not committed here)."""
    for r in results:
        session.add(
            ProvisionResult(
                run_id=run_id,
                device=r.device,
                site=r.site,
                outcome=r.outcome,
                step=r.step,
                reason=r.reason[:4000],
                failed_line=r.failed_line[:1000],
                diff=r.diff,
                lines=len(r.commands),
                backup_sha256=r.backup_digest,
                elapsed_s=round(r.elapsed, 3),
            )
        )


def end_run(
    session: Session,
    run_id: int,
    status: RunStatus,
    counts: dict[str, int],
    stopped: str = "",
    note: str = "",
) -> None:
    run = session.get(ProvisionRun, run_id)
    if run is None:
        return
    now = utcnow()
    run.status, run.finished_at, run.counts = status, now, counts
    run.stopped, run.note = stopped[:2000], note[:2000]
    run.duration_s = (now - run.started_at).total_seconds()
    session.add(run)
    session.commit()


def get_run(session: Session, run_id: int) -> ProvisionRun | None:
    return session.get(ProvisionRun, run_id)


def list_runs(session: Session, limit: int = 20, offset: int = 0) -> list[ProvisionRun]:
    query = select(ProvisionRun).order_by(col(ProvisionRun.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)))


def run_results(session: Session, run_id: int) -> list[ProvisionResult]:
    return list(
        session.exec(
            select(ProvisionResult)
            .where(col(ProvisionResult.run_id) == run_id)
            .order_by(col(ProvisionResult.device))
        )
    )
