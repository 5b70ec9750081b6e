"""Worker processes: one Python process tops out near one core, so sweeps of ``SHARD_MIN`` devices
or more are sharded over worker processes (one per core), a device always to the same worker, which
keeps its engine ID for later sweeps; results come back as plain Python values."""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import subprocess
import sys
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from fleet.transports.errors import TransportErrorKind
from fleet.transports.snmp.sweeper import Sweeper
from fleet.transports.snmp.types import SnmpResult


def flat(result: SnmpResult) -> tuple[Any, ...]:
    error = result.error.value if result.error is not None else None
    return (result.name, result.values, result.missing, error, result.detail, result.elapsed, result.attempts)


def unflat(fields: tuple[Any, ...]) -> SnmpResult:
    name, values, missing, error, detail, elapsed, attempts = fields
    kind = TransportErrorKind(error) if error is not None else None
    return SnmpResult(name, values, missing, kind, detail, elapsed, attempts)


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux's VmHWM, because ru_maxrss also counts the parent's
    memory that a forked child held until it exec'd this interpreter."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_entry() -> None:
    """A worker process (started by SnmpClient): run the shards the parent sends until it sends None."""
    conn = Connection(int(sys.argv[1]))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(worker_loop(conn, json.loads(sys.argv[2])))


async def worker_loop(conn: Any, settings: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    sweeper = Sweeper(**settings)
    batch: list[tuple[int, tuple[Any, ...]]] = []
    flush_at: list[asyncio.TimerHandle] = []

    def flush() -> None:
        flush_at.clear()
        if batch:
            conn.send(("results", list(batch)))
            batch.clear()

    def emit(index: int, result: SnmpResult) -> None:
        batch.append((index, flat(result)))
        if len(batch) >= 256:
            flush()
        elif not flush_at:
            flush_at.append(loop.call_later(0.05, flush))

    try:
        while True:
            message = await loop.run_in_executor(None, conn.recv)
            if message is None:
                break
            await sweeper.run(message, emit)
            for handle in flush_at:
                handle.cancel()
            flush()
            usage = resource.getrusage(resource.RUSAGE_SELF)
            cpu = usage.ru_utime + usage.ru_stime
            conn.send(("done", cpu, peak_rss_mb(), sweeper.sent, sweeper.received_count))
    except (EOFError, OSError):
        pass  # the parent went away
    finally:
        sweeper.close()


def stop_workers(pool: list[Worker], wait: float) -> None:
    """Ask each worker to stop, wait ``wait`` seconds, then terminate the ones still running."""
    for worker in pool:
        with contextlib.suppress(OSError, ValueError):
            worker.conn.send(None)
    for worker in pool:
        try:
            worker.process.wait(wait)
        except subprocess.TimeoutExpired:
            worker.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.process.wait(2)
        worker.conn.close()
    pool.clear()


@dataclass(slots=True)
class Worker:
    process: subprocess.Popen[bytes]
    conn: Connection
    cpu: float = 0.0
    peak_mb: float = 0.0
    sent: int = 0
    received: int = 0
