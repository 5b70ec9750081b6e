"""Does the simulator scale out? One process against several (`fleet sim --processes N`), in one run.

For each N (default 1 and 2), with every figure summed over all the simulator's processes (the
parent and its shards, from /proc):

1. the shipped inventory (9,963 devices): start time (start to /health ready), RSS when ready; the
   simulator's CPU per SNMP answer under fleet's SnmpClient (warm sweeps of every device, v2c and
   v3, GET of 5 objects) beside the client's CPU per answer; the simulator's CPU per SSH session
   under fleet's StatusReader (codecs, one 'xStatus' each) beside the client's; RSS after the load;
2. the 32,000-device fleet (`generate(sites=10600)`): start time, RSS when ready and after one SNMP
   sweep of every device (v3 keys localised per device), against the 1 GiB budget.

    .venv/bin/python bench/sim_scale.py [--processes 1,2] [--sweeps 2] [--codecs 1500] [--skip-32k]

Needs the shipped addresses free: run it in a network namespace of its own
(unshare --net bash -c 'ip link set lo up && .venv/bin/python bench/sim_scale.py').
Figures are noisy on a shared machine: compare N=1 and N=2 from the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from fleet.engine.targets import Scope, build_targets
from fleet.inventory.generator import generate
from fleet.inventory.validate import Inventory, validate_paths
from fleet.inventory.writer import SHIPPED_LAYOUT, write_inventory
from fleet.sim.errors import SimError
from fleet.sim.lab import lab_secrets
from fleet.sim.process import SimulatorProcess
from fleet.sim.ssh import host_key
from fleet.transports.known_hosts import HostKey, KnownHosts
from fleet.transports.snmp import SnmpClient, SnmpTarget
from fleet.transports.ssh_read import StatusReader
from fleet.transports.ssh_types import SshTarget

OIDS = ["1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.2.2.1.8.1", "1.3.6.1.2.1.2.2.1.10.1",
        "1.3.6.1.2.1.31.1.1.1.6.1"]  # fmt: skip
TICKS = os.sysconf("SC_CLK_TCK")
BUDGET_MB = 1024


def tree(pid: int) -> list[int]:
    """The simulator's process and its shards."""
    found = [pid]
    for each in found:
        for task in Path(f"/proc/{each}/task").glob("*"):
            try:
                found.extend(int(c) for c in (task / "children").read_text().split())
            except OSError:
                continue
    return found


def cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


class Run:
    """One simulator (N processes) on one inventory."""

    def __init__(self, inventory_dir: Path, processes: int, env: dict[str, str], work: Path) -> None:
        """``processes`` 0: fleet sim's default."""
        log = work / f"sim-{inventory_dir.name}-{processes}.log"
        args = ["--processes", str(processes)] if processes else []
        started = time.perf_counter()
        self.sim = SimulatorProcess.start(inventory_dir, env, args=args, log=log)
        self.sim.wait_ready(600)
        self.start_s = time.perf_counter() - started
        self.pids = tree(self.sim.process.pid)
        self.ready_mb = rss_mb(self.pids)

    def snmp(self, targets: list[SnmpTarget], sweeps: int) -> tuple[float, float, int]:
        """(simulator us CPU per answer, client us CPU per answer, answers) over the warm sweeps."""
        client = SnmpClient(timeout=1.0, retries=1, in_flight=200)
        try:
            asyncio.run(client.get_many([(t, OIDS) for t in targets]))  # cold: engines discovered
            sim0, own0, workers0 = cpu(self.pids), time.process_time(), client.stats.worker_cpu
            answers = 0
            for _ in range(sweeps):
                before = client.stats.datagrams
                asyncio.run(client.get_many([(t, OIDS) for t in targets]))
                answers += client.stats.datagrams - before
            sim = cpu(self.pids) - sim0
            own = time.process_time() - own0 + client.stats.worker_cpu - workers0
        finally:
            client.close()
        answers = max(answers, 1)
        return sim / answers * 1e6, own / answers * 1e6, answers

    def ssh(self, jobs: list[tuple[SshTarget, list[str]]], known_hosts: Path) -> tuple[float, float, int]:
        """(simulator ms CPU per session, client ms CPU per session, sessions that worked)."""
        reader = StatusReader(known_hosts, in_flight=200, time_limit=60)
        sim0, own0 = cpu(self.pids), time.process_time()
        results = asyncio.run(reader.run_many(jobs))
        sim, own = cpu(self.pids) - sim0, time.process_time() - own0
        reader.close()
        ok = sum(1 for r in results if r.ok)
        return sim / len(jobs) * 1000, own / len(jobs) * 1000, ok

    def stop(self) -> None:
        self.sim.stop(60)


def snmp_targets(inventory: Inventory) -> list[SnmpTarget]:
    return [t.snmp for t in build_targets(inventory, Scope(snmp_only=True)) if t.snmp is not None]


