"""The simulated CLIs and scenario files, without sockets: pure input -> output."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from ntc_templates.parse import parse_output

from fleet.domain.enums import Role
from fleet.inventory.generator import generate
from fleet.sim.device import DeviceState, build_state
from fleet.sim.faults import Fault, FaultKind, ScenarioError, load_scenario, make_fault, random_faults
from fleet.sim.models import cisco_ios, huawei_vrp
from fleet.sim.models.cisco_ce import CodecCli
from fleet.sim.models.cisco_ios import IosCli
from fleet.sim.models.huawei_vrp import VrpCli
from fleet.snmp import ber


def state(driver: str) -> DeviceState:
    gen = generate(sites=40)
    record = next(d for d in gen.devices if d.driver == driver)
    site = next(s for s in gen.sites if s.code == record.site_code)
    return build_state(record, site, "Thành phố Hà Nội", time.monotonic(), 1)


def with_fault(d: DeviceState, kind: FaultKind, **params: float | str) -> DeviceState:
    d.faults[kind] = Fault(kind, dict(params))
    d.fault_since[kind] = time.monotonic() - 60
    return d


def test_ios_invalid_input_puts_the_caret_under_the_bad_word() -> None:
    cli = IosCli(state("cisco_ios"))
    prompt = cli.prompt()
    reply = cli.handle("show verzion")
    caret_line, message = reply.output.splitlines()[:2]
    assert caret_line.index("^") == len(prompt) + len("show ")
    assert message == "% Invalid input detected at '^' marker."
    assert cli.handle("sh").output.startswith("% Incomplete command.")
    assert cli.handle("co").output == '% Ambiguous command:  "co"'


def test_ios_configuration_changes_persist_and_save_separately() -> None:
    d = state("cisco_ios")
    cli = IosCli(d)
    for line in ("conf t", "hostname renamed", "int gi0/0/1", "desc new text", "no shutdown", "end"):
        assert cli.handle(line).output in (
            "",
            "Enter configuration commands, one per line.  End with CNTL/Z.",
        )
    assert cli.prompt() == "renamed#"
    running = cli.handle("show running-config").output
    assert "hostname renamed" in running
    assert "interface GigabitEthernet0/0/1\n description new text\n" in running
    assert "hostname renamed" not in cli.handle("show startup-config").output
    cli.handle("write memory")
    assert "hostname renamed" in cli.handle("show startup-config").output


def test_ios_output_parses_with_ntc_templates_under_faults() -> None:
    d = with_fault(with_fault(state("cisco_ios"), FaultKind.WAN_DOWN), FaultKind.OUTDATED_SOFTWARE)
    cli = IosCli(d)
    brief = parse_output(
        platform="cisco_ios", command="show ip interface brief", data=cli.handle("show ip int br").output
    )
    wan = next(r for r in brief if r["interface"] == "GigabitEthernet0/0/0")
    assert (wan["status"], wan["proto"]) == ("down", "down")
    version = parse_output(
        platform="cisco_ios", command="show version", data=cli.handle("show version").output
    )
    assert version[0]["version"] == "16.9.4"
    interfaces = parse_output(
        platform="cisco_ios", command="show interfaces", data=cli.handle("show interfaces").output
    )
    assert len(interfaces) == 4
    assert interfaces[0]["description"] == d.interfaces[0].alias


def test_vrp_views_undo_and_save_confirmation() -> None:
    d = state("huawei_vrp")
    cli = VrpCli(d)
    host = cli.prompt()[1:-1]
    assert cli.handle("system-view").output.startswith("Enter system view")
    cli.handle("interface GigabitEthernet0/0/1")
    assert cli.prompt() == f"[{host}-GigabitEthernet0/0/1]"
    cli.handle("undo description")
    cli.handle("quit")
    cli.handle("ntp-service unicast-server 10.10.0.50")
    bad = cli.handle("ntp-service unicast-servr 10.0.0.1")
    assert "Error: Unrecognized command found at '^' position." in bad.output
    cli.handle("return")
    save = cli.handle("save")
    assert save.output.endswith("Continue? [Y/N]:")
    assert not save.prompt
    assert "successfully" in cli.handle("y").output
    saved = "\n".join(d.saved)
    assert " ntp-service unicast-server 10.10.0.50" in saved
    assert "interface GigabitEthernet0/0/1\n ip address" in saved  # the description is gone
    brief = parse_output(
        platform="huawei_vrp",
        command="display interface brief",
        data=cli.handle("display interface brief").output,
    )
    assert [r["interface"] for r in brief][:2] == ["GigabitEthernet0/0/0", "GigabitEthernet0/0/1"]


def test_codec_xapi_framing_and_errors() -> None:
    cli = CodecCli(with_fault(state("cisco_ce"), FaultKind.SIP_UNREGISTERED))
    banner = cli.banner()
    assert banner.startswith("Welcome to vn") and banner.rstrip().endswith("OK")
    status = cli.handle("xStatus SIP Registration 1 Status").output
    assert status == "*s SIP Registration 1 Status: Failed\n** end\n\nOK"
    assert cli.handle("xStatus Foo Bar").output.endswith("ERROR")
    assert cli.handle("xfoo").output == "Command not recognized."
    assert cli.handle('xConfiguration SIP Proxy 1 Address: "10.1.1.1"').output == "** end\n\nOK"
    assert 'SIP Proxy 1 Address: "10.1.1.1"' in cli.handle("xConfiguration SIP Proxy").output
    assert cli.handle("xConfiguration Nope: 1").output.endswith("ERROR")
    assert cli.handle("xCommand Dial Number: hop@bridge").output.startswith("OK\n*r DialResult (status=OK)")


def test_drift_and_repair_restore_the_provisioned_line() -> None:
    d = state("cisco_ios")
    before = "\n".join(cisco_ios.render_config(cisco_ios.tree_of(d)))
    cisco_ios.drift(d)
    assert "ntp server 10.99.0.1" in "\n".join(cisco_ios.render_config(cisco_ios.tree_of(d)))
    cisco_ios.undrift(d)
    assert "\n".join(cisco_ios.render_config(cisco_ios.tree_of(d))) == before
    v = state("huawei_vrp")
    huawei_vrp.drift(v)
    assert " ntp-service unicast-server 10.99.0.1" in huawei_vrp.render_config(huawei_vrp.tree_of(v), v)


def test_scenario_errors_name_file_line_field_and_value(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(
        "seed: 4\nrandom:\n  rate: 2\nfaults:\n  - device: r1\n    fault: wan_dwn\n"
        "  - device: cam1\n    fault: wan_down\n  - device: ghost\n    fault: powered_off\n"
        "  - device: r1\n    fault: slow\n    delay_ms: fast\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, {"r1": Role.ROUTER, "cam1": Role.CAMERA})
    found = {(p.line, p.field, p.value) for p in info.value.problems}
    assert (3, "random.rate", "2") in found
    assert (6, "fault", "wan_dwn") in found
    assert (7, "fault", "wan_down") in found  # applies to routers only
    assert (9, "device", "ghost") in found
    assert any(p.line == 11 and "must be a number" in p.reason for p in info.value.problems)


def test_a_valid_scenario_and_seeded_random_faults() -> None:
    devices = [(f"r{i}", Role.ROUTER) for i in range(200)] + [(f"c{i}", Role.CODEC) for i in range(200)]
    first = random_faults(devices, 0.1, seed=5)

    def kinds(chosen: dict[str, list[Fault]]) -> dict[str, list[FaultKind]]:
        return {name: [f.kind for f in faults] for name, faults in chosen.items()}

    assert kinds(first) == kinds(random_faults(devices, 0.1, seed=5))
    assert kinds(first) != kinds(random_faults(devices, 0.1, seed=6))
    assert 20 <= len(first) <= 60
    assert all(f.kind is not FaultKind.RESET_DURING_PUSH for faults in first.values() for f in faults)
    routers_only = {FaultKind.WAN_DOWN, FaultKind.IF_ERRORS, FaultKind.POOR_LINK}
    assert not any(
        f.kind in routers_only for name, faults in first.items() if name.startswith("c") for f in faults
    )


def test_ios_sub_modes_fall_back_to_global_and_accept_their_own_words() -> None:
    d = state("cisco_ios")
    cli = IosCli(d)
    for line in ("configure terminal", "interface GigabitEthernet 0/0/1", "ntp server 10.10.0.60"):
        assert cli.handle(line).output.startswith(("", "Enter")), line
    assert cli.prompt().endswith("(config)#")  # the global command left the interface mode
    for line in (
        "interface gig0/0/2",
        "description spare",
        "ip sla 20",
        "udp-jitter 10.10.0.10 16384",
        "frequency 30",
        "tag probe",
    ):
        assert "%" not in cli.handle(line).output, line
    assert cli.prompt().endswith("(config-ip-sla-jitter)#")
    assert cli.handle("hostname").output.startswith("% Incomplete command.")
    assert cli.handle("ntp SERV 10.10.0.61").output == ""
    cli.handle("end")
    running = cli.handle("show running-config | include ntp").output.splitlines()
    assert "ntp server 10.10.0.60" in running
    assert "ntp server 10.10.0.61" in running  # stored with the keyword spelled out
    assert all("ntp" in line for line in running)
    assert " description spare" in cli.handle("show running-config | begin GigabitEthernet0/0/2").output


def test_vrp_sub_views_switch_and_navigation_abbreviates() -> None:
    d = state("huawei_vrp")
    cli = VrpCli(d)
    host = cli.prompt()[1:-1]
    cli.handle("system-view")
    cli.handle("interface GigabitEthernet0/0/1")
    cli.handle("interface GigabitEthernet0/0/2")  # a system-view command from a sub-view switches view
    assert cli.prompt() == f"[{host}-GigabitEthernet0/0/2]"
    cli.handle("description spare port")
    cli.handle("q")
    assert cli.prompt() == f"[{host}]"
    assert "sysname" in cli.handle("dis cur").output
    cli.handle("\x1a")  # Ctrl-Z returns to the user view
    assert cli.prompt() == f"<{host}>"
    config = "\n".join(huawei_vrp.render_config(huawei_vrp.tree_of(d), d))
    assert "interface GigabitEthernet0/0/2\n shutdown\n description spare port" in config
    assert "display" not in config and "quit" not in config


def test_fault_parameters_must_be_finite_and_in_range() -> None:
    for params in ({"error_rate": float("nan")}, {"error_rate": 1.5}, {"error_rate": "inf"}):
        with pytest.raises(ValueError, match="between"):
            make_fault(FaultKind.IF_ERRORS, Role.ROUTER, params)
    with pytest.raises(ValueError, match="single value"):
        make_fault(FaultKind.OUTDATED_SOFTWARE, Role.ROUTER, {"version": ["1", "2"]})
    assert make_fault(FaultKind.SLOW, Role.CAMERA, {"delay_ms": "250"}).number("delay_ms") == 250.0


def test_counters_never_run_backwards_or_jump_when_faults_clear() -> None:
    d = state("cisco_ios")
    wan = d.interfaces[0]
    now = time.monotonic()
    with_fault(d, FaultKind.WAN_DOWN)
    d.fault_since[FaultKind.WAN_DOWN] = now - 3600
    octets = d.in_octets(wan, now)
    d.end_fault(FaultKind.WAN_DOWN, now)
    del d.faults[FaultKind.WAN_DOWN], d.fault_since[FaultKind.WAN_DOWN]
    assert 0 <= d.in_octets(wan, now + 1) - octets <= wan.in_rate * 1.01
    with_fault(d, FaultKind.IF_ERRORS)
    errors = d.in_errors(wan, now)
    d.end_fault(FaultKind.IF_ERRORS, now)
    del d.faults[FaultKind.IF_ERRORS], d.fault_since[FaultKind.IF_ERRORS]
    assert d.in_errors(wan, now + 1) >= errors


def test_oid_first_arc_and_limits() -> None:
    for oid in [(2, 48, 1), (2, 999, 1), (0, 39), (1, 3, 6, 1, 4, 1, 2**32 - 1)]:
        encoded = ber.encode_oid(oid)
        assert ber.read_oid(encoded, 0)[0] == oid
    with pytest.raises(ValueError, match="not a valid OID"):
        ber.encode_oid((1, 40))
    with pytest.raises(ber.BerError):
        ber.decode_oid_body(bytes([0x2B, *([0x01] * 200)]))
