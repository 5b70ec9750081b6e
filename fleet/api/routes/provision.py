"""Provisioning (dry runs for operators, apply for admins), its runs, drift from backups, the audit log."""

from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from sqlalchemy.exc import SQLAlchemyError

from fleet.api.deps import DB, Caller, Operator, Pages, Svc, Viewer
from fleet.api.routes.inventory import NOT_FOUND
from fleet.api.schemas import (
    NAME,
    AuditOut,
    DriftOut,
    DriftReportOut,
    ErrorBody,
    Page,
    ProvisionRequest,
    ProvisionResultOut,
    ProvisionRunOut,
)
from fleet.domain.enums import Carrier, Role
from fleet.domain.provision import AuditAction, ProvisionMode, describe_selection, refusal_entry
from fleet.domain.service import ApiRole
from fleet.engine.provision import frozen_sites, prepare, stored_drift
from fleet.engine.targets import Scope, require_credentials
from fleet.errors import FleetError, NotFoundError
from fleet.provision.playbook import find_playbook, list_playbooks, load_playbook
from fleet.provision.templates import Templates
from fleet.service.options import provision_options
from fleet.store import configs as repo
from fleet.store import inventory as inventory_repo

log = logging.getLogger(__name__)
router = APIRouter(tags=["provisioning"], responses=NOT_FOUND)
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
BUSY: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "An apply is already running."}
}


def _scope(
    db: DB, provinces: list[str], carriers: list[Carrier], roles: list[Role], group: str | None
) -> Scope:
    codes = frozenset(inventory_repo.resolve_province(db, p).code for p in provinces)
    sites = frozenset(inventory_repo.group_site_codes(db, group)) if group else None
    return Scope(codes, frozenset(carriers), frozenset(roles), sites, False, group)


@router.post("/provision", response_model=ProvisionRunOut, status_code=202, responses=BUSY)
def start(body: ProvisionRequest, db: DB, svc: Svc, who: Operator) -> Any:
    """Start a provisioning run: a dry run (operator) or, with apply, a change (admin).

    Every device is rendered and checked before the answer: a template or inventory problem
    refuses the whole run (422) and nothing is sent. The run then goes on in the background.
    A refused run (422, 409 while an apply runs, 404) is recorded in the audit trail.
    """
    try:
        return _start(body, db, svc, who)
    except FleetError as exc:  # refused before any run was recorded or any device contacted
        _audit_refusal(db, who, body, str(exc))
        raise


def _audit_refusal(db: DB, who: Caller, body: ProvisionRequest, reason: str) -> None:
    carriers, roles = [c.value for c in body.carriers], [r.value for r in body.roles]
    selection = describe_selection(body.provinces, carriers, roles, body.group)
    entry = refusal_entry(reason, playbook=body.playbook, scope=selection, apply=body.apply)
    try:
        who.audit(db, entry.action, entry.detail, outcome=entry.outcome)
        db.commit()
    except SQLAlchemyError:  # the database is what failed: the answer says so, the log keeps this
        log.exception("the refused provisioning run could not be audited: %s", entry.detail)


def _start(body: ProvisionRequest, db: DB, svc: Svc, who: Caller) -> Any:
    if body.apply and not who.role.may(ApiRole.ADMIN):
        raise HTTPException(
            403, f"apply needs the admin role; the token of {who.name!r} has {who.role.value}"
        )
    templates = Templates.open()
    playbook = load_playbook(find_playbook(body.playbook), templates)
    scope = _scope(db, body.provinces, body.carriers, body.roles, body.group)
    planned = prepare(db, inventory_repo.load_inventory(db), scope, playbook, templates)
    require_credentials([p.target for p in planned], snmp=False)  # refused now, not in the background
    mode = ProvisionMode.APPLY if body.apply else ProvisionMode.DRY_RUN
    options = provision_options(
        svc.settings,
        mode,
        who.name,
        canary=body.canary,
        max_failure_rate=body.max_failure_rate,
        workers=body.workers,
        override_reason=(body.override_freeze_reason or "").strip() if body.apply else "",
        request_id=who.request_id,
    )
    frozen = frozen_sites(db, options.freeze) if body.apply else {}
    run_id = svc.runs.start_provision(planned, options, playbook, scope, frozen)
    what = f"{mode.value} of {len(planned)} device(s), playbook {playbook.name}"
    detail = f"provisioning run {run_id} started: {what}"
    who.audit(db, AuditAction.PROVISION, detail, run_id=run_id)
    db.commit()
    found = repo.get_run(db, run_id)
    return ProvisionRunOut.model_validate(found, from_attributes=True)


