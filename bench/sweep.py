"""A whole health sweep of an inventory against the simulator, checked against its ground truth.

Starts `fleet sim` with seeded random faults, imports the inventory into a fresh SQLite database,
enrols the SSH host keys, then runs in this process:

1. an SNMP-only sweep (the first after start-up: a cold client), and
2. a full sweep (SNMP, then SSH to routers and codecs),

each recorded in the database as `fleet sweep` records it, and prints wall time, devices/s,
client CPU per device, peak memory, and how every device's verdict compares with the simulator's
ground truth (every injected fault found with the right reason and party; no healthy device
flagged).

    .venv/bin/python bench/sweep.py [--inventory inventory] [--fault-rate 0.03] [--seed 11]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from common import cpu, lab_inventory, lab_store, peak_mb, truth_of  # bench/common.py

from fleet.engine.runner import run_sweep
from fleet.engine.sweep import SweepOptions
from fleet.engine.targets import Scope
from fleet.sim.expect import SweepConditions, compare
from fleet.sim.process import SimulatorProcess


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inventory", type=Path, default=Path("inventory"))
    parser.add_argument("--fault-rate", type=float, default=0.03)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--ssh-workers", type=int, default=50)
    parser.add_argument("--skip-full", action="store_true", help="Only the SNMP-only sweep.")
    args = parser.parse_args()

    inventory, devices = lab_inventory(args.inventory)

    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        work = Path(tmp)
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

            runs = [("SNMP-only (cold)", Scope(snmp_only=True))]
            if not args.skip_full:
                runs.append(("full (SNMP + SSH)", Scope()))
            for label, scope in runs:
                options = SweepOptions(known_hosts=known_hosts, ssh_workers=args.ssh_workers)
                cpu0, t0 = cpu(), time.monotonic()
                done = run_sweep(store, scope, options, retention=timedelta(days=30))
                wall, used = time.monotonic() - t0, cpu() - cpu0
                truth = truth_of(sim.url)
                result = done.result
                n = len(result.healths)
                cond = SweepConditions(snmp_only=scope.snmp_only)
                comparison = compare(result.healths, truth, devices, cond)
                print(f"\n== {label} sweep {done.sweep.id}")
                print(f"devices {n}: wall {wall:.1f} s ({n / wall:.0f} devices/s); SNMP phase {result.snmp_seconds:.1f} s, "
                      f"SSH phase {result.ssh_seconds:.1f} s for {result.ssh_sessions} sessions"
                      + (f" ({result.ssh_sessions / result.ssh_seconds:.0f}/s)" if result.ssh_seconds else ""))  # fmt: skip
                print(
                    f"client CPU {used:.1f} s = {used / n * 1000:.2f} ms/device; peak RSS {peak_mb():.0f} MB"
                )
                print(f"by status: { {k.value: v for k, v in result.by_status().items()} }")
                print(f"ground truth: {comparison.checked} devices checked, {comparison.faults_found} of "
                      f"{comparison.faults_expected} faulty devices found exactly, {len(comparison.mismatches)} mismatches; "
                      f"out of a sweep's scope: {comparison.out_of_scope}; found by chance: {len(comparison.chance)}")  # fmt: skip
                for line in comparison.mismatches[:20]:
                    print("  MISMATCH", line)
            store.close()
        finally:
            sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
