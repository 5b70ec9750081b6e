"""Turn raw records into typed records, and check them against each other and the reference data.

Validation is all-or-nothing: a caller that gets problems back must not write anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet.domain.enums import SnmpVersion
from fleet.drivers import REGISTRY, DriverRegistry
from fleet.inventory.problems import REDACTED, Problem
from fleet.inventory.reader import RawRecord, read_paths
from fleet.inventory.reference import Reference, reference
from fleet.inventory.schema import (
    COLUMNS,
    KEY_FIELD,
    RECORD_TYPE,
    CredentialRecord,
    DeviceRecord,
    GroupRecord,
    Kind,
    Record,
    SiteRecord,
)


@dataclass(slots=True)
class Located:
    """A typed record and the raw record it was read from (for error locations)."""

    record: Any
    raw: RawRecord


@dataclass(slots=True)
class Inventory:
    sites: list[SiteRecord] = field(default_factory=list)
    devices: list[DeviceRecord] = field(default_factory=list)
    credentials: list[CredentialRecord] = field(default_factory=list)
    groups: list[GroupRecord] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "sites": len(self.sites),
            "devices": len(self.devices),
            "credentials": len(self.credentials),
            "groups": len(self.groups),
        }


@dataclass(frozen=True, slots=True)
class Known:
    """What the database already holds, so files may refer to it (e.g. devices of existing sites)."""

    site_codes: frozenset[str] = frozenset()
    profiles: dict[str, CredentialRecord] = field(default_factory=dict)
    device_addresses: dict[str, str] = field(default_factory=dict)  # device name -> address


@dataclass(slots=True)
class Validation:
    inventory: Inventory
    problems: list[Problem]
    files: list[Path]

    @property
    def ok(self) -> bool:
        return not self.problems


def validate_paths(
    paths: list[Path], known: Known | None = None, *, registry: DriverRegistry = REGISTRY
) -> Validation:
    read = read_paths(paths)
    inventory, problems = validate_records(read.records, known or Known(), registry=registry)
    return Validation(inventory, read.problems + problems, read.files)


def validate_records(
    raws: Iterable[RawRecord], known: Known, *, registry: DriverRegistry = REGISTRY
) -> tuple[Inventory, list[Problem]]:
    ref = reference()
    problems: list[Problem] = []
    by_kind: dict[Kind, list[Located]] = {k: [] for k in Kind}
    # Keys of every record named in the files, valid or not, so that a reference to a record
    # that failed validation is not reported a second time as "no such …".
    declared: dict[Kind, set[str]] = {k: set() for k in Kind}
    for raw in raws:
        key = raw.values.get(KEY_FIELD[raw.kind])
        if isinstance(key, str):
            declared[raw.kind].add(key)
        record = _build(raw, problems)
        if record is not None:
            by_kind[raw.kind].append(Located(record, raw))

    for kind, items in by_kind.items():
        _unique(items, KEY_FIELD[kind], problems)

    _check_sites(by_kind[Kind.SITES], ref, problems)
    _check_credentials(by_kind[Kind.CREDENTIALS], problems)
    site_codes = set(known.site_codes) | declared[Kind.SITES]
    profiles: dict[str, CredentialRecord | None] = dict.fromkeys(declared[Kind.CREDENTIALS])
    profiles |= known.profiles | {loc.record.name: loc.record for loc in by_kind[Kind.CREDENTIALS]}
    _check_devices(by_kind[Kind.DEVICES], site_codes, profiles, known, registry, problems)
    _check_groups(by_kind[Kind.GROUPS], site_codes, ref, problems)

    problems.sort(key=lambda p: (str(p.path), p.line or 0))
    inventory = Inventory(
        sites=[loc.record for loc in by_kind[Kind.SITES]],
        devices=[loc.record for loc in by_kind[Kind.DEVICES]],
        credentials=[loc.record for loc in by_kind[Kind.CREDENTIALS]],
        groups=[loc.record for loc in by_kind[Kind.GROUPS]],
    )
    return inventory, problems


def _problem(raw: RawRecord, name: str | None, reason: str, *, show: bool = True) -> Problem:
    value = None
    if name is not None and show:
        got = raw.values.get(name)
        if isinstance(got, list):
            value = ", ".join(got)
        elif got is not None:
            value = got
        column = next((c for c in COLUMNS[raw.kind] if c.name == name), None)
        if column is not None and column.secret and value:
            value = REDACTED
    line = raw.line_of(name) if name else raw.line
    return Problem(raw.path, line, name, value, reason)


def _build(raw: RawRecord, problems: list[Problem]) -> Record | None:
    fields: dict[str, Any] = {}
    complete = True
    for column in COLUMNS[raw.kind]:
        if column.name not in raw.values:
            complete = complete and not column.required  # already reported by the reader
            continue
        value = raw.values[column.name]
        if isinstance(value, list):
            value = " ".join(value)
        if value == "":
            if column.required:
                problems.append(_problem(raw, column.name, "a value is required"))
                complete = False
            continue
        try:
            fields[column.name] = column.parse(value)
        except ValueError as exc:
            problems.append(_problem(raw, column.name, str(exc)))
            complete = False
    if not complete:
        return None
    record_type: Any = RECORD_TYPE[raw.kind]
    return record_type(**fields)  # type: ignore[no-any-return]


def _unique(items: list[Located], key: str, problems: list[Problem]) -> None:
    first: dict[str, Located] = {}
    kept = []
    for loc in items:
        value = getattr(loc.record, key)
        if value in first:
            prev = first[value].raw
            problems.append(_problem(loc.raw, key, f"duplicate: already defined at {prev.path}:{prev.line}"))
            continue
        first[value] = loc
        kept.append(loc)
    items[:] = kept


def _check_sites(items: list[Located], ref: Reference, problems: list[Problem]) -> None:
    for loc in items:
        site: SiteRecord = loc.record
        unit = ref.units.get(site.admin_code)
        if unit is None:
            problems.append(_problem(loc.raw, "admin_code", "no commune or ward has this official code"))
        elif site.province_code not in ref.provinces:
            problems.append(_problem(loc.raw, "province_code", "no province has this official code"))
        elif unit.province_code != site.province_code:
            province = ref.provinces[unit.province_code]
            problems.append(
                _problem(
                    loc.raw,
                    "province_code",
                    f"{unit.name} ({unit.code}) belongs to {province.name} ({province.code})",
                )
            )


def _check_credentials(items: list[Located], problems: list[Problem]) -> None:
    v3_fields = ("snmp_user", "snmp_auth_protocol", "snmp_auth_key", "snmp_priv_protocol", "snmp_priv_key")
    for loc in items:
        cred: CredentialRecord = loc.record
        raw = loc.raw
        if cred.snmp_version is SnmpVersion.V2C:
            if cred.snmp_community is None:
                problems.append(_problem(raw, "snmp_community", "SNMP v2c needs a community reference"))
            problems.extend(
                _problem(raw, name, "only for SNMP v3") for name in v3_fields if getattr(cred, name)
            )
        else:
            if cred.snmp_community is not None:
                problems.append(_problem(raw, "snmp_community", "only for SNMP v2c"))
            problems.extend(
                _problem(raw, name, "SNMP v3 needs it (fleet uses authPriv only)")
                for name in v3_fields
                if not getattr(cred, name)
            )
        if cred.ssh_user and cred.ssh_password is None and cred.ssh_key is None:
            problems.append(_problem(raw, "ssh_user", "needs ssh_password or ssh_key"))
        if not cred.ssh_user:
            problems.extend(
                _problem(raw, name, "given without ssh_user")
                for name in ("ssh_password", "ssh_key")
                if getattr(cred, name) is not None
            )


def _check_devices(
    items: list[Located],
    site_codes: set[str],
    profiles: dict[str, CredentialRecord | None],
    known: Known,
    registry: DriverRegistry,
    problems: list[Problem],
) -> None:
    for loc in items:
        dev: DeviceRecord = loc.record
        raw = loc.raw
        if dev.site_code not in site_codes:
            problems.append(_problem(raw, "site_code", "no such site in these files or the database"))
        profile = profiles.get(dev.credential_profile)
        if dev.credential_profile not in profiles:
            problems.append(_problem(raw, "credential_profile", "no such credential profile"))
        if dev.driver not in registry:
            problems.append(_problem(raw, "driver", f"unknown driver (known: {', '.join(registry.names())})"))
            continue
        driver = registry.get(dev.driver)
        if driver.role is not dev.role:
            problems.append(_problem(raw, "role", f"driver {driver.name} is for a {driver.role.value}"))
        if dev.vendor != driver.vendor:
            problems.append(_problem(raw, "vendor", f"driver {driver.name} is for {driver.vendor} devices"))
        if dev.model not in driver.models:
            problems.append(
                _problem(raw, "model", f"driver {driver.name} knows the models: {', '.join(driver.models)}")
            )
        if driver.uses_ssh:
            if dev.ssh_port is None:
                problems.append(
                    _problem(raw, "ssh_port", f"driver {driver.name} uses SSH: a port is required")
                )
            if profile is not None and not profile.ssh_user:
                problems.append(
                    _problem(
                        raw,
                        "credential_profile",
                        f"driver {driver.name} uses SSH but the profile has no ssh_user",
                    )
                )
        elif dev.ssh_port is not None:
            problems.append(
                _problem(raw, "ssh_port", f"driver {driver.name} does not use SSH; leave it empty")
            )

    # Addresses must be unique in the inventory as it will stand after import.
    final = dict(known.device_addresses) | {loc.record.name: loc.record.mgmt_address for loc in items}
    holders: dict[str, list[str]] = {}
    for name, address in final.items():
        holders.setdefault(address, []).append(name)
    located = {loc.record.name: loc for loc in items}
    for names in holders.values():
        if len(names) < 2:
            continue
        for name in names:
            loc_or_none = located.get(name)
            if loc_or_none is None:
                continue
            others = [n for n in names if n != name]
            where = []
            for other in others:
                other_loc = located.get(other)
                where.append(
                    f"{other} ({other_loc.raw.path}:{other_loc.raw.line})"
                    if other_loc
                    else f"{other} (in the database)"
                )
            problems.append(
                _problem(loc_or_none.raw, "mgmt_address", f"duplicate: also used by {', '.join(where)}")
            )


def _check_groups(
    items: list[Located], site_codes: set[str], ref: Reference, problems: list[Problem]
) -> None:
    for loc in items:
        group: GroupRecord = loc.record
        if not group.provinces and not group.sites:
            problems.append(_problem(loc.raw, "name", "group has no members: give provinces and/or sites"))
        for code in group.provinces:
            if code not in ref.provinces:
                problems.append(_problem(loc.raw, "provinces", f"no province has the code '{code}'"))
        for code in group.sites:
            if code not in site_codes:
                problems.append(_problem(loc.raw, "sites", f"no such site '{code}'"))
