"""What a correct health sweep must conclude from the simulator's ground truth, and the comparison.

Each injected fault maps to the finding a sweep must report, given what the sweep can see: a
device that is off shows nothing else; an SNMP agent that is dead hides what only SNMP tells;
an SSH login that fails hides what only SSH tells; a device behind a dark router shows only that.
Some faults are not a sweep's to find (a router's configuration drift, resets during a push and
rejected configuration lines belong to provisioning; a codec's drifted SIP proxy shows as a failed
registration); some can only be found by chance in one sweep (a share of lost requests).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fleet.domain.enums import Carrier, Role
from fleet.domain.health import FINDINGS as FINDING_INFO
from fleet.domain.health import DeviceHealth, DeviceStatus, Finding, party_for, worst
from fleet.drivers.ssh_health import CODEC_COMMANDS
from fleet.sim.faults import FaultKind
from fleet.sim.link import stall_bounds

NOT_A_SWEEPS = frozenset({FaultKind.CONFIG_DRIFT, FaultKind.RESET_DURING_PUSH, FaultKind.CONFIG_REJECTED})
CODEC_SSH_FACTS = {
    FaultKind.SIP_UNREGISTERED: Finding.SIP_UNREGISTERED,
    FaultKind.CAMERA_DISCONNECTED: Finding.CAMERA_DISCONNECTED,
    FaultKind.MICROPHONE_MISSING: Finding.MICROPHONE_MISSING,
    FaultKind.DISPLAY_DISCONNECTED: Finding.DISPLAY_DISCONNECTED,
    FaultKind.IN_CALL: Finding.IN_CALL,
    FaultKind.CLOCK_UNSYNCED: Finding.CLOCK_UNSYNCED,
    FaultKind.CONFIG_DRIFT: Finding.SIP_UNREGISTERED,  # the drifted SIP proxy does not register
}


# A sweep's SSH session waits for the simulator's link (fleet.sim.link) once per round trip: the
# server's version string, the login banner, the session's preparation (routers: terminal width and
# paging), then each command. Measured with fleet's sessions: a router takes 5 delays, a codec 9.
SSH_ROUND_TRIPS = {Role.ROUTER: 5, Role.CODEC: 2 + len(CODEC_COMMANDS)}
CLOSE_CALL = 0.7  # a session estimated past this share of its time limit may run out (loaded poller)
STALLS_PER_ROUND = 4  # mean stalls a round trip can take: echo and answer, and netmiko's sleeps overshoot
BANNER_SLACK = 0.5  # seconds either side of the banner timeout: the version string may make it or not


@dataclass(frozen=True, slots=True)
class Expectation:
    required: frozenset[Finding]
    optional: frozenset[Finding] = frozenset()  # may or may not show in one sweep
    cause: str | None = None  # for BEHIND_ROUTER: the router

    @property
    def status(self) -> DeviceStatus:
        return worst([FINDING_INFO[f].status for f in self.required])


@dataclass(frozen=True, slots=True)
class SweepConditions:
    snmp_timeout: float = 1.0
    slow_after: float = 0.3
    ssh_time_limit: float = 30.0
    ssh_connect_timeout: float = 10.0  # also how long paramiko waits for the version string
    snmp_only: bool = False


@dataclass(slots=True)
class Comparison:
    checked: int = 0
    faults_expected: int = 0  # devices expected not up
    faults_found: int = 0
    mismatches: list[str] = field(default_factory=list)
    out_of_scope: dict[str, int] = field(default_factory=dict)  # fault kind -> devices (not a sweep's)
    chance: dict[str, str] = field(default_factory=dict)  # device -> what a chance fault showed

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _ssh_link(
    role: Role, delay: float, loss: float, cond: SweepConditions
) -> tuple[set[Finding], set[Finding]]:
    """What a slow or lossy link does to a sweep's SSH session: (required, optional) findings."""
    least_stall, mean_stall, longest_stall = stall_bounds(loss)
    least, most = delay + least_stall, delay + longest_stall  # lateness of one chunk
    banner = min(cond.ssh_connect_timeout, cond.ssh_time_limit)
    if least >= banner + BANNER_SLACK:
        return {Finding.SSH_NO_BANNER}, set()
    optional = {Finding.SSH_NO_BANNER} if most > banner - BANNER_SLACK else set()
    rounds = SSH_ROUND_TRIPS.get(role, 0)
    if rounds * least >= cond.ssh_time_limit:  # each round trip waits at least that long
        return (set(), optional | {Finding.SSH_TIMEOUT}) if optional else ({Finding.SSH_TIMEOUT}, set())
    if rounds * (delay + STALLS_PER_ROUND * mean_stall) >= CLOSE_CALL * cond.ssh_time_limit:
        optional.add(Finding.SSH_TIMEOUT)
    return set(), optional


