"""Inventory persistence: idempotent upsert by natural key, queries, and reading records back.

An import is one transaction: either every record lands or none does.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, insert, update
from sqlmodel import Session, SQLModel, col, select
from sqlmodel.sql.expression import Select as SelectOfRows

from fleet.domain.enums import Carrier, GroupMemberKind, Role
from fleet.domain.secrets import SecretRef
from fleet.errors import FleetError, NotFoundError
from fleet.inventory.reference import reference
from fleet.inventory.schema import CredentialRecord, DeviceRecord, GroupRecord, SiteRecord
from fleet.inventory.validate import Inventory, Known
from fleet.store.models import (
    AdminUnit,
    CredentialProfile,
    Device,
    Province,
    Site,
    SiteGroup,
    SiteGroupMember,
)
from fleet.store.types import utcnow


@dataclass(slots=True)
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass(slots=True)
class ImportReport:
    counts: dict[str, Counts] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(c.created or c.updated for c in self.counts.values())


# --- writing ---------------------------------------------------------------------------------


def _upsert(
    session: Session, model: type[SQLModel], key: str, rows: Sequence[dict[str, Any]], *, stamp: bool = True
) -> Counts:
    """Insert new rows and update changed ones, matching on the natural key ``key``."""
    counts = Counts()
    if not rows:
        return counts
    columns = list(rows[0])
    table: Any = model
    existing = {
        r[key]: r
        for r in session.execute(
            select(*(getattr(table, c) for c in ["id" if stamp else key, *columns]))
        ).mappings()
    }
    now = utcnow()
    inserts, updates = [], []
    for row in rows:
        current = existing.get(row[key])
        if current is None:
            inserts.append(row | ({"created_at": now, "updated_at": now} if stamp else {}))
        elif any(current[c] != row[c] for c in columns):
            ident = {"id": current["id"]} if stamp else {}
            updates.append(ident | row | ({"updated_at": now} if stamp else {}))
        else:
            counts.unchanged += 1
    if inserts:
        session.execute(insert(table), inserts)
        counts.created = len(inserts)
    if updates:
        if stamp:
            session.execute(update(table), updates)  # bulk UPDATE by primary key
        else:
            for row in updates:
                session.execute(update(table).where(getattr(table, key) == row[key]).values(row))
        counts.updated = len(updates)
    return counts


def sync_reference(session: Session) -> Counts:
    """Load the official provinces and communes (idempotent)."""
    ref = reference()
    provinces = [
        {"code": p.code, "name": p.name, "codename": p.codename, "division_type": p.division_type}
        for p in ref.provinces.values()
    ]
    units = [
        {"code": u.code, "name": u.name, "division_type": u.division_type, "province_code": u.province_code}
        for u in ref.units.values()
    ]
    a = _upsert(session, Province, "code", provinces, stamp=False)
    b = _upsert(session, AdminUnit, "code", units, stamp=False)
    return Counts(a.created + b.created, a.updated + b.updated, a.unchanged + b.unchanged)


def _ref(value: SecretRef | None) -> str | None:
    return None if value is None else str(value)


def import_inventory(session: Session, inventory: Inventory) -> ImportReport:
    report = ImportReport()
    report.counts["reference"] = sync_reference(session)
    report.counts["credentials"] = _upsert(
        session,
        CredentialProfile,
        "name",
        [
            {
                "name": c.name,
                "snmp_version": c.snmp_version,
                "snmp_community_ref": _ref(c.snmp_community),
                "snmp_user": c.snmp_user or None,
                "snmp_auth_protocol": c.snmp_auth_protocol,
                "snmp_auth_key_ref": _ref(c.snmp_auth_key),
                "snmp_priv_protocol": c.snmp_priv_protocol,
                "snmp_priv_key_ref": _ref(c.snmp_priv_key),
                "ssh_user": c.ssh_user or None,
                "ssh_password_ref": _ref(c.ssh_password),
                "ssh_key_ref": _ref(c.ssh_key),
            }
            for c in inventory.credentials
        ],
    )
    report.counts["sites"] = _upsert(
        session,
        Site,
        "code",
        [
            {
                "code": s.code,
                "admin_code": s.admin_code,
                "province_code": s.province_code,
                "name": s.name,
                "carrier": s.carrier,
                "contact_name": s.contact_name,
                "contact_phone": s.contact_phone,
                "address": s.address,
            }
            for s in inventory.sites
        ],
    )
    site_ids = dict(session.exec(select(col(Site.code), col(Site.id))).all())
    profile_ids = dict(session.exec(select(col(CredentialProfile.name), col(CredentialProfile.id))).all())
    device_rows = [
        {
            "name": d.name,
            "site_id": site_ids[d.site_code],
            "role": d.role,
            "vendor": d.vendor,
            "model": d.model,
            "driver": d.driver,
            "mgmt_address": d.mgmt_address,
            "snmp_port": d.snmp_port,
            "ssh_port": d.ssh_port,
            "credential_profile_id": profile_ids[d.credential_profile],
            "expected_firmware": d.expected_firmware,
        }
        for d in inventory.devices
    ]
    # Addresses are unique: free the addresses of devices that move before inserting new holders.
    _release_moved_addresses(session, device_rows)
    report.counts["devices"] = _upsert(session, Device, "name", device_rows)
    report.counts["groups"] = _import_groups(session, inventory.groups)
    return report


def _release_moved_addresses(session: Session, rows: list[dict[str, Any]]) -> None:
    current = dict(session.exec(select(col(Device.name), col(Device.mgmt_address))).all())
    moving = [r["name"] for r in rows if r["name"] in current and current[r["name"]] != r["mgmt_address"]]
    for name in moving:
        session.execute(update(Device).where(col(Device.name) == name).values(mgmt_address=f"moving:{name}"))


def _import_groups(session: Session, groups: list[GroupRecord]) -> Counts:
    counts = _upsert(
        session, SiteGroup, "name", [{"name": g.name, "description": g.description} for g in groups]
    )
    ids = dict(session.exec(select(col(SiteGroup.name), col(SiteGroup.id))).all())
    for group in groups:
        wanted = {(GroupMemberKind.PROVINCE, p) for p in group.provinces} | {
            (GroupMemberKind.SITE, s) for s in group.sites
        }
        have = {
            (m.kind, m.value)
            for m in session.execute(
                select(SiteGroupMember).where(col(SiteGroupMember.group_id) == ids[group.name])
            ).scalars()
        }
        if have == wanted:
            continue
        session.execute(delete(SiteGroupMember).where(col(SiteGroupMember.group_id) == ids[group.name]))
        session.execute(
            insert(SiteGroupMember),
            [{"group_id": ids[group.name], "kind": k, "value": v} for k, v in sorted(wanted)],
        )
        if counts.unchanged and group.name in ids:
            # Membership changed under an unchanged name/description: count it as an update.
            counts.unchanged -= 1
            counts.updated += 1
            session.execute(
                update(SiteGroup).where(col(SiteGroup.id) == ids[group.name]).values(updated_at=utcnow())
            )
    return counts


# --- reading ---------------------------------------------------------------------------------


def known(session: Session) -> Known:
    """What the database holds that inventory files may refer to."""
    site_codes = frozenset(session.exec(select(col(Site.code))))
    profiles = {p.name: profile_record(p) for p in session.exec(select(CredentialProfile))}
    addresses = dict(session.exec(select(col(Device.name), col(Device.mgmt_address))).all())
    return Known(site_codes=site_codes, profiles=profiles, device_addresses=addresses)


def _secret(value: str | None) -> SecretRef | None:
    return None if value is None else SecretRef.parse(value)


def profile_record(p: CredentialProfile) -> CredentialRecord:
    return CredentialRecord(
        name=p.name,
        snmp_version=p.snmp_version,
        snmp_community=_secret(p.snmp_community_ref),
        snmp_user=p.snmp_user or "",
        snmp_auth_protocol=p.snmp_auth_protocol,
        snmp_auth_key=_secret(p.snmp_auth_key_ref),
        snmp_priv_protocol=p.snmp_priv_protocol,
        snmp_priv_key=_secret(p.snmp_priv_key_ref),
        ssh_user=p.ssh_user or "",
        ssh_password=_secret(p.ssh_password_ref),
        ssh_key=_secret(p.ssh_key_ref),
    )


def site_record(s: Site) -> SiteRecord:
    return SiteRecord(
        code=s.code,
        admin_code=s.admin_code,
        province_code=s.province_code,
        name=s.name,
        carrier=s.carrier,
        contact_name=s.contact_name,
        contact_phone=s.contact_phone,
        address=s.address,
    )


def device_record(d: Device, site_code: str, profile: str) -> DeviceRecord:
    return DeviceRecord(
        name=d.name,
        site_code=site_code,
        role=d.role,
        vendor=d.vendor,
        model=d.model,
        driver=d.driver,
        mgmt_address=d.mgmt_address,
        snmp_port=d.snmp_port,
        ssh_port=d.ssh_port,
        credential_profile=profile,
        expected_firmware=d.expected_firmware,
    )


def load_inventory(session: Session) -> Inventory:
    """The whole inventory as records, in a stable order (sites by province and code)."""
    sites = session.exec(select(Site).order_by(col(Site.province_code), col(Site.code))).all()
    order = {s.id: i for i, s in enumerate(sites)}
    rows = session.execute(
        select(Device, col(Site.code), col(CredentialProfile.name))
        .join(Site, col(Device.site_id) == col(Site.id))
        .join(CredentialProfile, col(Device.credential_profile_id) == col(CredentialProfile.id))
    ).all()
    role_order = {Role.ROUTER: 0, Role.CODEC: 1, Role.CAMERA: 2}
    rows = sorted(rows, key=lambda r: (order[r[0].site_id], role_order[r[0].role], r[0].name))
    groups = []
    for g in session.exec(select(SiteGroup).order_by(col(SiteGroup.name))):
        members = session.execute(
            select(col(SiteGroupMember.kind), col(SiteGroupMember.value))
            .where(col(SiteGroupMember.group_id) == g.id)
            .order_by(col(SiteGroupMember.id))
        ).all()
        groups.append(
            GroupRecord(
                name=g.name,
                description=g.description,
                provinces=tuple(v for k, v in members if k == GroupMemberKind.PROVINCE),
                sites=tuple(v for k, v in members if k == GroupMemberKind.SITE),
            )
        )
    return Inventory(
        sites=[site_record(s) for s in sites],
        devices=[device_record(d, code, profile) for d, code, profile in rows],
        credentials=[
            profile_record(p)
            for p in session.exec(select(CredentialProfile).order_by(col(CredentialProfile.name)))
        ],
        groups=groups,
    )


def _fold(text: str) -> str:
    """Case- and accent-insensitive form for matching names typed at a terminal."""
    decomposed = unicodedata.normalize("NFD", text.casefold().replace("đ", "d"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).strip()


def resolve_province(session: Session, text: str) -> Province:
    """Find a province by code ('79'), codename ('ho_chi_minh') or name, with or without accents."""
    provinces = session.exec(select(Province)).all()
    wanted = _fold(text)
    for p in provinces:
        if text.isdigit() and p.code == text.zfill(2):
            return p
    matches = [
        p
        for p in provinces
        if wanted
        in {_fold(p.name), p.codename, _fold(p.name.removeprefix("Thành phố ").removeprefix("Tỉnh "))}
        or wanted.replace(" ", "_") == p.codename
    ]
    if len(matches) == 1:
        return matches[0]
    raise NotFoundError(
        f"no province matches '{text}' (use a code such as 79, or a name such as ho_chi_minh)"
    )


def group_site_codes(session: Session, name: str) -> set[str]:
    group = session.exec(select(SiteGroup).where(col(SiteGroup.name) == name)).one_or_none()
    if group is None:
        names = ", ".join(session.exec(select(col(SiteGroup.name)))) or "none"
        raise NotFoundError(f"no group named '{name}' (groups: {names})")
    members = session.execute(
        select(col(SiteGroupMember.kind), col(SiteGroupMember.value)).where(
            col(SiteGroupMember.group_id) == group.id
        )
    ).all()
    provinces = [v for k, v in members if k == GroupMemberKind.PROVINCE]
    codes = {v for k, v in members if k == GroupMemberKind.SITE}
    if provinces:
        codes |= set(session.exec(select(col(Site.code)).where(col(Site.province_code).in_(provinces))))
    return codes


@dataclass(frozen=True, slots=True)
class DeviceRow:
    site_code: str
    site_name: str
    province_code: str
    province_name: str
    carrier: Carrier
    device: str
    role: Role
    vendor: str
    model: str
    driver: str
    mgmt_address: str
    snmp_port: int
    ssh_port: int | None
    credential_profile: str


def device_row(dev: Device, site: Site, province_name: str, profile: str) -> DeviceRow:
    """One row of _device_query() as the CLI and API show it."""
    return DeviceRow(
        site_code=site.code,
        site_name=site.name,
        province_code=site.province_code,
        province_name=province_name,
        carrier=site.carrier,
        device=dev.name,
        role=dev.role,
        vendor=dev.vendor,
        model=dev.model,
        driver=dev.driver,
        mgmt_address=dev.mgmt_address,
        snmp_port=dev.snmp_port,
        ssh_port=dev.ssh_port,
        credential_profile=profile,
    )


def _device_query() -> SelectOfRows[Device, Site, str, str]:
    return (
        select(Device, Site, col(Province.name), col(CredentialProfile.name))
        .join(Site, col(Device.site_id) == col(Site.id))
        .join(Province, col(Site.province_code) == col(Province.code))
        .join(CredentialProfile, col(Device.credential_profile_id) == col(CredentialProfile.id))
    )


def list_devices(
    session: Session,
    *,
    province: str | None = None,
    carrier: Carrier | None = None,
    role: Role | None = None,
    group: str | None = None,
    site: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[list[DeviceRow], int]:
    """Devices matching every filter given, and how many match in all (before ``limit``)."""
    query = _device_query()
    if province is not None:
        query = query.where(col(Site.province_code) == resolve_province(session, province).code)
    if carrier is not None:
        query = query.where(col(Site.carrier) == carrier)
    if role is not None:
        query = query.where(col(Device.role) == role)
    if group is not None:
        query = query.where(col(Site.code).in_(sorted(group_site_codes(session, group))))
    if site is not None:
        query = query.where(col(Site.code) == site)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    query = query.order_by(col(Site.province_code), col(Site.code), col(Device.role), col(Device.name))
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    rows = [device_row(*row) for row in session.execute(query).all()]
    return rows, total


@dataclass(frozen=True, slots=True)
class SiteDetail:
    site: Site
    province: Province
    admin_unit: AdminUnit
    devices: list[DeviceRow]
    groups: list[str]


UNIT_PREFIXES = ("phuong ", "xa ", "dac khu ", "thi tran ")  # folded: ward, commune, special zone, town


def resolve_site(session: Session, text: str) -> Site:
    """A site by code (leading zeros optional) or by name, accents, case and 'Xã'/'Phường' optional.

    A name more than one site has is refused with the candidates, so a lookup never guesses.
    """
    text = text.strip()
    site = session.exec(select(Site).where(col(Site.code) == text)).one_or_none()
    if site is None and text.isdigit():
        site = session.exec(select(Site).where(col(Site.code) == text.zfill(5))).one_or_none()
    if site is not None:
        return site
    wanted = _fold(text)
    sites = list(session.exec(select(Site)))
    candidates = [s for s in sites if _fold(s.name) == wanted]
    if not candidates and wanted:
        candidates = [s for s in sites if _without_unit(_fold(s.name)) == _without_unit(wanted)]
    if len(candidates) > 1:
        listing = "; ".join(f"{s.code} {s.name} (province {s.province_code})" for s in candidates[:10])
        more = f" and {len(candidates) - 10} more" if len(candidates) > 10 else ""
        raise NotFoundError(f"'{text}' names {len(candidates)} sites; give the code: {listing}{more}")
    if not candidates:
        raise NotFoundError(f"no site with code or name '{text}'")
    return candidates[0]


def _without_unit(folded: str) -> str:
    for prefix in UNIT_PREFIXES:
        if folded.startswith(prefix):
            return folded[len(prefix) :]
    return folded


def find_site(session: Session, text: str) -> SiteDetail:
    """A site (``resolve_site``) with its province, unit, devices and groups."""
    site = resolve_site(session, text)
    province = session.get_one(Province, site.province_code)
    unit = session.get_one(AdminUnit, site.admin_code)
    devices = [
        device_row(*row)
        for row in session.execute(
            _device_query().where(col(Device.site_id) == site.id).order_by(col(Device.role), col(Device.name))
        ).all()
    ]
    groups = sorted(
        g.name for g in session.exec(select(SiteGroup)) if site.code in group_site_codes(session, g.name)
    )
    return SiteDetail(site, province, unit, devices, groups)


def summary(session: Session) -> dict[str, Any]:
    """Counts for the terminal: sites by carrier, devices by role, provinces covered."""
    by_carrier = dict(session.exec(select(col(Site.carrier), func.count()).group_by(col(Site.carrier))).all())
    by_role = dict(session.exec(select(col(Device.role), func.count()).group_by(col(Device.role))).all())
    provinces = session.exec(select(func.count(func.distinct(col(Site.province_code))))).one()
    return {
        "sites": sum(by_carrier.values()),
        "devices": sum(by_role.values()),
        "provinces": provinces,
        "sites_by_carrier": {str(k): v for k, v in sorted(by_carrier.items())},
        "devices_by_role": {str(k): v for k, v in sorted(by_role.items())},
    }


def province_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Province.code, Province.name)).all())


def list_sites(
    session: Session,
    *,
    province: str | None = None,
    carrier: Carrier | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Site]:
    query = select(Site)
    if province is not None:
        query = query.where(col(Site.province_code) == resolve_province(session, province).code)
    if carrier is not None:
        query = query.where(col(Site.carrier) == carrier)
    query = query.order_by(col(Site.province_code), col(Site.code))
    return list(session.exec(query.offset(offset).limit(limit)))


def update_site(
    session: Session, code: str, changes: dict[str, str]
) -> tuple[Site, dict[str, tuple[str, str]]]:
    """Change a site's contact fields; the site and what changed (field: (old, new)). Not committed."""
    site = session.exec(select(Site).where(col(Site.code) == code)).one_or_none()
    if site is None:
        raise NotFoundError(f"no site with code '{code}'")
    changed = {}
    for name, value in changes.items():
        old = getattr(site, name)
        if old != value:
            changed[name] = (old, value)
            setattr(site, name, value)
    if changed:
        site.updated_at = utcnow()
        session.add(site)
    return site, changed


