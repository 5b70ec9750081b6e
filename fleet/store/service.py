"""What the service keeps: API tokens (hashed), the scheduler's lease, and each scheduled firing."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, insert, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from fleet.domain.service import ApiRole, JobKind, JobRunStatus
from fleet.errors import FleetError, NotFoundError
from fleet.store.models import ApiToken, JobRun, SchedulerLease
from fleet.store.types import utcnow

TOKEN_PREFIX = "fleet_"  # noqa: S105 - how every token starts, not a secret
SCHEDULER_LEASE = "scheduler"


class TokenInvalid(FleetError):
    exit_code = 2


# --- tokens -----------------------------------------------------------------------------------------


def token_digest(token: str) -> str:
    # Tokens are 256 random bits: a plain SHA-256 cannot be reversed or guessed; no salt needed.
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class NewToken:
    row: ApiToken
    token: str  # shown once, never stored


def create_token(
    session: Session, name: str, role: ApiRole, created_by: str, expires_at: datetime | None = None
) -> NewToken:
    name = name.strip()
    if not name or len(name) > 100 or any(ord(ch) < 32 for ch in name):
        raise TokenInvalid(f"token name {name!r}: must be one line of 1 to 100 characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name,
        role=role,
        sha256=token_digest(token),
        prefix=token[:12],
        created_by=created_by,
        expires_at=expires_at,
    )
    session.add(row)
    session.commit()
    session.refresh(row)
    return NewToken(row, token)


def list_tokens(session: Session, *, include_revoked: bool = False) -> list[ApiToken]:
    query = select(ApiToken).order_by(col(ApiToken.id))
    if not include_revoked:
        query = query.where(col(ApiToken.revoked_at).is_(None))
    return list(session.exec(query))


def find_token(session: Session, text: str) -> ApiToken:
    """A token by id or by name (a name must match exactly one live token)."""
    if text.isdigit():
        row = session.get(ApiToken, int(text)) if len(text) < 10 else None
        if row is None:
            raise NotFoundError(f"no token {text}")
        return row
    rows = [t for t in list_tokens(session) if t.name == text]
    if not rows:
        raise NotFoundError(f"no live token named {text!r} (fleet token list)")
    if len(rows) > 1:
        ids = ", ".join(str(t.id) for t in rows)
        raise TokenInvalid(f"{len(rows)} live tokens are named {text!r} (ids {ids}): give the id")
    return rows[0]


def revoke_token(session: Session, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFoundError(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        session.commit()
        session.refresh(row)
    return row


def authenticate(session: Session, token: str, now: datetime | None = None) -> ApiToken | None:
    """The live token with this value, or None (unknown, revoked or expired)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.exec(select(ApiToken).where(col(ApiToken.sha256) == token_digest(token))).first()
    now = now or utcnow()
    if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    return row


def touch_token(session: Session, token_id: int, now: datetime) -> None:
    session.execute(update(ApiToken).where(col(ApiToken.id) == token_id).values(last_used_at=now))
    session.commit()


# --- the scheduler's lease ------------------------------------------------------------------------------


def acquire_lease(
    session: Session, holder: str, ttl: timedelta, now: datetime | None = None, name: str = SCHEDULER_LEASE
) -> int | None:
    """Take or renew the lease; its generation if this holder has it now, else None.

    One conditional UPDATE (or the first INSERT) decides, so two processes racing for an expired
    lease cannot both win: the database serialises the writes and the loser matches no row.
    """
    now = now or utcnow()
    taken = session.execute(
        update(SchedulerLease)
        .where(col(SchedulerLease.name) == name)
        .where(or_(col(SchedulerLease.holder) == holder, col(SchedulerLease.expires_at) < now))
        .values(
            generation=case(
                (col(SchedulerLease.holder) == holder, SchedulerLease.generation),
                else_=SchedulerLease.generation + 1,
            ),
            acquired_at=case((col(SchedulerLease.holder) == holder, SchedulerLease.acquired_at), else_=now),
            holder=holder,
            renewed_at=now,
            expires_at=now + ttl,
        )
    )
    session.commit()
    if taken.rowcount == 0:  # type: ignore[attr-defined]
        try:
            session.execute(
                insert(SchedulerLease).values(
                    name=name,
                    holder=holder,
                    acquired_at=now,
                    renewed_at=now,
                    expires_at=now + ttl,
                    generation=1,
                )
            )
            session.commit()
        except IntegrityError:  # someone else holds it
            session.rollback()
            return None
    lease = session.get(SchedulerLease, name, populate_existing=True)
    return lease.generation if lease is not None and lease.holder == holder else None


