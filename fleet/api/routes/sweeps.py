"""Health sweeps: start one, follow it, read its results."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from fleet.api.deps import DB, Operator, Pages, Svc, Viewer
from fleet.api.routes.inventory import NOT_FOUND, sample_out
from fleet.api.schemas import ErrorBody, Page, PhaseOut, SampleOut, SweepOut, SweepStart
from fleet.domain.provision import AuditAction
from fleet.engine.targets import Scope
from fleet.service.options import sweep_options
from fleet.store import inventory as inventory_repo
from fleet.store import sweeps as repo
from fleet.store.models import Sweep

router = APIRouter(tags=["sweeps"], responses=NOT_FOUND)
SweepId = Annotated[int, Path(ge=1, le=2**31 - 1)]
BUSY: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "A sweep is already running."}
}


def _out(sweep: Sweep, svc: Svc) -> SweepOut:
    out = SweepOut.model_validate(sweep, from_attributes=True)
    live = svc.runs.sweep_progress(sweep.id or 0)
    if live is not None:
        out.progress = {k: PhaseOut(done=p.done, total=p.total, not_ok=p.not_ok) for k, p in live.items()}
    return out


@router.post("/sweeps", response_model=SweepOut, status_code=202, responses=BUSY)
def start_sweep(body: SweepStart, db: DB, svc: Svc, who: Operator) -> Any:
    """Start a sweep of the devices in scope (operator). Answers once it is recorded; it runs on."""
    codes = frozenset(inventory_repo.resolve_province(db, p).code for p in body.provinces)
    sites = frozenset(inventory_repo.group_site_codes(db, body.group)) if body.group else None
    scope = Scope(codes, frozenset(body.carriers), frozenset(body.roles), sites, body.snmp_only, body.group)
    sweep_id = svc.runs.start_sweep(scope, sweep_options(svc.settings))
    who.audit(db, AuditAction.SWEEP, f"sweep {sweep_id} started: {scope.to_json() or 'every device'}")
    db.commit()
    return _out(repo.get_sweep(db, sweep_id), svc)


@router.get("/sweeps", response_model=Page[SweepOut])
def sweeps(db: DB, svc: Svc, _who: Viewer, pages: Pages) -> Any:
    """Sweeps, newest first."""
    return pages.page([_out(s, svc) for s in repo.list_sweeps(db, pages.limit + 1, pages.offset)])


@router.get("/sweeps/{sweep_id}", response_model=SweepOut)
def sweep(sweep_id: SweepId, db: DB, svc: Svc, _who: Viewer) -> Any:
    """A sweep: its status, counts and, while it runs in this process, its progress."""
    return _out(repo.get_sweep(db, sweep_id), svc)


@router.get("/sweeps/{sweep_id}/results", response_model=Page[SampleOut])
def sweep_results(sweep_id: SweepId, db: DB, _who: Viewer, pages: Pages) -> Any:
    """What the sweep found on each device."""
    repo.get_sweep(db, sweep_id)
    rows = repo.samples(db, sweep_id=sweep_id, limit=pages.limit + 1, offset=pages.offset)
    return pages.page([sample_out(n, s) for n, s in rows])