def _expect_ssh(
    role: Role,
    faults: Mapping[FaultKind, Mapping[str, Any]],
    delay: float,
    cond: SweepConditions,
    required: set[Finding],
    optional: set[Finding],
) -> tuple[bool, bool]:
    """Add the SSH findings; whether the SSH facts can be read, and whether they are for certain."""
    for kind, finding in (
        (FaultKind.SSH_AUTH_FAILURE, Finding.SSH_AUTH),
        (FaultKind.SSH_NO_BANNER, Finding.SSH_NO_BANNER),
        (FaultKind.SSH_RESET, Finding.SSH_RESET),
    ):
        if kind in faults:
            required.add(finding)
            return False, False
    loss = faults.get(FaultKind.LOSS)
    rate = float(loss.get("rate", 0.3)) if loss is not None else 0.0
    link_required, link_optional = _ssh_link(role, delay, rate, cond)
    required |= link_required
    optional |= link_optional
    return not link_required, not link_required and not link_optional


def _expect_device(
    role: Role, faults: Mapping[FaultKind, Mapping[str, Any]], cond: SweepConditions
) -> Expectation:
    if FaultKind.POWERED_OFF in faults:
        return Expectation(frozenset({Finding.NO_ANSWER}))
    required: set[Finding] = set()
    optional: set[Finding] = set()
    ssh_capable = role is not Role.CAMERA and not cond.snmp_only
    slow = faults.get(FaultKind.SLOW)
    delay = float(slow.get("delay_ms", 2500.0)) / 1000 if slow is not None else 0.0
    snmp_ok = FaultKind.SNMP_DEAD not in faults and delay < cond.snmp_timeout
    snmp_malformed = FaultKind.SNMP_MALFORMED in faults
    if not snmp_ok and not snmp_malformed:
        required.add(Finding.SNMP_SILENT if ssh_capable else Finding.NO_ANSWER)
    elif snmp_malformed:
        required.add(Finding.SNMP_MALFORMED)
    if snmp_ok and delay > cond.slow_after:
        required.add(Finding.SLOW)
    if FaultKind.LOSS in faults and snmp_ok and not snmp_malformed:
        optional |= {Finding.SNMP_LOSS, Finding.SNMP_SILENT if ssh_capable else Finding.NO_ANSWER}
    ssh_ok, ssh_sure = (
        _expect_ssh(role, faults, delay, cond, required, optional) if ssh_capable else (False, False)
    )
    snmp_facts = snmp_ok and not snmp_malformed
    if role is Role.ROUTER and snmp_facts:
        if FaultKind.WAN_DOWN in faults:
            required.add(Finding.WAN_DOWN)
        else:
            if FaultKind.IF_ERRORS in faults:
                required.add(Finding.WAN_ERRORS)
            if FaultKind.POOR_LINK in faults:
                required.add(Finding.POOR_LINK)
    if role is Role.CAMERA and snmp_facts:
        if FaultKind.VIDEO_LOST in faults:
            required.add(Finding.VIDEO_SIGNAL_LOST)
        if FaultKind.FAN_FAILURE in faults:
            required.add(Finding.HARDWARE)
    if role is Role.CODEC and ssh_ok:
        ssh_facts = {finding for kind, finding in CODEC_SSH_FACTS.items() if kind in faults}
        if FaultKind.OUTDATED_SOFTWARE in faults:
            ssh_facts.add(Finding.SOFTWARE_MISMATCH)
        if ssh_sure:
            required |= ssh_facts
        else:
            optional |= ssh_facts  # the session may run out of time before it reads them
    if FaultKind.OUTDATED_SOFTWARE in faults and snmp_facts:
        required.add(Finding.SOFTWARE_MISMATCH)
    return Expectation(frozenset(required), frozenset(optional - required))