def get_device(session: Session, name: str) -> tuple[DeviceRow, Device]:
    found = session.execute(_device_query().where(col(Device.name) == name)).first()
    if found is None:
        raise NotFoundError(f"no device named '{name}'")
    return device_row(*found), found[0]


def update_device(
    session: Session, name: str, changes: dict[str, str]
) -> tuple[Device, dict[str, tuple[str, str]]]:
    """Change a device's expected firmware or credential profile (by name). Not committed."""
    row, device = get_device(session, name)
    changed = {}
    if "expected_firmware" in changes and changes["expected_firmware"] != device.expected_firmware:
        changed["expected_firmware"] = (device.expected_firmware, changes["expected_firmware"])
        device.expected_firmware = changes["expected_firmware"]
    wanted = changes.get("credential_profile")
    if wanted is not None and wanted != row.credential_profile:
        profile = session.exec(select(CredentialProfile).where(col(CredentialProfile.name) == wanted)).first()
        if profile is None:
            raise UnknownReference(f"credential_profile '{wanted}': no such credential profile")
        changed["credential_profile"] = (row.credential_profile, wanted)
        device.credential_profile_id = profile.id or 0
    if changed:
        device.updated_at = utcnow()
        session.add(device)
    return device, changed


class UnknownReference(FleetError):
    exit_code = 2
