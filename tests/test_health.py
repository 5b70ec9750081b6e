"""Health rules on constructed answers: the SNMP readers, each finding, its owner, and root cause."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.checks.health import DeviceRef, HealthPolicy, classify, root_cause
from fleet.domain.enums import Carrier, Role
from fleet.domain.health import DeviceStatus, Finding, Party
from fleet.drivers import snmp_health as oids
from fleet.drivers.facts import Facts
from fleet.drivers.registry import REGISTRY
from fleet.drivers.snmp_health import read_axis_ptz, read_cisco_ios, read_huawei_vrp
from fleet.drivers.ssh_health import CODEC_COMMANDS
from fleet.transports.errors import TransportErrorKind as K
from fleet.transports.snmp import SnmpResult
from fleet.transports.ssh_types import SshResult

FIXTURES = Path(__file__).parent / "fixtures"
IOS_DESCR = (FIXTURES / "sysdescr" / "cisco_ios.txt").read_bytes().rstrip(b"\n")
CE_DESCR = (FIXTURES / "sysdescr" / "cisco_ce.txt").read_bytes().rstrip(b"\n")


def ios_values(**over: int | bytes) -> dict[str, int | str | bytes]:
    """What a healthy ISR answers (as the simulator and a real IOS XE agent do)."""
    values: dict[str, int | str | bytes] = {
        oids.SYS_DESCR: IOS_DESCR,
        oids.SYS_UPTIME: 123456,
        oids.SYS_NAME: b"vn00004-rtr",
        oids.IF_DESCR: b"GigabitEthernet0/0/0",
        oids.IF_OPER: 1,
        oids.IF_IN_ERRORS: 3,
        oids.IF_HC_IN_UCAST: 40_000_000,
        oids.IOS_CPU: 7,
        oids.IOS_SENSE: 1,
        oids.IOS_NUM_RTT: 100,
        oids.IOS_RTT_SUM: 2500,
        oids.IOS_LOSS_SD: 0,
        oids.IOS_LOSS_DS: 0,
        oids.IOS_MIA: 0,
        oids.IOS_JITTER: 2,
    }
    values.update(over)
    return values


def ref(
    role: Role = Role.ROUTER, driver: str = "cisco_ios", name: str = "r1", firmware: str = ""
) -> DeviceRef:
    return DeviceRef(name, "00004", role, Carrier.VIETTEL, REGISTRY.get(driver), firmware)


def snmp_ok(name: str, values: dict[str, int | str | bytes], **kw: float) -> SnmpResult:
    return SnmpResult(name, values=values, **kw)  # type: ignore[arg-type]


def findings(health: object) -> set[Finding]:
    return {p.finding for p in health.problems}  # type: ignore[attr-defined]


def test_ios_reader_computes_latency_loss_and_jitter() -> None:
    facts = read_cisco_ios(ios_values())
    assert (facts.firmware, facts.wan_up, facts.rtt_ms, facts.loss_pct, facts.jitter_ms) == (
        "17.9.5",
        True,
        25.0,
        0.0,
        2.0,
    )
    poor = read_cisco_ios(
        ios_values(
            **{oids.IOS_NUM_RTT: 94, oids.IOS_RTT_SUM: 94 * 280, oids.IOS_LOSS_SD: 3, oids.IOS_LOSS_DS: 3}
        )
    )
    assert (poor.rtt_ms, poor.loss_pct) == (280.0, 6.0)
    down = read_cisco_ios(ios_values(**{oids.IOS_SENSE: 4, oids.IOS_NUM_RTT: 0, oids.IOS_LOSS_SD: 50}))
    assert down.sla_ok is False and down.rtt_ms is None


def test_readers_tolerate_missing_objects_and_odd_types() -> None:
    facts = read_huawei_vrp({oids.SYS_NAME: b"x", oids.VRP_COMPLETION: b"garbage"})
    assert facts.sys_name == "x" and facts.sla_ok is None and facts.firmware is None
    camera = read_axis_ptz({oids.AXIS_VIDEO: 2, oids.AXIS_FAN: 2, oids.AXIS_POWER: 1})
    assert camera.video_signal_ok is False and camera.hardware_alarms == ["fan"]


def test_healthy_router_is_up_with_facts() -> None:
    health = classify(ref(firmware="17.9.5"), snmp_ok("r1", ios_values(), elapsed=0.01), None)
    assert health.status is DeviceStatus.UP and health.problems == []
    assert health.facts["rtt_ms"] == 25.0


@pytest.mark.parametrize(
    ("over", "finding", "words"),
    [
        ({oids.IF_OPER: 2}, Finding.WAN_DOWN, "WAN interface GigabitEthernet0/0/0 is down"),
        ({oids.IOS_NUM_RTT: 100, oids.IOS_RTT_SUM: 100 * 400}, Finding.POOR_LINK, "latency 400 ms (max 150)"),
        ({oids.IOS_JITTER: 70}, Finding.POOR_LINK, "jitter 70 ms (max 30)"),
        ({oids.IF_IN_ERRORS: 4_000}, Finding.WAN_ERRORS, "input errors: 0.0100% of packets since boot"),
    ],
)
def test_router_findings_name_what_was_seen(over: dict[str, int], finding: Finding, words: str) -> None:
    health = classify(ref(), snmp_ok("r1", ios_values(**over)), None)
    assert findings(health) == {finding}
    assert words in health.reason
    assert health.problems[0].party is Party.VIETTEL


def test_wan_errors_use_the_interval_since_the_previous_sweep() -> None:
    previous = Facts(wan_in_errors=3, wan_in_packets=39_000_000)
    bad = classify(
        ref(), snmp_ok("r1", ios_values(**{oids.IF_IN_ERRORS: 3 + 5_000})), None, previous=previous
    )
    assert findings(bad) == {Finding.WAN_ERRORS} and "since the last sweep" in bad.reason
    # One error in 800 packets since the last sweep (close sweeps on a quiet line) is no measure of
    # the line: the share since boot is judged instead, and it is healthy.
    close = Facts(wan_in_errors=2, wan_in_packets=40_000_000 - 800)
    assert classify(ref(), snmp_ok("r1", ios_values()), None, previous=close).status is DeviceStatus.UP
    rebooted = Facts(wan_in_errors=90_000, wan_in_packets=90_000_000)  # counters went back: since boot
    ok = classify(ref(), snmp_ok("r1", ios_values()), None, previous=rebooted)
    assert ok.status is DeviceStatus.UP


def test_slow_answer_and_answer_only_after_a_retry_are_degraded() -> None:
    health = classify(ref(), snmp_ok("r1", ios_values(), elapsed=0.7, attempts=2), None, HealthPolicy())
    assert findings(health) == {Finding.SLOW, Finding.SNMP_LOSS}
    assert health.status is DeviceStatus.DEGRADED
    assert "700 ms" in health.reason and "after 2 requests" in health.reason


def test_software_mismatch_names_both_versions() -> None:
    health = classify(ref(firmware="17.12.1"), snmp_ok("r1", ios_values()), None)
    assert findings(health) == {Finding.SOFTWARE_MISMATCH}
    assert health.reason == "runs 17.9.5, expected 17.12.1"


@pytest.mark.parametrize(
    ("snmp_error", "ssh_error", "finding", "status"),
    [
        (K.TIMEOUT, None, Finding.NO_ANSWER, DeviceStatus.DOWN),  # SNMP only (--snmp-only)
        (K.TIMEOUT, K.REFUSED, Finding.NO_ANSWER, DeviceStatus.DOWN),
        (K.TIMEOUT, K.TIMEOUT, Finding.NO_ANSWER, DeviceStatus.DOWN),
        (K.AUTH_FAILED, None, Finding.SNMP_AUTH, DeviceStatus.AUTH_FAILED),
        (K.MALFORMED, None, Finding.SNMP_MALFORMED, DeviceStatus.ERROR),
        (K.PROTOCOL, None, Finding.SNMP_ERROR, DeviceStatus.ERROR),
    ],
)
def test_snmp_failures(snmp_error: K, ssh_error: K | None, finding: Finding, status: DeviceStatus) -> None:
    ssh = (
        None
        if ssh_error is None
        else SshResult("r1", error=ssh_error, detail="TCP connect timed out after 10 s", connected=False)
    )
    health = classify(ref(), SnmpResult("r1", error=snmp_error, detail="2 x 1.0 s"), ssh)
    assert findings(health) == {finding}
    assert health.status is status


@pytest.mark.parametrize(
    ("ssh_error", "finding", "party"),
    [
        (K.AUTH_FAILED, Finding.SSH_AUTH, Party.NOC),
        (K.BANNER_TIMEOUT, Finding.SSH_NO_BANNER, Party.VIETTEL),
        (K.RESET, Finding.SSH_RESET, Party.VIETTEL),
        (K.HOST_KEY_UNKNOWN, Finding.SSH_HOST_KEY_UNKNOWN, Party.NOC),
        (K.HOST_KEY_CHANGED, Finding.SSH_HOST_KEY_CHANGED, Party.NOC),
        (K.INTERNAL, Finding.INTERNAL, Party.NOC),
    ],
)
def test_ssh_failures_with_snmp_alive(ssh_error: K, finding: Finding, party: Party) -> None:
    health = classify(ref(), snmp_ok("r1", ios_values()), SshResult("r1", error=ssh_error, detail="why"))
    assert findings(health) == {finding}
    assert health.problems[0].party is party and "why" in health.reason


def test_dead_snmp_agent_with_ssh_alive_is_snmp_silent_not_down() -> None:
    health = classify(
        ref(), SnmpResult("r1", error=K.TIMEOUT, detail="2 x 1.0 s"), SshResult("r1", error=K.AUTH_FAILED)
    )
    assert findings(health) == {Finding.SNMP_SILENT, Finding.SSH_AUTH}
    assert health.status is DeviceStatus.AUTH_FAILED


def codec_outputs(**replace: str) -> dict[str, str]:
    names = {
        "xStatus SystemUnit": "xstatus_systemunit.txt",
        "xStatus SIP": "xstatus_sip_registered.txt",
        "xStatus Call": "xstatus_call_idle.txt",
        "xStatus Video": "xstatus_video_input_roomkit.txt",
        "xStatus Audio Input Connectors": "xstatus_audio_input_connectors_microphone_1_connectionstatus.txt",
        "xStatus NetworkServices NTP": "xstatus_networkservices_ntp_synced.txt",
        "xConfiguration UserInterface SpeedDial": "xconfiguration_userinterface_speeddial.txt",
    }
    names.update(replace)
    assert set(names) == set(CODEC_COMMANDS)
    return {cmd: (FIXTURES / "cisco_ce" / f).read_text() for cmd, f in names.items()}


def codec_ref(firmware: str = "") -> DeviceRef:
    return ref(Role.CODEC, "cisco_ce", "c1", firmware)


def test_codec_ssh_status_findings_and_owners() -> None:
    healthy = classify(codec_ref(), snmp_ok("c1", {}), SshResult("c1", outputs=codec_outputs()))
    assert healthy.status is DeviceStatus.UP, healthy.reason
    broken = classify(
        codec_ref(),
        snmp_ok("c1", {}),
        SshResult(
            "c1",
            outputs=codec_outputs(
                **{
                    "xStatus SIP": "xstatus_sip_registration_failed.txt",
                    "xStatus Call": "xstatus_call_connected.txt",
                    "xStatus NetworkServices NTP": "xstatus_networkservices_ntp_discarded.txt",
                }
            ),
        ),
    )
    by_finding = {p.finding: p.party for p in broken.problems}
    assert by_finding == {
        Finding.SIP_UNREGISTERED: Party.VIETTEL,
        Finding.IN_CALL: Party.SITE,
        Finding.CLOCK_UNSYNCED: Party.VIETTEL,
    }


def test_codec_software_is_read_from_ssh_when_snmp_is_silent() -> None:
    health = classify(
        codec_ref(firmware="ce11.99.1.1"),
        SnmpResult("c1", error=K.TIMEOUT, detail="2 x 1.0 s"),
        SshResult("c1", outputs=codec_outputs()),
    )
    assert findings(health) == {Finding.SNMP_SILENT, Finding.SOFTWARE_MISMATCH}


def test_unreadable_codec_output_is_an_error_naming_it() -> None:
    outputs = codec_outputs(**{"xStatus Call": "command_not_recognized.txt"})
    health = classify(codec_ref(), snmp_ok("c1", {}), SshResult("c1", outputs=outputs))
    assert findings(health) == {Finding.SSH_ERROR}
    assert "did not recognise the command" in health.reason


def test_root_cause_folds_a_dark_site_into_one_carrier_fault() -> None:
    refs = {
        "r1": ref(),
        "c1": codec_ref(),
        "k1": ref(Role.CAMERA, "axis_ptz", "k1"),
    }
    silent = SnmpResult("x", error=K.TIMEOUT, detail="2 x 1.0 s")
    healths = [
        classify(refs["r1"], silent, SshResult("r1", error=K.REFUSED, detail="refused", connected=False)),
        classify(refs["c1"], silent, None),
        classify(refs["k1"], silent, None),
    ]
    root_cause(healths, refs)
    router, codec, camera = healths
    assert router.status is DeviceStatus.DOWN and findings(router) == {Finding.NO_ANSWER}
    for health in (codec, camera):
        assert health.status is DeviceStatus.UNREACHABLE
        assert [(p.finding, p.party, p.cause) for p in health.problems] == [
            (Finding.BEHIND_ROUTER, Party.VIETTEL, "r1")
        ]


def test_root_cause_leaves_a_device_that_answers_alone() -> None:
    refs = {"r1": ref(), "c1": codec_ref()}
    healths = [
        classify(refs["r1"], snmp_ok("r1", ios_values(**{oids.IF_OPER: 2})), None),
        classify(refs["c1"], snmp_ok("c1", {}), None),
    ]
    root_cause(healths, refs)
    assert findings(healths[0]) == {Finding.WAN_DOWN}
    assert healths[1].status is DeviceStatus.UP


def test_a_device_that_connected_but_ran_out_of_time_is_alive_not_down() -> None:
    late = SshResult("r1", error=K.TIMEOUT, detail="connected, but the session did not finish within 30 s")
    health = classify(ref(), SnmpResult("r1", error=K.TIMEOUT, detail="2 x 1.0 s"), late)
    assert findings(health) == {Finding.SNMP_SILENT, Finding.SSH_TIMEOUT}
    assert health.status is DeviceStatus.DEGRADED


def test_root_cause_keeps_what_is_known_without_the_device() -> None:
    from fleet.domain.health import Problem  # noqa: PLC0415

    refs = {"r1": ref(), "c1": codec_ref()}
    silent = SnmpResult("x", error=K.TIMEOUT, detail="2 x 1.0 s")
    router = classify(refs["r1"], silent, SshResult("r1", error=K.REFUSED, detail="refused", connected=False))
    codec = classify(refs["c1"], silent, None)
    codec.problems.insert(0, Problem(Finding.SECRET_MISSING, "profile x: not set", Party.NOC))
    root_cause([router, codec], refs)
    assert [p.finding for p in codec.problems] == [Finding.BEHIND_ROUTER, Finding.SECRET_MISSING]
    assert codec.status is DeviceStatus.UNREACHABLE
