"""Real clients nobody here wrote work against the simulator: net-snmp, OpenSSH, netmiko."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from netmiko import ConnectHandler
from netmiko.exceptions import ConfigInvalidException
from ntc_templates.parse import parse_output

from tests.sim_helpers import keyscan, snmp, snmp_value, ssh_exec

CE_END = r"\n(?:OK|ERROR|Command not recognized\.)\n"


def site(sim: Any, index: int) -> list[str]:
    names: list[str] = sim.extra["sites"][index]
    return names


def test_net_snmp_walks_v2c_and_v3_authpriv_cleanly(sim: Any) -> None:
    router, codec, camera = site(sim, 0)
    walk = snmp(sim, "snmpwalk", camera, "1.3.6.1.2.1.1")
    assert walk.returncode == 0, walk.stderr
    assert f'.1.3.6.1.2.1.1.5.0 = STRING: "{camera}"' in walk.stdout
    assert "AXIS" in walk.stdout
    v3 = snmp(sim, "snmpwalk", router, "1.3.6.1.2.1.2.2.1.2")
    assert v3.returncode == 0, v3.stderr
    assert '"GigabitEthernet0/0/0"' in v3.stdout
    bulk = snmp(sim, "snmpbulkwalk", codec, "1.3.6.1.2.1")
    assert bulk.returncode == 0, bulk.stderr
    assert "Cisco Codec" in bulk.stdout
    assert ".1.3.6.1.2.1.31.1.1.1.6.1 = Counter64:" in bulk.stdout
    assert "Timeout" not in bulk.stderr


def test_get_semantics_match_the_rfc_through_net_snmp(sim: Any) -> None:
    camera = site(sim, 0)[2]
    out = snmp(sim, "snmpget", camera, "1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.9.0", "1.3.6.1.2.1.1.1.1")
    assert out.returncode == 0
    assert "Timeticks:" in out.stdout
    assert "No Such Object available" in out.stdout
    assert "No Such Instance currently exists" in out.stdout


def test_counters_advance_over_time(sim: Any) -> None:
    router = site(sim, 0)[0]
    first = int(snmp_value(sim, router, "1.3.6.1.2.1.31.1.1.1.6.1").split(": ")[1])
    time.sleep(1.1)
    second = int(snmp_value(sim, router, "1.3.6.1.2.1.31.1.1.1.6.1").split(": ")[1])
    assert second > first


def test_wrong_v3_key_is_an_authentication_failure(sim: Any) -> None:
    router = site(sim, 0)[0]
    out = snmp(sim, "snmpget", router, "1.3.6.1.2.1.1.5.0", v3_key="not-the-key-at-all")
    assert out.returncode != 0
    assert "Authentication failure" in out.stderr


def test_openssh_logs_in_with_a_verified_host_key(sim: Any, tmp_path: Path) -> None:
    router = site(sim, 0)[0]
    known = tmp_path / "known_hosts"
    keyscan(sim, router, known)
    out = ssh_exec(sim, router, "show ip interface brief", known)
    assert out.returncode == 0, out.stderr
    assert "GigabitEthernet0/0/0" in out.stdout
    unknown = ssh_exec(sim, site(sim, 1)[0], "display version", known)
    assert unknown.returncode != 0
    assert "Host key verification failed" in unknown.stderr


def connect(sim: Any, name: str, **extra: Any) -> Any:
    dev = sim.device(name)
    device_type = {"cisco_ios": "cisco_ios", "huawei_vrp": "huawei", "cisco_ce": "cisco_tp"}[dev.driver]
    return ConnectHandler(
        device_type=device_type,
        host=dev.mgmt_address,
        port=dev.ssh_port,
        username="noc",
        password=sim.password(name),
        **extra,
    )


def test_netmiko_cisco_ios_shows_pushes_and_saves(sim: Any) -> None:
    router = site(sim, 10)[0]
    with connect(sim, router) as conn:
        version = parse_output(
            platform="cisco_ios", command="show version", data=conn.send_command("show version")
        )
        assert version[0]["version"] == "17.9.5"
        assert version[0]["hostname"] == router
        brief = parse_output(
            platform="cisco_ios",
            command="show ip interface brief",
            data=conn.send_command("show ip int brief"),
        )
        assert {row["interface"] for row in brief} >= {"GigabitEthernet0/0/0", "Loopback0"}
        conn.send_config_set(
            ["ntp server 10.10.0.99", "interface GigabitEthernet0/0/1", "description pushed"]
        )
        assert "[OK]" in conn.save_config()
    with connect(sim, router) as conn:
        running = conn.send_command("show running-config")
    assert "ntp server 10.10.0.99" in running
    assert " description pushed" in running
    assert "ntp server 10.10.0.99" in sim.get(f"/devices/{router}/config")


def test_netmiko_cisco_ios_invalid_input_is_reported(sim: Any) -> None:
    with connect(sim, site(sim, 0)[0]) as conn, pytest.raises(ConfigInvalidException):
        conn.send_config_set(["ntp servr 10.0.0.1"], error_pattern=r"% Invalid input")


def test_netmiko_huawei_shows_pushes_and_saves(sim: Any) -> None:
    router = site(sim, 11)[0]
    with connect(sim, router) as conn:
        version = parse_output(
            platform="huawei_vrp", command="display version", data=conn.send_command("display version")
        )
        assert version[0]["product_version"] == "AR6120 V300R021C10SPC100"
        brief = parse_output(
            platform="huawei_vrp",
            command="display interface brief",
            data=conn.send_command("display interface brief"),
        )
        assert brief[0]["interface"] == "GigabitEthernet0/0/0"
        conn.send_config_set(["ntp-service unicast-server 10.10.0.99"])
        assert "successfully" in conn.save_config()
    assert "ntp-service unicast-server 10.10.0.99" in sim.get(f"/devices/{router}/config")


def test_netmiko_cisco_tp_reads_status_and_sets_configuration(sim: Any) -> None:
    codec = site(sim, 10)[1]
    with connect(sim, codec) as conn:
        # send_command_timing works with netmiko's defaults; send_command needs an expect_string
        # because netmiko 4.8's cisco_tp default pattern keeps a '\r' that it strips from the output.
        timed = conn.send_command_timing("xStatus SystemUnit Software Version")
        assert '*s SystemUnit Software Version: "ce11.14.2.3.' in timed
        status = conn.send_command("xStatus SIP Registration", expect_string=CE_END)
        assert "*s SIP Registration 1 Status: Registered" in status
        conn.send_config_set(
            ['xConfiguration SIP Proxy 1 Address: "sip.pushed.vn"'],
            enter_config_mode=False,
            exit_config_mode=False,
        )
        after = conn.send_command("xConfiguration SIP Proxy 1 Address", expect_string=CE_END)
    assert '*c xConfiguration SIP Proxy 1 Address: "sip.pushed.vn"' in after
