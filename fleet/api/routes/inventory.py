"""Inventory (read; contact and device fields for admins), device state and history, configurations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from fleet.api.deps import DB, Admin, Pages, Viewer
from fleet.api.schemas import (
    NAME,
    BackupOut,
    BackupTextOut,
    DeviceDetailOut,
    DeviceOut,
    DevicePatch,
    DeviceStateOut,
    ErrorBody,
    InventorySummary,
    Page,
    SampleOut,
    SiteDetailOut,
    SiteOut,
    SitePatch,
)
from fleet.domain.enums import Carrier, Role
from fleet.domain.health import DeviceStatus
from fleet.domain.provision import AuditAction
from fleet.errors import NotFoundError
from fleet.store import configs as configs_repo
from fleet.store import inventory as repo
from fleet.store import sweeps as sweeps_repo
from fleet.store.inventory import DeviceRow
from fleet.store.models import ConfigBackup, Site

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "No such object."}}
router = APIRouter(tags=["inventory"], responses=NOT_FOUND)
Code = Annotated[str, Path(pattern=NAME, description="A site's code.")]
DeviceName = Annotated[str, Path(pattern=NAME, description="A device's name.")]
Province = Annotated[str | None, Query(max_length=100, description="Province code or name.")]


def _site(site: Site) -> SiteOut:
    return SiteOut.model_validate(site, from_attributes=True)


def _device(row: DeviceRow) -> DeviceOut:
    return DeviceOut(
        name=row.device,
        site=row.site_code,
        site_name=row.site_name,
        province_code=row.province_code,
        carrier=row.carrier,
        role=row.role,
        vendor=row.vendor,
        model=row.model,
        driver=row.driver,
        mgmt_address=row.mgmt_address,
        snmp_port=row.snmp_port,
        ssh_port=row.ssh_port,
        credential_profile=row.credential_profile,
    )


def _described(changed: dict[str, tuple[str, str]]) -> str:
    """What a write changed, for the audit trail: field: 'old' -> 'new'."""
    return ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changed.items())


@router.get("/inventory", response_model=InventorySummary)
def summary(db: DB, _who: Viewer) -> Any:
    """Counts: sites by carrier, devices by role, provinces covered."""
    return repo.summary(db)


@router.get("/sites", response_model=Page[SiteOut])
def sites(
    db: DB, _who: Viewer, pages: Pages, province: Province = None, carrier: Carrier | None = None
) -> Any:
    rows = repo.list_sites(db, province=province, carrier=carrier, limit=pages.limit + 1, offset=pages.offset)
    return pages.page([_site(s) for s in rows])


def _site_detail(db: DB, code: str) -> SiteDetailOut:
    detail = repo.find_site(db, code)
    return SiteDetailOut(
        **_site(detail.site).model_dump(),
        province_name=detail.province.name,
        admin_unit=detail.admin_unit.name,
        groups=detail.groups,
        devices=[_device(d) for d in detail.devices],
    )


@router.get("/sites/{code}", response_model=SiteDetailOut)
def site(code: Code, db: DB, _who: Viewer) -> Any:
    """A site (by code) with its devices and groups."""
    return _site_detail(db, code)


@router.patch("/sites/{code}", response_model=SiteDetailOut)
def patch_site(code: Code, change: SitePatch, db: DB, who: Admin) -> Any:
    """Change a site's contact name, phone or address (admin; audited)."""
    _row, changed = repo.update_site(db, code, change.model_dump(exclude_none=True))
    if changed:
        who.audit(db, AuditAction.INVENTORY, f"site {code}: {_described(changed)}")
        db.commit()
    return _site_detail(db, code)


@router.get("/devices", response_model=Page[DeviceOut])
def devices(
    db: DB,
    _who: Viewer,
    pages: Pages,
    province: Province = None,
    carrier: Carrier | None = None,
    role: Role | None = None,
    site: Annotated[str | None, Query(pattern=NAME)] = None,
) -> Any:
    rows, _total = repo.list_devices(
        db,
        province=province,
        carrier=carrier,
        role=role,
        site=site,
        limit=pages.limit + 1,
        offset=pages.offset,
    )
    return pages.page([_device(r) for r in rows])


