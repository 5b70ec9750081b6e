"""Every fault is visible to real clients as it would be in the field, and in the ground truth."""

from __future__ import annotations

import socket
import time
import urllib.error
from pathlib import Path
from typing import Any

import pytest
from netmiko import ConnectHandler
from netmiko.exceptions import NetmikoAuthenticationException

from fleet.snmp import ber, message
from tests.sim_helpers import keyscan, snmp, snmp_value, ssh_exec

IF_OPER_WAN = "1.3.6.1.2.1.2.2.1.8.1"
IF_IN_ERRORS_WAN = "1.3.6.1.2.1.2.2.1.14.1"
RTT_SENSE = "1.3.6.1.4.1.9.9.42.1.2.10.1.2.10"
NQA_COMPLETION = "1.3.6.1.4.1.2011.5.25.111.4.3.1.2.5.97.100.109.105.110.6.98.114.105.100.103.101.1"
RTT_LATEST = "1.3.6.1.4.1.9.9.42.1.2.10.1.1.10"
JITTER_AVG = "1.3.6.1.4.1.9.9.42.1.5.2.1.46.10"
LOSS_SD = "1.3.6.1.4.1.9.9.42.1.5.2.1.26.10"
LOSS_DS = "1.3.6.1.4.1.9.9.42.1.5.2.1.27.10"
SYS_DESCR = "1.3.6.1.2.1.1.1.0"


def names(sim: Any, index: int) -> list[str]:
    found: list[str] = sim.extra["sites"][index]
    return found


@pytest.fixture(scope="module")
def known_hosts(sim: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ssh") / "known_hosts"
    unreachable = {(3, "rtr"), (5, "rtr"), (12, "rtr"), (9, "codec"), (12, "codec")}
    for index in range(13):
        for device in names(sim, index)[:2]:
            if (index, device.rsplit("-", 1)[1]) in unreachable:
                continue  # auth failure, no banner, powered off, behind a dark router: nothing to scan
            keyscan(sim, device, path)
    return path


def codec_status(sim: Any, index: int, path: str, known_hosts: Path) -> str:
    out = ssh_exec(sim, names(sim, index)[1], f"xStatus {path}", known_hosts)
    assert out.returncode == 0, out.stderr
    return out.stdout


def silent(sim: Any, device: str) -> bool:
    out = snmp(sim, "snmpget", device, SYS_DESCR, timeout=0.5)
    return out.returncode != 0 and "Timeout" in out.stderr


def tcp_refused(sim: Any, device: str) -> bool:
    dev = sim.device(device)
    with socket.socket() as s:
        s.settimeout(2)
        try:
            s.connect((dev.mgmt_address, dev.ssh_port))
        except ConnectionRefusedError:
            return True
    return False


def test_ground_truth_lists_every_injected_fault(sim: Any) -> None:
    truth = sim.get("/truth")
    assert truth["devices"] == 39
    kinds = {f["fault"] for f in truth["faults"]}
    assert kinds == {
        "wan_down", "sip_unregistered", "snmp_dead", "if_errors", "camera_disconnected", "slow", "poor_link",
        "microphone_missing", "loss", "ssh_auth_failure", "display_disconnected", "in_call", "powered_off",
        "ssh_no_banner", "clock_unsynced", "outdated_software", "config_drift", "reset_during_push",
        "video_lost", "fan_failure",
    }  # fmt: skip
    wan = next(f for f in truth["faults"] if f["fault"] == "wan_down")
    assert (wan["device"], wan["role"], wan["site"]) == (names(sim, 9)[0], "router", names(sim, 9)[0][2:7])
    assert wan["carrier"] in {"VNPT", "Viettel"}
    behind = {(u["device"], u["behind"], tuple(u["because"])) for u in truth["unreachable"]}
    assert behind == {
        (names(sim, 9)[1], names(sim, 9)[0], ("wan_down",)),
        (names(sim, 9)[2], names(sim, 9)[0], ("wan_down",)),
        (names(sim, 12)[1], names(sim, 12)[0], ("powered_off",)),
        (names(sim, 12)[2], names(sim, 12)[0], ("powered_off",)),
    }


def test_healthy_router_reports_up_and_a_clean_probe(sim: Any) -> None:
    router = names(sim, 0)[0]
    assert snmp_value(sim, router, IF_OPER_WAN) == "INTEGER: 1"
    assert snmp_value(sim, router, RTT_SENSE) == "INTEGER: 1"


def test_wan_down_shows_in_if_mib_and_the_sla_probe(sim: Any) -> None:
    router = names(sim, 9)[0]  # a Huawei VRP router: the NQA probe fails
    assert snmp_value(sim, router, IF_OPER_WAN) == "INTEGER: 2"
    assert snmp_value(sim, router, NQA_COMPLETION) == "INTEGER: 2"  # failure


def test_a_dark_router_makes_the_site_behind_it_unreachable(sim: Any) -> None:
    for index in (9, 12):  # WAN down; powered off
        _router, codec, camera = names(sim, index)
        assert silent(sim, codec)
        assert silent(sim, camera)
        assert tcp_refused(sim, codec)
    assert not silent(sim, names(sim, 9)[0])  # the router itself still answers on its management path


def test_interface_errors_climb_on_the_wan(sim: Any) -> None:
    faulty, healthy = names(sim, 2)[0], names(sim, 0)[0]

    def errors(device: str) -> int:
        return int(snmp_value(sim, device, IF_IN_ERRORS_WAN).split(": ")[1])

    first = {d: errors(d) for d in (faulty, healthy)}
    time.sleep(2.0)
    assert errors(faulty) - first[faulty] >= 3  # about 5% of the line's packets
    assert errors(healthy) == first[healthy]


def test_poor_link_shows_latency_jitter_and_loss(sim: Any) -> None:
    router = names(sim, 4)[0]
    assert snmp_value(sim, router, RTT_LATEST) == "Gauge32: 280"
    assert snmp_value(sim, router, JITTER_AVG) == "Gauge32: 70"
    lost = sum(int(snmp_value(sim, router, oid).split(": ")[1]) for oid in (LOSS_SD, LOSS_DS))
    assert lost == 6


def test_snmp_dead_is_silent_while_ssh_still_answers(sim: Any, known_hosts: Path) -> None:
    assert silent(sim, names(sim, 2)[2])
    assert silent(sim, names(sim, 6)[1])
    assert "SystemUnit Software Version" in codec_status(sim, 6, "SystemUnit Software Version", known_hosts)


def test_powered_off_is_silent_and_refuses_tcp(sim: Any) -> None:
    assert silent(sim, names(sim, 5)[2])
    router = names(sim, 12)[0]
    assert silent(sim, router)
    assert tcp_refused(sim, router)


def test_slow_answers_arrive_late(sim: Any) -> None:
    camera = names(sim, 3)[2]
    started = time.perf_counter()
    out = snmp(sim, "snmpget", camera, SYS_DESCR, timeout=3)
    assert out.returncode == 0
    assert time.perf_counter() - started >= 0.7


def test_intermittent_loss_drops_about_the_configured_share(sim: Any) -> None:
    camera = sim.device(names(sim, 4)[2])
    community = sim.env["FLEET_CAMERA_SNMP_COMMUNITY"].encode()
    oid = ber.encode_oid(ber.parse_oid(SYS_DESCR))
    sent = 60
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.05)
        for request_id in range(sent):
            pdu = message.encode_pdu(ber.GET, request_id, 0, 0, [message.varbind(oid, ber.NULL_BER)])
            s.sendto(message.encode_community(1, community, pdu), (camera.mgmt_address, camera.snmp_port))
        answered = 0
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and answered < sent:
            try:
                s.recv(2048)
                answered += 1
            except TimeoutError:
                continue
    assert 10 <= sent - answered <= 50  # rate 0.5 of 60


