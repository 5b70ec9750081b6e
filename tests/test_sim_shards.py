"""The simulator in several processes, sites shared among them: same answers, same faults, one lifecycle."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from fleet.sim.process import SimulatorProcess
from fleet.snmp import ber, message
from tests.simulator import SimHandle, simulator_pids, start_simulator

SITES = 6
BASE = 171  # 127.171-173.x.y: no other test's simulator
SCENARIO = "faults:\n  - device: vn00004-rtr\n    fault: powered_off\n"  # its site goes dark


def wait_for(check: Any, seconds: float = 30.0) -> None:
    """Poll ``check`` until it holds; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not true within {seconds:.0f} s: {check.__doc__ or check}"
        time.sleep(0.05)


def gone(pid: int) -> bool:
    """Not running: no such process, or a zombie waiting for its parent to read its exit code."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def shards_of(handle: SimHandle) -> list[int]:
    assert handle.process is not None
    return simulator_pids(handle.process.pid)[1:]


def site_devices(handle: SimHandle) -> list[list[str]]:
    """Devices per site in the inventory's order (router, codec, camera); site i is served by shard i mod n."""
    names = list(handle.devices)
    return [names[i : i + 3] for i in range(0, len(names), 3)]


def snmp_answers(handle: SimHandle, device: str) -> bool:
    """A v2c GET of sysName to a camera: answered within a second?"""
    dev = handle.device(device)
    vbs = [message.varbind(ber.encode_oid(ber.parse_oid("1.3.6.1.2.1.1.5.0")), ber.NULL_BER)]
    community = handle.env["FLEET_CAMERA_SNMP_COMMUNITY"].encode()
    packet = message.encode_community(1, community, message.encode_pdu(ber.GET, 7, 0, 0, vbs))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1.0)
        sock.sendto(packet, (dev.mgmt_address, dev.snmp_port))
        try:
            return device.encode() in sock.recv(4096)
        except TimeoutError:
            return False


def ssh_login(handle: SimHandle, device: str) -> str:
    """Log in and run one command: 'ok', 'denied' or the error's kind."""
    dev = handle.device(device)

    async def attempt() -> str:
        try:
            async with asyncssh.connect(
                dev.mgmt_address,
                dev.ssh_port,
                username="noc",
                password=handle.password(device),
                known_hosts=None,
            ) as conn:
                await conn.run("show version", check=False)
                return "ok"
        except asyncssh.PermissionDenied:
            return "denied"
        except (OSError, asyncssh.Error) as exc:
            return type(exc).__name__

    return asyncio.run(asyncio.wait_for(attempt(), 30))


def comparable(truth: dict[str, Any]) -> dict[str, Any]:
    """Everything but the times: those differ between two runs."""
    faults = [{k: v for k, v in f.items() if k != "since"} for f in truth["faults"]]
    return {k: v for k, v in truth.items() if k != "started_at"} | {"faults": faults}


def test_the_same_seed_gives_the_same_truth_in_one_process_and_in_two(tmp_path: Path) -> None:
    truths, summaries = [], []
    for processes in ("1", "2"):
        handle = start_simulator(
            tmp_path / processes, SITES, SCENARIO, seed=5, address_base=BASE,
            extra=["--fault-rate", "0.4", "--processes", processes, "--truth-file", str(tmp_path / f"truth-{processes}.json")],
        )  # fmt: skip
        try:
            assert len(shards_of(handle)) == (0 if processes == "1" else 2)
            truths.append(comparable(handle.get("/truth")))
            written = json.loads((tmp_path / f"truth-{processes}.json").read_text(encoding="utf-8"))
            assert comparable(written) == truths[-1]  # the parent writes the merged truth
            summaries.append(handle.get("/summary"))
        finally:
            handle.stop()
    one, two = truths
    assert one["unreachable"] and len(one["faults"]) >= 4  # the comparison has something to compare
    assert one == two  # device for device, in the same order, with the same counts
    assert summaries[0] == summaries[1]


