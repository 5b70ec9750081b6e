"""Router configurations print in a fixed order, rejected lines, saved configurations, codec settings.

Provisioning restores a device from its backup by pushing inverse lines and then compares the
running configuration with the backup byte for byte: that only works if the simulated devices,
like real ones, print their configuration from state in a fixed order, not in the order of edits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from netmiko import ConnectHandler
from netmiko.exceptions import ConfigInvalidException

from fleet.domain.enums import Carrier, Role
from fleet.inventory.generator import generate
from fleet.inventory.validate import validate_paths
from fleet.sim import expect
from fleet.sim.cli_base import Cli
from fleet.sim.device import NTP_SERVERS, DeviceState, build_state
from fleet.sim.faults import FAULTS, Fault, FaultKind, load_scenario, make_fault, random_faults
from fleet.sim.lab import lab_secrets
from fleet.sim.models import cisco_ce
from fleet.sim.models.cisco_ce import CodecCli
from fleet.sim.models.cisco_ios import IosCli
from fleet.sim.models.config import ConfigTree, Ordering
from fleet.sim.models.huawei_vrp import VrpCli
from fleet.sim.models.registry import MODELS
from fleet.sim.runtime import Simulator
from tests.simulator import build_test_inventory

IOS_INVALID = "% Invalid input detected at '^' marker."
VRP_INVALID = "Error: Unrecognized command found at '^' position."


def state(driver: str) -> DeviceState:
    gen = generate(sites=40)
    record = next(d for d in gen.devices if d.driver == driver)
    site = next(s for s in gen.sites if s.code == record.site_code)
    return build_state(record, site, "Thành phố Hà Nội", time.monotonic(), 1)


def running(d: DeviceState) -> str:
    return MODELS[d.driver].running_config(d)


def startup(d: DeviceState) -> str:
    return MODELS[d.driver].startup_config(d)


def ios_push(d: DeviceState, context: tuple[str, ...], line: str) -> None:
    cli = IosCli(d)
    assert cli.handle("configure terminal").output.startswith("Enter configuration commands")
    for each in (*context, line):
        assert cli.handle(each).output == "", each
    cli.handle("end")
    assert cli.prompt().endswith("#") and "(" not in cli.prompt()


def vrp_push(d: DeviceState, context: tuple[str, ...], line: str) -> None:
    cli = VrpCli(d)
    assert cli.handle("system-view").output.startswith("Enter system view")
    for each in (*context, line):
        assert cli.handle(each).output == "", each
    cli.handle("return")
    assert cli.prompt().startswith("<")


Push = Callable[[DeviceState, tuple[str, ...], str], None]
Case = tuple[tuple[str, ...], str]


def ios_expected(d: DeviceState) -> str:
    wan, lan, unused, loop = d.interfaces
    lines = [
        "version 17.9",
        "service timestamps debug datetime msec",
        "service timestamps log datetime msec",
        "service password-encryption",
        f"hostname {d.name}",
        "clock timezone ICT 7 0",
        "ip domain name hoinghi.gov.vn",
        "!",
        f"interface {wan.name}",
        f" description {wan.alias}",
        f" ip address {wan.address} 255.255.255.252",
        " negotiation auto",
        " service-policy output QOS-VIDEO",
        "!",
        f"interface {lan.name}",
        f" description {lan.alias}",
        f" ip address {lan.address} 255.255.255.0",
        " negotiation auto",
        "!",
        f"interface {unused.name}",
        " no ip address",
        " shutdown",
        "!",
        f"interface {loop.name}",
        f" description {loop.alias}",
        f" ip address {d.record.mgmt_address} 255.255.255.255",
        "!",
        "ip sla 10",
        " udp-jitter 10.10.0.10 16384 codec g711alaw",
        " tag bridge",
        " frequency 60",
        "!",
        "ip sla schedule 10 life forever start-time now",
        f"snmp-server location {d.site.name}, {d.province_name}",
        f"snmp-server contact NOC {d.site.carrier.value}",
        "ntp server 10.10.0.1",
        "ntp server 10.10.0.2",
        "!",
        "line vty 0 4",
        " exec-timeout 10 0",
        " login local",
        " transport input ssh",
        "!",
    ]
    return "\n".join(lines) + "\n"


def vrp_expected(d: DeviceState) -> str:
    wan, lan, unused, loop = d.interfaces
    blocks = [
        [f"[{d.record.expected_firmware}]"],
        [f" sysname {d.name}"],
        [" clock timezone ICT add 07:00:00"],
        [f"interface {wan.name}", f" description {wan.alias}", f" ip address {wan.address} 255.255.255.252",
         " traffic-policy WAN-OUT outbound"],
        [f"interface {lan.name}", f" description {lan.alias}", f" ip address {lan.address} 255.255.255.0"],
        [f"interface {unused.name}", " shutdown"],
        [f"interface {loop.name}", f" description {loop.alias}",
         f" ip address {d.record.mgmt_address} 255.255.255.255"],
        ["nqa test-instance admin bridge", " test-type jitter", " destination-address ipv4 10.10.0.10",
         " destination-port 16384", " frequency 60", " start now"],
        [" ntp-service unicast-server 10.10.0.1"],
        [" ntp-service unicast-server 10.10.0.2"],
        [f" snmp-agent sys-info location {d.site.name}, {d.province_name}"],
        [f" snmp-agent sys-info contact NOC {d.site.carrier.value}"],
        ["user-interface vty 0 4", " authentication-mode aaa", " protocol inbound ssh"],
    ]  # fmt: skip
    return "\n#\n".join("\n".join(b) for b in blocks) + "\n#\nreturn\n"


# --- 1. canonical order ------------------------------------------------------------------------


def test_the_initial_configurations_print_as_they_always_did() -> None:
    ios, vrp = state("cisco_ios"), state("huawei_vrp")
    assert running(ios) == ios_expected(ios)
    assert running(vrp) == vrp_expected(vrp)


def ios_cases(d: DeviceState) -> tuple[list[Case], list[Case], list[tuple[tuple[str, ...], str, str]]]:
    """(new lines, lines the device has, (context, new value, old value) of single-valued lines)."""
    wan, lan, unused, _loop = d.interfaces
    sla, vty = ("ip sla 10",), ("line vty 0 4",)
    new: list[Case] = [
        ((), "ntp server 10.10.0.3"),
        ((), "ntp server 10.5.0.1"),
        ((), "logging host 10.10.0.5"),
        ((), "ip route 0.0.0.0 0.0.0.0 100.64.0.1"),
        ((), "snmp-server community fleet-test RO"),
        ((), "service tcp-keepalives-in"),
        ((), "clock summer-time ICT recurring"),
        ((), "cdp run"),
        ((), "interface Loopback5"),
        ((), "ip sla 20"),
        ((), "ip sla schedule 20 life forever start-time now"),
        ((f"interface {unused.name}",), "description spare"),
        ((f"interface {unused.name}",), "ip address 10.1.1.1 255.255.255.0"),
        ((f"interface {lan.name}",), "load-interval 30"),
        ((f"interface {lan.name}",), "shutdown"),
        ((f"interface {wan.name}",), "bandwidth 50000"),
        (sla, "tos 184"),
        (vty, "session-timeout 30"),
    ]
    existing: list[Case] = [
        ((), f"ntp server {NTP_SERVERS[0]}"),
        ((), "service password-encryption"),
        ((), "ip domain name hoinghi.gov.vn"),
        ((), f"snmp-server contact NOC {d.site.carrier.value}"),
        ((), "ip sla schedule 10 life forever start-time now"),
        ((f"interface {wan.name}",), "negotiation auto"),
        ((f"interface {wan.name}",), f"description {wan.alias}"),
        ((f"interface {wan.name}",), "service-policy output QOS-VIDEO"),
        ((f"interface {lan.name}",), f"ip address {lan.address} 255.255.255.0"),
        ((f"interface {unused.name}",), "shutdown"),
        (sla, "tag bridge"),
        (sla, "frequency 60"),
        (vty, "exec-timeout 10 0"),
        (vty, "login local"),
    ]
    replaced = [
        ((), "snmp-server location Somewhere else", f"snmp-server location {d.site.name}, {d.province_name}"),
        ((), "hostname renamed-rtr", f"hostname {d.name}"),
        ((), "clock timezone UTC 0 0", "clock timezone ICT 7 0"),
        ((f"interface {lan.name}",), "description changed", f"description {lan.alias}"),
        ((f"interface {wan.name}",), "ip address 100.64.0.1 255.255.255.252",
         f"ip address {wan.address} 255.255.255.252"),
        (sla, "frequency 30", "frequency 60"),
        (vty, "transport input ssh telnet", "transport input ssh"),
    ]  # fmt: skip
    return new, existing, replaced


def vrp_cases(d: DeviceState) -> tuple[list[Case], list[Case], list[tuple[tuple[str, ...], str, str]]]:
    wan, lan, unused, _loop = d.interfaces
    nqa, vty = ("nqa test-instance admin bridge",), ("user-interface vty 0 4",)
    new: list[Case] = [
        ((), "ntp-service unicast-server 10.10.0.3"),
        ((), "ntp-service unicast-server 10.5.0.1"),
        ((), "info-center loghost 10.10.0.5"),
        ((), "snmp-agent trap enable"),
        ((), "ip route-static 0.0.0.0 0.0.0.0 100.64.0.1"),
        ((), "interface LoopBack5"),
        ((f"interface {unused.name}",), "description spare"),
        ((f"interface {lan.name}",), "mtu 1400"),
        ((f"interface {lan.name}",), "shutdown"),
        (nqa, "probe-count 3"),
        (vty, "idle-timeout 10 0"),
    ]
    existing: list[Case] = [
        ((), f"ntp-service unicast-server {NTP_SERVERS[0]}"),
        ((), "clock timezone ICT add 07:00:00"),
        ((), f"snmp-agent sys-info contact NOC {d.site.carrier.value}"),
        ((f"interface {wan.name}",), "traffic-policy WAN-OUT outbound"),
        ((f"interface {wan.name}",), f"description {wan.alias}"),
        ((f"interface {lan.name}",), f"ip address {lan.address} 255.255.255.0"),
        ((f"interface {unused.name}",), "shutdown"),
        (nqa, "frequency 60"),
        (nqa, "start now"),
        (nqa, "test-type jitter"),
        (vty, "protocol inbound ssh"),
        (vty, "authentication-mode aaa"),
    ]
    replaced = [
        ((), "snmp-agent sys-info location Somewhere else",
         f"snmp-agent sys-info location {d.site.name}, {d.province_name}"),
        ((), "sysname renamed-rtr", f"sysname {d.name}"),
        ((f"interface {lan.name}",), "description changed", f"description {lan.alias}"),
        ((f"interface {wan.name}",), "ip address 100.64.0.1 255.255.255.252",
         f"ip address {wan.address} 255.255.255.252"),
        (nqa, "frequency 30", "frequency 60"),
        (vty, "authentication-mode password", "authentication-mode aaa"),
    ]  # fmt: skip
    return new, existing, replaced


@pytest.mark.parametrize(
    ("driver", "push", "negation", "cases"),
    [("cisco_ios", ios_push, "no", ios_cases), ("huawei_vrp", vrp_push, "undo", vrp_cases)],
)
def test_a_line_and_its_inverse_leave_the_text_as_it_was(
    driver: str, push: Push, negation: str, cases: Callable[[DeviceState], Any]
) -> None:
    d = state(driver)
    before = running(d)
    new, existing, replaced = cases(d)
    for context, line in new:
        push(d, context, line)
        assert running(d) != before, f"{line!r} did not change the configuration"
        push(d, context, f"{negation} {line}")
        assert running(d) == before, f"adding and removing {line!r} in {context}"
    for context, line in existing:
        assert f"{line}\n" in running(d), line
        push(d, context, f"{negation} {line}")
        assert running(d) != before, f"{negation} {line!r} left it in place"
        push(d, context, line)
        assert running(d) == before, f"removing and re-adding {line!r} in {context}"
    for context, value, old in replaced:
        push(d, context, value)
        assert f"{value}\n" in running(d) and running(d) != before, value
        push(d, context, old)
        assert running(d) == before, f"replacing {old!r} with {value!r} and back in {context}"


def test_ios_prints_lines_in_rank_then_numeric_order() -> None:
    d = state("cisco_ios")
    for context, line in (
        ((), "ntp server 10.10.0.3"),
        ((), "ntp server 10.5.0.1"),
        ((), "cdp run"),
        ((), "ip sla schedule 20 life forever start-time now"),
        (("ip sla 20",), "icmp-echo 10.10.0.1"),
        (("interface Loopback10",), "description ten"),
        (("interface Loopback5",), "description five"),
        (("interface GigabitEthernet0/0/1",), "shutdown"),
        ((), "hostname aaa-first-edit"),
    ):
        ios_push(d, context, line)
    text = running(d)
    ntp = [x for x in text.splitlines() if x.startswith("ntp server")]
    assert ntp == [
        "ntp server 10.5.0.1",
        "ntp server 10.10.0.1",
        "ntp server 10.10.0.2",
        "ntp server 10.10.0.3",
    ]
    assert "ntp server 10.10.0.3\ncdp run\n!\nline vty 0 4\n" in text  # unknown keywords: just before line
    assert (
        "ip sla schedule 10 life forever start-time now\n!\n"
        "ip sla 20\n icmp-echo 10.10.0.1\n!\nip sla schedule 20 life forever start-time now\n"
    ) in text  # each schedule follows its operation
    assert "interface Loopback0\n" in text.split("interface Loopback5\n", 1)[0]
    assert "interface Loopback5\n description five\n no ip address\n!\ninterface Loopback10\n" in text
    lan = d.interfaces[1]
    assert (
        f"interface GigabitEthernet0/0/1\n description {lan.alias}\n ip address 192.168.10.1 255.255.255.0\n"
        " shutdown\n negotiation auto\n!"
    ) in text
    assert text.index("hostname aaa-first-edit") < text.index("clock timezone")


def test_vrp_prints_lines_in_rank_then_numeric_order() -> None:
    d = state("huawei_vrp")
    for context, line in (
        ((), "ntp-service unicast-server 10.10.0.3"),
        ((), "ntp-service unicast-server 10.5.0.1"),
        ((), "stelnet server enable"),
        (("interface GigabitEthernet0/0/2",), "description spare port"),
        (("interface LoopBack5",), "description five"),
    ):
        vrp_push(d, context, line)
    text = running(d)
    ntp = [x.strip() for x in text.splitlines() if "ntp-service" in x]
    assert ntp == [
        f"ntp-service unicast-server {a}" for a in ("10.5.0.1", "10.10.0.1", "10.10.0.2", "10.10.0.3")
    ]
    assert "interface GigabitEthernet0/0/2\n shutdown\n description spare port\n#" in text
    assert "#\n stelnet server enable\n#\nuser-interface vty 0 4\n" in text
    assert "interface LoopBack0\n" in text.split("interface LoopBack5\n", 1)[0]


def test_negating_a_global_command_from_a_sub_mode_removes_the_global_line() -> None:
    ios = state("cisco_ios")
    cli = IosCli(ios)
    cli.handle("configure terminal")
    cli.handle("interface GigabitEthernet0/0/1")
    assert cli.handle("no ntp server 10.10.0.1").output == ""
    assert cli.prompt().endswith("(config)#")  # IOS ran it at the global level, leaving the interface
    cli.handle("interface GigabitEthernet0/0/1")
    assert cli.handle("no shutdown").output == ""
    assert cli.prompt().endswith("(config-if)#")
    assert "ntp server 10.10.0.1\n" not in running(ios)
    vrp = state("huawei_vrp")
    cli_vrp = VrpCli(vrp)
    host = cli_vrp.prompt()[1:-1]
    cli_vrp.handle("system-view")
    cli_vrp.handle("interface GigabitEthernet0/0/1")
    assert cli_vrp.handle("undo ntp-service unicast-server 10.10.0.1").output == ""
    assert cli_vrp.prompt() == f"[{host}]"  # VRP ran it in the system view, leaving the interface
    cli_vrp.handle("interface GigabitEthernet0/0/1")
    assert cli_vrp.handle("undo description").output == ""
    assert cli_vrp.prompt().endswith("-GigabitEthernet0/0/1]")
    assert "ntp-service unicast-server 10.10.0.1\n" not in running(vrp)
    assert " description LAN" not in running(vrp)


def test_a_tree_without_an_ordering_keeps_the_order_of_edits() -> None:
    tree = ConfigTree.parse("b 1\na 1\n", ("b",), "no", "!")
    tree.apply("no b 1", None)
    tree.apply("b 2", None)
    assert tree.render("!") == ["a 1", "b 2"]
    ordered = ConfigTree.parse("b 1\na 1\n", ("b",), "no", "!", Ordering(("b", "a"), "a", {}, "no"))
    ordered.apply("no b 1", None)
    ordered.apply("b 2", None)
    assert ordered.render("!") == ["b 2", "a 1"]


def test_policy_map_classes_keep_the_order_they_were_configured_in() -> None:
    d = state("cisco_ios")
    for cls in ("class VOICE", "class VIDEO", "class class-default"):
        ios_push(d, ("policy-map QOS-TEST",), cls)
    assert "policy-map QOS-TEST\n class VOICE\n class VIDEO\n class class-default\n!" in running(d)


@pytest.mark.parametrize("driver", ["cisco_ios", "huawei_vrp", "cisco_ce"])
def test_drift_moves_a_line_and_repair_restores_the_exact_text(driver: str) -> None:
    d = state(driver)
    model = MODELS[driver]
    before = running(d)
    model.drift(d)
    drifted = running(d)
    assert drifted != before
    if driver == "cisco_ios":
        assert "ntp server 10.10.0.2\nntp server 10.99.0.1\n!\nline" in drifted
    model.undrift(d)
    assert running(d) == before


# --- 2. the config_rejected fault -------------------------------------------------------------------


def with_fault(d: DeviceState, kind: FaultKind, **params: float | str) -> DeviceState:
    d.faults[kind] = Fault(kind, dict(params))
    d.fault_since[kind] = time.monotonic()
    return d


def caret_at(output: str, cli: Cli) -> int:
    caret_line = output.splitlines()[0]
    assert caret_line.strip() == "^", output
    return caret_line.index("^") - len(cli.prompt())


def test_the_fault_is_declared_for_routers_and_codecs_and_never_random() -> None:
    info = FAULTS[FaultKind.CONFIG_REJECTED]
    assert FaultKind.CONFIG_REJECTED.value == "config_rejected"
    assert info.roles == {Role.ROUTER, Role.CODEC}
    assert info.params == {"match": "ntp"}
    assert not info.random
    assert info.description == "the device rejects configuration lines containing match"
    assert make_fault(FaultKind.CONFIG_REJECTED, Role.CODEC, {"match": "Proxy"}).param("match") == "Proxy"
    assert make_fault(FaultKind.CONFIG_REJECTED, Role.ROUTER, {}).param("match") == "ntp"
    with pytest.raises(ValueError, match="not to a camera"):
        make_fault(FaultKind.CONFIG_REJECTED, Role.CAMERA, {})
    with pytest.raises(ValueError, match="one short line"):
        make_fault(FaultKind.CONFIG_REJECTED, Role.ROUTER, {"match": "a\nb"})
    devices = [(f"r{i}", Role.ROUTER) for i in range(300)]
    assert all(
        f.kind is not FaultKind.CONFIG_REJECTED
        for fs in random_faults(devices, 1.0, seed=2).values()
        for f in fs
    )


def test_a_scenario_names_the_fault_and_its_text(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(
        "faults:\n  - device: r1\n    fault: config_rejected\n    match: snmp-server\n"
        "  - device: c1\n    fault: config_rejected\n",
        encoding="utf-8",
    )
    scenario = load_scenario(path, {"r1": Role.ROUTER, "c1": Role.CODEC})
    assert [(f.kind, f.param("match")) for f in scenario.faults["r1"]] == [
        (FaultKind.CONFIG_REJECTED, "snmp-server")
    ]
    assert scenario.faults["c1"][0].param("match") == "ntp"


def test_ios_rejects_matching_lines_as_invalid_input_and_applies_the_rest() -> None:
    d = with_fault(state("cisco_ios"), FaultKind.CONFIG_REJECTED)
    before = running(d)
    cli = IosCli(d)
    cli.handle("configure terminal")
    reply = cli.handle("ntp server 10.10.0.9")
    assert reply.output.splitlines()[1:] == [IOS_INVALID]
    assert caret_at(reply.output, cli) == 0
    cli.handle("interface GigabitEthernet0/0/2")
    reply = cli.handle("description via NTP link")
    assert caret_at(reply.output, cli) == len("description via ")
    assert cli.prompt().endswith("(config-if)#")
    reply = cli.handle("no ntp server 10.10.0.1")  # a global line from a sub-mode: the mode stays
    assert caret_at(reply.output, cli) == len("no ")
    assert cli.prompt().endswith("(config-if)#")
    assert cli.handle("description spare").output == ""
    cli.handle("end")
    assert running(d) == before.replace(
        "interface GigabitEthernet0/0/2\n", "interface GigabitEthernet0/0/2\n description spare\n"
    )
    del d.faults[FaultKind.CONFIG_REJECTED]
    cli.handle("configure terminal")
    assert cli.handle("ntp server 10.10.0.9").output == ""
    assert "ntp server 10.10.0.9\n" in running(d)


def test_rejected_lines_do_not_count_towards_a_reset_during_push() -> None:
    d = with_fault(state("cisco_ios"), FaultKind.CONFIG_REJECTED)
    with_fault(d, FaultKind.RESET_DURING_PUSH, after_lines=1)
    cli = IosCli(d)
    cli.handle("configure terminal")
    assert IOS_INVALID in cli.handle("ntp server 10.10.0.9").output
    assert not cli.handle("logging host 10.10.0.5").reset
    assert cli.handle("logging host 10.10.0.6").reset


def test_vrp_rejects_matching_lines_as_unrecognized_and_applies_the_rest() -> None:
    d = with_fault(state("huawei_vrp"), FaultKind.CONFIG_REJECTED, match="10.10.0.9")
    before = running(d)
    cli = VrpCli(d)
    cli.handle("system-view")
    reply = cli.handle("ntp-service unicast-server 10.10.0.9")
    assert reply.output.splitlines()[1:] == [VRP_INVALID]
    assert caret_at(reply.output, cli) == len("ntp-service unicast-server ")
    cli.handle("interface GigabitEthernet0/0/1")
    host = cli.prompt()[1:].split("-GigabitEthernet")[0]
    reply = cli.handle("undo ntp-service unicast-server 10.10.0.9")
    assert caret_at(reply.output, cli) == len("undo ntp-service unicast-server ")
    assert cli.prompt() == f"[{host}-GigabitEthernet0/0/1]"  # the rejected line did not leave the view
    assert cli.handle("ntp-service unicast-server 10.10.0.8").output == ""
    cli.handle("return")
    assert " ntp-service unicast-server 10.10.0.8\n" in running(d)
    assert "10.10.0.9" not in running(d) and running(d) != before


def test_the_codec_refuses_matching_settings_as_illegal_values() -> None:
    d = with_fault(state("cisco_ce"), FaultKind.CONFIG_REJECTED)
    cli = CodecCli(d)
    before = dict(cisco_ce.settings_of(d))
    reply = cli.handle('xconfiguration networkservices ntp server 1 address: "10.10.0.9"')
    assert reply.output == (
        '*c xConfiguration NetworkServices NTP Server 1 Address (error=True): "Illegal value"\n** end\n\nERROR'
    )
    assert cli.handle("xConfiguration NetworkServices NTP Mode: Auto").output.endswith("ERROR")
    assert cisco_ce.settings_of(d) == before
    assert cli.handle('xConfiguration SIP Proxy 1 Address: "sip.example"').output == "** end\n\nOK"
    assert "xConfiguration NetworkServices NTP" in cli.handle("xConfiguration NetworkServices NTP").output
    with_fault(d, FaultKind.CONFIG_REJECTED, match="sip.bad")
    assert cli.handle('xConfiguration SIP Proxy 1 Address: "sip.bad"').output.endswith("ERROR")
    assert cisco_ce.settings_of(d)["SIP Proxy 1 Address"] == '"sip.example"'


def test_the_fault_changes_no_sweep_or_readiness_expectation() -> None:
    devices = {"r1": Role.ROUTER, "c1": Role.CODEC}
    truth = {
        "faults": [
            {"device": "r1", "fault": "config_rejected", "role": "router", "params": {}},
            {"device": "c1", "fault": "config_rejected", "role": "codec", "params": {"match": "SIP"}},
        ],
        "unreachable": [],
    }
    wanted, out_of_scope = expect.expectations(truth, devices)
    assert all(not w.required and not w.optional for w in wanted.values())
    assert out_of_scope == {"config_rejected": 2}
    sites = {"r1": (Role.ROUTER, Carrier.VNPT, "00004"), "c1": (Role.CODEC, Carrier.VNPT, "00004")}
    site = expect.readiness_expectations(truth, sites)["00004"]
    assert not site.required and not site.optional


# --- 3. codec QoS and SNMP settings ------------------------------------------------------------------


def test_codec_settings_include_qos_and_snmp_and_keep_their_quoting() -> None:
    d = state("cisco_ce")
    settings = cisco_ce.settings_of(d)
    assert {k: v for k, v in settings.items() if "QoS" in k or "SNMP" in k} == {
        "Network 1 QoS Mode": "Diffserv",
        "Network 1 QoS Diffserv Audio": "46",
        "Network 1 QoS Diffserv Video": "34",
        "Network 1 QoS Diffserv Data": "34",
        "Network 1 QoS Diffserv Signalling": "24",
        "NetworkServices SNMP CommunityName": '"public"',
        "NetworkServices SNMP Mode": "ReadOnly",
        "NetworkServices SNMP SystemContact": f'"NOC {d.site.carrier.value}"',
        "NetworkServices SNMP SystemLocation": f'"{d.site.name}, {d.province_name}"',
    }
    cli = CodecCli(d)
    for line in (
        "xConfiguration Network 1 QoS Diffserv Audio: 40",
        'xConfiguration Network 1 QoS Mode: "Off"',
        'xConfiguration NetworkServices SNMP SystemContact: "NOC test"',
        "xConfiguration NetworkServices SNMP SystemLocation: Hanoi",
    ):
        assert cli.handle(line).output == "** end\n\nOK", line
    text = running(d)
    assert "*c xConfiguration Network 1 QoS Diffserv Audio: 40\n" in text
    assert "*c xConfiguration Network 1 QoS Mode: Off\n" in text
    assert '*c xConfiguration NetworkServices SNMP SystemContact: "NOC test"\n' in text
    assert '*c xConfiguration NetworkServices SNMP SystemLocation: "Hanoi"\n' in text


# --- 4. the saved configuration ------------------------------------------------------------------------


def test_ios_startup_is_the_saved_configuration_until_written() -> None:
    d = state("cisco_ios")
    assert startup(d) == running(d)
    ios_push(d, (), "ntp server 10.10.0.3")
    assert startup(d) != running(d)
    assert "ntp server 10.10.0.3" not in startup(d)
    cli = IosCli(d)
    assert cli.handle("write memory").output == "Building configuration...\n[OK]"
    assert startup(d) == running(d)
    assert startup(d) in cli.handle("show startup-config").output.replace("!\nend\n", "")


def test_vrp_startup_is_the_saved_configuration_until_saved() -> None:
    d = state("huawei_vrp")
    assert startup(d) == running(d)
    vrp_push(d, (), "ntp-service unicast-server 10.10.0.3")
    assert startup(d) != running(d)
    cli = VrpCli(d)
    cli.handle("save")
    assert "successfully" in cli.handle("y").output
    assert startup(d) == running(d)
    assert cli.handle("display saved-configuration").output + "\n" == startup(d)


def test_codec_startup_follows_its_settings() -> None:
    d = state("cisco_ce")
    CodecCli(d).handle('xConfiguration SIP Proxy 1 Address: "sip.example"')
    assert startup(d) == running(d)
    assert '"sip.example"' in startup(d)


def test_the_control_api_serves_the_startup_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    devices = build_test_inventory(tmp_path / "inventory", 2, address_base=231)
    for name, value in lab_secrets(generate(sites=2, seed=7, address_base=231).credentials).items():
        monkeypatch.setenv(name, value)
    sim = Simulator(validate_paths([tmp_path / "inventory"]).inventory)
    sim.build()  # no sockets: the routes are answered from the device states
    router = next(n for n, d in devices.items() if d.driver == "cisco_ios")
    codec = next(n for n, d in devices.items() if d.driver == "cisco_ce")
    status, text = sim._route("GET", f"/devices/{router}/startup", b"")
    assert (status, text) == (200, sim.running_config(router))
    assert text == sim.startup_config(router) and text.startswith("version 17.9\n")
    ios_push(sim.devices[router].state, (), "ntp server 10.10.0.3")
    assert sim._route("GET", f"/devices/{router}/startup", b"") == (200, text)
    assert sim._route("GET", f"/devices/{router}/config", b"")[1] != text
    assert sim._route("GET", f"/devices/{codec}/startup", b"") == (200, sim.running_config(codec))
    assert sim._route("GET", "/devices/nobody/startup", b"")[0] == 404


# --- through netmiko, on the shared simulator's scratch sites (10: Cisco IOS, 11: Huawei VRP) ------


def connect(sim: Any, name: str) -> Any:
    dev = sim.device(name)
    device_type = {"cisco_ios": "cisco_ios", "huawei_vrp": "huawei", "cisco_ce": "cisco_tp"}[dev.driver]
    return ConnectHandler(
        device_type=device_type, host=dev.mgmt_address, port=dev.ssh_port, username="noc",
        password=sim.password(name),
    )  # fmt: skip


def child_line(config: str, header: str, keyword: str) -> str:
    section = config.split(f"\n{header}\n", 1)[1]
    return next(x.strip() for x in section.splitlines() if x.strip().startswith(keyword + " "))


@pytest.mark.parametrize(
    ("index", "negation", "ntp", "location", "error"),
    [
        (10, "no", "ntp server", "snmp-server location", r"% Invalid input"),
        (11, "undo", "ntp-service unicast-server", "snmp-agent sys-info location", r"Error:"),
    ],
)
def test_a_failed_push_rolled_back_with_inverse_lines_restores_the_backup_exactly(
    sim: Any, index: int, negation: str, ntp: str, location: str, error: str
) -> None:
    router = sim.extra["sites"][index][0]
    backup = sim.get(f"/devices/{router}/config")
    old_location = next(x.strip() for x in backup.splitlines() if x.strip().startswith(location + " "))
    old_description = child_line(backup, "interface GigabitEthernet0/0/1", "description")
    push = [
        f"{ntp} 10.10.0.71",
        f"{location} Rollback test",
        "interface GigabitEthernet0/0/1",
        "description rollback test",
        f"{ntp} 10.10.0.72",
    ]
    sim.send(
        "POST", "/faults", {"device": router, "fault": "config_rejected", "params": {"match": "10.10.0.72"}}
    )
    try:
        with connect(sim, router) as conn:
            with pytest.raises(
                ConfigInvalidException, match=f"command: {ntp} 10.10.0.72, matched error: {error}"
            ):
                conn.send_config_set(push, error_pattern=error)
            assert sim.get(f"/devices/{router}/config") != backup
            # Still in the interface's mode: the global inverse lines go to the global level.
            conn.send_config_set(
                [
                    f"{negation} {ntp} 10.10.0.71",
                    old_location,
                    "interface GigabitEthernet0/0/1",
                    old_description,
                ],
                error_pattern=error,
            )
            assert sim.get(f"/devices/{router}/config") == backup
            conn.save_config()
        assert sim.get(f"/devices/{router}/startup") == backup
    finally:
        sim.send("DELETE", "/faults", {"device": router, "fault": "config_rejected"})


def test_netmiko_reports_a_codec_setting_the_codec_refuses(sim: Any) -> None:
    codec = sim.extra["sites"][11][1]  # a scratch codec: its location is put back, its SIP proxy untouched
    path = "NetworkServices SNMP SystemLocation"
    original = next(x for x in sim.get(f"/devices/{codec}/config").splitlines() if path in x)
    options = {
        "enter_config_mode": False,
        "exit_config_mode": False,
        "error_pattern": r"ERROR|error=True",
        "terminator": r"OK|ERROR",
    }
    sim.send(
        "POST", "/faults", {"device": codec, "fault": "config_rejected", "params": {"match": "Bad place"}}
    )
    try:
        with connect(sim, codec) as conn:
            out = conn.send_config_set([f'xConfiguration {path}: "Good place"'], **options)
            assert out.strip().endswith("** end\n\nOK")
            with pytest.raises(ConfigInvalidException, match="matched error: error=True"):
                conn.send_config_set([f'xConfiguration {path}: "Bad place"'], **options)
            config = sim.get(f"/devices/{codec}/config")
            assert f'*c xConfiguration {path}: "Good place"\n' in config
            assert sim.get(f"/devices/{codec}/startup") == config
            conn.send_config_set([original.removeprefix("*c ")], **options)
        assert original in sim.get(f"/devices/{codec}/config")
    finally:
        sim.send("DELETE", "/faults", {"device": codec, "fault": "config_rejected"})
