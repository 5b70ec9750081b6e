"""Judge one device from what its SNMP GET and SSH session returned, then apply root cause per site.

Pure functions: no I/O, so every rule is tested on constructed results as well as on the simulator.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fleet.domain.enums import Carrier, Role
from fleet.domain.health import DeviceHealth, Finding, Problem, party_for, worst
from fleet.drivers.facts import Facts
from fleet.drivers.parsers import ParseError
from fleet.drivers.parsers.sysdescr import ce_release
from fleet.drivers.registry import Driver
from fleet.transports.errors import TransportErrorKind as K

if TYPE_CHECKING:  # only their shapes: judging needs neither network stack loaded
    from fleet.transports.snmp import SnmpResult
    from fleet.transports.ssh_types import SshResult


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    """Thresholds of a health sweep. Readiness check sets carry their own."""

    slow_after_s: float = 0.3  # an SNMP answer later than this marks the device slow
    rtt_max_ms: float = 150.0
    loss_max_pct: float = 1.0
    jitter_max_ms: float = 30.0
    # WAN input errors as a share of packets: over the interval since the previous sweep, or since
    # boot when there is no previous sample (a long-lived counter dilutes errors, hence the lower bar)
    wan_error_ratio: float = 0.001
    wan_error_ratio_since_boot: float = 0.00001
    # Over the interval, fewer errors than this are noise, whatever their share: a quiet line read by
    # two sweeps close together can show one error in 800 packets (0.12%); a bad line shows many.
    wan_error_min_count: int = 3


@dataclass(frozen=True, slots=True)
class DeviceRef:
    """What the classifier needs to know of a device besides what it answered."""

    name: str
    site: str
    role: Role
    carrier: Carrier
    driver: Driver
    expected_firmware: str = ""


def release(text: str | None) -> str | None:
    """'ce11.14.2.3.5e27f0d8ea5' (xAPI) and 'ce11.14.2.3' (sysDescr) name one release (``ce_release``)."""
    if text is None:
        return None
    return ce_release(text) or text


class _Judge:
    def __init__(self, ref: DeviceRef, policy: HealthPolicy) -> None:
        self.ref = ref
        self.policy = policy
        self.problems: list[Problem] = []

    def add(self, finding: Finding, detail: str) -> None:
        self.problems.append(Problem(finding, detail, party_for(finding, self.ref.carrier)))


_SNMP_FINDING = {
    K.AUTH_FAILED: Finding.SNMP_AUTH,
    K.MALFORMED: Finding.SNMP_MALFORMED,
    K.SECRET: Finding.SECRET_MISSING,
    K.INTERNAL: Finding.INTERNAL,
}
_SSH_FINDING = {
    K.AUTH_FAILED: Finding.SSH_AUTH,
    K.BANNER_TIMEOUT: Finding.SSH_NO_BANNER,
    K.REFUSED: Finding.SSH_REFUSED,
    K.TIMEOUT: Finding.SSH_TIMEOUT,
    K.RESET: Finding.SSH_RESET,
    K.HOST_KEY_UNKNOWN: Finding.SSH_HOST_KEY_UNKNOWN,
    K.HOST_KEY_CHANGED: Finding.SSH_HOST_KEY_CHANGED,
    K.SECRET: Finding.SECRET_MISSING,
    K.INTERNAL: Finding.INTERNAL,
    K.CANCELLED: Finding.NOT_CHECKED,
}


def classify(
    ref: DeviceRef,
    snmp: SnmpResult | None,
    ssh: SshResult | None,
    policy: HealthPolicy | None = None,
    previous: Facts | None = None,
) -> DeviceHealth:
    """The verdict on one device. ``snmp``/``ssh`` None: not polled that way this sweep."""
    judge = _Judge(ref, policy or HealthPolicy())
    facts = Facts()
    snmp_silent = snmp is not None and snmp.error is K.TIMEOUT
    if snmp is not None:
        facts = _read_snmp(judge, snmp)
    ssh_facts = _read_ssh(judge, ssh, snmp_silent) if ssh is not None else None
    if snmp_silent and snmp is not None:
        if ssh is not None and ssh.connected:
            judge.add(Finding.SNMP_SILENT, f"no SNMP answer ({snmp.detail}), but SSH answers")
        else:
            how = "" if ssh is None else f"; SSH {ssh.error.value if ssh.error else 'ok'}: {ssh.detail}"
            judge.add(Finding.NO_ANSWER, f"no answer to SNMP ({snmp.detail}){how}")
    if ssh_facts is not None and ssh_facts.codec is not None:
        facts.codec = ssh_facts.codec
    _judge_facts(judge, facts, previous)
    status = worst([p.status for p in judge.problems])
    return DeviceHealth(ref.name, ref.site, status, judge.problems, facts.to_json())


def _read_snmp(judge: _Judge, snmp: SnmpResult) -> Facts:
    if snmp.error is None:
        try:
            facts = judge.ref.driver.snmp.read(snmp.values)
        except (ParseError, ValueError) as exc:
            judge.add(Finding.SNMP_MALFORMED, f"SNMP answer unreadable: {exc}")
            return Facts()
        if snmp.attempts > 1:
            judge.add(Finding.SNMP_LOSS, f"answered SNMP only after {snmp.attempts} requests")
        if snmp.elapsed > judge.policy.slow_after_s:
            judge.add(Finding.SLOW, f"SNMP answer took {snmp.elapsed * 1000:.0f} ms")
        return facts
    if snmp.error is not K.TIMEOUT:
        finding = _SNMP_FINDING.get(snmp.error, Finding.SNMP_ERROR)
        judge.add(finding, f"SNMP {snmp.error.value}: {snmp.detail}")
    return Facts()


def _read_ssh(judge: _Judge, ssh: SshResult, snmp_silent: bool) -> Facts | None:
    if ssh.error is None:
        health = judge.ref.driver.ssh
        if health is None:
            return None
        try:
            return health.read(ssh.outputs)
        except (ParseError, KeyError) as exc:
            judge.add(Finding.SSH_ERROR, f"SSH output unreadable: {exc}")
            return None
    if snmp_silent and not ssh.connected and ssh.error in (K.REFUSED, K.TIMEOUT):
        return None  # reported once, as no answer at all
    finding = _SSH_FINDING.get(ssh.error, Finding.SSH_ERROR)
    judge.add(finding, f"SSH {ssh.error.value}: {ssh.detail}")
    return None


def _judge_facts(judge: _Judge, facts: Facts, previous: Facts | None) -> None:
    ref = judge.ref
    running = facts.firmware or (release(facts.codec.software_version) if facts.codec else None)
    if ref.expected_firmware and running is not None and running != ref.expected_firmware:
        judge.add(Finding.SOFTWARE_MISMATCH, f"runs {running}, expected {ref.expected_firmware}")
    if ref.role is Role.ROUTER:
        _judge_router(judge, facts, previous)
    if facts.video_signal_ok is False:
        judge.add(Finding.VIDEO_SIGNAL_LOST, "the camera reports no video signal")
    if facts.hardware_alarms:
        judge.add(Finding.HARDWARE, "alarm on " + ", ".join(facts.hardware_alarms))
    codec = facts.codec
    if codec is None:
        return
    if codec.sip_registered is False:
        reason = f" ({codec.sip_reason})" if codec.sip_reason else ""
        judge.add(Finding.SIP_UNREGISTERED, f"SIP registration {codec.sip_status}{reason}")
    if codec.camera_connected is False:
        judge.add(Finding.CAMERA_DISCONNECTED, "the codec sees no camera")
    if codec.microphone_connected is False:
        judge.add(Finding.MICROPHONE_MISSING, "no microphone connected")
    if codec.display_connected is False:
        judge.add(Finding.DISPLAY_DISCONNECTED, "no display connected")
    if codec.active_calls or codec.call_remote:  # either answer alone shows a call in progress
        remote = f" with {codec.call_remote}" if codec.call_remote else ""
        judge.add(Finding.IN_CALL, f"in a call{remote}")
    if codec.ntp_synced is False:
        judge.add(Finding.CLOCK_UNSYNCED, f"NTP status {codec.ntp_status}")


def _judge_router(judge: _Judge, facts: Facts, previous: Facts | None) -> None:
    policy = judge.policy
    wan = facts.wan_name or "WAN"
    if facts.wan_up is False:
        judge.add(Finding.WAN_DOWN, f"WAN interface {wan} is down")
        return  # the probe and the counters say nothing more while the line is down
    ratio, since, counted = _error_ratio(facts, previous)
    interval = since == "since the last sweep"
    limit = policy.wan_error_ratio if interval else policy.wan_error_ratio_since_boot
    if ratio is not None and ratio > limit and (not interval or counted >= policy.wan_error_min_count):
        judge.add(Finding.WAN_ERRORS, f"{wan} input errors: {ratio:.4%} of packets {since}")
    bad = []
    if facts.sla_ok is False:
        bad.append("the probe to the bridge fails")
    if facts.rtt_ms is not None and facts.rtt_ms > policy.rtt_max_ms:
        bad.append(f"latency {facts.rtt_ms:g} ms (max {policy.rtt_max_ms:g})")
    if facts.loss_pct is not None and facts.loss_pct > policy.loss_max_pct:
        bad.append(f"loss {facts.loss_pct:g}% (max {policy.loss_max_pct:g})")
    if facts.jitter_ms is not None and facts.jitter_ms > policy.jitter_max_ms:
        bad.append(f"jitter {facts.jitter_ms:g} ms (max {policy.jitter_max_ms:g})")
    if bad:
        judge.add(Finding.POOR_LINK, "toward the bridge: " + ", ".join(bad))


def _error_ratio(facts: Facts, previous: Facts | None) -> tuple[float | None, str, int]:
    """(share of packets errored, over what, how many errors that share counts)."""
    errors, packets = facts.wan_in_errors, facts.wan_in_packets
    if errors is None or not packets:
        return None, "", 0
    if previous is not None and previous.wan_in_errors is not None and previous.wan_in_packets:
        d_errors, d_packets = errors - previous.wan_in_errors, packets - previous.wan_in_packets
        if d_packets > 0 and d_errors >= 0:  # counters that went back mean a reboot: use since-boot
            return d_errors / d_packets, "since the last sweep", d_errors
    return errors / packets, "since boot", errors


_NOT_SILENCE = frozenset({Finding.SECRET_MISSING, Finding.INTERNAL})


def root_cause(healths: Iterable[DeviceHealth], refs: Mapping[str, DeviceRef]) -> None:
    """A site whose router is down or cut off makes its silent codec and camera unreachable.

    They then carry one finding pointing at the router, and the fault is the router's (the site's
    carrier's): one fault, not three alarms.
    """
    by_site: dict[str, list[DeviceHealth]] = {}
    for health in healths:
        by_site.setdefault(health.site, []).append(health)
    for members in by_site.values():
        router = next((h for h in members if refs[h.device].role is Role.ROUTER), None)
        if router is None:
            continue
        dark = [p for p in router.problems if p.finding in (Finding.NO_ANSWER, Finding.WAN_DOWN)]
        if not dark:
            continue
        why = "is down" if dark[0].finding is Finding.NO_ANSWER else "has its WAN down"
        for health in members:
            if health is router or not any(p.finding is Finding.NO_ANSWER for p in health.problems):
                continue
            ref = refs[health.device]
            behind = Problem(
                Finding.BEHIND_ROUTER,
                f"unreachable behind router {router.device}, which {why}",
                party_for(Finding.BEHIND_ROUTER, ref.carrier),
                cause=router.device,
            )
            # Silence is explained by the router; what fleet knows without the device stays.
            kept = [p for p in health.problems if p.finding in _NOT_SILENCE]
            health.problems = [behind, *kept]
            health.status = worst([p.status for p in health.problems])
