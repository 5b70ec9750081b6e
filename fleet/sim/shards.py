"""The parent of a sharded simulator: starts one process per shard, serves the control API for all.

Each shard (``python -m fleet.sim.shard_child``) builds and serves only its own sites' devices and
answers the control API on a port of its own. The parent serves the API on the operator's port:
a device's routes go to its shard; /truth and /summary merge every shard's answer into what one
process serving the whole inventory would answer; /health answers only once every shard serves.
A shard that dies ends the whole simulator with an error naming it; stopping the parent stops them
all, and a shard dies with its parent even when the parent is killed (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import pickle
import signal
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet.inventory.writer import write_atomic
from fleet.sim import control
from fleet.sim.errors import SimError
from fleet.sim.plan import ShardSpec

STOP_WAIT = 15.0


@dataclass(slots=True)
class Shard:
    name: str
    sites: int
    devices: int
    process: asyncio.subprocess.Process
    ready: asyncio.Future[None]
    port: int = 0
    summary: dict[str, Any] = field(default_factory=dict)
    stopped: dict[str, int] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"simulator {self.name} ({self.sites:,} sites, {self.devices:,} devices, pid {self.process.pid})"
        )


class ShardedSimulator:
    def __init__(
        self, specs: list[ShardSpec], order: list[str], truth_file: Path | None, say: Callable[[str], None]
    ) -> None:
        """``order``: every device's name in the inventory's order, which merged lists keep."""
        self.specs = specs
        self.truth_file = truth_file
        self.say = say
        self.order = {name: i for i, name in enumerate(order)}
        self.owner = {device.name: spec.index for spec in specs for device in spec.inventory.devices}
        self.shards: list[Shard] = []
        self.finished = asyncio.Event()  # stop asked for, or a shard died
        self.failure: str | None = None
        self.stopping = False
        self.control_address: tuple[str, int] | None = None
        self._control: asyncio.Server | None = None
        self._truth_lock = asyncio.Lock()

    # --- the shard processes -------------------------------------------------------------------

    async def start(self, control_port: int) -> bool:
        """Start every shard and, once all serve, the control API; False when stopped before that."""
        loop = asyncio.get_running_loop()
        for spec in self.specs:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "fleet.sim.shard_child",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                limit=1 << 20, process_group=0,  # Ctrl-C in a terminal reaches the parent only; it stops them
            )  # fmt: skip
            shard = Shard(
                spec.name,
                len(spec.inventory.sites),
                len(spec.inventory.devices),
                process,
                loop.create_future(),
            )
            self.shards.append(shard)
            shard.tasks = [asyncio.create_task(self._watch(shard)), asyncio.create_task(self._relay(shard))]
        # Every shard gets its share at once: they start (imports, unpickling, building) side by side.
        await asyncio.gather(
            *(_send(s.process, spec) for s, spec in zip(self.shards, self.specs, strict=True))
        )
        self.specs.clear()  # the parent keeps no device records: memory is the shards'
        ready = asyncio.gather(*(s.ready for s in self.shards))
        finished = asyncio.create_task(self.finished.wait())
        waiters: set[asyncio.Future[Any]] = {ready, finished}
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finished.cancel()
        if not ready.done():
            ready.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ready
            await self.stop()
            if self.failure is not None:
                raise SimError(self.failure)
            return False
        try:
            self._control, self.control_address = await control.serve(self.route, control_port)
        except OSError as exc:
            await self.stop()
            raise SimError(
                f"cannot listen on 127.0.0.1:{control_port} for fault control: {exc.strerror}"
            ) from None
        await self.write_truth()
        return True

    async def _watch(self, shard: Shard) -> None:
        """Read what the shard tells its parent; when it ends unasked, end the whole simulator."""
        assert shard.process.stdout is not None  # noqa: S101 - asked for a pipe
        async for line in shard.process.stdout:
            try:
                message = json.loads(line)
            except ValueError:  # not for the parent: a library printing, say
                self.say(f"[{shard.name}] {line.decode(errors='replace').rstrip()}")
                continue
            if "ready" in message:
                shard.port = int(message["ready"]["port"])
                shard.summary = message["ready"]["summary"]
                shard.ready.set_result(None)
            elif "stopped" in message:
                shard.stopped = message["stopped"]
        code = await shard.process.wait()
        if not self.stopping and self.failure is None:
            when = "" if shard.ready.done() else " before it was ready"
            self.failure = f"{shard.describe()} {_how(code)}{when}; the other shards were stopped"
            self.finished.set()

    async def _relay(self, shard: Shard) -> None:
        """The shard's messages and logs into the parent's, each line prefixed with the shard."""
        assert shard.process.stderr is not None  # noqa: S101 - asked for a pipe
        async for line in shard.process.stderr:
            self.say(f"[{shard.name}] {line.decode(errors='replace').rstrip()}")

    async def stop(self) -> None:
        self.stopping = True
        if self._control is not None:
            self._control.close()
            await self._control.wait_closed()
        for shard in self.shards:
            if shard.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    shard.process.send_signal(signal.SIGTERM)
        for shard in self.shards:
            try:
                await asyncio.wait_for(shard.process.wait(), STOP_WAIT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    shard.process.kill()
                await shard.process.wait()
            await asyncio.gather(*shard.tasks, return_exceptions=True)

    # --- the control API -------------------------------------------------------------------------

    async def route(self, method: str, target: str, body: bytes) -> tuple[int, Any]:
        path = target.split("?", 1)[0].rstrip("/")
        if method == "GET" and path == "/health":
            return 200, {"ready": True, "devices": len(self.order)}
        if method == "GET" and path == "/truth":
            return 200, await self.truth()
        if method == "GET" and path == "/summary":
            return 200, merge_summaries(await self._ask_all("/summary"))
        # Anything else concerns one device (its shard answers), or is an error any shard words alike.
        shard = self.shards[self.owner.get(_device_of(path, body) or "", 0)]
        status, answer = await control.fetch(shard.port, method, target, body)
        if path == "/faults" and status == 200:
            await self.write_truth()
        return status, answer

    async def _ask_all(self, target: str) -> list[Any]:
        return list(await asyncio.gather(*(control.fetch_json(s.port, target) for s in self.shards)))

    async def truth(self) -> dict[str, Any]:
        return merge_truths(await self._ask_all("/truth"), self.order)

    async def write_truth(self) -> None:
        if self.truth_file is None:
            return
        async with self._truth_lock:  # the last change's truth is the one left in the file
            truth = await self.truth()
            write_atomic(self.truth_file, json.dumps(truth, ensure_ascii=False, indent=1) + "\n")

    def summary(self) -> dict[str, Any]:
        """What the shards said when they became ready, merged."""
        return merge_summaries([s.summary for s in self.shards])

    def answered(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for shard in self.shards:
            total.update(shard.stopped)
        return dict(total)


def merge_truths(parts: list[dict[str, Any]], order: dict[str, int]) -> dict[str, Any]:
    """The shards' ground truths as one process would give it: same keys, lists in inventory order."""

    def position(entry: dict[str, Any]) -> int:
        return order.get(entry["device"], len(order))

    faults = sorted(
        (f for part in parts for f in part["faults"]), key=position
    )  # stable: a device's own order
    roles: Counter[str] = Counter()
    for part in parts:
        roles.update(part["by_role"])
    return {
        "started_at": parts[0]["started_at"],
        "seed": parts[0]["seed"],
        "devices": sum(part["devices"] for part in parts),
        "by_role": dict(sorted(roles.items())),
        "faults": faults,
        "fault_counts": dict(sorted(Counter(f["fault"] for f in faults).items())),
        "unreachable": sorted((u for part in parts for u in part["unreachable"]), key=position),
    }


