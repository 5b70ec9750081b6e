"""The simulator process: binds loopback only, stops cleanly on Ctrl-C, refuses bad start-up input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fleet.sim.process import SimulatorProcess
from fleet.sim.runtime import SimError
from tests.simulator import build_test_inventory, simulator_pids, start_simulator


def bound_addresses(pid: int) -> list[str]:
    """Local addresses of every socket the process holds, from /proc (IPv4 and IPv6)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("tcp", "udp", "tcp6", "udp6"):
        for row in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = row.split()
            if fields[9] in inodes:
                found.append(f"{table}:{fields[1]}")
    return found


def test_every_socket_is_on_a_loopback_address(sim: Any) -> None:
    addresses = [a for pid in simulator_pids(sim.process.pid) for a in bound_addresses(pid)]
    assert len(addresses) >= 39 + 20  # a UDP socket per device, a TCP listener per reachable SSH device
    for entry in addresses:
        table, local = entry.split(":", 1)
        assert not table.endswith("6"), entry
        assert local.split(":")[0][6:8] == "7F", entry  # little-endian hex: first octet 127


def test_ctrl_c_stops_the_simulator_cleanly(tmp_path: Path) -> None:
    handle = start_simulator(tmp_path, sites=2, address_base=211)
    assert handle.process is not None
    handle.process.send_signal(signal.SIGINT)
    assert handle.process.wait(timeout=15) == 0
    log = handle.log.read_text()
    assert "fleet sim ready" in log
    assert "stopped: answered" in log
    assert "Traceback" not in log


def test_a_bad_scenario_stops_start_up_with_its_line(tmp_path: Path) -> None:
    build_test_inventory(tmp_path / "inventory", 2, address_base=221)
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("faults:\n  - device: vn00004-rtr\n    fault: melted\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "fleet", "sim", "--inventory", str(tmp_path / "inventory"), "--scenario", str(scenario),
         "--control-port", "0"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 1
    assert f"{scenario}:3: fault='melted': unknown fault" in run.stderr
    assert "the simulator was not started" in run.stderr


def test_missing_secrets_are_all_named(tmp_path: Path) -> None:
    build_test_inventory(tmp_path / "inventory", 2, address_base=221)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
    run = subprocess.run(
        [sys.executable, "-m", "fleet", "sim", "--inventory", str(tmp_path / "inventory"), "--control-port", "0"],
        capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip
    assert run.returncode == 1
    assert "env:FLEET_CAMERA_SNMP_COMMUNITY" in run.stderr
    assert "env:FLEET_VNPT_SSH_PASSWORD" in run.stderr


def test_an_unusable_v3_key_stops_start_up_naming_the_profile(tmp_path: Path) -> None:
    build_test_inventory(tmp_path / "inventory", 2, address_base=221)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
    env |= dict.fromkeys(("FLEET_CAMERA_SNMP_COMMUNITY", "FLEET_VNPT_SNMP_AUTH_KEY", "FLEET_VNPT_SNMP_PRIV_KEY", "FLEET_VNPT_SSH_PASSWORD", "FLEET_VIETTEL_SNMP_AUTH_KEY", "FLEET_VIETTEL_SNMP_PRIV_KEY", "FLEET_VIETTEL_SSH_PASSWORD"), "long-enough-lab-value")  # fmt: skip
    env["FLEET_VNPT_SNMP_PRIV_KEY"] = "short"
    run = subprocess.run(
        [sys.executable, "-m", "fleet", "sim", "--inventory", str(tmp_path / "inventory"), "--control-port", "0"],
        capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip
    assert run.returncode == 1
    assert "credential profile vnpt-v3: SNMPv3 passwords must be at least 8 characters" in run.stderr
    assert "'short'" not in run.stderr  # the secret itself is never printed


def test_a_simulator_that_dies_at_start_up_is_reported_with_its_output(tmp_path: Path) -> None:
    child = SimulatorProcess.start(tmp_path / "missing", dict(os.environ), log=tmp_path / "sim.log")
    with pytest.raises(SimError, match="exited with 1") as info:
        child.wait_ready(30)
    assert "no such file or directory" in str(info.value)
    assert child.stop() == 1
