"""API latency under 50 concurrent readers while a full health sweep writes.

Starts `fleet sim` on the shipped inventory (3,321 sites, 9,963 devices, 3% faulty), imports it
into a fresh SQLite database, enrols the host keys, runs one full sweep so there is state to read,
then starts `fleet serve --no-scheduler` and drives it with N concurrent clients (asyncio, one
connection each) that read what a wall display and other systems read: device state pages, one
device, its history, sites, sweeps, the scheduler, metrics.

1. baseline: the same readers for --quiet seconds with nothing else running;
2. under load: the readers while a full sweep (SNMP and SSH to every device) runs through the API.

Prints requests, failures, requests/s and latency percentiles per stage, and the ratio of the
loaded p95 to the quiet one. Exits non-zero if any request failed.

    .venv/bin/python bench/api_load.py [--clients 50] [--quiet 20] [--inventory inventory]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
from common import cpu, lab_inventory, lab_store  # bench/common.py

from fleet.domain.service import ApiRole
from fleet.engine.runner import run_sweep
from fleet.engine.sweep import SweepOptions
from fleet.engine.targets import Scope
from fleet.sim.process import SimulatorProcess, free_port
from fleet.store import service as service_repo


@dataclass
class Stage:
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    by_route: dict[str, list[float]] = field(default_factory=dict)

    def report(self, label: str, seconds: float) -> float:
        lat = sorted(self.latencies)
        if not lat:
            print(f"{label}: no requests")
            return 0.0

        def pct(p: float) -> float:
            return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1000

        print(f"{label}: {len(lat):,} requests in {seconds:.1f} s ({len(lat) / seconds:.0f}/s), "
              f"{len(self.failures)} failed; latency ms p50 {pct(50):.1f}, p95 {pct(95):.1f}, "
              f"p99 {pct(99):.1f}, max {lat[-1] * 1000:.1f}")  # fmt: skip
        for route, values in sorted(self.by_route.items()):
            values.sort()
            p95 = values[min(len(values) - 1, int(0.95 * len(values)))] * 1000
            print(
                f"    {route:<34} {len(values):>6}  p50 {statistics.median(values) * 1000:7.1f}  p95 {p95:7.1f}"
            )
        for failure in self.failures[:10]:
            print("    FAILED", failure)
        return pct(95)


def requests_for(names: list[str], sites: list[str]) -> list[tuple[str, str]]:
    """(route label, URL) mix of a wall display and other systems' reads."""
    rng = random.Random(7)  # noqa: S311 - a repeatable request mix, not a secret
    out = []
    for _ in range(4000):
        kind = rng.random()
        if kind < 0.30:
            out.append(("/state page", f"/api/v1/state?limit=100&offset={rng.randrange(0, 9900)}"))
        elif kind < 0.45:
            out.append(("/state faults", "/api/v1/state?status=down&status=degraded&limit=200"))
        elif kind < 0.65:
            out.append(("/devices/{name}/state", f"/api/v1/devices/{rng.choice(names)}/state"))
        elif kind < 0.75:
            out.append(("/devices/{name}/history", f"/api/v1/devices/{rng.choice(names)}/history?limit=10"))
        elif kind < 0.85:
            out.append(("/sites/{code}", f"/api/v1/sites/{rng.choice(sites)}"))
        elif kind < 0.93:
            out.append(("/sweeps", "/api/v1/sweeps?limit=5"))
        elif kind < 0.97:
            out.append(("/scheduler", "/api/v1/scheduler"))
        else:
            out.append(("/metrics", "/metrics"))
    return out


async def readers(
    url: str, token: str, clients: int, mix: list[tuple[str, str]], stop: asyncio.Event
) -> Stage:
    stage = Stage()
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)

    async def one(index: int) -> None:
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"},
                                     timeout=30, limits=limits) as client:  # fmt: skip
            i = index * 37
            while not stop.is_set():
                label, path = mix[i % len(mix)]
                i += 1
                t0 = time.perf_counter()
                try:
                    answer = await client.get(path)
                    ok = answer.status_code == 200
                    why = f"{path}: HTTP {answer.status_code} {answer.text[:200]}"
                except httpx.HTTPError as exc:
                    ok, why = False, f"{path}: {type(exc).__name__}: {exc}"
                elapsed = time.perf_counter() - t0
                stage.latencies.append(elapsed)
                stage.by_route.setdefault(label, []).append(elapsed)
                if not ok:
                    stage.failures.append(why)

    await asyncio.gather(*(one(i) for i in range(clients)))
    return stage