def expectations(
    truth: Mapping[str, Any],
    devices: Mapping[str, Role],
    cond: SweepConditions | None = None,
    sites: Mapping[str, str] | None = None,
) -> tuple[dict[str, Expectation], dict[str, int]]:
    """The expected findings of every device (healthy ones expect none), and faults out of scope."""
    cond = cond or SweepConditions()
    faults: dict[str, dict[FaultKind, Mapping[str, Any]]] = {}
    out_of_scope: dict[str, int] = {}
    for fault in truth["faults"]:
        kind = FaultKind(fault["fault"])
        if kind in NOT_A_SWEEPS and not (kind is FaultKind.CONFIG_DRIFT and fault["role"] == Role.CODEC):
            out_of_scope[kind.value] = out_of_scope.get(kind.value, 0) + 1
            continue
        faults.setdefault(fault["device"], {})[kind] = fault.get("params", {})
    behind = {u["device"]: u["behind"] for u in truth["unreachable"]}
    out = {}
    for name, role in devices.items():
        if name in behind:
            out[name] = Expectation(frozenset({Finding.BEHIND_ROUTER}), cause=behind[name])
        else:
            out[name] = _expect_device(role, faults.get(name, {}), cond)
    if cond.snmp_only and sites:
        # Over SNMP alone a router whose agent is silent looks dark: a silent device behind it is
        # reported behind it, as SNMP cannot tell otherwise.
        routers = {sites[n]: n for n, role in devices.items() if role is Role.ROUTER}
        for name, want in list(out.items()):
            router = routers.get(sites.get(name, ""))
            if router is None or router == name or want.required != {Finding.NO_ANSWER}:
                continue
            if out[router].required & {Finding.NO_ANSWER, Finding.WAN_DOWN}:
                out[name] = Expectation(frozenset({Finding.BEHIND_ROUTER}), cause=router)
            elif Finding.NO_ANSWER in out[router].optional:  # the router's lost requests, by chance
                out[name] = Expectation(
                    frozenset(), frozenset({Finding.NO_ANSWER, Finding.BEHIND_ROUTER}), router
                )
    return out, out_of_scope


def compare(
    healths: Iterable[DeviceHealth],
    truth: Mapping[str, Any],
    devices: Mapping[str, tuple[Role, Carrier, str]],
    cond: SweepConditions | None = None,
) -> Comparison:
    """Check every device's findings, parties and status against the ground truth.

    ``devices``: name -> (role, carrier of its site, site code).
    """
    expected, out_of_scope = expectations(
        truth, {n: d[0] for n, d in devices.items()}, cond, {n: d[2] for n, d in devices.items()}
    )
    result = Comparison(out_of_scope=out_of_scope)
    for health in healths:
        result.checked += 1
        want = expected[health.device]
        carrier = devices[health.device][1]
        got = {p.finding for p in health.problems}
        if want.required:
            result.faults_expected += 1
        missing = want.required - got
        extra = got - want.required - want.optional
        if missing or extra:
            result.mismatches.append(
                f"{health.device}: expected {sorted(want.required)}"
                f"{f' (or also {sorted(want.optional)})' if want.optional else ''}, got {sorted(got)}"
                f" [{health.reason}]"
            )
            continue
        if want.required:
            result.faults_found += 1
        if want.optional & got:
            result.chance[health.device] = ", ".join(sorted(want.optional & got))
        for problem in health.problems:
            party = party_for(problem.finding, carrier)
            if problem.party is not party:
                result.mismatches.append(
                    f"{health.device}: {problem.finding} owned by {problem.party}, not {party}"
                )
            if problem.finding is Finding.BEHIND_ROUTER and problem.cause != want.cause:
                result.mismatches.append(f"{health.device}: behind {problem.cause}, not {want.cause}")
        expected_status = worst([FINDING_INFO[f].status for f in got])
        if health.status is not expected_status:
            result.mismatches.append(
                f"{health.device}: status {health.status}, findings say {expected_status}"
            )
    return result


# --- readiness -------------------------------------------------------------------------------------

# The check of the default check set (playbooks/readiness/default.yaml) that each finding fails.
_ROLE_CHECK = {
    Finding.NO_ANSWER: "{role}_reachable",
    Finding.SOFTWARE_MISMATCH: "{role}_software",
}
_CHECK = {
    Finding.WAN_DOWN: ("wan_up",),
    Finding.WAN_ERRORS: ("wan_errors",),
    Finding.POOR_LINK: ("bridge_loss", "bridge_latency", "bridge_jitter"),
    Finding.SIP_UNREGISTERED: ("sip_registered",),
    Finding.CAMERA_DISCONNECTED: ("camera_connected",),
    Finding.MICROPHONE_MISSING: ("microphone",),
    Finding.DISPLAY_DISCONNECTED: ("display",),
    Finding.IN_CALL: ("not_in_call",),
    Finding.CLOCK_UNSYNCED: ("clock_sync",),
    Finding.VIDEO_SIGNAL_LOST: ("camera_video",),
    Finding.HARDWARE: ("camera_hardware",),
}
_MANAGEMENT = frozenset(
    {
        Finding.SNMP_SILENT, Finding.SNMP_AUTH, Finding.SNMP_MALFORMED, Finding.SNMP_ERROR,
        Finding.SNMP_LOSS, Finding.SLOW, Finding.SSH_AUTH, Finding.SSH_NO_BANNER, Finding.SSH_REFUSED,
        Finding.SSH_TIMEOUT, Finding.SSH_RESET, Finding.SSH_HOST_KEY_UNKNOWN, Finding.SSH_HOST_KEY_CHANGED,
        Finding.SSH_ERROR, Finding.SECRET_MISSING,
    }
)  # fmt: skip
_ROUTER_SSH = frozenset({Finding.SSH_AUTH, Finding.SSH_NO_BANNER, Finding.SSH_RESET, Finding.SSH_TIMEOUT})
BLOCKERS = frozenset(
    {
        "router_reachable", "wan_up", "bridge_loss", "codec_reachable", "sip_registrar", "sip_registered",
        "dial_string", "camera_connected", "microphone", "display", "not_in_call", "camera_reachable",
        "camera_video",
    }
)  # fmt: skip
_SITE_CHECKS = frozenset({"camera_connected", "microphone", "display", "not_in_call", "camera_video"})
_NOC_CHECKS = frozenset({"sip_registrar", "dial_string"})


