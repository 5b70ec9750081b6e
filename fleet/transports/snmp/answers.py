"""Answers: match a datagram to its request and settle the device's attempt, on fleet.snmp's codec.

pysnmp drops a datagram it cannot decode, which then looks like a timeout. Here an undecodable
datagram from a device we wait for is kept, and a device that never answered readably but sent one
is reported MALFORMED; a valid answer that came after its request had timed out is reported as a
TIMEOUT "answered after the timeout".
"""

from __future__ import annotations

from fleet.domain.enums import SnmpVersion
from fleet.snmp import ber
from fleet.snmp.message import Answer, error_status_name
from fleet.transports.errors import TransportErrorKind
from fleet.transports.snmp import frames
from fleet.transports.snmp.engines import NOT_IN_TIME_WINDOW, UNKNOWN_ENGINE_ID, Engine, report_kind
from fleet.transports.snmp.frames import DECODE_ERRORS, FLAG_AUTH, FLAG_PRIV, Garbage
from fleet.transports.snmp.jobs import Job, Outcome, Request, short
from fleet.transports.snmp.types import Value

MAX_RESYNCS = 2  # engine re-discoveries / time-window resyncs within one attempt


class Answers:
    """The sweeper's half that reads answers; the other half (sweeper.py) sends and times out."""

    def __init__(self) -> None:
        self.latency = 0.0125  # typical answer time (moving average), for telling stale requests
        self.received_count = 0
        self._pending: dict[int, Request] = {}
        self._expired: dict[int, Request] = {}
        self._by_addr: dict[tuple[str, int], list[Job]] = {}
        self._engines: dict[tuple[str, int], Engine] = {}

    def _start(self, job: Job) -> None:
        raise NotImplementedError

    def _release(self, request: Request) -> None:
        raise NotImplementedError

    def _settle(
        self, job: Job, outcome: Outcome, kind: TransportErrorKind | None = None, detail: str = ""
    ) -> None:
        raise NotImplementedError

    def _done_with(self, request: Request, now: float) -> None:
        """An answer to ``request`` arrived at ``now``."""
        self._pending.pop(request.rid, None)
        self._release(request)
        self.latency += (now - request.sent - self.latency) / 32

    def received(self, data: bytes, addr: tuple[str, int], now: float) -> None:
        """A datagram from ``addr`` that arrived at ``now`` (monotonic)."""
        self.received_count += 1
        jobs = self._by_addr.get(addr)
        if not jobs:
            return  # not from a device of a sweep under way: not worth decoding
        try:
            version = jobs[0].version
            if any(job.version is not version for job in jobs):  # one address polled both ways
                version = SnmpVersion.V3 if frames.version_of(data) == frames.V3_VERSION else SnmpVersion.V2C
            if version is SnmpVersion.V2C:  # decoded as the version the device is polled with
                self._v2c(data, addr, now)
            else:
                self._v3(data, addr, now)
        except DECODE_ERRORS as exc:
            for job in jobs:
                if job.pass_ is not None:  # only a device we are waiting for can have sent it
                    job.garbage = f"{len(data)} bytes that are not a readable SNMP answer ({short(exc)})"
        except Exception as exc:  # a bug of ours: report it on the device, never hide it
            for job in list(jobs):
                self._settle(job, Outcome.FAILED, TransportErrorKind.INTERNAL, f"reading the answer: {exc!r}")

    def _match(self, rid: int, addr: tuple[str, int]) -> tuple[Request | None, bool]:
        """The request this answers, and whether it had already timed out."""
        request = self._pending.get(rid)
        if request is not None and request.job.addr == addr:
            return request, False
        request = self._expired.get(rid)
        if request is not None and request.job.addr == addr:
            return request, True
        return None, False

    def _v2c(self, data: bytes, addr: tuple[str, int], now: float) -> None:
        answer = frames.v2c_answer(data)
        request, late = self._match(answer.request_id, addr)
        if request is None:
            return  # a stray: someone else's answer, or one of a finished sweep
        if late:
            self._late(request, now)
            return
        self._answer(request, answer, now)

    def _late(self, request: Request, now: float) -> None:
        job = request.job
        if job.late is None:
            job.late = now - request.sent

    def _answer(self, request: Request, answer: Answer, now: float) -> None:
        self._done_with(request, now)
        job = request.job
        job.elapsed = max(0.0, now - request.sent)
        if job.remeasuring:
            self._settle(job, Outcome.ANSWERED)
            return
        if answer.error_status:
            index = answer.error_index
            where = job.oids[index - 1] if 0 < index <= len(job.oids) else "?"
            job.error = TransportErrorKind.PROTOCOL
            job.detail = f"{error_status_name(answer.error_status)} at {where}"
        else:
            values: dict[str, Value] = {}
            missing: list[str] = []
            for oid, value in answer.varbinds:
                if value is None:
                    missing.append(oid)
                else:
                    values[oid] = value
            job.values, job.missing, job.error, job.detail = values, missing, None, ""
        self._settle(job, Outcome.ANSWERED)

    def _v3(self, data: bytes, addr: tuple[str, int], now: float) -> None:
        msg = frames.v3_envelope(data)
        request, late = self._match(msg.msg_id, addr)
        if request is None:
            return
        job = request.job
        if request.probe:
            if not msg.engine_id:
                raise Garbage("a discovery report without an engine ID")
            self._learn(addr, msg.engine_id, msg.boots, msg.time, now)
            if not late:
                self._done_with(request, now)
                job.probe_first = False
                job.discovered = job.tries
                self._start(job)  # the GET, in the same attempt
            return
        cred = job.usm
        engine = self._engines.get(addr)
        if cred is None or engine is None:
            return
        keys = engine.keys_for(cred) if msg.flags & FLAG_AUTH else None
        authentic, answer = frames.v3_answer(data, msg, keys, engine.engine_id)
        if authentic and (
            msg.boots > engine.boots or (msg.boots == engine.boots and msg.time >= engine.now(now))
        ):
            engine.boots, engine.time, engine.at = msg.boots, msg.time, now
        if answer.tag == ber.REPORT:
            if not late:
                self._report(request, answer, (msg.engine_id, msg.boots, msg.time), authentic, now)
            return
        if not authentic or not msg.flags & FLAG_PRIV:
            raise Garbage("an answer that is not an authPriv Response")
        if answer.request_id != request.rid:
            raise Garbage("an answer whose request-id does not match its msgID")
        if late:
            self._late(request, now)
        else:
            self._answer(request, answer, now)

    def _learn(self, addr: tuple[str, int], engine_id: bytes, boots: int, time_: int, now: float) -> None:
        engine = self._engines.get(addr)
        if engine is None or engine.engine_id != engine_id:
            self._engines[addr] = Engine(engine_id, boots, time_, now)
        else:
            engine.boots, engine.time, engine.at = boots, time_, now

    def _report(
        self, request: Request, answer: Answer, engine: tuple[bytes, int, int], authentic: bool, now: float
    ) -> None:
        job = request.job
        oid = answer.varbinds[0][0] if answer.varbinds else ""
        if oid in (UNKNOWN_ENGINE_ID, NOT_IN_TIME_WINDOW) and job.resyncs < MAX_RESYNCS:
            # The agent restarted or our clock drifted: learn its engine again and resend at once.
            job.resyncs += 1
            if oid == UNKNOWN_ENGINE_ID or authentic:
                self._learn(job.addr, *engine, now)
            self._done_with(request, now)
            self._start(job)
            return
        self._done_with(request, now)
        if job.remeasuring:
            self._settle(job, Outcome.ANSWERED)
            return
        user = job.usm.user.decode(errors="replace") if job.usm is not None else ""
        kind, text = report_kind(oid, user)
        self._settle(job, Outcome.FAILED, kind, text)