async def quiet(url: str, token: str, clients: int, mix: list[tuple[str, str]], seconds: float) -> Stage:
    stop = asyncio.Event()
    task = asyncio.create_task(readers(url, token, clients, mix, stop))
    await asyncio.sleep(seconds)
    stop.set()
    return await task


async def loaded(
    url: str, token: str, operator: str, clients: int, mix: list[tuple[str, str]]
) -> tuple[Stage, float, dict]:
    stop = asyncio.Event()
    task = asyncio.create_task(readers(url, token, clients, mix, stop))
    await asyncio.sleep(1.0)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {operator}"}, timeout=60
    ) as op:
        started = await op.post("/api/v1/sweeps", json={})
        if started.status_code != 202:
            raise SystemExit(f"the sweep did not start: {started.text}")
        sweep_id = started.json()["id"]
        t0 = time.monotonic()
        sweep: dict = {}
        while time.monotonic() - t0 < 600:  # bounded
            sweep = (await op.get(f"/api/v1/sweeps/{sweep_id}")).json()
            if sweep["status"] != "running":
                break
            await asyncio.sleep(1.0)
    stop.set()
    return await task, time.monotonic() - t0, sweep


def main() -> int:  # noqa: PLR0915 - the stages in order
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inventory", type=Path, default=Path("inventory"))
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--quiet", type=float, default=20.0)
    parser.add_argument(
        "--workers", type=int, default=1, help="API worker processes (fleet serve --workers)."
    )
    args = parser.parse_args()

    inventory, devices = lab_inventory(args.inventory)
    names = sorted(devices)
    sites = sorted({d[2] for d in devices.values()})
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        work = Path(tmp)
        env = dict(os.environ) | {"SNMP_PERSISTENT_DIR": str(work / "snmp")}
        sim = SimulatorProcess.start(args.inventory, env, args=["--seed", "11", "--fault-rate", "0.03"],
                                     log=work / "sim.log")  # fmt: skip
        server = None
        try:
            sim.wait_ready(120)
            store, db_url, known_hosts = lab_store(work, env, inventory)
            t0 = time.monotonic()
            run_sweep(store, Scope(), SweepOptions(known_hosts=known_hosts), retention=timedelta(days=30))
            print(f"first sweep (state to read): {time.monotonic() - t0:.1f} s")
            with store.session() as db:
                viewer = service_repo.create_token(db, "load-readers", ApiRole.VIEWER, "bench").token
                operator = service_repo.create_token(db, "load-sweeper", ApiRole.OPERATOR, "bench").token
            store.close()
            port = free_port()
            server_env = env | {"FLEET_DATABASE_URL": db_url, "FLEET_SSH_KNOWN_HOSTS": str(known_hosts)}
            log = (work / "serve.log").open("wb")
            server = subprocess.Popen([sys.executable, "-m", "fleet", "serve", "--no-scheduler", "--port", str(port),
                                       "--workers", str(args.workers)],
                                      env=server_env, stdout=log, stderr=log)  # fmt: skip
            url = f"http://127.0.0.1:{port}"
            for _ in range(300):  # bounded: 30 s
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            mix = requests_for(names, sites)
            print(f"\n== baseline: {args.clients} readers for {args.quiet:g} s, nothing else running")
            c0 = cpu()
            base = asyncio.run(quiet(url, viewer, args.clients, mix, args.quiet))
            p95_quiet = base.report("quiet", args.quiet)
            print(f"   load client CPU {cpu() - c0:.1f} s")
            print(f"\n== {args.clients} readers while a full sweep runs (started through the API)")
            stage, seconds, sweep = asyncio.run(loaded(url, viewer, operator, args.clients, mix))
            p95_load = stage.report("under the sweep", seconds)
            print(f"sweep {sweep.get('id')}: {sweep.get('status')}, {sweep.get('devices')} devices in "
                  f"{sweep.get('duration_s') or 0:.1f} s; counts {sweep.get('counts')}")  # fmt: skip
            print(f"\np95 under the sweep / quiet p95: {p95_load / max(p95_quiet, 0.001):.2f}x")
            failed = len(base.failures) + len(stage.failures)
            print("all requests answered" if not failed else f"{failed} REQUESTS FAILED")
            return 1 if failed or sweep.get("status") != "completed" else 0
        finally:
            if server is not None:
                server.terminate()
                server.wait(30)
            sim.stop()


if __name__ == "__main__":
    sys.exit(main())
