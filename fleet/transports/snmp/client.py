"""SnmpClient: sweeps in this process, or sharded over worker processes (pool.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import socket
import subprocess
import sys
import weakref
import zlib
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from fleet.transports.errors import TransportErrorKind
from fleet.transports.snmp.pool import Worker, stop_workers, unflat
from fleet.transports.snmp.sweeper import Sweeper
from fleet.transports.snmp.types import SnmpResult, SnmpStats, SnmpTarget

SHARD_MIN = 1000  # sweeps at least this large go to worker processes


class SnmpClient:
    """SNMP GETs for sweeps: v2c and v3 authPriv, one result per request, failures as fleet's kinds.

    ``timeout`` is per request; a silent device is asked ``retries`` more times, in confirm passes
    that follow the main one; ``in_flight`` bounds the requests awaiting an answer (split across
    worker processes); an answer slower than ``slow_after`` is measured again once, paced, so that
    ``elapsed`` is the device's; ``workers``: processes for sweeps of ``SHARD_MIN`` devices or more
    (default: one per core, at most 4; 0 or 1 keeps everything in this process).

    Keep one client for repeated sweeps: its worker processes and the SNMPv3 engine IDs they
    discovered stay, so later sweeps skip start-up and discovery. ``close()`` ends the workers.
    """

    def __init__(
        self,
        *,
        timeout: float = 1.0,
        retries: int = 1,
        in_flight: int = 200,
        slow_after: float = 0.3,
        workers: int | None = None,
    ) -> None:
        self.timeout = timeout
        self.retries = max(0, retries)
        self.in_flight = max(1, in_flight)
        self.slow_after = slow_after
        self.workers = min(os.cpu_count() or 1, 4) if workers is None else max(0, workers)
        self.stats = SnmpStats()
        self._local: Sweeper | None = None
        self._pool: list[Worker] = []  # the same list for the client's life (see the finaliser)
        self._pool_lock: asyncio.Lock | None = None
        weakref.finalize(self, stop_workers, self._pool, 0.5)  # a client dropped without close()

    def _settings(self, in_flight: int) -> dict[str, Any]:
        return {
            "timeout": self.timeout,
            "retries": self.retries,
            "in_flight": in_flight,
            "slow_after": self.slow_after,
        }

    async def get(self, target: SnmpTarget, oids: Sequence[str]) -> SnmpResult:
        return (await self.get_many([(target, oids)]))[0]

    async def get_many(
        self,
        requests: Sequence[tuple[SnmpTarget, Sequence[str]]],
        on_result: Callable[[SnmpResult], None] | None = None,
    ) -> list[SnmpResult]:
        """One result per request, in order; ``on_result`` is called as each device finishes.

        Never raises for a device's failure; an exception raised by ``on_result`` is re-raised
        once the sweep is over.
        """
        results: list[SnmpResult | None] = [None] * len(requests)
        callback_errors: list[BaseException] = []

        def emit(index: int, result: SnmpResult) -> None:
            if results[index] is not None:
                return
            results[index] = result
            if on_result is not None and not callback_errors:
                try:
                    on_result(result)
                except Exception as exc:  # the caller's bug: finish the sweep, then raise it
                    callback_errors.append(exc)

        items = [(index, target, oids) for index, (target, oids) in enumerate(requests)]
        if self.workers > 1 and len(items) >= SHARD_MIN:
            await self._sharded(items, emit)
        elif items:
            local = self._sweeper()
            await local.run(items, emit)
            self.stats.requests, self.stats.datagrams = local.sent, local.received_count
        if callback_errors:
            raise callback_errors[0]
        return [
            r
            if r is not None
            else SnmpResult(target.name, error=TransportErrorKind.INTERNAL, detail="no result was produced")
            for r, (target, _oids) in zip(results, requests, strict=True)
        ]

    def _sweeper(self) -> Sweeper:
        loop = asyncio.get_running_loop()
        if self._local is None or self._local.loop is not loop:
            if self._local is not None:
                self._local.close()
            self._local = Sweeper(self.timeout, self.retries, self.in_flight, self.slow_after)
        return self._local

    # --- sharding over worker processes ------------------------------------------------------

    def _start_pool(self) -> list[Worker]:
        """Start the missing workers: fresh interpreters that import only this module (not __main__)."""
        self._pool[:] = [w for w in self._pool if w.process.poll() is None]
        per_worker = max(1, math.ceil(self.in_flight / self.workers))
        settings = json.dumps(self._settings(per_worker))
        source_root = str(Path(__file__).resolve().parents[3])  # so a source checkout works as well
        env = os.environ | {"PYTHONPATH": os.pathsep.join([source_root, os.environ.get("PYTHONPATH", "")])}
        code = "from fleet.transports.snmp.pool import worker_entry; worker_entry()"
        while len(self._pool) < self.workers:
            mine, theirs = socket.socketpair()
            try:
                process = subprocess.Popen(  # noqa: S603 - this interpreter running this module
                    [sys.executable, "-c", code, str(theirs.fileno()), settings],
                    pass_fds=[theirs.fileno()],
                    stdin=subprocess.DEVNULL,
                    env=env,
                )
            except OSError:
                mine.close()
                raise
            finally:
                theirs.close()
            self._pool.append(Worker(process, Connection(mine.detach())))
        return self._pool

    async def _sharded(
        self, items: list[tuple[int, SnmpTarget, Sequence[str]]], emit: Callable[[int, SnmpResult], None]
    ) -> None:
        if self._pool_lock is None:
            self._pool_lock = asyncio.Lock()
        async with self._pool_lock:  # one sharded sweep at a time uses the pool
            pool = self._start_pool()
            # A device always goes to the same worker (by its address), which keeps its engine ID.
            shards: list[list[tuple[int, SnmpTarget, Sequence[str]]]] = [[] for _ in pool]
            for item in items:
                shards[zlib.crc32(item[1].address.encode()) % len(pool)].append(item)
            try:
                runs = [self._run_shard(w, s, emit) for w, s in zip(pool, shards, strict=True)]
                await asyncio.gather(*runs)
            except BaseException:  # cancelled: the workers may be mid-sweep, so start afresh next time
                self._stop_pool(wait=0)
                raise
            self.stats = SnmpStats(
                len(pool),
                sum(w.cpu for w in pool),
                sum(w.peak_mb for w in pool),
                tuple(w.process.pid for w in pool),
                sum(w.sent for w in pool),
                sum(w.received for w in pool),
            )

    async def _run_shard(
        self,
        worker: Worker,
        shard: list[tuple[int, SnmpTarget, Sequence[str]]],
        emit: Callable[[int, SnmpResult], None],
    ) -> None:
        loop = asyncio.get_running_loop()
        finished: set[int] = set()
        try:
            await loop.run_in_executor(None, worker.conn.send, shard)
            while True:  # ends with "done", or EOFError when the worker dies
                message = await loop.run_in_executor(None, worker.conn.recv)
                if message[0] == "done":
                    worker.cpu, worker.peak_mb, worker.sent, worker.received = message[1:]
                    return
                for index, fields in message[1]:
                    finished.add(index)
                    emit(index, unflat(fields))
        except (EOFError, OSError) as exc:
            code = worker.process.poll()
            for index, target, _oids in shard:
                if index not in finished:
                    emit(
                        index,
                        SnmpResult(
                            target.name,
                            error=TransportErrorKind.INTERNAL,
                            detail=f"the SNMP worker process stopped (exit {code}): {type(exc).__name__}",
                        ),
                    )
            worker.conn.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.process.wait(1)

    def _stop_pool(self, wait: float) -> None:
        stop_workers(self._pool, wait)

    def close(self) -> None:
        if self._local is not None:
            self._local.close()
            self._local = None
        self._stop_pool(wait=2)
