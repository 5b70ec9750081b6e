"""The sweeper: sends GETs and matches answers for any number of concurrent sweeps in one event loop,
over one UDP socket per address family."""

from __future__ import annotations

import asyncio
import os
import platform
import socket
import struct
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence

from fleet.domain.enums import SnmpVersion
from fleet.transports.errors import TransportErrorKind
from fleet.transports.snmp.answers import Answers
from fleet.transports.snmp.engines import Usm, v3_get
from fleet.transports.snmp.frames import PROBE, Frames
from fleet.transports.snmp.jobs import Emit, Job, Kind, Outcome, Pass, Request, address_of, family_of, short
from fleet.transports.snmp.types import SnmpCredentials, SnmpTarget

RECEIVE_BUFFER = 4 * 1024 * 1024
CONFIRM_RATE = 1000.0  # requests/s (per process) asking silent devices again
REMEASURE_RATE = 500.0  # requests/s (per process) measuring slow answers again
STALE_FACTOR = 4.0  # a request unanswered for this many typical answer times stops holding a slot
_RID_LOW, _RID_SPAN = 0x01000000, 0x7F000000  # request-ids that always encode in 4 bytes


# The kernel's receive timestamp (SO_TIMESTAMP, a struct timeval) tells when an answer arrived even
# when the event loop reads it later: ``elapsed`` then excludes the client's own queue. Linux only,
# on the architectures whose option numbers are the generic ones; elsewhere the read time is used.
_SO_TIMESTAMP = 29 if sys.platform == "linux" and platform.machine() in {"x86_64", "aarch64", "arm64"} else 0
_TIMEVAL = struct.Struct("qq")
READ_BATCH = 64  # datagrams read per wake-up, so timers and sends still get their turn


