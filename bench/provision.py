"""The baseline playbook over every router and codec of the inventory, checked against the simulator.

Starts `fleet sim` on the inventory with a seeded scenario: configuration drift on a share of the
routers and codecs, and among the drifted ones a few that reset the connection mid-push, refuse a
line, or refuse the login. Imports the inventory into a fresh SQLite database, enrols the host keys,
then runs in this process:

1. a dry run: it must name exactly the drifted devices, and change nothing;
2. as a baseline in the same run, one SSH session per device reading its running configuration
   (the floor for any run that must read every device);
3. apply: drifted devices changed and verified, the faulty ones restored (each compared byte for
   byte with the simulator's configuration before the run) or failed at login;
4. the faults cleared, apply again: only what was left is changed;
5. a last dry run: nothing to do.

It prints wall time, devices/s, client CPU, peak memory and the checks for each stage.

    .venv/bin/python bench/provision.py [--inventory inventory] [--drift 0.05] [--seed 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import replace
from pathlib import Path

from common import cpu, lab_inventory, lab_store, peak_mb  # bench/common.py

from fleet.domain.enums import Role
from fleet.domain.provision import DeviceOutcome, DeviceProvision, ProvisionMode
from fleet.engine.provision import Planned, ProvisionOptions, prepare, run_provision
from fleet.engine.targets import Scope
from fleet.provision.playbook import load_playbook
from fleet.provision.templates import Templates
from fleet.sim.process import SimulatorProcess
from fleet.store import inventory as inventory_repo
from fleet.store.db import Store
from fleet.transports.ssh import SshClient


def sim_get(url: str, path: str) -> str:
    with urllib.request.urlopen(url + path, timeout=30) as response:  # noqa: S310 - loopback
        return str(response.read().decode())


def sim_clear(url: str, device: str) -> None:
    request = urllib.request.Request(  # noqa: S310 - loopback
        url + "/faults", data=json.dumps({"device": device}).encode(), method="DELETE"
    )
    with urllib.request.urlopen(request, timeout=30):  # noqa: S310
        pass


def scenario(names: list[str], drift: float, seed: int) -> tuple[str, set[str], dict[str, str]]:
    """Scenario text, the drifted devices, and the push faults (device -> fault) among them."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible sample, not a secret
    drifted = {n for n in names if rng.random() < drift}
    pick = sorted(drifted)
    rng.shuffle(pick)
    faults = dict.fromkeys(pick[:10], "reset_during_push")
    faults |= dict.fromkeys(pick[10:20], "config_rejected")
    faults |= dict.fromkeys(pick[20:25], "ssh_auth_failure")
    lines = [f"seed: {seed}", "faults:"]
    for name in sorted(drifted):
        lines += [f"  - device: {name}", "    fault: config_drift"]
    for name, kind in sorted(faults.items()):
        lines += [f"  - device: {name}", f"    fault: {kind}"]
        codec = name.endswith("-codec")
        if kind == "reset_during_push":  # codecs take one line: reset on it; routers after the first
            lines.append(f"    after_lines: {0 if codec else 1}")
        if kind == "config_rejected":  # the value the drift replaced (the restore never sends it)
            lines.append(f"    match: '{'hoinghi.gov.vn' if codec else '10.10.0.1'}'")
    return "\n".join(lines) + "\n", drifted, faults