def test_ssh_auth_failure_is_refused_credentials(sim: Any) -> None:
    router = sim.device(names(sim, 3)[0])
    with pytest.raises(NetmikoAuthenticationException):
        ConnectHandler(
            device_type="huawei", host=router.mgmt_address, port=router.ssh_port, username="noc",
            password=sim.password(router.name), conn_timeout=5, auth_timeout=5,
        )  # fmt: skip


def test_ssh_no_banner_accepts_tcp_and_stays_silent(sim: Any) -> None:
    router = sim.device(names(sim, 5)[0])
    with socket.create_connection((router.mgmt_address, router.ssh_port), timeout=2) as s:
        s.settimeout(1.5)
        with pytest.raises(TimeoutError):
            s.recv(100)


def test_codec_faults_show_in_xstatus(sim: Any, known_hosts: Path) -> None:
    assert "*s SIP Registration 1 Status: Failed" in codec_status(sim, 2, "SIP Registration", known_hosts)
    assert "*s Cameras Camera 1 Connected: False" in codec_status(sim, 3, "Cameras", known_hosts)
    mic = codec_status(sim, 4, "Audio Input Connectors Microphone 1 ConnectionStatus", known_hosts)
    assert "NotConnected" in mic
    assert "*s Video Output Connector 1 Connected: False" in codec_status(sim, 5, "Video Output", known_hosts)
    call = codec_status(sim, 5, "Call", known_hosts)
    assert "*s Call 3 Status: Connected" in call
    assert "*s SystemUnit State NumberOfActiveCalls: 1" in codec_status(
        sim, 5, "SystemUnit State", known_hosts
    )
    assert "*s NetworkServices NTP Status: Discarded" in codec_status(
        sim, 6, "NetworkServices NTP", known_hosts
    )
    version = codec_status(sim, 6, "SystemUnit Software Version", known_hosts)
    assert '"ce9.15.3.17.' in version
    healthy = codec_status(sim, 0, "Diagnostics", known_hosts)
    assert healthy.strip().endswith("** end\n\nOK")
    assert "Diagnostics Message" not in healthy


