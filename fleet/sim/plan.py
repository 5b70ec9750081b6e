"""How a simulator run is split into shards: by site, with the faults chosen over the whole inventory.

Light on purpose (no asyncssh, no device models): the parent of a sharded simulator imports it.
"""

from __future__ import annotations

import math
import os
import resource
import time
from dataclasses import dataclass
from datetime import datetime

from fleet.inventory.validate import Inventory
from fleet.sim.faults import Fault
from fleet.store.types import utcnow

MAX_DEFAULT_PROCESSES = 4
SPARE_FILES = 256  # beside the devices' sockets: the control port, logs, pipes


@dataclass(frozen=True, slots=True)
class Boot:
    """When the simulated fleet started: one for every shard, so SNMP engine boots and time agree."""

    started_at: datetime
    started: float  # time.monotonic(): the clock is the machine's, the same in every process
    engine_boots: int

    @classmethod
    def now(cls) -> Boot:
        # snmpEngineBoots must grow with each restart while snmpEngineTime starts again (RFC 3414):
        # seconds since 2020 do both without keeping state on disk.
        return cls(utcnow(), time.monotonic(), max(1, int(time.time()) - 1_577_836_800))


@dataclass(slots=True)
class ShardSpec:
    """What one shard process serves, sent to it pickled on its stdin."""

    index: int
    count: int
    parent: int  # the parent's pid: a shard started after its parent died stops at once
    inventory: Inventory  # its sites, their devices, every credential profile
    faults: dict[str, list[Fault]]  # its devices' share of the run's faults
    seed: int
    boot: Boot

    @property
    def name(self) -> str:
        return f"shard {self.index + 1}/{self.count}"


def default_processes(inventory: Inventory) -> int:
    """The CPUs (at most 4), or more when one process could not open a socket per device."""
    count = max(1, min(os.cpu_count() or 1, MAX_DEFAULT_PROCESSES))
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        return count
    sockets = len(inventory.devices) + sum(1 for d in inventory.devices if d.ssh_port is not None)
    # A shard may hold one site (up to 5 sockets) more than the share.
    while math.ceil(sockets / count) + 5 + SPARE_FILES > hard and count < len(inventory.sites):
        count += 1
    return count


def plan(
    inventory: Inventory, processes: int, faults: dict[str, list[Fault]], seed: int, boot: Boot
) -> list[ShardSpec]:
    """Sites dealt in turn to ``processes`` shards (fewer when there are fewer sites).

    A site's devices stay together: a router that goes dark cuts off its codec and camera in-process.
    """
    count = max(1, min(processes, len(inventory.sites)))
    shard_of = {site.code: i % count for i, site in enumerate(inventory.sites)}
    specs = []
    for index in range(count):
        devices = [d for d in inventory.devices if shard_of.get(d.site_code, 0) == index]
        names = {d.name for d in devices}
        part = Inventory(
            sites=[s for s in inventory.sites if shard_of[s.code] == index],
            devices=devices,
            credentials=inventory.credentials,
            groups=[],
        )
        own = {name: list(f) for name, f in faults.items() if name in names}
        specs.append(ShardSpec(index, count, os.getpid(), part, own, seed, boot))
    return specs
