"""Tokens (admin), the scheduler's state, and who the caller is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from sqlalchemy import select

from fleet.api.deps import DB, Admin, Pages, Svc, Viewer
from fleet.api.routes.inventory import NOT_FOUND
from fleet.api.schemas import (
    ErrorBody,
    FiringOut,
    LeaseOut,
    Me,
    Page,
    ScheduledJobOut,
    SchedulerOut,
    TokenCreate,
    TokenCreated,
    TokenOut,
)
from fleet.domain.provision import AuditAction
from fleet.domain.service import JobKind, JobRunStatus
from fleet.store import service as repo
from fleet.store.models import scheduler_job
from fleet.store.types import utcnow

router = APIRouter(responses=NOT_FOUND)
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/me", response_model=Me, tags=["tokens"])
def me(who: Viewer) -> Any:
    """The token's owner and role."""
    return Me(token_id=who.token_id, name=who.name, role=who.role)


@router.get("/tokens", response_model=list[TokenOut], tags=["tokens"])
def tokens(
    db: DB, _who: Admin, include_revoked: Annotated[bool, Query(description="Also revoked tokens.")] = False
) -> Any:
    """Tokens (never their value: only its first characters)."""
    return [
        TokenOut.model_validate(t, from_attributes=True)
        for t in repo.list_tokens(db, include_revoked=include_revoked)
    ]


@router.post("/tokens", response_model=TokenCreated, status_code=201, tags=["tokens"])
def create_token(body: TokenCreate, db: DB, who: Admin) -> Any:
    """Create a token (admin). Its value is in this answer only: it is kept hashed."""
    expires = utcnow() + timedelta(days=body.expires_days) if body.expires_days else None
    new = repo.create_token(db, body.name, body.role, f"{who.name} (api)", expires)
    who.audit(
        db, AuditAction.TOKEN, f"token {new.row.id} created for {new.row.name!r}, role {new.row.role.value}"
    )
    db.commit()
    return TokenCreated(
        **TokenOut.model_validate(new.row, from_attributes=True).model_dump(), token=new.token
    )


@router.delete(
    "/tokens/{token_id}",
    response_model=TokenOut,
    tags=["tokens"],
    responses={
        409: {"model": ErrorBody, "description": "The token making the request cannot revoke itself."}
    },
)
def revoke_token(token_id: Id, db: DB, who: Admin) -> Any:
    """Revoke a token (admin): it stops working at once."""
    if token_id == who.token_id:
        raise HTTPException(
            409, "a token cannot revoke itself: use another admin token (or fleet token revoke)"
        )
    row = repo.revoke_token(db, token_id)
    who.audit(db, AuditAction.TOKEN, f"token {token_id} of {row.name!r} revoked")
    db.commit()
    return TokenOut.model_validate(row, from_attributes=True)


def _firing(row: Any) -> FiringOut:
    return FiringOut.model_validate(row, from_attributes=True)


@router.get("/scheduler", response_model=SchedulerOut, tags=["scheduler"])
def scheduler(db: DB, svc: Svc, _who: Viewer) -> Any:
    """Who holds the scheduler's lease, the jobs and when they run next, the latest firings."""
    lease = repo.current_lease(db)
    now = utcnow()
    lease_out = None
    if lease is not None:
        lease_out = LeaseOut(**lease.model_dump(exclude={"name"}), alive=lease.expires_at > now)
    jobs = [
        ScheduledJobOut(id=job_id, next_run_at=datetime.fromtimestamp(at, UTC) if at is not None else None)
        for job_id, at in db.execute(select(scheduler_job.c.id, scheduler_job.c.next_run_time)).all()
    ]
    jobs.sort(key=lambda j: (j.next_run_at is None, j.next_run_at or now, j.id))
    here: Literal["leader", "standby", "not running"] = "not running"
    if svc.scheduler is not None:
        here = "leader" if svc.scheduler.leader else "standby"
    return SchedulerOut(
        lease=lease_out,
        this_process=here,
        sweep_interval_s=svc.settings.sweep_interval,
        readiness_offsets_min=svc.settings.readiness_offsets,
        jobs=jobs,
        recent=[_firing(r) for r in repo.firings(db, limit=20)],
    )


@router.get("/scheduler/firings", response_model=Page[FiringOut], tags=["scheduler"])
def firings(
    db: DB,
    _who: Viewer,
    pages: Pages,
    kind: JobKind | None = None,
    status: Annotated[list[JobRunStatus] | None, Query()] = None,
    session_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Any:
    """Every scheduled firing, newest first, with how it ended: late, skipped and missed ones too."""
    rows = repo.firings(
        db, kind=kind, session_id=session_id, statuses=status, limit=pages.limit + 1, offset=pages.offset
    )
    return pages.page([_firing(r) for r in rows])
