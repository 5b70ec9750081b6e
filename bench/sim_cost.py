"""What the fleet simulator itself costs: start-up, memory, CPU per SNMP request and per SSH session.

Starts `fleet sim` on the shipped inventory in a subprocess and measures its CPU time from
/proc while clients load it; later sweep benchmarks subtract these figures. When net-snmp's
snmpd is installed, the same v2c load runs against it as a baseline in the same run.

    .venv/bin/python bench/sim_cost.py [--inventory inventory] [--requests 30000] [--sessions 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncssh

from fleet.inventory.validate import validate_paths
from fleet.sim.lab import lab_secrets
from fleet.sim.process import SimulatorProcess, free_port
from fleet.sim.ssh import host_key
from fleet.snmp import ber, message

TICKS = os.sysconf("SC_CLK_TCK")
OIDS = [
    "1.3.6.1.2.1.1.3.0",
    "1.3.6.1.2.1.1.5.0",
    "1.3.6.1.2.1.2.2.1.8.1",
    "1.3.6.1.2.1.2.2.1.10.1",
    "1.3.6.1.2.1.31.1.1.1.6.1",
]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def blast(
    targets: list[tuple[str, int]], community: bytes, count: int, window: int = 256
) -> tuple[int, float]:
    """Send ``count`` v2c GETs of 5 objects round-robin over ``targets``; return (answered, seconds)."""
    vbs = [message.varbind(ber.encode_oid(ber.parse_oid(o)), ber.NULL_BER) for o in OIDS]
    packets = [
        message.encode_community(1, community, message.encode_pdu(ber.GET, i, 0, 0, vbs))
        for i in range(window)
    ]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.settimeout(1.0)
    sent = answered = 0
    started = time.perf_counter()
    while sent < min(window, count):
        sock.sendto(packets[sent % window], targets[sent % len(targets)])
        sent += 1
    deadline = time.monotonic() + 120
    while answered < sent and time.monotonic() < deadline:
        try:
            sock.recv(4096)
        except TimeoutError:
            break
        answered += 1
        if sent < count:
            sock.sendto(packets[sent % window], targets[sent % len(targets)])
            sent += 1
    sock.close()
    return answered, time.perf_counter() - started


async def ssh_sessions(
    targets: list[tuple[str, int, str, str]], known: dict[str, asyncssh.SSHKey], count: int, parallel: int
) -> int:
    done = 0
    semaphore = asyncio.Semaphore(parallel)

    async def one(i: int) -> None:
        nonlocal done
        host, port, password, name = targets[i % len(targets)]
        async with semaphore:
            trusted = ([known[name]], [], [])
            async with asyncssh.connect(
                host, port, username="noc", password=password, known_hosts=trusted
            ) as conn:
                result = await conn.run("show ip interface brief", check=False)
                if "GigabitEthernet0/0/0" in str(result.stdout):
                    done += 1

    await asyncio.gather(*(one(i) for i in range(count)))
    return done


def v3_cost(pid: int, inventory: object, env: dict[str, str], count: int = 400, parallel: int = 16) -> str:
    """Simulator CPU per SNMPv3 authPriv exchange (engine discovery report + GET), via net-snmp."""
    if shutil.which("snmpget") is None:
        return "SNMPv3: net-snmp's snmpget not installed, not measured"
    devices = [d for d in getattr(inventory, "devices", []) if d.credential_profile == "vnpt-v3"][:count]
    commands = [
        ["snmpget", "-v3", "-l", "authPriv", "-u", "noc-vnpt", "-a", "SHA", "-A", env["FLEET_VNPT_SNMP_AUTH_KEY"],
         "-x", "AES", "-X", env["FLEET_VNPT_SNMP_PRIV_KEY"], "-t", "2", "-r", "1", "-On",
         f"{d.mgmt_address}:{d.snmp_port}", *OIDS[:2]]
        for d in devices
    ]  # fmt: skip
    tmp = tempfile.mkdtemp()
    before = cpu_seconds(pid)
    ok = 0
    for start in range(0, len(commands), parallel):
        batch = [
            subprocess.Popen(
                c, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env | {"SNMP_PERSISTENT_DIR": tmp}
            )
            for c in commands[start : start + parallel]
        ]
        ok += sum(1 for p in batch if p.wait(timeout=30) == 0)
    spent = cpu_seconds(pid) - before
    shutil.rmtree(tmp, ignore_errors=True)
    return f"SNMPv3 authPriv (discovery + GET of 2, net-snmp snmpget): {ok}/{len(commands)} ok; simulator CPU {spent / max(ok, 1) * 1e6:.0f} us per exchange"


def snmpd_baseline(requests: int) -> str:
    if shutil.which("snmpd") is None:
        return "net-snmp snmpd not installed: no baseline (apt-get install snmpd)"
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "snmpd.conf"
        conf.write_text("rocommunity bench 127.0.0.1\n", encoding="utf-8")
        proc = subprocess.Popen(
            ["snmpd", "-f", "-Lo", "-C", "-c", str(conf), "-p", str(Path(tmp) / "pid"), f"udp:127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ | {"SNMP_PERSISTENT_DIR": tmp},
        )  # fmt: skip
        time.sleep(1.0)
        try:
            before = cpu_seconds(proc.pid)
            answered, _secs = blast([("127.0.0.1", port)], b"bench", requests)
            spent = cpu_seconds(proc.pid) - before
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return f"net-snmp snmpd (baseline): {spent / max(answered, 1) * 1e6:.1f} us CPU per v2c GET of 5 ({answered:,} answered)"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inventory", default="inventory")
    parser.add_argument("--requests", type=int, default=30000)
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--parallel", type=int, default=30)
    args = parser.parse_args()

    inventory = validate_paths([Path(args.inventory)]).inventory
    env = os.environ | lab_secrets(inventory.credentials)
    started = time.perf_counter()
    sim = SimulatorProcess.start(Path(args.inventory), env)
    proc = sim.process
    try:
        sim.wait_ready(120)
        ready = time.perf_counter() - started
        print(f"devices: {len(inventory.devices):,}; ready in {ready:.1f} s; RSS {rss_mb(proc.pid):.0f} MB")

        cameras = [
            (d.mgmt_address, d.snmp_port) for d in inventory.devices if d.credential_profile == "camera-v2c"
        ]
        community = env["FLEET_CAMERA_SNMP_COMMUNITY"].encode()
        before = cpu_seconds(proc.pid)
        answered, secs = blast(cameras, community, args.requests)
        spent = cpu_seconds(proc.pid) - before
        per_request = spent / max(answered, 1) * 1e6
        print(
            f"SNMP v2c GET of 5 objects: {answered:,}/{args.requests:,} answered in {secs:.1f} s "
            f"({answered / secs:,.0f}/s); simulator CPU {per_request:.1f} us per request (budget 200)"
        )

        print(v3_cost(proc.pid, inventory, env))

        routers = [d for d in inventory.devices if d.driver == "cisco_ios"]
        targets = []
        for d in routers[: args.sessions]:
            carrier = "VIETTEL" if d.credential_profile.startswith("viettel") else "VNPT"
            targets.append((d.mgmt_address, d.ssh_port or 22, env[f"FLEET_{carrier}_SSH_PASSWORD"], d.name))
        known = {name: host_key(1, name).convert_to_public() for *_rest, name in targets}
        before = cpu_seconds(proc.pid)
        t0 = time.perf_counter()
        ok = asyncio.run(ssh_sessions(targets, known, args.sessions, args.parallel))
        secs = time.perf_counter() - t0
        spent = cpu_seconds(proc.pid) - before
        print(
            f"SSH sessions (login, 'show ip interface brief', logout): {ok}/{args.sessions} in {secs:.1f} s "
            f"({ok / secs:.0f}/s); simulator CPU {spent / max(ok, 1) * 1000:.2f} ms per session (budget 10)"
        )
        print(f"RSS after load: {rss_mb(proc.pid):.0f} MB")
    finally:
        sim.stop(30)
    print(snmpd_baseline(min(args.requests, 20000)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
