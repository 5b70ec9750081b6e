"""The official administrative units of Vietnam (after the 2025 reorganisation).

Names and codes come from the maintained ``vietnam-provinces`` data package, never by hand.
Codes are kept as zero-padded strings: provinces 2 digits, communes and wards 5 digits.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import vietnam_provinces as vp

from fleet.domain.enums import DivisionType


@dataclass(frozen=True, slots=True)
class ProvinceRef:
    code: str
    name: str
    codename: str
    division_type: DivisionType


@dataclass(frozen=True, slots=True)
class AdminUnitRef:
    code: str
    name: str
    division_type: DivisionType
    province_code: str


@dataclass(frozen=True, slots=True)
class Reference:
    provinces: dict[str, ProvinceRef]
    units: dict[str, AdminUnitRef]
    data_version: str


def province_code(value: int) -> str:
    return f"{value:02d}"


def unit_code(value: int) -> str:
    return f"{value:05d}"


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


@lru_cache(maxsize=1)
def reference() -> Reference:
    provinces = {
        province_code(p.code.value): ProvinceRef(
            code=province_code(p.code.value),
            name=_nfc(p.name),
            codename=p.codename,
            division_type=DivisionType(p.division_type.value),
        )
        for p in vp.Province.iter_all()
    }
    units = {
        unit_code(w.code.value): AdminUnitRef(
            code=unit_code(w.code.value),
            name=_nfc(w.name),
            division_type=DivisionType(w.division_type.value),
            province_code=province_code(w.province_code.value),
        )
        for w in vp.Ward.iter_all()
    }
    return Reference(provinces=provinces, units=units, data_version=str(vp.__data_version__))
