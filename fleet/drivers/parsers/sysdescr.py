"""The running software version, read from each model's sysDescr."""

from __future__ import annotations

import re

from fleet.drivers.parsers import ParseError

_PATTERNS = {
    "cisco_ios": re.compile(r"Version (?P<v>[\w.()]+),"),
    "huawei_vrp": re.compile(r"\(\S+ (?P<v>V\d{3}R\d{3}\w*)\)"),
    "cisco_ce": re.compile(r"SoftW: (?P<v>ce\d+(?:\.\d+){3})"),  # the build hash after it is dropped
    "axis_ptz": re.compile(r"^; AXIS [^;]+; [^;]+; (?P<v>\d+(?:\.\d+)+);"),
}


def firmware(driver: str, sys_descr: str) -> str:
    pattern = _PATTERNS.get(driver)
    if pattern is None:
        raise ParseError(f"no sysDescr parser for driver '{driver}'")
    match = pattern.search(sys_descr)
    if match is None:
        raise ParseError(f"no software version in the {driver} sysDescr: {sys_descr[:80]!r}")
    return match["v"]