def ssh_jobs(
    inventory: Inventory, env: dict[str, str], count: int, known_hosts: Path
) -> list[tuple[SshTarget, list[str]]]:
    """The first ``count`` codecs, their host keys known (the simulator's, seed 1)."""
    profiles = {p.name: p for p in inventory.credentials}
    known = KnownHosts.load(known_hosts)
    jobs = []
    for d in [d for d in inventory.devices if d.driver == "cisco_ce"][:count]:
        profile = profiles[d.credential_profile]
        assert profile.ssh_password is not None  # noqa: S101 - codecs have SSH credentials
        key_type, blob = host_key(1, d.name).export_public_key("openssh").decode().split()[:2]
        known.enrol(d.mgmt_address, d.ssh_port or 22, HostKey(key_type, blob))
        target = SshTarget(d.name, d.mgmt_address, d.ssh_port or 22, "cisco_tp", profile.ssh_user,
                           env[profile.ssh_password.target])  # fmt: skip
        jobs.append((target, ["xStatus"]))
    known.save()
    return jobs


def big_row(n: int, big_dir: Path, big: Inventory, env: dict[str, str], work: Path) -> str:
    """The 32,000-device fleet with ``n`` processes (0: the default): start, RSS, one SNMP sweep."""
    label = f"N={n:<7}" if n else "default N"
    try:
        run = Run(big_dir, n, env, work)
    except SimError as exc:  # e.g. more sockets than one process may open
        print(
            f"{label}, {len(big.devices):,} devices: cannot start: {str(exc).splitlines()[-1]}",
            flush=True,
        )
        return f"  {label} {len(big.devices):>6,} cannot start"
    try:
        big_targets = snmp_targets(big)
        sim_us, client_us, answers = run.snmp(big_targets, 1)
        loaded_mb = rss_mb(run.pids)
    finally:
        run.stop()
    verdict = "within" if loaded_mb <= BUDGET_MB else "OVER"
    print(
        f"{label}, {len(big.devices):,} devices: ready in {run.start_s:.1f} s, RSS {run.ready_mb:.0f} MB in "
        f"{len(run.pids)} processes, {loaded_mb:.0f} MB after an SNMP sweep ({verdict} {BUDGET_MB} MB); "
        f"SNMP: simulator {sim_us:.0f} us CPU per answer, client {client_us:.0f} us ({answers:,} answers)",
        flush=True,
    )
    return (f"  {label} {len(big.devices):>6,} {run.start_s:8.1f} {run.ready_mb:9.0f} {loaded_mb:10.0f} "
            f"{sim_us:9.0f} {client_us:9.0f} {'-':>9} {'-':>9}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inventory", default="inventory")
    parser.add_argument("--processes", default="1,2", help="simulator processes to compare, in this order")
    parser.add_argument("--sweeps", type=int, default=2, help="warm SNMP sweeps of every device")
    parser.add_argument("--codecs", type=int, default=1500, help="SSH sessions: the first N codecs")
    parser.add_argument("--skip-32k", action="store_true")
    args = parser.parse_args()
    counts = [int(n) for n in args.processes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="fleet-sim-scale-"))
    shipped_dir = Path(args.inventory)
    shipped = validate_paths([shipped_dir]).inventory
    big_dir = work / "inventory-32k"
    generated = generate(sites=10600)
    write_inventory(big_dir, generated.sections(), SHIPPED_LAYOUT)
    big = validate_paths([big_dir]).inventory
    os.environ.update(lab_secrets(shipped.credentials) | lab_secrets(big.credentials))
    env = dict(os.environ)
    targets = snmp_targets(shipped)
    known_hosts = work / "known_hosts"
    jobs = ssh_jobs(shipped, env, args.codecs, known_hosts)
    rows: list[str] = []
    for n in counts:
        run = Run(shipped_dir, n, env, work)
        try:
            sim_us, client_us, answers = run.snmp(targets, args.sweeps)
            sim_ms, client_ms, ok = run.ssh(jobs, known_hosts)
            loaded_mb = rss_mb(run.pids)
        finally:
            run.stop()
        print(
            f"N={n}, {len(shipped.devices):,} devices: ready in {run.start_s:.1f} s, RSS {run.ready_mb:.0f} MB "
            f"in {len(run.pids)} processes ({loaded_mb:.0f} MB after the load); SNMP: simulator "
            f"{sim_us:.0f} us CPU per answer, client {client_us:.0f} us ({answers:,} answers); SSH: simulator "
            f"{sim_ms:.2f} ms CPU per session, client {client_ms:.2f} ms ({ok:,}/{len(jobs):,} sessions ok)",
            flush=True,
        )
        rows.append(f"  N={n:<7} {len(shipped.devices):>6,} {run.start_s:8.1f} {run.ready_mb:9.0f} {loaded_mb:10.0f} "
                    f"{sim_us:9.0f} {client_us:9.0f} {sim_ms:9.2f} {client_ms:9.2f}")  # fmt: skip
    for n in [] if args.skip_32k else [*counts, 0]:
        rows.append(big_row(n, big_dir, big, env, work))
    print(
        "\nsummary (RSS summed over the simulator's processes; CPU per SNMP answer in us, per SSH session in ms):"
    )
    print(f"  {'':9} {'devices':>6} {'start s':>8} {'ready MB':>9} {'loaded MB':>10} {'sim us':>9} {'client us':>9} "
          f"{'sim ms':>9} {'client ms':>9}")  # fmt: skip
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
