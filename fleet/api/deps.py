"""What routes need, built in one place: the store, a database session, the caller, paging."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from fleet.api.schemas import Page
from fleet.domain.provision import AuditAction, AuditEntry, AuditOutcome
from fleet.domain.service import ApiRole
from fleet.service.jobs import BackgroundRuns
from fleet.service.scheduler import SchedulerService
from fleet.settings import Settings
from fleet.store import configs as audit_repo
from fleet.store import service as repo
from fleet.store.db import Store
from fleet.store.types import utcnow

TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per token
bearer = HTTPBearer(auto_error=False, description="A token from 'fleet token create' or POST /api/v1/tokens.")


@dataclass(slots=True)
class Service:
    """What one API process holds: set on app.state at start."""

    settings: Settings
    store: Store
    runs: BackgroundRuns
    scheduler: SchedulerService | None
    touched: dict[int, Any]
    lock: threading.Lock


def service(request: Request) -> Service:
    held: Service = request.app.state.service
    return held


def db(svc: Annotated[Service, Depends(service)]) -> Iterator[Session]:
    with svc.store.session() as session:
        yield session


DB = Annotated[Session, Depends(db)]
Svc = Annotated[Service, Depends(service)]


@dataclass(frozen=True, slots=True)
class Caller:
    token_id: int
    name: str
    role: ApiRole
    request_id: str

    def audit(
        self,
        session: Session,
        action: AuditAction,
        detail: str,
        *,
        outcome: AuditOutcome = AuditOutcome.OK,
        device: str = "",
        run_id: int | None = None,
    ) -> None:
        """Record a write with who made it and in which request (committed with the session)."""
        entry = AuditEntry(action, outcome, device=device, detail=detail)
        audit_repo.add_audit(session, [entry], self.name, run_id, self.request_id)


def _unauthorised(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def caller(
    request: Request,
    svc: Svc,
    session: DB,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """The token's owner and role (the request's own database session reads it: one per request)."""
    if credentials is None:
        raise _unauthorised("a bearer token is required: Authorization: Bearer <token>")
    row = repo.authenticate(session, credentials.credentials)
    if row is None:
        raise _unauthorised("the token is not known, or has been revoked or has expired")
    now = utcnow()
    with svc.lock:
        last = svc.touched.get(row.id or 0)
        due = last is None or now - last > TOUCH_EVERY
        if due:
            svc.touched[row.id or 0] = now
    if due:
        repo.touch_token(session, row.id or 0, now)
    return Caller(row.id or 0, row.name, row.role, request.state.request_id)


def require(role: ApiRole) -> Callable[..., Caller]:
    def check(who: Annotated[Caller, Depends(caller)]) -> Caller:
        if not who.role.may(role):
            raise HTTPException(
                403, f"this needs the {role.value} role; the token of {who.name!r} has {who.role.value}"
            )
        return who

    return check


Viewer = Annotated[Caller, Depends(require(ApiRole.VIEWER))]
Operator = Annotated[Caller, Depends(require(ApiRole.OPERATOR))]
Admin = Annotated[Caller, Depends(require(ApiRole.ADMIN))]


@dataclass(frozen=True, slots=True)
class Paging:
    limit: int
    offset: int

    def page(self, items: list[Any]) -> Page[Any]:
        more = len(items) > self.limit  # one extra row was read to know
        return Page(
            items=items[: self.limit],
            limit=self.limit,
            offset=self.offset,
            next_offset=self.offset + self.limit if more else None,
        )


def paging(
    svc: Svc,
    limit: Annotated[int, Query(ge=1, le=10000, description="Items per page (at most api_max_page).")] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> Paging:
    return Paging(min(limit, svc.settings.api_max_page), offset)


Pages = Annotated[Paging, Depends(paging)]
