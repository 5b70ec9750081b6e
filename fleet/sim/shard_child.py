"""One shard of a sharded simulator: ``python -m fleet.sim.shard_child``, started by `fleet.sim.shards`.

It reads its `ShardSpec` pickled on stdin, builds and serves only its own sites' devices, and tells
its parent on stdout, one JSON line each, when it is ready (its control port, its summary) and what
it answered once stopped. What it has to say to people goes to stderr, which the parent prefixes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import pickle
import signal
import sys
from typing import Any

from fleet.sim.errors import SimError
from fleet.sim.plan import ShardSpec
from fleet.sim.runtime import Simulator

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Get SIGTERM when the parent dies, however it dies (even SIGKILL): no orphan keeps the addresses."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # it died before the line above
        sys.exit(1)


def tell(message: dict[str, Any]) -> None:
    with contextlib.suppress(BrokenPipeError, ValueError):  # the parent is gone: nobody to tell
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


async def serve(simulator: Simulator) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    simulator.build()
    await simulator.start(control_port=0)
    assert simulator.control_address is not None  # noqa: S101 - start() binds it when given a port
    tell({"ready": {"port": simulator.control_address[1], "summary": simulator.summary()}})
    await stop.wait()
    await simulator.stop()
    snmp = simulator.stats.snmp
    tell(
        {
            "stopped": {
                "requests": snmp.requests,
                "malformed": snmp.malformed,
                "bad_community": snmp.bad_community,
            }
        }
    )


def main() -> int:
    spec: ShardSpec = pickle.load(sys.stdin.buffer)  # noqa: S301 - from our own parent, on a pipe
    die_with_parent(spec.parent)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    simulator = Simulator(spec.inventory, seed=spec.seed, faults=spec.faults, boot=spec.boot)
    try:
        asyncio.run(serve(simulator))
    except SimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