def release_lease(session: Session, holder: str, name: str = SCHEDULER_LEASE) -> None:
    """Give the lease up at once (a clean stop), so a standby need not wait for it to expire."""
    session.execute(
        update(SchedulerLease)
        .where(col(SchedulerLease.name) == name)
        .where(col(SchedulerLease.holder) == holder)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    session.commit()


def current_lease(session: Session, name: str = SCHEDULER_LEASE) -> SchedulerLease | None:
    return session.get(SchedulerLease, name, populate_existing=True)


# --- scheduled firings -----------------------------------------------------------------------------------


def claim_firing(
    session: Session,
    job_id: str,
    kind: JobKind,
    scheduled_for: datetime,
    holder: str,
    *,
    session_id: int | None = None,
    now: datetime | None = None,
) -> JobRun | None:
    """Record that this firing starts now; None if it was already claimed (it never runs twice)."""
    now = now or utcnow()
    row = JobRun(
        job_id=job_id,
        kind=kind,
        scheduled_for=scheduled_for,
        started_at=now,
        status=JobRunStatus.RUNNING,
        holder=holder,
        late_s=_late(scheduled_for, now),
        session_id=session_id,
    )
    return row if _insert_once(session, row) else None


def _late(scheduled_for: datetime, now: datetime) -> float:
    return round(max(0.0, (now - scheduled_for).total_seconds()), 3)


def _insert_once(session: Session, row: JobRun) -> bool:
    """Insert a firing; False if one with its (job, time) key exists (the unique key decides races)."""
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    session.refresh(row)
    return True


def note_firing(
    session: Session,
    job_id: str,
    kind: JobKind,
    scheduled_for: datetime,
    status: JobRunStatus,
    note: str,
    holder: str,
    *,
    session_id: int | None = None,
) -> bool:
    """Record a firing that did not run (missed, skipped, coalesced); False if it is already recorded."""
    now = utcnow()
    row = JobRun(
        job_id=job_id,
        kind=kind,
        scheduled_for=scheduled_for,
        finished_at=now,
        status=status,
        holder=holder,
        late_s=_late(scheduled_for, now),
        session_id=session_id,
        note=note[:2000],
    )
    return _insert_once(session, row)


def finish_firing(
    session: Session,
    run_id: int,
    status: JobRunStatus,
    *,
    note: str = "",
    sweep_id: int | None = None,
    readiness_run_id: int | None = None,
) -> None:
    row = session.get(JobRun, run_id)
    if row is None:
        return
    row.status, row.finished_at, row.note = status, utcnow(), note[:2000]
    row.sweep_id = sweep_id if sweep_id is not None else row.sweep_id
    row.readiness_run_id = readiness_run_id if readiness_run_id is not None else row.readiness_run_id
    session.add(row)
    session.commit()


def abort_orphans(session: Session, holder: str) -> int:
    """Firings left 'running' by another holder (who lost the lease, so has died): now aborted."""
    result = session.execute(
        update(JobRun)
        .where(col(JobRun.status) == JobRunStatus.RUNNING)
        .where(col(JobRun.holder) != holder)
        .values(status=JobRunStatus.ABORTED, finished_at=utcnow(), note="the scheduler running it died")
    )
    session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


def firings(
    session: Session,
    *,
    job_id: str | None = None,
    kind: JobKind | None = None,
    session_id: int | None = None,
    statuses: list[JobRunStatus] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[JobRun]:
    query = select(JobRun)
    if job_id:
        query = query.where(col(JobRun.job_id) == job_id)
    if kind is not None:
        query = query.where(col(JobRun.kind) == kind)
    if session_id is not None:
        query = query.where(col(JobRun.session_id) == session_id)
    if statuses:
        query = query.where(col(JobRun.status).in_(statuses))
    query = query.order_by(col(JobRun.scheduled_for).desc(), col(JobRun.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)))


def last_firing(session: Session, job_id: str) -> JobRun | None:
    query = select(JobRun).where(col(JobRun.job_id) == job_id).order_by(col(JobRun.scheduled_for).desc())
    return session.exec(query.limit(1)).first()


def firing_recorded(session: Session, job_id: str, scheduled_for: datetime) -> bool:
    query = select(JobRun.id).where(col(JobRun.job_id) == job_id, col(JobRun.scheduled_for) == scheduled_for)
    return session.exec(query).first() is not None