def merge_summaries(parts: list[dict[str, Any]]) -> dict[str, Any]:
    firsts = [p["first_address"] for p in parts if p["first_address"] is not None]
    lasts = [p["last_address"] for p in parts if p["last_address"] is not None]
    return {
        "devices": sum(p["devices"] for p in parts),
        "routers": sum(p["routers"] for p in parts),
        "codecs": sum(p["codecs"] for p in parts),
        "cameras": sum(p["cameras"] for p in parts),
        "first_address": min(firsts) if firsts else None,  # one process sorts addresses as text too
        "last_address": max(lasts) if lasts else None,
        "snmp_ports": sorted({port for p in parts for port in p["snmp_ports"]}),
        "ssh_ports": sorted({port for p in parts for port in p["ssh_ports"]}),
        "faults": sum(p["faults"] for p in parts),
    }


async def _send(process: asyncio.subprocess.Process, spec: ShardSpec) -> None:
    assert process.stdin is not None  # noqa: S101 - asked for a pipe
    process.stdin.write(pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL))
    with contextlib.suppress(ConnectionError):  # a shard that died at once is reported by _watch
        await process.stdin.drain()
    process.stdin.close()


def _device_of(path: str, body: bytes) -> str | None:
    if path.startswith("/devices/"):
        return path.split("/")[2] if path.count("/") >= 2 else None
    if path == "/faults":
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            data = json.loads(body or b"{}")
            if isinstance(data, dict):
                return str(data.get("device", ""))
    return None


def _how(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"