def test_outdated_camera_reports_its_old_firmware(sim: Any) -> None:
    assert "9.80.3.8" in snmp_value(sim, names(sim, 6)[2], SYS_DESCR)
    assert "11.11.96" in snmp_value(sim, names(sim, 0)[2], SYS_DESCR)


def test_configuration_drift_shows_in_the_running_configuration(sim: Any, known_hosts: Path) -> None:
    router, codec = names(sim, 7)[:2]
    assert "ntp-service unicast-server 10.99.0.1" in sim.get(f"/devices/{router}/config")
    out = ssh_exec(sim, codec, "xConfiguration SIP Proxy 1 Address", known_hosts)
    assert '"sip.old-registrar.local"' in out.stdout


def test_connection_reset_in_the_middle_of_a_push(sim: Any) -> None:
    router = sim.device(names(sim, 8)[0])
    before = sim.get(f"/devices/{router.name}/config")
    with ConnectHandler(
        device_type="cisco_ios", host=router.mgmt_address, port=router.ssh_port, username="noc",
        password=sim.password(router.name),
    ) as conn:  # fmt: skip
        with pytest.raises(Exception):  # noqa: B017 - netmiko reports the reset as a ReadTimeout
            conn.send_config_set(
                ["ntp server 10.10.0.77", "ntp server 10.10.0.78", "ntp server 10.10.0.79"], read_timeout=3
            )
        transport = conn.remote_conn.get_transport()
        assert transport is None or not transport.is_active()  # the device dropped the session
    after = sim.get(f"/devices/{router.name}/config")
    assert "ntp server 10.10.0.77" in after  # the first line landed before the reset
    assert "ntp server 10.10.0.78" not in after
    assert before != after


def test_faults_change_while_running(sim: Any) -> None:
    router = names(sim, 1)[0]
    assert snmp_value(sim, router, IF_OPER_WAN) == "INTEGER: 1"
    sim.send("POST", "/faults", {"device": router, "fault": "wan_down"})
    assert snmp_value(sim, router, IF_OPER_WAN) == "INTEGER: 2"
    assert any(f["device"] == router and f["fault"] == "wan_down" for f in sim.get("/truth")["faults"])
    cleared = sim.send("DELETE", "/faults", {"device": router, "fault": "wan_down"})
    assert cleared["cleared"] == ["wan_down"]
    assert snmp_value(sim, router, IF_OPER_WAN) == "INTEGER: 1"

    codec = names(sim, 1)[1]
    sim.send("POST", "/faults", {"device": codec, "fault": "powered_off"})
    assert tcp_refused(sim, codec)
    sim.send("DELETE", "/faults", {"device": codec})
    assert not tcp_refused(sim, codec)


def test_control_api_rejects_bad_requests(sim: Any) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        sim.send("POST", "/faults", {"device": names(sim, 0)[2], "fault": "wan_down"})
    assert info.value.code == 400  # wan_down applies to routers only
    with pytest.raises(urllib.error.HTTPError) as missing:
        sim.send("POST", "/faults", {"device": "nope", "fault": "powered_off"})
    assert missing.value.code == 404


def test_powering_off_drops_established_ssh_sessions(sim: Any) -> None:
    router = sim.device(names(sim, 11)[0])
    with ConnectHandler(
        device_type="huawei", host=router.mgmt_address, port=router.ssh_port, username="noc",
        password=sim.password(router.name),
    ) as conn:  # fmt: skip
        assert "Huawei" in conn.send_command("display version")
        sim.send("POST", "/faults", {"device": router.name, "fault": "powered_off"})
        try:
            with pytest.raises(Exception):  # noqa: B017 - netmiko reports a dead session in several ways
                conn.send_command("display version", read_timeout=3)
        finally:
            sim.send("DELETE", "/faults", {"device": router.name, "fault": "powered_off"})
    assert not tcp_refused(sim, router.name)


def test_control_api_answers_malformed_bodies_with_400(sim: Any) -> None:
    for body in ([1], 5, {"device": names(sim, 0)[2], "fault": "slow", "params": [1]}):
        with pytest.raises(urllib.error.HTTPError) as info:
            sim.send("POST", "/faults", body)  # type: ignore[arg-type]
        assert info.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as nan:
        sim.send(
            "POST", "/faults", {"device": names(sim, 0)[2], "fault": "slow", "params": {"delay_ms": "nan"}}
        )
    assert nan.value.code == 400
    assert "nan" not in str(sim.get("/truth")).lower()


def test_slow_ssh_answers_arrive_late_and_intact(sim: Any, known_hosts: Path) -> None:
    codec = names(sim, 11)[1]  # a scratch device no other test changes
    sim.send("POST", "/faults", {"device": codec, "fault": "slow", "params": {"delay_ms": 600}})
    try:
        started = time.perf_counter()
        out = ssh_exec(sim, codec, "xStatus SIP Registration 1 Status", known_hosts)
        elapsed = time.perf_counter() - started
    finally:
        sim.send("DELETE", "/faults", {"device": codec, "fault": "slow"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("*s SIP Registration 1 Status: Registered")
    assert elapsed >= 0.6