@router.get("/provision/runs", response_model=Page[ProvisionRunOut])
def runs(db: DB, _who: Viewer, pages: Pages) -> Any:
    """Provisioning, backup and drift runs, newest first."""
    rows = repo.list_runs(db, limit=pages.limit + 1, offset=pages.offset)
    return pages.page([ProvisionRunOut.model_validate(r, from_attributes=True) for r in rows])


@router.get("/provision/runs/{run_id}", response_model=ProvisionRunOut)
def run(run_id: Id, db: DB, _who: Viewer) -> Any:
    """A run's status and counts (its job status while it goes on)."""
    found = repo.get_run(db, run_id)
    if found is None:
        raise NotFoundError(f"no provisioning run {run_id}")
    return ProvisionRunOut.model_validate(found, from_attributes=True)


@router.get("/provision/runs/{run_id}/results", response_model=list[ProvisionResultOut])
def results(run_id: Id, db: DB, _who: Viewer) -> Any:
    """How each device ended, with the step and reason when it failed and the diff."""
    if repo.get_run(db, run_id) is None:
        raise NotFoundError(f"no provisioning run {run_id}")
    return [ProvisionResultOut.model_validate(r, from_attributes=True) for r in repo.run_results(db, run_id)]


@router.get("/drift", response_model=DriftReportOut, tags=["configuration"])
def drift(
    db: DB,
    _who: Viewer,
    playbook: Annotated[list[str] | None, Query(description="Playbook names (default: every one).")] = None,
    province: Annotated[list[str] | None, Query()] = None,
    carrier: Annotated[list[Carrier] | None, Query()] = None,
    role: Annotated[list[Role] | None, Query()] = None,
    group: Annotated[str | None, Query(max_length=64)] = None,
) -> Any:
    """Devices whose latest kept backup differs from what their playbook renders (no device is read).

    ``checked`` counts every device a playbook covers; those without a kept backup are listed as
    not compared, with the reason, and counted in ``not_compared``: none of them is said to match.
    """
    for name in playbook or []:
        if not _valid_name(name):
            raise HTTPException(422, f"playbook {name!r}: not a playbook name")
    templates = Templates.open()
    paths = [find_playbook(n) for n in playbook] if playbook else list_playbooks()
    scope = _scope(db, province or [], carrier or [], role or [], group)
    inventory = inventory_repo.load_inventory(db)
    out: list[DriftOut] = []
    checked = 0
    for path in paths:
        book = load_playbook(path, templates)
        planned = prepare(db, inventory, scope, book, templates)
        for item in stored_drift(db, planned, book):
            if item.get("summary"):
                checked += item["checked"]
            else:
                out.append(DriftOut.model_validate(item))
    unknown = [d for d in out if not d.drift]
    return DriftReportOut(
        checked=checked,
        differ=len(out) - len(unknown),
        not_compared=len(unknown),
        not_compared_reasons=dict(Counter(d.reason for d in unknown)),
        devices=out,
    )


def _valid_name(name: str) -> bool:
    return re.fullmatch(NAME, name) is not None


@router.get("/audit", response_model=Page[AuditOut], tags=["audit"])
def audit(
    db: DB,
    _who: Viewer,
    pages: Pages,
    device: Annotated[str | None, Query(max_length=64)] = None,
    run_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    action: Annotated[list[AuditAction] | None, Query()] = None,
    actor: Annotated[str | None, Query(max_length=255)] = None,
    request_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Any:
    """The audit trail, newest first: who did what, when, from which request."""
    rows = repo.list_audit(
        db,
        device=device,
        run_id=run_id,
        actions=[a.value for a in action or []],
        actor=actor,
        request_id=request_id,
        limit=pages.limit + 1,
        offset=pages.offset,
    )
    return pages.page([AuditOut.model_validate(r, from_attributes=True) for r in rows])