def _checks(finding: Finding, role: Role) -> tuple[str, ...]:
    if finding in _ROLE_CHECK:
        return (_ROLE_CHECK[finding].format(role=role.value),)
    if finding in _MANAGEMENT:
        return (f"{role.value}_managed",)
    return _CHECK.get(finding, ())


@dataclass(slots=True)
class SiteExpectation:
    required: dict[tuple[str, str], str] = field(default_factory=dict)  # (device, check) -> party
    optional: set[tuple[str, str]] = field(default_factory=set)

    @property
    def not_ready(self) -> bool:
        return any(check in BLOCKERS for _device, check in self.required)


def readiness_expectations(
    truth: Mapping[str, Any], devices: Mapping[str, tuple[Role, Carrier, str]]
) -> dict[str, SiteExpectation]:
    """What a readiness run with the default check set must find at each site.

    Derived from what a full sweep must find, with readiness's differences: routers are logged in
    to only when silent on SNMP (their SSH faults are provisioning's business otherwise); a codec's
    drifted registrar fails the registrar check (NOC), which explains its failed registration;
    devices behind a dark router are explained by it (skipped, not failed).
    """
    expected, _out = expectations(
        truth, {n: d[0] for n, d in devices.items()}, SweepConditions(), {n: d[2] for n, d in devices.items()}
    )
    drifted = {
        f["device"]
        for f in truth["faults"]
        if f["fault"] == FaultKind.CONFIG_DRIFT and f["role"] == Role.CODEC
    }
    out: dict[str, SiteExpectation] = {}
    for name, (role, carrier, site) in devices.items():
        want = out.setdefault(site, SiteExpectation())
        exp = expected[name]
        required, optional = set(exp.required), set(exp.optional)
        if role is Role.ROUTER and not required & {Finding.SNMP_SILENT, Finding.NO_ANSWER}:
            required -= _ROUTER_SSH
            optional -= _ROUTER_SSH
        if name in drifted and Finding.SIP_UNREGISTERED in required:
            required.discard(Finding.SIP_UNREGISTERED)
            want.required[(name, "sip_registrar")] = "NOC"
        for finding in required:
            for check in _checks(finding, role):
                if check in _SITE_CHECKS:
                    party = "site staff"
                elif check in _NOC_CHECKS:
                    party = "NOC"
                elif check.endswith("_managed"):
                    party = party_for(finding, carrier).value
                else:
                    party = carrier.value
                want.required[(name, check)] = party
        for finding in optional:
            want.optional |= {(name, check) for check in _checks(finding, role)}
    return out


def compare_readiness(
    doc: Mapping[str, Any], truth: Mapping[str, Any], devices: Mapping[str, tuple[Role, Carrier, str]]
) -> Comparison:
    """Check a readiness report's failed checks, parties and verdicts against the ground truth."""
    expected = readiness_expectations(truth, devices)
    result = Comparison()
    for site in doc["sites"]:
        result.checked += 1
        want = expected.get(site["site"], SiteExpectation())
        got = {(p["device"], p["check"]): p["party"] for p in site["problems"] if p["outcome"] == "fail"}
        if want.required:
            result.faults_expected += 1
        missing = set(want.required) - set(got)
        extra = set(got) - set(want.required) - want.optional
        if missing or extra:
            result.mismatches.append(
                f"site {site['site']}: missing {sorted(missing)}, unexpected {sorted(extra)}"
                f" [{site['reason']}]"
            )
            continue
        for key, party in want.required.items():
            if got[key] != party:
                result.mismatches.append(f"site {site['site']}: {key} owned by {got[key]}, not {party}")
        if want.required:
            result.faults_found += 1
        if want.optional & set(got):
            result.chance[site["site"]] = ", ".join(sorted(c for _d, c in want.optional & set(got)))
        verdict = site["verdict"]
        if want.not_ready and verdict != "not_ready":
            result.mismatches.append(f"site {site['site']}: {verdict}, expected not_ready")
        if not want.required and not (want.optional & set(got)) and verdict != "ready":
            result.mismatches.append(f"site {site['site']}: {verdict} with no fault [{site['reason']}]")
    return result