def _device_detail(db: DB, name: str) -> DeviceDetailOut:
    row, device = repo.get_device(db, name)
    return DeviceDetailOut(**_device(row).model_dump(), expected_firmware=device.expected_firmware)


@router.get("/devices/{name}", response_model=DeviceDetailOut)
def device(name: DeviceName, db: DB, _who: Viewer) -> Any:
    return _device_detail(db, name)


@router.patch("/devices/{name}", response_model=DeviceDetailOut)
def patch_device(name: DeviceName, change: DevicePatch, db: DB, who: Admin) -> Any:
    """Change a device's expected firmware or credential profile (admin; audited)."""
    _row, changed = repo.update_device(db, name, change.model_dump(exclude_none=True))
    if changed:
        who.audit(db, AuditAction.INVENTORY, f"device {name}: {_described(changed)}", device=name)
        db.commit()
    return _device_detail(db, name)


@router.get("/state", response_model=Page[DeviceStateOut], tags=["state"])
def state(
    db: DB,
    _who: Viewer,
    pages: Pages,
    status: Annotated[list[DeviceStatus] | None, Query()] = None,
    province: Province = None,
    carrier: Carrier | None = None,
    site: Annotated[str | None, Query(pattern=NAME)] = None,
) -> Any:
    """The latest state of every device (after the latest sweep that covered it)."""
    rows = sweeps_repo.device_states(
        db,
        site=site,
        province=province,
        carrier=carrier,
        statuses=status or (),
        limit=pages.limit + 1,
        offset=pages.offset,
    )
    return pages.page([DeviceStateOut.model_validate(r.to_json()) for r in rows])


@router.get("/devices/{name}/state", response_model=DeviceStateOut, tags=["state"])
def device_state(name: DeviceName, db: DB, _who: Viewer) -> Any:
    rows = sweeps_repo.device_states(db, device=name)
    if not rows:
        repo.get_device(db, name)  # 404 for an unknown device
        raise NotFoundError(f"no state recorded yet for {name}: no sweep has covered it")
    return DeviceStateOut.model_validate(rows[0].to_json())


@router.get("/devices/{name}/history", response_model=Page[SampleOut], tags=["state"])
def device_history(name: DeviceName, db: DB, _who: Viewer, pages: Pages) -> Any:
    """The device's state at each sweep, newest first (kept for sample_retention_days)."""
    repo.get_device(db, name)
    rows = sweeps_repo.samples(db, device=name, limit=pages.limit + 1, offset=pages.offset)
    return pages.page([sample_out(n, s) for n, s in rows])


def sample_out(name: str, row: Any) -> SampleOut:
    return SampleOut(
        device=name,
        sweep_id=row.sweep_id,
        at=row.at,
        status=row.status,
        problems=row.problems,
        facts=row.facts,
    )


@router.get("/devices/{name}/config", response_model=BackupTextOut, tags=["configuration"])
def config(
    name: DeviceName,
    db: DB,
    _who: Viewer,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Any:
    """A kept running configuration (secrets redacted): the latest, or a given version."""
    kept = configs_repo.backup_version(db, name, version) if version else configs_repo.backup_at(db, name)
    if kept is None:
        what = f"version {version}" if version else "backup"
        raise NotFoundError(f"no {what} kept for {name} (fleet config backup takes one)")
    return _backup(kept, text=True)


@router.get("/devices/{name}/config/history", response_model=list[BackupOut], tags=["configuration"])
def config_history(name: DeviceName, db: DB, _who: Viewer) -> Any:
    """Every kept version of the device's configuration, newest first (no text)."""
    return [_backup(k) for k in configs_repo.history(db, name)]


def _backup(kept: ConfigBackup, *, text: bool = False) -> BackupOut:
    base = BackupOut.model_validate(kept, from_attributes=True)
    return BackupTextOut(**base.model_dump(), text=kept.text) if text else base
