"""The running software version, read from each model's sysDescr."""

from __future__ import annotations

import re

from fleet.drivers.parsers import ParseError

_PATTERNS = {
    # 'Version 17.9.5, RELEASE' (IOS, IOS-XE 16/17) and 'Version 03.06.05E RELEASE' (IOS-XE 3.x, no comma)
    "cisco_ios": re.compile(r"Version (?P<v>[\w.()]+)(?=[,\s]|$)"),
    # '(AR6120 V300R021C10SPC100)', and product names with spaces: '(NetEngine 8000 V800R023C00SPC500)'
    "huawei_vrp": re.compile(r"\((?:[^()]*\s)?(?P<v>V\d{3}R\d{3}\w*)\)"),
    "cisco_ce": re.compile(r"SoftW:\s*(?P<v>(?:ce|RoomOS\s*)\d[\w.]*)"),
    "axis_ptz": re.compile(r"^; AXIS [^;]+; [^;]+; (?P<v>\d+(?:\.\d+)+);"),
}
# A CE / RoomOS release: 'ce' and up to four short numeric parts; what follows (a build hash such as
# '50f5888d087', or the next sysDescr field run on without a line break) is not part of it.
_CE_RELEASE = re.compile(r"(?:ce|RoomOS\s*)(\d{1,3}(?:\.\d{1,4}(?![0-9a-f])){1,3})", re.I)


def ce_release(text: str) -> str | None:
    """'ce9.10.0' of 'ce9.10.0.50f5888d087', 'ce11.14.2.3' of 'ce11.14.2.3.5e27f0d8ea5'; None if none.

    The xAPI's SystemUnit Software Version and the sysDescr's SoftW name the same release this way.
    """
    found = _CE_RELEASE.match(text.strip())
    return f"ce{found[1]}" if found else None


def firmware(driver: str, sys_descr: str) -> str:
    pattern = _PATTERNS.get(driver)
    if pattern is None:
        raise ParseError(f"no sysDescr parser for driver '{driver}'")
    match = pattern.search(sys_descr)
    version = match["v"] if match else None
    if version is not None and driver == "cisco_ce":
        version = ce_release(version.split("MCU:")[0])
    if version is None:
        raise ParseError(f"no software version in the {driver} sysDescr: {sys_descr[:80]!r}")
    return version
