"""One device in one sweep: its job, its attempts' rounds (passes) and its outstanding requests."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Sequence
from enum import Enum

from fleet.domain.enums import SnmpVersion
from fleet.transports.errors import TransportErrorKind
from fleet.transports.snmp.engines import Usm
from fleet.transports.snmp.types import SnmpResult, SnmpTarget, Value


def short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 80 else text[:77] + "..."


class Outcome(Enum):
    PENDING = 0
    ANSWERED = 1  # values, or an error-status: the device answered
    FAILED = 2  # final without a retry (auth failure, bad request)
    SILENT = 3  # no answer to the last request


class Kind(Enum):
    MAIN = 0
    CONFIRM = 1
    REMEASURE = 2


Emit = Callable[[int, SnmpResult], None]


class Pass:
    """One round of attempts; the next round follows it, taking its silent (or slow) jobs as they come."""

    __slots__ = ("done", "emit", "kind", "open", "round", "sending", "silent", "slow")

    def __init__(self, loop: asyncio.AbstractEventLoop, kind: Kind, emit: Emit, round_: int) -> None:
        self.kind = kind
        self.emit = emit
        self.round = round_
        self.open = 0  # attempts under way
        self.sending = True
        self.silent: list[Job] = []  # for the next confirm round
        self.slow: list[Job] = []  # for the remeasure round
        self.done: asyncio.Future[None] = loop.create_future()

    def check(self) -> None:
        if not self.sending and self.open <= 0 and not self.done.done():
            self.done.set_result(None)


class Job:
    __slots__ = (
        "addr",
        "community",
        "detail",
        "discovered",
        "elapsed",
        "emitted",
        "error",
        "garbage",
        "index",
        "late",
        "missing",
        "name",
        "oids",
        "outcome",
        "pass_",
        "probe_first",
        "remeasuring",
        "resyncs",
        "send_error",
        "tries",
        "usm",
        "values",
        "version",
    )  # fmt: skip

    def __init__(self, index: int, target: SnmpTarget, oids: Sequence[str]) -> None:
        self.index = index
        self.name = target.name
        self.oids = tuple(oids)
        self.version = target.credentials.version
        self.addr: tuple[str, int] = ("", 0)
        self.community = b""
        self.usm: Usm | None = None
        self.values: dict[str, Value] = {}
        self.missing: list[str] = []
        self.error: TransportErrorKind | None = None
        self.detail = ""
        self.elapsed = 0.0
        self.tries = 0
        self.outcome = Outcome.PENDING
        self.garbage = ""  # what an undecodable datagram from this address looked like
        self.late: float | None = None  # seconds after which a timed-out request was answered
        self.resyncs = 0
        self.send_error = ""
        self.probe_first = False
        self.discovered = 0  # the attempt in which the agent last answered engine discovery
        self.remeasuring = False
        self.emitted = False
        self.pass_: Pass | None = None

    def fail(self, kind: TransportErrorKind, detail: str) -> None:
        self.outcome = Outcome.FAILED
        self.error = kind
        self.detail = detail

    def result(self, timeout: float) -> SnmpResult:
        if self.outcome in (Outcome.ANSWERED, Outcome.FAILED):
            attempts = max(1, self.tries)
            return SnmpResult(
                self.name, self.values, self.missing, self.error, self.detail, self.elapsed, attempts
            )
        if self.garbage:
            return SnmpResult(
                self.name,
                error=TransportErrorKind.MALFORMED,
                detail=f"{self.garbage}; no readable answer to {self.tries} request(s)",
                attempts=self.tries,
            )
        if self.late is not None:
            detail = f"answered after the timeout ({self.late:.2f} s > {timeout:g} s)"
        elif self.send_error:
            detail = f"no answer to {self.tries} request(s): {self.send_error}"
        elif self.discovered and self.discovered == self.tries:
            detail = (
                f"no answer to {self.tries} request(s) of {timeout:g} s, though the agent answers SNMPv3 "
                "discovery (a wrong privacy key or privacy protocol looks like this)"
            )
        else:
            detail = f"no answer to {self.tries} request(s) of {timeout:g} s"
            if self.version is SnmpVersion.V2C:
                detail += " (a v2c agent also stays silent for a wrong community)"
        return SnmpResult(self.name, error=TransportErrorKind.TIMEOUT, detail=detail, attempts=self.tries)


class Request:
    __slots__ = ("deadline", "holding", "job", "probe", "rid", "sent")

    def __init__(self, rid: int, job: Job, probe: bool, sent: float, timeout: float) -> None:
        self.rid = rid
        self.job = job
        self.probe = probe
        self.sent = sent
        self.deadline = sent + timeout
        self.holding = True  # counts against in_flight


def family_of(addr: tuple[str, int]) -> int:
    return socket.AF_INET6 if ":" in addr[0] else socket.AF_INET


def address_of(address: str, port: int) -> tuple[str, int] | None:
    try:
        return (ipaddress.ip_address(address).compressed, port)
    except ValueError:
        return None


# The kernel's receive timestamp (SO_TIMESTAMP, a struct timeval) tells when an answer arrived even
