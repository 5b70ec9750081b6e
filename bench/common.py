"""What the whole-inventory benchmarks share: measuring, the lab inventory, ground truth, host keys."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from fleet.domain.enums import Carrier, Role
from fleet.inventory.validate import Inventory, validate_paths
from fleet.settings import Settings
from fleet.sim.lab import lab_secrets
from fleet.store import inventory as inventory_repo
from fleet.store.db import Store


def cpu() -> float:
    """CPU seconds of this process and its finished children (the SNMP worker processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def peak_mb() -> float:
    """Peak RSS of this process plus the largest of its finished children (the SNMP workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (own + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


TICKS = os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            out += [int(c) for c in task.read_text().split()]
        except OSError:  # the thread ended meanwhile
            continue
    return out


class RssSampler:
    """Peak of this process's RSS plus its children's (the SNMP workers), summed at each sample.

    ``exclude``: children that are not fleet's poller (the simulator). Sampled every 0.2 s.
    """

    def __init__(self, exclude: tuple[int, ...] = ()) -> None:
        import threading  # noqa: PLC0415 - only the benchmarks that sample need it

        self.exclude = set(exclude)
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            pids = [me] + [c for c in _children(me) if c not in self.exclude]
            self.peak = max(self.peak, sum(_rss_mb(p) for p in pids))
            self._stop.wait(0.2)


def _tree(pid: int) -> list[int]:
    """``pid`` and its children (the simulator's shard processes)."""
    return [pid, *_children(pid)]


def proc_cpu(pid: int) -> float:
    """CPU seconds another process and its children (the simulator and its shards) have used so far."""
    total = 0.0
    for one in _tree(pid):
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def proc_peak_mb(pid: int) -> float:
    """Peak RSS of another process and its children (the simulator and its shards), summed."""
    total = 0.0
    for one in _tree(pid):
        try:
            lines = Path(f"/proc/{one}/status").read_text().splitlines()
        except OSError:
            continue
        total += sum(int(line.split()[1]) / 1024 for line in lines if line.startswith("VmHWM:"))
    return total


def lab_inventory(path: Path) -> tuple[Inventory, dict[str, tuple[Role, Carrier, str]]]:
    """The inventory with the simulator's lab secrets in the environment, and name -> (role, carrier, site)."""
    loaded = validate_paths([path])
    if loaded.problems:
        print(f"{len(loaded.problems)} problems in {path}", file=sys.stderr)
        sys.exit(1)
    inventory = loaded.inventory
    os.environ.update(lab_secrets(inventory.credentials))
    carriers = {s.code: s.carrier for s in inventory.sites}
    devices = {d.name: (d.role, carriers[d.site_code], d.site_code) for d in inventory.devices}
    return inventory, devices


def truth_of(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/truth", timeout=30) as response:  # noqa: S310 - loopback
        data: dict[str, Any] = json.loads(response.read())
    return data


def enrol(env: dict[str, str], db_url: str, known_hosts: Path) -> None:
    """`fleet ssh trust` of every device, as an operator runs it."""
    fleet_env = env | {"FLEET_DATABASE_URL": db_url, "FLEET_SSH_KNOWN_HOSTS": str(known_hosts)}
    t0 = time.monotonic()
    trust = subprocess.run(
        [sys.executable, "-m", "fleet", "ssh", "trust"], env=fleet_env, capture_output=True, text=True,
        timeout=900, check=False,
    )  # fmt: skip
    last = (trust.stdout + trust.stderr).strip().splitlines()[-1:]
    print(f"ssh trust: {time.monotonic() - t0:.1f} s, exit {trust.returncode}: {last}")


def lab_store(work: Path, env: dict[str, str], inventory: Inventory) -> tuple[Store, str, Path]:
    """A fresh SQLite database in ``work`` holding the inventory, every host key enrolled: (store, URL, known_hosts)."""
    db_url = f"sqlite:///{work / 'bench.db'}"
    known_hosts = work / "known_hosts"
    store = Store.open(Settings(database_url=db_url))
    with store.session() as db:
        inventory_repo.import_inventory(db, inventory)
    enrol(env, db_url, known_hosts)
    return store, db_url, known_hosts
