"""A readiness run of a session of every site, with fresh polling, checked against the ground truth.

Starts `fleet sim` with seeded random faults on the inventory, imports it into a fresh SQLite
database, enrols the SSH host keys, creates a session of every site, and runs in this process:

1. readiness with no sweep data to reuse (every device polled: SNMP to all, SSH to codecs and to
   routers silent on SNMP), failing sites re-checked, verdicts recorded, reports written;
2. as a baseline in the same run, a full health sweep of the same devices (SSH to routers too),
   which is what readiness would cost if it simply swept first;
3. readiness again, right after: judged from the sweep data, failing sites polled again.

It prints wall time per stage, sites/s, client CPU, peak memory, and the comparison of every
site's verdict with the simulator's ground truth.

    .venv/bin/python bench/readiness.py [--inventory inventory] [--fault-rate 0.03] [--seed 11]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from common import cpu, lab_inventory, lab_store, peak_mb, truth_of  # bench/common.py

from fleet.engine.progress import ProgressEvent
from fleet.engine.readiness import ReadinessOptions, run_readiness
from fleet.engine.runner import run_sweep
from fleet.engine.sessions import build_session, options_definition
from fleet.engine.sweep import SweepOptions
from fleet.engine.targets import Scope
from fleet.sim.expect import compare_readiness
from fleet.sim.models.cisco_ce import BRIDGE_DIAL
from fleet.sim.process import SimulatorProcess
from fleet.store import readiness as readiness_repo
from fleet.store.types import utcnow


class Progress:
    """Prints a line per quarter of each phase, with the time since the run began."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def __call__(self, event: ProgressEvent) -> None:
        step = max(1, event.total // 4)
        if (
            event.total
            and (event.done % step == 0 or event.done == event.total)
            and event.phase.value != "done"
        ):
            print(
                f"  {time.monotonic() - self.t0:6.1f} s  {event.phase.value:<4} {event.done:>5}/{event.total}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inventory", type=Path, default=Path("inventory"))
    parser.add_argument("--fault-rate", type=float, default=0.03)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--deadline", type=float, default=110.0)
    args = parser.parse_args()

    inventory, devices = lab_inventory(args.inventory)
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        work = Path(tmp)
        env = dict(os.environ) | {"SNMP_PERSISTENT_DIR": str(work / "snmp")}
        sim_args = ["--seed", str(args.seed), "--fault-rate", str(args.fault_rate)]
        sim = SimulatorProcess.start(args.inventory, env, args=sim_args, log=work / "sim.log")
        try:
            sim.wait_ready(120)
            truth = truth_of(sim.url)
            print(f"simulator: {len(devices)} devices; {len(truth['faults'])} faults on "
                  f"{len({f['device'] for f in truth['faults']})} devices; by kind {truth['fault_counts']}")  # fmt: skip
            store, _db_url, known_hosts = lab_store(work, env, inventory)
            start = (utcnow() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M+00:00")
            fields = options_definition(
                title="bench", start=start, dial_string=BRIDGE_DIAL, participants="all"
            )
            with store.session() as db:
                session_id = readiness_repo.add_session(db, build_session(db, fields, Path("bench"))).id or 0
            sweep_options = SweepOptions(known_hosts=known_hosts)
            options = ReadinessOptions(
                sweep=sweep_options, deadline_s=args.deadline, report_dir=work / "reports"
            )

            def readiness(label: str, **overrides: Any) -> None:
                opts = replace(options, **overrides)
                print(f"\n== readiness, {label}")
                cpu0, t0 = cpu(), time.monotonic()
                done = run_readiness(
                    store, session_id, opts, listeners=(Progress(),), on_stage=lambda m: print("  " + m)
                )
                wall, used = time.monotonic() - t0, cpu() - cpu0
                run = done.run
                doc = json.loads(done.reports["json"].read_text(encoding="utf-8"))
                result = compare_readiness(doc, truth_of(sim.url), devices)
                print(f"sites {run.sites}: wall {wall:.1f} s ({run.sites / wall:.0f} sites/s); polled {run.polled} devices, "
                      f"reused {run.reused}, re-checked {run.rechecked} sites; deadline hit: {run.deadline_hit}")  # fmt: skip
                print(f"client CPU {used:.1f} s = {used / max(run.polled, 1) * 1000:.2f} ms per polled device; "
                      f"peak RSS {peak_mb():.0f} MB; counts {run.counts}")  # fmt: skip
                print(f"ground truth: {result.checked} sites, {result.faults_found} of {result.faults_expected} faulty "
                      f"sites exact, {len(result.mismatches)} mismatches, {len(result.chance)} by chance")  # fmt: skip
                for line in result.mismatches[:20]:
                    print("  MISMATCH", line)

            readiness("fresh polling (no sweep data)", reuse_minutes=0.0)
            print("\n== baseline: a full health sweep of the same devices (SSH to routers and codecs)")
            cpu0, t0 = cpu(), time.monotonic()
            swept = run_sweep(
                store, Scope(), sweep_options, retention=timedelta(days=30), listeners=(Progress(),)
            )
            wall = time.monotonic() - t0
            print(f"devices {len(swept.result.healths)}: wall {wall:.1f} s; SNMP {swept.result.snmp_seconds:.1f} s, "
                  f"SSH {swept.result.ssh_seconds:.1f} s for {swept.result.ssh_sessions} sessions; "
                  f"client CPU {cpu() - cpu0:.1f} s")  # fmt: skip
            readiness("right after the sweep (its data reused)")
            store.close()
        finally:
            sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
