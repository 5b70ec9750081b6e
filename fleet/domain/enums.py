"""Every status and category in fleet is one of these enums."""

from __future__ import annotations

from enum import StrEnum


class Carrier(StrEnum):
    """The carrier that supplies and maintains a site's equipment and link."""

    VNPT = "VNPT"
    VIETTEL = "Viettel"


class Role(StrEnum):
    CODEC = "codec"
    CAMERA = "camera"
    ROUTER = "router"


class SnmpVersion(StrEnum):
    V2C = "v2c"
    V3 = "v3"


class SnmpAuthProtocol(StrEnum):
    SHA = "SHA"
    SHA256 = "SHA256"


class SnmpPrivProtocol(StrEnum):
    AES = "AES"  # AES-128 CFB, RFC 3826
    AES256 = "AES256"


class DivisionType(StrEnum):
    """Administrative division types as the 2025 reorganisation defines them."""

    PROVINCE = "tỉnh"
    CENTRAL_CITY = "thành phố trung ương"
    COMMUNE = "xã"
    WARD = "phường"
    SPECIAL_ZONE = "đặc khu"


class GroupMemberKind(StrEnum):
    PROVINCE = "province"
    SITE = "site"
