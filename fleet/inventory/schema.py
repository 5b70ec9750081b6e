"""Inventory record types and their columns.

One column list per kind drives reading, validation, writing (generator and export) and the
format documentation. CSV and YAML files carry the same columns.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fleet.domain.enums import Carrier, Role, SnmpAuthProtocol, SnmpPrivProtocol, SnmpVersion
from fleet.domain.secrets import SecretRef


class Kind(StrEnum):
    SITES = "sites"
    DEVICES = "devices"
    CREDENTIALS = "credentials"
    GROUPS = "groups"


# --- records ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SiteRecord:
    code: str
    admin_code: str
    province_code: str
    name: str
    carrier: Carrier
    contact_name: str = ""
    contact_phone: str = ""
    address: str = ""


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    name: str
    site_code: str
    role: Role
    vendor: str
    model: str
    driver: str
    mgmt_address: str
    snmp_port: int
    credential_profile: str
    ssh_port: int | None = None
    expected_firmware: str = ""


@dataclass(frozen=True, slots=True)
class CredentialRecord:
    name: str
    snmp_version: SnmpVersion
    snmp_community: SecretRef | None = None
    snmp_user: str = ""
    snmp_auth_protocol: SnmpAuthProtocol | None = None
    snmp_auth_key: SecretRef | None = None
    snmp_priv_protocol: SnmpPrivProtocol | None = None
    snmp_priv_key: SecretRef | None = None
    ssh_user: str = ""
    ssh_password: SecretRef | None = None
    ssh_key: SecretRef | None = None


@dataclass(frozen=True, slots=True)
class GroupRecord:
    name: str
    description: str = ""
    provinces: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()


Record = SiteRecord | DeviceRecord | CredentialRecord | GroupRecord

# --- field parsers: each returns the clean value or raises ValueError(reason) --------------------

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 .-]{5,19}$")
_USER = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


def text(value: str, *, limit: int = 200) -> str:
    """Free text: NFC-normalised, one line, no control or invisible format characters."""
    for ch in value:
        category = unicodedata.category(ch)
        if ch in "\r\n\u2028\u2029":
            raise ValueError("contains a line break")
        if category.startswith("C"):
            raise ValueError(f"contains the control character U+{ord(ch):04X}")
    value = unicodedata.normalize("NFC", value)
    if len(value) > limit:
        raise ValueError(f"is longer than {limit} characters")
    return value


def _pattern(regex: re.Pattern[str], what: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        text(value)
        if not regex.match(value):
            raise ValueError(f"is not a valid {what}")
        return value

    return parse


code = _pattern(_CODE, "code (letters, digits, '.', '_' or '-', at most 32)")
hostname = _pattern(_HOSTNAME, "device name (letters, digits, '.', '_' or '-', at most 64)")
phone = _pattern(_PHONE, "phone number")
user = _pattern(_USER, "user name")


def digits(width: int, what: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if not value.isascii() or not value.isdigit() or len(value) > width:
            raise ValueError(f"is not a {what} ({width} digits at most)")
        return value.zfill(width)

    return parse


def choice(enum_cls: type[StrEnum]) -> Callable[[str], Any]:
    allowed = {m.value.casefold(): m for m in enum_cls}

    def parse(value: str) -> StrEnum:
        try:
            return allowed[value.casefold()]
        except KeyError:
            names = ", ".join(m.value for m in enum_cls)
            raise ValueError(f"is not one of: {names}") from None

    return parse


def port(value: str) -> int:
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= 65535:
        raise ValueError("is not a port number (1-65535)")
    return int(value)


def ip_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError("is not an IPv4 or IPv6 address") from None


def secret(value: str) -> SecretRef:
    return SecretRef.parse(value)


def code_list(value: str) -> tuple[str, ...]:
    items = [item for item in re.split(r"[\s,;]+", value) if item]
    for item in items:
        code(item)
    return tuple(items)


def province_list(value: str) -> tuple[str, ...]:
    parse = digits(2, "province code")
    return tuple(parse(item) for item in re.split(r"[\s,;]+", value) if item)


# --- columns ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    parse: Callable[[str], Any]
    required: bool = True
    secret: bool = False
    is_list: bool = False
    doc: str = ""


def _text(limit: int) -> Callable[[str], str]:
    return lambda value: text(value, limit=limit)


COLUMNS: dict[Kind, tuple[Column, ...]] = {
    Kind.SITES: (
        Column("code", code, doc="site identifier, unique; the shipped inventory uses the commune's code"),
        Column(
            "admin_code", digits(5, "commune/ward code"), doc="official code of the commune or ward served"
        ),
        Column(
            "province_code", digits(2, "province code"), doc="official province code; must match admin_code"
        ),
        Column("name", _text(200), doc="site name"),
        Column("carrier", choice(Carrier), doc="VNPT or Viettel"),
        Column("contact_name", _text(200), required=False, doc="site contact person"),
        Column("contact_phone", phone, required=False, doc="site contact phone"),
        Column("address", _text(400), required=False, doc="street address"),
    ),
    Kind.DEVICES: (
        Column("name", hostname, doc="device name, unique"),
        Column("site_code", code, doc="the site it belongs to"),
        Column("role", choice(Role), doc="codec, camera or router"),
        Column("vendor", _text(64), doc="must match the driver's vendor"),
        Column("model", _text(64), doc="must be one of the driver's models"),
        Column("driver", code, doc="driver name (fleet drivers lists them)"),
        Column("mgmt_address", ip_address, doc="management IP address, unique"),
        Column("snmp_port", port, doc="SNMP port"),
        Column("ssh_port", port, required=False, doc="SSH port; required when the driver uses SSH"),
        Column("credential_profile", code, doc="name of a credential profile"),
        Column("expected_firmware", _text(64), required=False, doc="firmware the device should run"),
    ),
    Kind.CREDENTIALS: (
        Column("name", code, doc="profile name, unique"),
        Column("snmp_version", choice(SnmpVersion), doc="v2c or v3"),
        Column("snmp_community", secret, required=False, secret=True, doc="v2c community (reference)"),
        Column("snmp_user", user, required=False, doc="v3 user"),
        Column("snmp_auth_protocol", choice(SnmpAuthProtocol), required=False, doc="v3: SHA or SHA256"),
        Column("snmp_auth_key", secret, required=False, secret=True, doc="v3 auth key (reference)"),
        Column("snmp_priv_protocol", choice(SnmpPrivProtocol), required=False, doc="v3: AES or AES256"),
        Column("snmp_priv_key", secret, required=False, secret=True, doc="v3 privacy key (reference)"),
        Column("ssh_user", user, required=False, doc="SSH user"),
        Column("ssh_password", secret, required=False, secret=True, doc="SSH password (reference)"),
        Column("ssh_key", secret, required=False, secret=True, doc="SSH private key file (reference)"),
    ),
    Kind.GROUPS: (
        Column("name", code, doc="group name, unique"),
        Column("description", _text(400), required=False, doc="what the group is for"),
        Column("provinces", province_list, required=False, is_list=True, doc="province codes in the group"),
        Column("sites", code_list, required=False, is_list=True, doc="site codes in the group"),
    ),
}

KEY_FIELD: dict[Kind, str] = {
    Kind.SITES: "code",
    Kind.DEVICES: "name",
    Kind.CREDENTIALS: "name",
    Kind.GROUPS: "name",
}

RECORD_TYPE: dict[Kind, type[Record]] = {
    Kind.SITES: SiteRecord,
    Kind.DEVICES: DeviceRecord,
    Kind.CREDENTIALS: CredentialRecord,
    Kind.GROUPS: GroupRecord,
}


def column_names(kind: Kind) -> list[str]:
    return [c.name for c in COLUMNS[kind]]
