"""A whole health sweep of an inventory against the simulator, checked against its ground truth.

Starts `fleet sim` with seeded random faults, imports the inventory into a fresh SQLite database,
enrols the SSH host keys, then runs in this process:

1. an SNMP-only sweep (the first after start-up: a cold client), and
2. a full sweep (SNMP, then SSH to routers and codecs) with each SSH reader asked for, the baseline
   (netmiko threads, the collector of before) first,

each recorded in the database as `fleet sweep` records it, and prints wall time, devices/s, client
CPU per device beside the simulator's, peak memory of both, how every device's verdict compares
with the simulator's ground truth (every injected fault found with the right reason and party; no
healthy device flagged), and each reader's ratio to the baseline of the same run.

    .venv/bin/python bench/sweep.py [--inventory inventory | --sites 10600] [--fault-rate 0.03]
                                    [--seed 11] [--readers netmiko,asyncssh]

--sites generates an inventory of that many sites (pre-2025 scale: 10600, about 32,000 devices).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from common import (  # bench/common.py
    RssSampler,
    cpu,
    lab_inventory,
    lab_store,
    proc_cpu,
    proc_peak_mb,
    truth_of,
)

from fleet.engine.runner import run_sweep
from fleet.engine.sweep import SweepOptions
from fleet.engine.targets import Scope
from fleet.inventory.generator import generate
from fleet.inventory.writer import SHIPPED_LAYOUT, write_inventory
from fleet.sim.expect import SweepConditions, compare
from fleet.sim.process import SimulatorProcess
from fleet.transports.ssh_types import SshReader


def main() -> int:  # noqa: PLR0915 - the benchmark's steps, in order
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inventory", type=Path, default=Path("inventory"))
    parser.add_argument("--fault-rate", type=float, default=0.03)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--sites", type=int, default=0, help="generate this many sites instead")
    parser.add_argument("--ssh-workers", type=int, default=50, help="netmiko threads (baseline)")
    parser.add_argument("--ssh-in-flight", type=int, default=200, help="asyncssh sessions at once")
    parser.add_argument("--readers", default="netmiko,asyncssh", help="full sweeps, in this order")
    parser.add_argument("--skip-full", action="store_true", help="Only the SNMP-only sweep.")
    args = parser.parse_args()
    readers = [SshReader(r) for r in args.readers.split(",") if r]

    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        work = Path(tmp)
        if args.sites:
            args.inventory = work / "inventory"
            write_inventory(args.inventory, generate(sites=args.sites).sections(), SHIPPED_LAYOUT)
        inventory, devices = lab_inventory(args.inventory)
        env = dict(os.environ) | {"SNMP_PERSISTENT_DIR": str(work / "snmp")}
        sim_args = ["--seed", str(args.seed), "--fault-rate", str(args.fault_rate)]
        started = time.monotonic()
        sim = SimulatorProcess.start(args.inventory, env, args=sim_args, log=work / "sim.log")
        try:
            sim.wait_ready(120)
            print(f"simulator: {len(devices)} devices ready in {time.monotonic() - started:.1f} s")
            truth = truth_of(sim.url)
            print(f"faults injected: {len(truth['faults'])} on {len({f['device'] for f in truth['faults']})} devices, "
                  f"{len(truth['unreachable'])} devices behind dark routers; by kind: {truth['fault_counts']}")  # fmt: skip

            store, _db_url, known_hosts = lab_store(work, env, inventory)

            runs = [("SNMP-only (cold)", Scope(snmp_only=True), SshReader.ASYNCSSH)]
            if not args.skip_full:
                runs += [(f"full (SNMP + SSH, {r.value})", Scope(), r) for r in readers]
            walls: dict[SshReader, float] = {}
            for label, scope, reader in runs:
                options = SweepOptions(
                    known_hosts=known_hosts,
                    ssh_reader=reader,
                    ssh_workers=args.ssh_workers,
                    ssh_in_flight=args.ssh_in_flight,
                )
                cpu0, sim0, t0 = cpu(), proc_cpu(sim.process.pid), time.monotonic()
                with RssSampler(exclude=(sim.process.pid,)) as rss:
                    done = run_sweep(store, scope, options, retention=timedelta(days=30))
                wall, used = time.monotonic() - t0, cpu() - cpu0
                sim_used = proc_cpu(sim.process.pid) - sim0
                if not scope.snmp_only:
                    walls[reader] = wall
                truth = truth_of(sim.url)
                result = done.result
                n = len(result.healths)
                cond = SweepConditions(snmp_only=scope.snmp_only)
                comparison = compare(result.healths, truth, devices, cond)
                print(f"\n== {label} sweep {done.sweep.id}")
                print(f"devices {n}: wall {wall:.1f} s ({n / wall:.0f} devices/s); SNMP phase {result.snmp_seconds:.1f} s, "
                      f"SSH phase {result.ssh_seconds:.1f} s for {result.ssh_sessions} sessions"
                      + (f" ({result.ssh_sessions / result.ssh_seconds:.0f}/s)" if result.ssh_seconds else ""))  # fmt: skip
                print(f"client CPU {used:.1f} s = {used / n * 1000:.2f} ms/device; simulator CPU {sim_used:.1f} s = "
                      f"{sim_used / n * 1000:.2f} ms/device; peak RSS client {rss.peak:.0f} MB (with its workers), "
                      f"simulator {proc_peak_mb(sim.process.pid):.0f} MB")  # fmt: skip
                print(f"by status: { {k.value: v for k, v in result.by_status().items()} }")
                print(f"ground truth: {comparison.checked} devices checked, {comparison.faults_found} of "
                      f"{comparison.faults_expected} faulty devices found exactly, {len(comparison.mismatches)} mismatches; "
                      f"out of a sweep's scope: {comparison.out_of_scope}; found by chance: {len(comparison.chance)}")  # fmt: skip
                for line in comparison.mismatches[:20]:
                    print("  MISMATCH", line)
            if SshReader.NETMIKO in walls and len(walls) > 1:
                base = walls[SshReader.NETMIKO]
                print("\n== full sweep against the baseline (netmiko) of this run")
                for reader, wall in walls.items():
                    print(f"{reader.value:>9}: {wall:.1f} s, {base / wall:.2f}x the baseline's speed")
            store.close()
        finally:
            sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