def measure(
    label: str, store: Store, planned: list[Planned], options: ProvisionOptions
) -> list[DeviceProvision]:
    print(f"\n== {label}")
    t0, cpu0 = time.monotonic(), cpu()
    marks = {len(planned) * k // 4 for k in range(1, 5)}

    def progress(_result: DeviceProvision, done: int, total: int) -> None:
        if done in marks:
            print(f"  {time.monotonic() - t0:6.1f} s  {done:>5}/{total}")

    outcome = asyncio.run(run_provision(store, planned, options, listener=progress))
    wall, used = time.monotonic() - t0, cpu() - cpu0
    counts = Counter(r.outcome.value for r in outcome.results)
    print(f"devices {len(planned)}: wall {wall:.1f} s ({len(planned) / wall:.0f} devices/s); client CPU "
          f"{used:.1f} s ({used / len(planned) * 1000:.1f} ms per device); peak RSS {peak_mb():.0f} MB")  # fmt: skip
    print(f"outcomes {dict(sorted(counts.items()))}; stopped: {outcome.stopped or 'no'}")
    return outcome.results


def check(label: str, got: set[str], expected: set[str]) -> bool:
    ok = got == expected
    extra, missing = sorted(got - expected)[:5], sorted(expected - got)[:5]
    print(f"  {'OK ' if ok else 'BAD'} {label}: {len(got)} (expected {len(expected)})"
          + ("" if ok else f"; unexpected {extra}, missing {missing}"))  # fmt: skip
    return ok


def main() -> int:  # noqa: PLR0915 - one straight script
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inventory", type=Path, default=Path("inventory"))
    parser.add_argument("--drift", type=float, default=0.05, help="share of routers and codecs drifted")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--workers", type=int, default=50)
    args = parser.parse_args()

    inventory, devices = lab_inventory(args.inventory)
    names = [n for n, (role, _c, _s) in devices.items() if role in (Role.ROUTER, Role.CODEC)]
    text, drifted, faults = scenario(names, args.drift, args.seed)
    good = True
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        work = Path(tmp)
        (work / "scenario.yaml").write_text(text, encoding="utf-8")
        env = dict(os.environ) | {"SNMP_PERSISTENT_DIR": str(work / "snmp")}
        sim = SimulatorProcess.start(
            args.inventory, env, args=["--scenario", str(work / "scenario.yaml")], log=work / "sim.log"
        )
        try:
            sim.wait_ready(120)
            print(f"simulator: {len(names)} routers and codecs; {len(drifted)} drifted, of which "
                  f"{Counter(faults.values())} also fail the push")  # fmt: skip
            store, _db_url, known_hosts = lab_store(work, env, inventory)
            templates = Templates.open()
            playbook = load_playbook(Path("playbooks/provision/baseline.yaml"), templates)
            t0 = time.monotonic()
            with store.session() as db:
                planned = prepare(db, inventory_repo.load_inventory(db), Scope(), playbook, templates)
            print(f"prepared {len(planned)} devices (rendered and parsed) in {time.monotonic() - t0:.2f} s")
            base = ProvisionOptions(known_hosts=known_hosts, workers=args.workers, actor="bench", canary=5)

            def outcome_set(results: list[DeviceProvision], *kinds: DeviceOutcome) -> set[str]:
                return {r.device for r in results if r.outcome in kinds}

            before = {n: sim_get(sim.url, f"/devices/{n}/config") for n in drifted}
            results = measure("dry run", store, planned, base)
            good &= check("would change = drifted", outcome_set(results, DeviceOutcome.WOULD_CHANGE),
                          drifted - {n for n, f in faults.items() if f == "ssh_auth_failure"})  # fmt: skip
            after = {n: sim_get(sim.url, f"/devices/{n}/config") for n in drifted}
            good &= check("drifted devices unchanged by the dry run", {n for n in drifted if before[n] == after[n]},
                          drifted)  # fmt: skip

            print("\n== baseline: one SSH session per device reading its running configuration")
            jobs = [(p.target.ssh, [p.job.syntax.show_running]) for p in planned if p.target.ssh]
            client = SshClient(known_hosts, workers=args.workers, time_limit=60)
            t0, cpu0 = time.monotonic(), cpu()
            read = asyncio.run(client.run_many(jobs))
            client.close()
            wall, used = time.monotonic() - t0, cpu() - cpu0
            print(f"devices {len(jobs)}: wall {wall:.1f} s ({len(jobs) / wall:.0f} devices/s); client CPU "
                  f"{used:.1f} s; errors {sum(not r.ok for r in read)}")  # fmt: skip

            results = measure("apply", store, planned, replace(base, mode=ProvisionMode.APPLY))
            pushed = {n for n, f in faults.items() if f != "ssh_auth_failure"}
            locked = {n for n, f in faults.items() if f == "ssh_auth_failure"}
            good &= check("changed = drifted without faults", outcome_set(results, DeviceOutcome.CHANGED),
                          drifted - set(faults))  # fmt: skip
            good &= check(
                "restored = reset or refused mid-push", outcome_set(results, DeviceOutcome.RESTORED), pushed
            )
            good &= check(
                "failed at login = auth failures", outcome_set(results, DeviceOutcome.FAILED), locked
            )
            exact = {n for n in pushed if sim_get(sim.url, f"/devices/{n}/config") == before[n]}
            good &= check("restored byte for byte", exact, pushed)
            for name in faults:
                sim_clear(sim.url, name)  # clears the drift too: put it back to have something to fix
            for name in faults:
                request = urllib.request.Request(  # noqa: S310 - loopback
                    sim.url + "/faults",
                    data=json.dumps({"device": name, "fault": "config_drift"}).encode(),
                    method="POST",
                )
                with urllib.request.urlopen(request, timeout=30):  # noqa: S310
                    pass
            results = measure(
                "apply again, push faults cleared", store, planned, replace(base, mode=ProvisionMode.APPLY)
            )
            good &= check("changed = what was left", outcome_set(results, DeviceOutcome.CHANGED), set(faults))
            results = measure("dry run again", store, planned, base)
            good &= check(
                "nothing to do",
                outcome_set(results, DeviceOutcome.UNCHANGED),
                {p.job.device for p in planned},
            )
            store.close()
        finally:
            sim.stop()
    print("\nall checks passed" if good else "\nSOME CHECKS FAILED")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