def test_faults_set_on_each_shard_show_in_the_truth_and_the_answers(tmp_path: Path) -> None:
    handle = start_simulator(tmp_path, SITES, address_base=BASE, extra=["--processes", "2"])
    try:
        sites = site_devices(handle)
        camera, router = sites[0][2], sites[1][0]  # site 0 on shard 1, site 1 on shard 2
        codec = sites[1][1]
        assert snmp_answers(handle, camera) and ssh_login(handle, router) == "ok"
        handle.send("POST", "/faults", {"device": camera, "fault": "snmp_dead"})
        handle.send("POST", "/faults", {"device": router, "fault": "ssh_auth_failure"})
        truth = handle.get("/truth")
        assert [(f["device"], f["fault"]) for f in truth["faults"]] == [
            (camera, "snmp_dead"),
            (router, "ssh_auth_failure"),
        ]
        assert truth["fault_counts"] == {"snmp_dead": 1, "ssh_auth_failure": 1}
        assert not snmp_answers(handle, camera)
        assert ssh_login(handle, router) == "denied"
        assert router in handle.get(f"/devices/{router}/config")  # a device route reaches its shard

        handle.send(
            "POST", "/faults", {"device": router, "fault": "wan_down"}
        )  # cuts its site off, in-process
        unreachable = handle.get("/truth")["unreachable"]
        assert [(u["device"], u["behind"]) for u in unreachable] == [(codec, router), (sites[1][2], router)]
        assert ssh_login(handle, codec) != "ok"

        handle.send("DELETE", "/faults", {"device": camera})
        handle.send("DELETE", "/faults", {"device": router})
        assert handle.get("/truth")["faults"] == [] and handle.get("/summary")["faults"] == 0
        assert snmp_answers(handle, camera) and ssh_login(handle, router) == "ok"
        with pytest.raises(Exception, match="404"):
            handle.get("/devices/no-such-device/config")
    finally:
        handle.stop()


def test_a_shard_that_dies_ends_the_simulator_naming_it(tmp_path: Path) -> None:
    handle = start_simulator(tmp_path, SITES, address_base=BASE, extra=["--processes", "2"])
    assert handle.process is not None
    shards = shards_of(handle)
    assert len(shards) == 2
    try:
        os.kill(shards[1], signal.SIGKILL)
        assert handle.process.wait(timeout=30) == 1
    finally:
        handle.stop()
    log = handle.log.read_text()
    assert f"simulator shard 2/2 (3 sites, 9 devices, pid {shards[1]}) was killed by SIGKILL" in log
    assert "Traceback" not in log
    wait_for(lambda: gone(shards[0]))


@pytest.mark.parametrize("how", ["stop", "SIGTERM", "SIGKILL"])
def test_stopping_the_parent_leaves_no_shard(tmp_path: Path, how: str) -> None:
    handle = start_simulator(tmp_path, SITES, address_base=BASE, extra=["--processes", "2"])
    assert handle.process is not None and handle.child is not None
    shards = shards_of(handle)
    assert len(shards) == 2
    if how == "stop":  # Ctrl-C, as SimulatorProcess and the tests stop it
        assert handle.child.stop() == 0
        assert "stopped: answered" in handle.log.read_text()
    elif how == "SIGTERM":  # as `fleet lab stop` does
        handle.process.send_signal(signal.SIGTERM)
        assert handle.process.wait(timeout=30) == 0
    else:  # nothing runs in the parent: the shards learn it from the kernel (PR_SET_PDEATHSIG)
        handle.process.kill()
        handle.process.wait(timeout=30)
    for pid in shards:
        wait_for(lambda pid=pid: gone(pid))


def test_wait_ready_returns_once_every_shard_serves(tmp_path: Path) -> None:
    handle = start_simulator(tmp_path, SITES, address_base=BASE, extra=["--processes", "3"])
    try:
        assert len(shards_of(handle)) == 3
        assert handle.get("/health") == {"ready": True, "devices": SITES * 3}
        assert all(snmp_answers(handle, site[2]) for site in site_devices(handle))  # every shard answers
        assert isinstance(handle.child, SimulatorProcess)
    finally:
        handle.stop()
