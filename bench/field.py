"""Field links: backups, pushes and sweeps on slow, lossy and half-broken devices, checked against them.

Starts `fleet sim` on a generated inventory (addresses 127.251-253.x.y, apart from the shipped ones)
where every router and codec of the first sites has drifted from the baseline and carries one field
fault: a slow link (2.5 s, the simulator's default, and 1.2 s), a lossy one (30 % and 50 % of what it
sends held back), a session reset at the first command or in the middle of a push, a line refused,
a login refused, no SSH banner, no power. Then it runs, as an operator would, `fleet ssh trust`,
`fleet config backup`, `fleet provision baseline` (dry run) and `--apply`, and checks each device's
outcome against the simulator's own configuration before and after:

- a backup is recorded only when it is the device's whole configuration (compared line for line);
- `changed`: the device now has the baseline; `failed` and `restored`: it is exactly as before;
  `restore_failed` only when it really differs from before; no device is left unaccounted for.

It prints, per fault, the outcomes and the time each device took, and exits 1 on any mismatch.

    .venv/bin/python bench/field.py [--sites 24] [--delay-ms 2500]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from common import cpu, peak_mb  # bench/common.py

from fleet.drivers.configs import IOS, VRP, XAPI, ConfigSyntax
from fleet.inventory.generator import generate
from fleet.inventory.writer import SHIPPED_LAYOUT, write_inventory
from fleet.sim.lab import lab_secrets
from fleet.sim.process import SimulatorProcess

ADDRESS_BASE = 251
SYNTAX = {"cisco_ios": IOS, "huawei_vrp": VRP, "cisco_ce": XAPI}


def faults(delay_ms: int) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("slow", {"delay_ms": delay_ms}),
        ("slow", {"delay_ms": delay_ms // 2}),
        ("loss", {"rate": 0.3}),
        ("loss", {"rate": 0.5}),
        ("ssh_reset", {}),
        ("reset_during_push", {"after_lines": 1}),
        ("config_rejected", {"match": "ntp"}),
        ("ssh_auth_failure", {}),
        ("ssh_no_banner", {}),
        ("powered_off", {}),
        ("none", {}),
    ]


def sim_call(url: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method)  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        text = answer.read().decode()
        kind = answer.headers.get("Content-Type", "")
    return json.loads(text) if "json" in kind else text


def fleet(env: dict[str, str], *args: str) -> tuple[int, Any, float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "fleet", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    took = time.monotonic() - started
    try:
        data = json.loads(done.stdout)
    except json.JSONDecodeError:
        data = done.stdout + done.stderr
    return done.returncode, data, took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=24)
    parser.add_argument("--delay-ms", type=int, default=2500)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fleet-field-"))
    generated = generate(sites=args.sites, seed=11, address_base=ADDRESS_BASE)
    (work / "inventory").mkdir()
    write_inventory(work / "inventory", generated.sections(), SHIPPED_LAYOUT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
    env |= lab_secrets(generated.credentials) | {
        "FLEET_DATABASE_URL": f"sqlite:///{work / 'field.db'}",
        "FLEET_SSH_KNOWN_HOSTS": str(work / "known_hosts"),
        "FLEET_LAB_DIR": str(work / "no-lab"),
        "SNMP_PERSISTENT_DIR": str(work / "snmp"),
    }
    devices = {d.name: d for d in generated.devices if d.driver in SYNTAX}
    plan = faults(args.delay_ms)
    chosen: dict[str, tuple[str, dict[str, Any]]] = {}
    for i, name in enumerate(sorted(devices)):
        chosen[name] = plan[i % len(plan)]
    sim = SimulatorProcess.start(work / "inventory", env, args=["--seed", "3"], log=work / "sim.log")
    sim.wait_ready(60)
    cpu0 = cpu()
    try:
        if fleet(env, "inventory", "import", str(work / "inventory"))[0] != 0:
            print("the generated inventory did not import")
            return 1
        code, _out, took = fleet(env, "ssh", "trust")
        print(f"ssh trust: exit {code}, {took:.1f} s")
        for name, (kind, params) in chosen.items():
            sim_call(sim.url, "POST", "/faults", {"device": name, "fault": "config_drift"})
            if kind != "none":
                sim_call(sim.url, "POST", "/faults", {"device": name, "fault": kind, "params": params})
        before = {n: sim_call(sim.url, "GET", f"/devices/{n}/config") for n in chosen}
        stages: dict[str, dict[str, dict[str, Any]]] = {}
        for stage, command in (
            ("backup", ("config", "backup", "--json")),
            ("dry run", ("provision", "baseline", "--json")),
            (
                "apply",
                ("provision", "baseline", "--apply", "--canary", "0", "--max-failure-rate", "1", "--json"),
            ),
        ):
            code, data, took = fleet(env, *command)
            rows = data["devices"] if isinstance(data, dict) else []
            stages[stage] = {d["device"]: d for d in rows}
            print(
                f"{stage}: exit {code}, {took:.1f} s, {len(rows)} devices: {dict(Counter(d['outcome'] for d in rows))}"
            )
        after = {n: sim_call(sim.url, "GET", f"/devices/{n}/config") for n in chosen}
        kept = _kept(work / "field.db")
        problems = _check(chosen, devices, before, after, kept, stages)
    finally:
        sim.stop()
    _table(chosen, stages)
    print(f"client CPU {cpu() - cpu0:.1f} s, peak RSS {peak_mb():.0f} MB; work folder {work}")
    for problem in problems:
        print("MISMATCH", problem)
    print("all checks passed" if not problems else f"{len(problems)} mismatch(es)")
    return 1 if problems else 0


def _kept(db: Path) -> dict[str, str]:
    import sqlite3  # noqa: PLC0415 - only here

    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT device, text FROM config_backup ORDER BY version DESC").fetchall()
    return dict(rows)  # the first version per device: what `fleet config backup` kept


def _check(
    chosen: dict[str, tuple[str, dict[str, Any]]],
    devices: dict[str, Any],
    before: dict[str, str],
    after: dict[str, str],
    kept: dict[str, str],
    stages: dict[str, dict[str, dict[str, Any]]],
) -> list[str]:
    problems = []
    for name, (kind, _params) in chosen.items():
        syntax: ConfigSyntax = SYNTAX[devices[name].driver]
        if name in kept and syntax.parse(kept[name]) != syntax.parse(before[name]):
            problems.append(f"{name} ({kind}): the backup kept is not its whole configuration")
        backup = stages["backup"].get(name, {})
        if backup.get("outcome") == "unchanged" and name not in kept:
            problems.append(f"{name} ({kind}): backup reported ok, nothing kept")
        outcome = stages["apply"].get(name, {}).get("outcome")
        same = syntax.parse(after[name]) == syntax.parse(before[name])
        if outcome is None:
            problems.append(f"{name} ({kind}): no apply outcome")
        elif outcome in ("failed", "restored") and not same:
            problems.append(f"{name} ({kind}): {outcome}, but its configuration changed")
        elif outcome == "restore_failed" and same:
            problems.append(f"{name} ({kind}): restore_failed, but it is as it was")
        elif outcome == "changed" and ("10.99.0.1" in after[name] or "old-registrar" in after[name]):
            problems.append(f"{name} ({kind}): changed, but still drifted")
    return problems


def _table(
    chosen: dict[str, tuple[str, dict[str, Any]]], stages: dict[str, dict[str, dict[str, Any]]]
) -> None:
    rows: dict[str, list[str]] = defaultdict(list)
    for name, (kind, params) in chosen.items():
        label = kind + (f" {next(iter(params.values()))}" if params else "")
        cells = []
        for stage in ("backup", "apply"):
            row = stages[stage].get(name, {})
            cells.append(f"{row.get('outcome', '-')} {row.get('seconds') or 0:.1f}s")
        reason = (stages["apply"].get(name, {}).get("reason") or "")[:70]
        rows[label].append(f"{name}: backup {cells[0]}, apply {cells[1]} {reason}")
    for label in sorted(rows):
        print(f"{label}:")
        for line in rows[label]:
            print(f"  {line}")


if __name__ == "__main__":
    sys.exit(main())
