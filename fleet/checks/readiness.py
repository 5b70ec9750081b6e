"""Judge one site against a check set: an outcome per check and device, then the site's verdict.

Pure functions over what sweeps found (DeviceView), so every rule is tested without a network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fleet.checks.checkset import FACTS, MANAGEMENT, SILENCE, Check, CheckSet, DeviceView
from fleet.domain.enums import Carrier
from fleet.domain.health import Finding, Party, Problem
from fleet.domain.readiness import CheckResult, Outcome, Severity, SiteVerdict, verdict_of

# The sweep's finding that says, in the device's own words, why a fact is what it is.
FACT_FINDINGS: dict[str, frozenset[Finding]] = {
    "reachable": SILENCE,
    "managed": MANAGEMENT,
    "wan_up": frozenset({Finding.WAN_DOWN}),
    "codec.sip_registered": frozenset({Finding.SIP_UNREGISTERED}),
    "codec.camera_connected": frozenset({Finding.CAMERA_DISCONNECTED}),
    "codec.microphone_connected": frozenset({Finding.MICROPHONE_MISSING}),
    "codec.display_connected": frozenset({Finding.DISPLAY_DISCONNECTED}),
    "codec.in_call": frozenset({Finding.IN_CALL}),
    "codec.ntp_synced": frozenset({Finding.CLOCK_UNSYNCED}),
    "video_signal_ok": frozenset({Finding.VIDEO_SIGNAL_LOST}),
    "hardware_alarms": frozenset({Finding.HARDWARE}),
}
# What keeps a fact from being read, when it is missing.
HIDING = MANAGEMENT | SILENCE | {Finding.NOT_CHECKED}


@dataclass(frozen=True, slots=True)
class SessionContext:
    dial_string: str
    bridge: str = ""


@dataclass(frozen=True, slots=True)
class SiteInput:
    code: str
    carrier: Carrier
    devices: Sequence[DeviceView]


def _party(name: str, carrier: Carrier, found: Problem | None) -> Party:
    if name == "found" and found is not None:
        return found.party
    if name in ("carrier", "found"):
        return Party.carrier(carrier)
    return {"vnpt": Party.VNPT, "viettel": Party.VIETTEL, "site": Party.SITE}.get(name, Party.NOC)


def _expected(
    check: Check, device: DeviceView, carrier: Carrier, ctx: SessionContext, registrars: Any
) -> Any:
    value = check.value
    if check.op == "one_of" and isinstance(value, dict):
        return value.get(device.driver)
    if value == "{session.dial_string}":
        return ctx.dial_string
    if value == "{session.bridge}":
        return ctx.bridge
    if value == "{site.registrar}":
        return registrars.get(carrier)
    return value


def _passes(op: str, value: Any, expected: Any) -> bool:
    if op == "equals":
        return bool(value == expected)
    if op == "max":
        return bool(value <= expected)
    if op == "min":
        return bool(value >= expected)
    if op == "one_of":
        return expected is not None and str(value) in expected
    return not value  # empty


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)


def _describe(check: Check, value: Any, expected: Any) -> str:
    label = FACTS[check.fact].label
    if check.op == "max":
        return f"{label} {_show(value)} (max {_show(expected)})"
    if check.op == "min":
        return f"{label} {_show(value)} (min {_show(expected)})"
    if check.op == "one_of":
        if expected is None:
            return f"{label} {_show(value)}: no approved list for this model"
        return f"{label} {_show(value)}, approved: {', '.join(expected)}"
    if check.op == "empty":
        return f"{label}: {_show(value)}"
    return f"{label}: {_show(value)}, expected {_show(expected)}"


def judge(
    check: Check, device: DeviceView, carrier: Carrier, ctx: SessionContext, check_set: CheckSet
) -> CheckResult:
    """One check on one device, before root cause is applied."""
    result = CheckResult(check.id, check.title, device.name, device.role, Outcome.PASS, check.severity)
    result.remedy = check.remedy
    value = FACTS[check.fact].get(device)
    if value is None:
        hiding = next((p for p in device.problems if p.finding in HIDING), None)
        result.outcome = Outcome.UNKNOWN
        result.reason = hiding.detail if hiding else f"the device did not report {FACTS[check.fact].label}"
        result.party = hiding.party if hiding else Party.NOC
        if hiding is not None:
            result.remedy = hiding.remedy
        return result
    expected = _expected(check, device, carrier, ctx, check_set.registrars)
    if _passes(check.op, value, expected):
        return result
    result.outcome = Outcome.FAIL
    related = [p for p in device.problems if p.finding in FACT_FINDINGS.get(check.fact, ())]
    if related and check.op == "equals" and isinstance(value, bool):
        result.reason = "; ".join(dict.fromkeys(p.detail for p in related))
    else:
        result.reason = _describe(check, value, expected)
    result.party = _party(check.party, carrier, related[0] if related else None)
    return result


def evaluate_site(check_set: CheckSet, site: SiteInput, ctx: SessionContext) -> SiteVerdict:
    """Every check on every device of its role, in file order; a failing check whose required
    blocker failed is skipped as explained by it (its root cause)."""
    results: list[CheckResult] = []
    by_check: dict[str, list[CheckResult]] = {}
    for check in check_set.checks:
        for device in site.devices:
            if device.role is not check.role:
                continue
            result = judge(check, device, site.carrier, ctx, check_set)
            if result.outcome is not Outcome.PASS:
                cause = _root_cause(check, by_check)
                if cause is not None:
                    result.outcome, result.cause = Outcome.SKIPPED, cause
            results.append(result)
            by_check.setdefault(check.id, []).append(result)
    return SiteVerdict(site.code, verdict_of(results), results)


def _root_cause(check: Check, by_check: dict[str, list[CheckResult]]) -> str | None:
    for required in check.requires:
        for result in by_check.get(required, ()):
            if result.outcome is Outcome.SKIPPED:
                return result.cause
            if result.outcome is Outcome.FAIL and result.severity is Severity.BLOCKER:
                return result.check
    return None