class Sweeper(Answers):
    """Sends GETs and matches answers for any number of concurrent sweeps in one event loop."""

    def __init__(self, timeout: float, retries: int, in_flight: int, slow_after: float) -> None:
        super().__init__()
        self.timeout = timeout
        self.retries = retries
        self.in_flight = max(1, in_flight)
        self.slow_after = slow_after
        self._drained_at = 0.0  # when the sockets were last found empty
        self._read_up_to = 0.0  # kernel arrival time of the last datagram read (they queue in order)
        self.loop = asyncio.get_running_loop()
        self._sockets: dict[int, socket.socket] = {}
        self._deadlines: deque[Request] = deque()
        self._holding: deque[Request] = deque()
        self._slots = 0
        self._slot_waiters: deque[asyncio.Future[None]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._usm: dict[SnmpCredentials, Usm] = {}
        self._frames = Frames()
        self._rid = int.from_bytes(os.urandom(4), "big") % _RID_SPAN
        self.receive_buffer = 0
        self.sent = 0

    # --- sockets -------------------------------------------------------------------------------

    def _socket(self, family: int) -> socket.socket:
        """The sweeper's UDP socket for this address family, read by the event loop."""
        sock = self._sockets.get(family)
        if sock is None:
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
                if _SO_TIMESTAMP:
                    sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMP, 1)
                sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))  # noqa: S104 - ephemeral client port
                sock.setblocking(False)
                self.loop.add_reader(sock.fileno(), self._drain, sock)
            except OSError:
                sock.close()
                raise
            self.receive_buffer = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
            self._sockets[family] = sock
        return sock

    def _drain(self, sock: socket.socket, limit: int = READ_BATCH) -> None:
        """Read what has arrived (at most ``limit`` datagrams), each with the time it arrived."""
        offset = time.time() - time.monotonic()
        for _ in range(limit):
            try:
                data, ancillary, _flags, addr = sock.recvmsg(65536, 64)
            except (BlockingIOError, InterruptedError):
                self._drained_at = time.monotonic()
                return
            except OSError:
                continue  # an ICMP error queued on the socket: the request will time out
            now = time.monotonic()
            arrived = now
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMP and len(payload) >= _TIMEVAL.size:
                    seconds, micros = _TIMEVAL.unpack_from(payload)
                    arrived = min(now, seconds + micros / 1e6 - offset)
                    self._read_up_to = arrived
            self.received(data, (str(addr[0]), int(addr[1])), arrived)

    def _drain_all(self) -> None:
        for sock in self._sockets.values():
            self._drain(sock, limit=1 << 20)  # bounded by what the socket holds

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for sock in self._sockets.values():
            if not self.loop.is_closed():
                self.loop.remove_reader(sock.fileno())
            sock.close()
        self._sockets.clear()

    # --- a sweep -------------------------------------------------------------------------------

    async def run(self, items: Iterable[tuple[int, SnmpTarget, Sequence[str]]], emit: Emit) -> None:
        jobs = [self._job(index, target, oids) for index, target, oids in items]
        for family in {family_of(j.addr) for j in jobs if j.outcome is Outcome.PENDING}:
            self._socket(family)
        for job in jobs:
            if job.outcome is Outcome.FAILED:
                self._emit(job, emit)
            else:
                self._by_addr.setdefault(job.addr, []).append(job)
        try:
            main = Pass(self.loop, Kind.MAIN, emit, 0)
            live = [j for j in jobs if j.outcome is Outcome.PENDING]
            await asyncio.gather(
                self._main(main, live), self._confirm(main), self._follow(main, Kind.REMEASURE)
            )
        finally:
            for job in jobs:
                here = self._by_addr.get(job.addr)
                if here is not None and job in here:
                    here.remove(job)
                    if not here:
                        del self._by_addr[job.addr]
                job.pass_ = None
                if job.outcome is Outcome.PENDING:
                    job.outcome = Outcome.SILENT
            mine = set(map(id, jobs))
            for rid in [rid for rid, req in self._expired.items() if id(req.job) in mine]:
                del self._expired[rid]
        for job in jobs:
            self._emit(job, emit)

    def _slow(self, job: Job) -> bool:
        return job.outcome is Outcome.ANSWERED and job.error is None and job.elapsed > self.slow_after

    def _emit(self, job: Job, emit: Emit) -> None:
        if not job.emitted:
            job.emitted = True
            emit(job.index, job.result(self.timeout))

    def _job(self, index: int, target: SnmpTarget, oids: Sequence[str]) -> Job:
        job = Job(index, target, oids)
        addr = address_of(target.address, target.port)
        if addr is None:
            job.fail(TransportErrorKind.INTERNAL, f"not an IP address: {target.address!r}")
            return job
        job.addr = addr
        creds = target.credentials
        try:
            if creds.version is SnmpVersion.V2C:
                job.community = creds.community.encode()
                self._frames.v2c(job.community, job.oids)
            else:
                usm = self._usm.get(creds)
                if usm is None:
                    usm = self._usm[creds] = Usm.make(creds)
                job.usm = usm
                self._frames.scoped(5, job.oids)  # refuses a bad OID now
        except ValueError as exc:
            job.fail(TransportErrorKind.INTERNAL, f"cannot build the request: {short(exc)}")
        return job

    async def _main(self, this: Pass, jobs: list[Job]) -> None:
        """Send each job its first request, as fast as answers make room; wait for them all."""
        for count, job in enumerate(jobs):
            while self._slots >= self.in_flight:
                waiter = self.loop.create_future()
                self._slot_waiters.append(waiter)
                await waiter
            if count % 64 == 63:
                await asyncio.sleep(0)  # let answers in
            self._attempt(this, job)
        this.sending = False
        this.check()
        await this.done

    async def _confirm(self, main: Pass) -> None:
        source = main
        for round_ in range(1, self.retries + 1):
            source = await self._follow(source, Kind.CONFIRM, round_)

    async def _follow(self, source: Pass, kind: Kind, round_: int = 0) -> Pass:
        """Ask again, paced, the jobs ``source`` found silent (or slow) as they appear; wait for them."""
        this = Pass(self.loop, kind, source.emit, round_)
        interval = 1 / (CONFIRM_RATE if kind is Kind.CONFIRM else REMEASURE_RATE)
        queue = source.silent if kind is Kind.CONFIRM else source.slow
        next_at = self.loop.time()
        while True:  # ends when the source pass is over and its queue drained
            if not queue:
                if source.done.done():
                    break
                await asyncio.sleep(0.01)
                continue
            job = queue.pop(0)
            delay = next_at - self.loop.time()
            if delay > 0.002:
                await asyncio.sleep(delay)
            next_at = max(next_at, self.loop.time() - 0.01) + interval
            self._attempt(this, job)
        this.sending = False
        this.check()
        await this.done
        return this

    def _attempt(self, this: Pass, job: Job) -> None:
        job.pass_ = this
        this.open += 1
        job.remeasuring = this.kind is Kind.REMEASURE
        if not job.remeasuring:
            job.tries += 1
            job.outcome = Outcome.PENDING
        job.resyncs = 0
        # A confirm attempt of a v3 device starts with discovery again: it tells a device that is
        # alive but ignores our authenticated requests (a wrong privacy key) from a dead one.
        job.probe_first = this.kind is Kind.CONFIRM and job.version is SnmpVersion.V3
        self._start(job)

    # --- requests ------------------------------------------------------------------------------

    def _next_rid(self) -> int:
        self._rid = (self._rid + 1) % _RID_SPAN
        return _RID_LOW + self._rid

    def _start(self, job: Job) -> None:
        try:
            if job.version is SnmpVersion.V2C:
                frame = self._frames.v2c(job.community, job.oids)
                self._send(job, lambda rid: frame.join([rid.to_bytes(4, "big")]), probe=False)
            else:
                engine = self._engines.get(job.addr)
                if engine is None or job.probe_first:
                    self._send(job, lambda rid: PROBE.join([rid.to_bytes(4, "big")] * 2), probe=True)
                else:
                    cred = job.usm
                    assert cred is not None  # noqa: S101 - v3 jobs always have one
                    get = lambda rid: v3_get(self._frames, cred, engine, rid, job.oids, time.monotonic())  # noqa: E731
                    self._send(job, get, probe=False)
        except Exception as exc:  # a bug of ours: report it on the device, never hide it
            self._settle(job, Outcome.FAILED, TransportErrorKind.INTERNAL, f"{type(exc).__name__}: {exc}")

    def _send(self, job: Job, build: Callable[[int], bytes], *, probe: bool) -> None:
        rid = self._next_rid()
        data = build(rid)
        now = time.monotonic()
        request = Request(rid, job, probe, now, self.timeout)
        self._pending[rid] = request
        self._deadlines.append(request)
        self._holding.append(request)
        self._slots += 1
        try:
            self._sockets[family_of(job.addr)].sendto(data, job.addr)
        except OSError as exc:  # no route, or the send buffer is full: the request will time out
            job.send_error = f"could not send: {exc.strerror or exc}"
        self.sent += 1
        if self._timer is None:
            self._timer = self.loop.call_later(0.01, self._tick)

    # --- timers --------------------------------------------------------------------------------

    def _release(self, request: Request) -> None:
        if request.holding:
            request.holding = False
            self._slots -= 1
            while self._slot_waiters and self._slots < self.in_flight:
                waiter = self._slot_waiters.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    break

    def _tick(self) -> None:
        self._timer = None
        now = time.monotonic()
        holding, deadlines = self._holding, self._deadlines
        if deadlines and deadlines[0].deadline <= now:
            self._drain_all()  # an answer waiting in the socket is not a timeout
        else:
            for sock in self._sockets.values():
                self._drain(sock)  # notes when the socket is empty, even when nothing ever arrives
        # A request stops holding its slot once it is several typical answer times old and its answer
        # is not waiting unread in our socket: the socket was found empty since, or we have read a
        # datagram that arrived later (the kernel queues them in order). Its device is then slow or
        # dead, and waiting for it costs nothing; an answer still queued keeps its slot.
        horizon = min(now, max(self._drained_at, self._read_up_to))
        stale = horizon - min(self.timeout, max(0.05, STALE_FACTOR * self.latency))
        while holding and (not holding[0].holding or holding[0].sent <= stale):
            self._release(holding.popleft())
        while deadlines and deadlines[0].deadline <= now:
            request = deadlines.popleft()
            if self._pending.get(request.rid) is request:
                del self._pending[request.rid]
                self._release(request)
                self._expired[request.rid] = request
                self._settle(request.job, Outcome.SILENT)
        if self._pending or holding:
            self._timer = self.loop.call_later(0.01, self._tick)

    def _settle(
        self, job: Job, outcome: Outcome, kind: TransportErrorKind | None = None, detail: str = ""
    ) -> None:
        """The end of a job's attempt; emits the result when it is final."""
        this = job.pass_
        if this is None:
            return  # no attempt under way: a stale event
        job.pass_ = None
        final = True
        if job.remeasuring:
            job.remeasuring = False  # a remeasure keeps the first answer; the caller stored elapsed
        elif outcome is Outcome.FAILED:
            job.fail(kind or TransportErrorKind.INTERNAL, detail)
        else:
            job.outcome = outcome
            if outcome is Outcome.SILENT and this.round < self.retries:
                this.silent.append(job)
                final = False
            elif this.kind is Kind.MAIN and self._slow(job):
                this.slow.append(job)
                final = False
        if final:
            self._emit(job, this.emit)
        this.open -= 1
        this.check()
