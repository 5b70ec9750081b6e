"""fleet's SNMP transport over the whole shipped inventory against the simulator, and the baseline.

Starts `fleet sim` on the shipped inventory (9,963 devices: 3,321 v2c cameras, 6,642 SNMPv3 authPriv
routers and codecs) and measures, in one run:

1. fleet, v2c and v3 apart: a cold sweep (a new client: worker processes start, every v3 engine is
   discovered), then warm sweeps with the same client; one GET of 5 objects per device, timeout
   1 s, retries 1, 200 in flight. Wall time, devices/s, client CPU per device (this process + the
   workers), the simulator's CPU per answer (from /proc/<pid>/stat), peak RSS (this process + the
   workers), false timeouts (the simulator is healthy, so every error is a false one), answers that
   needed a retry, answer latency.
2. 10% of the devices dead (powered_off on a seeded 10% of cameras and codecs through the
   simulator's control API, so exactly 10% are silent): the sweep's wall time against the bound
   timeout x (retries + 1) + the time of a healthy sweep run just before it (in turns, because a
   shared machine's load changes from one minute to the next).
3. The baseline, net-snmp's `snmpget` forked once per device (as LibreNMS-style pollers do) at
   several parallelism levels, on a subset (default 600 devices with the same 2:1 v3/v2c mix;
   the full inventory's time is extrapolated from the rate); then fleet/baseline at the best level,
   for v2c, v3 and the whole inventory.

    .venv/bin/python bench/snmp_transport.py [--inventory inventory] [--devices N]
        [--baseline-devices 600] [--parallelism 32,64] [--warm 2] [--dead-rounds 1]
        [--skip-baseline] [--skip-dead]

Needs the shipped addresses free (no other `fleet sim` on 127.1-3.x.y) and net-snmp's snmpget for
the baseline. Figures are noisy on a shared machine: compare ratios from the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fleet.domain.enums import Role, SnmpVersion
from fleet.engine.targets import Scope, build_targets
from fleet.inventory.validate import validate_paths
from fleet.sim.lab import lab_secrets
from fleet.sim.process import SimulatorProcess
from fleet.transports.errors import TransportErrorKind
from fleet.transports.snmp import SnmpClient, SnmpResult, SnmpTarget

OIDS = [
    "1.3.6.1.2.1.1.3.0",
    "1.3.6.1.2.1.1.5.0",
    "1.3.6.1.2.1.2.2.1.8.1",
    "1.3.6.1.2.1.2.2.1.10.1",
    "1.3.6.1.2.1.31.1.1.1.6.1",
]
TIMEOUT, RETRIES, IN_FLIGHT = 1.0, 1, 200


TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- fleet ---------------------------------------------------------------------------------------


@dataclass
class Figures:
    rate: float  # devices/s
    cpu_us: float  # client CPU per device
    sim_us: float  # simulator CPU per answer
    rss: float
    false_timeouts: int


class Fleet:
    """One client kept across sweeps, as a long-running poller keeps it."""

    def __init__(self, sim_pid: int = 0) -> None:
        self.client = SnmpClient(timeout=TIMEOUT, retries=RETRIES, in_flight=IN_FLIGHT)
        self.sim_pid = sim_pid

    async def sweep(self, label: str, targets: list[SnmpTarget]) -> Figures:
        stats = self.client.stats
        before_workers, before_datagrams = stats.worker_cpu, stats.datagrams
        s0 = process_cpu(self.sim_pid) if self.sim_pid else 0.0
        t0, c0 = time.perf_counter(), time.process_time()
        results = await self.client.get_many([(t, OIDS) for t in targets])
        wall = time.perf_counter() - t0
        stats = self.client.stats
        cpu = time.process_time() - c0 + stats.worker_cpu - before_workers
        sim_cpu = process_cpu(self.sim_pid) - s0 if self.sim_pid else 0.0
        answers = max(1, stats.datagrams - before_datagrams)
        return report(label, targets, results, wall, cpu, self.client, sim_cpu / answers)

    def close(self) -> None:
        self.client.close()


def report(
    label: str,
    targets: list[SnmpTarget],
    results: list[SnmpResult],
    wall: float,
    cpu: float,
    client: SnmpClient,
    sim_per_answer: float = 0.0,
) -> Figures:
    version = {t.name: t.credentials.version.value for t in targets}
    errors = Counter(f"{version[r.name]} {r.error.value}" for r in results if r.error is not None)
    retried = sum(1 for r in results if r.ok and r.attempts > 1)
    latency = sorted(r.elapsed for r in results if r.ok) or [0.0]
    rss = peak_rss_mb() + client.stats.worker_peak_rss_mb
    print(
        f"  {label}: {wall:5.1f} s wall, {len(targets) / wall:6,.0f} devices/s, client CPU {cpu:5.1f} s "
        f"({cpu / len(targets) * 1e6:,.0f} us/device, {client.stats.workers} worker processes), "
        f"simulator {sim_per_answer * 1e6:,.0f} us CPU/answer, "
        f"peak RSS {rss:.0f} MB ({peak_rss_mb():.0f} here + {client.stats.worker_peak_rss_mb:.0f} workers)"
    )
    print(
        f"      errors {dict(errors) or 'none'}; answered only on a retry: {retried}; latency p50 "
        f"{statistics.median(latency) * 1000:.1f} ms, p99 {latency[int(len(latency) * 0.99)] * 1000:.1f} ms"
    )
    timeouts = sum(1 for r in results if r.error is TransportErrorKind.TIMEOUT)
    return Figures(len(targets) / wall, cpu / len(targets) * 1e6, sim_per_answer * 1e6, rss, timeouts)


# --- 10% dead ------------------------------------------------------------------------------------


def control(sim: SimulatorProcess, method: str, body: dict[str, str]) -> None:
    request = urllib.request.Request(  # noqa: S310 - the simulator's loopback control port
        f"{sim.url}/faults", data=json.dumps(body).encode(), method=method,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        response.read()


async def dead_share(
    fleet: Fleet,
    sim: SimulatorProcess,
    targets: list[SnmpTarget],
    roles: dict[str, Role],
    share: float,
    rounds: int,
) -> None:
    """Healthy and dead sweeps in turns, so each dead sweep is compared with a healthy one run beside it."""
    # Cameras and codecs only: a dead router would silence its whole site, more than the share.
    candidates = sorted(t.name for t in targets if roles[t.name] is not Role.ROUTER)
    count = min(len(candidates), round(len(targets) * share))
    dead = random.Random(4).sample(candidates, count)  # noqa: S311 - a reproducible choice, not crypto
    print(f"\n{count:,} devices ({count / len(targets):.0%}) powered off, in turns with healthy sweeps:")
    allowance = TIMEOUT * (RETRIES + 1)
    for turn in range(rounds):
        healthy = len(targets) / (await fleet.sweep(f"healthy sweep {turn + 1}", targets)).rate
        for name in dead:
            control(sim, "POST", {"device": name, "fault": "powered_off"})
        try:
            wall = len(targets) / (await fleet.sweep(f"sweep with {count:,} dead", targets)).rate
        finally:
            for name in dead:
                control(sim, "DELETE", {"device": name})
        bound = allowance + healthy
        verdict = "within" if wall <= bound else "OVER"
        print(
            f"  -> {wall:.1f} s against timeout x (retries + 1) + healthy = {TIMEOUT:g} x {RETRIES + 1} + "
            f"{healthy:.1f} = {bound:.1f} s: {verdict} (the dead devices added {wall - healthy:+.1f} s)"
        )


# --- the baseline: net-snmp's snmpget, one process per device ---------------------------------------


def snmpget_command(target: SnmpTarget) -> list[str]:
    c = target.credentials
    common = ["snmpget", "-t", f"{TIMEOUT:g}", "-r", str(RETRIES), "-On", "-Oq"]
    if c.version is SnmpVersion.V2C:
        auth = ["-v2c", "-c", c.community]
    else:
        auth = [
            "-v3", "-l", "authPriv", "-u", c.user, "-a", str(c.auth_protocol), "-A", c.auth_key,
            "-x", "AES" if str(c.priv_protocol) == "AES" else "AES-256", "-X", c.priv_key,
        ]  # fmt: skip
    return [*common, *auth, f"{target.address}:{target.port}", *OIDS]


async def snmpget_sweep(
    targets: list[SnmpTarget], parallelism: int, env: dict[str, str]
) -> tuple[int, float, float]:
    """Fork snmpget per device, ``parallelism`` at a time; return (answered, wall, children's CPU)."""
    gate = asyncio.Semaphore(parallelism)
    answered = 0

    async def one(target: SnmpTarget) -> None:
        nonlocal answered
        async with gate:
            process = await asyncio.create_subprocess_exec(
                *snmpget_command(target), stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL, env=env,
            )  # fmt: skip
            out, _err = await asyncio.wait_for(process.communicate(), timeout=30)
            if process.returncode == 0 and out.count(b"\n") == len(OIDS):
                answered += 1

    c0, t0 = children_cpu(), time.perf_counter()
    await asyncio.gather(*(one(t) for t in targets))
    return answered, time.perf_counter() - t0, children_cpu() - c0


async def baseline(targets: list[SnmpTarget], levels: Sequence[int], full: int) -> float:
    """The best rate of snmpget forked per device (0 when snmpget is missing)."""
    if shutil.which("snmpget") is None:
        print("\nbaseline: net-snmp's snmpget is not installed (apt-get install snmp); not measured")
        return 0.0
    v3 = sum(1 for t in targets if t.credentials.version is SnmpVersion.V3)
    print(
        f"\nbaseline: net-snmp snmpget forked per device, {len(targets):,} devices ({v3:,} v3, "
        f"{len(targets) - v3:,} v2c), full inventory extrapolated from the rate:"
    )
    best = 0.0
    with tempfile.TemporaryDirectory(prefix="fleet-netsnmp-") as tmp:
        env = os.environ | {"SNMP_PERSISTENT_DIR": tmp}
        for level in levels:
            answered, wall, cpu = await snmpget_sweep(targets, level, env)
            rate = len(targets) / wall
            best = max(best, rate)
            print(
                f"  {level:4d} processes: {wall:5.1f} s, {rate:5.0f} devices/s, {answered:,}/{len(targets):,} "
                f"answered, CPU {cpu / len(targets) * 1e6:,.0f} us/device; full inventory ~{full / rate:.0f} s"
            )
    return best


# --- main ----------------------------------------------------------------------------------------


async def run(
    args: argparse.Namespace, sim: SimulatorProcess, targets: list[SnmpTarget], roles: dict[str, Role]
) -> None:
    v3 = [t for t in targets if t.credentials.version is SnmpVersion.V3]
    v2 = [t for t in targets if t.credentials.version is SnmpVersion.V2C]
    print(
        f"fleet: {len(targets):,} devices ({len(v3):,} SNMPv3 authPriv, {len(v2):,} v2c), GET of {len(OIDS)} objects"
    )
    table: dict[str, Figures] = {}
    for name, group in (("v2c", v2), ("v3", v3), ("all", targets)):
        if not group:
            continue
        print(f"\n{name}: {len(group):,} devices")
        fleet = Fleet(sim.process.pid)  # a new client per group: its first sweep is cold
        try:
            table[f"{name} cold"] = await fleet.sweep(
                "cold sweep (new client: workers start, engines discovered)", group
            )
            warm = [await fleet.sweep(f"warm sweep {i + 1}", group) for i in range(args.warm)]
            table[f"{name} warm"] = max(warm, key=lambda f: f.rate)
            if name == "all" and not args.skip_dead:
                await dead_share(fleet, sim, targets, roles, args.dead_share, args.dead_rounds)
        finally:
            fleet.close()
    best = 0.0
    if not args.skip_baseline:
        subset = targets[: args.baseline_devices]
        levels = [int(x) for x in args.parallelism.split(",") if x]
        best = await baseline(subset, levels, len(targets))
    print("\nsummary (warm: the best of the warm sweeps; ratios against the baseline of this run):")
    print(
        f"  {'sweep':10} {'devices/s':>10} {'client us/dev':>14} {'sim us/answer':>14} {'peak RSS MB':>12} {'false t/o':>10} {'x snmpget':>10}"
    )
    for label, f in table.items():
        ratio = f"{f.rate / best:.1f}x" if best else "-"
        print(
            f"  {label:10} {f.rate:10,.0f} {f.cpu_us:14,.0f} {f.sim_us:14,.0f} {f.rss:12,.0f} {f.false_timeouts:10,} {ratio:>10}"
        )
    if best:
        print(f"  snmpget forked per device (best level): {best:,.0f} devices/s")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inventory", default="inventory")
    parser.add_argument("--devices", type=int, default=0, help="only the first N devices (0: all)")
    parser.add_argument("--baseline-devices", type=int, default=600)
    parser.add_argument("--parallelism", default="32,64")
    parser.add_argument("--warm", type=int, default=2, help="warm sweeps per group")
    parser.add_argument("--dead-share", type=float, default=0.10)
    parser.add_argument("--dead-rounds", type=int, default=1, help="healthy/dead sweep pairs")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--skip-dead", action="store_true")
    args = parser.parse_args()
    inventory = validate_paths([Path(args.inventory)]).inventory
    os.environ.update(lab_secrets(inventory.credentials))
    env = dict(os.environ)
    chosen = build_targets(inventory, Scope(snmp_only=True))[: args.devices or None]
    targets = [t.snmp for t in chosen if t.snmp is not None]
    roles = {t.ref.name: t.ref.role for t in chosen}
    with tempfile.TemporaryDirectory(prefix="fleet-snmp-bench-") as tmp:
        sim = SimulatorProcess.start(Path(args.inventory), env, log=Path(tmp) / "sim.log")
        try:
            sim.wait_ready(120)
            asyncio.run(run(args, sim, targets, roles))
        finally:
            sim.stop(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
