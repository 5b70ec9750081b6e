"""SNMP GETs for a whole sweep, on pysnmp 7's protocol layer and asyncio.

Measured with bench/snmp_transport.py on the shipped inventory against the simulator (9,963
devices: 3,321 v2c cameras, 6,642 SNMPv3 authPriv SHA/AES-128 routers and codecs, each with its own
engine ID; one GET of 5 objects; timeout 1 s, retries 1, 200 in flight; 2 cores shared with the
simulator; a quiet machine, figures from one run):

=====================================  ===========  ==============  =============  ========
client                                 registering  cold / warm     CPU per device peak RSS
=====================================  ===========  ==============  =============  ========
pysnmp hlapi, engine pool (before)     21-27 s      60 s / 20-33 s  3.2-6.0 ms     685-707 MB
                                                    (44-809 false timeouts)
this module, 2 worker processes        none         5.6 s / 4.0 s   0.94 / 0.70 ms 207 MB
net-snmp snmpget forked per device     none         ~43 s (229 devices/s at best)  7.2 ms
=====================================  ===========  ==============  =============  ========

The cold figure is a new client: worker processes start and every v3 engine is discovered. No
false timeouts cold or warm, v2c or v3; with 10% of the devices dead a sweep took 5.8 s against
the bound timeout x (retries + 1) + healthy sweep = 6.0-6.2 s.

Why it is built this way:

- pysnmp's ``SnmpEngine`` (the v3arch hlapi) keeps targets, users and discovered remote engines in
  MIB-instrumented tables: registering a target cost 2.7 ms of MIB writes; each remote engine
  adds a USM row after which the user map is rebuilt by walking the table (quadratic: the cold
  sweep's false timeouts); each GET walks LCD, target and MIB-view lookups. None of that is needed
  to send one GET to a known address.
- So this module uses pysnmp's protocol layer directly: its ASN.1 message types (``api.v2c``,
  ``mpmod.rfc3412`` SNMPv3Message/ScopedPDU/HeaderData, USM security parameters) with pyasn1's
  BER codec, its HMAC-SHA/SHA-2 and AES services and its key hashing and localisation. What this
  module adds is a command generator's RFC 3414 procedure: engine discovery (a report, then
  cached per device), time-window and engine-ID resync, USM reports as fleet's error kinds. It is
  checked against the simulator and against net-snmp's snmpd (tests).
- Passwords are hashed to master keys once per credential set (the 1 MB hash of RFC 3414 A.2)
  and localised per engine ID (one hash); the old code paid the 1 MB hash again per engine.
- Requests are frames: pyasn1 encodes a message twice with every varying field filled with
  different bytes, and each send writes the fields into the gaps (request-id, msgID, engine ID,
  boots, time, salt, ciphertext): 0.36 ms of pyasn1 encoding per v3 request becomes a 0.04 ms
  join. What remains is decoding answers with pyasn1: about 0.4 ms for v2c, 0.65 ms for v3.
- One Python process tops out near one core: sweeps of ``SHARD_MIN`` devices or more are sharded
  over worker processes (one per core), a device always to the same worker, which keeps its
  engine ID for later sweeps; results come back as plain Python values.
- One UDP socket per process, with a 4 MB receive buffer (the kernel default, 212 KB, dropped
  bursts of replies) and kernel receive timestamps (SO_TIMESTAMP): ``elapsed`` is when the answer
  reached the machine, not when a busy client got round to it, and the socket is read to the end
  before any request is declared timed out, so a busy client causes no false timeouts.
- Dead devices must not serialise a sweep: a request unanswered for 4 typical answer times, whose
  answer is not waiting unread in the socket, stops counting against ``in_flight``; waiting for it
  costs nothing. Dead devices are then timed out together.
- Retries are confirm passes: the main pass sends each device one request; a device that stayed
  silent is asked again, paced, as soon as its request has timed out, so it is reported silent
  only after ``retries + 1`` silences and a sweep with dead devices ends about timeout x
  (retries + 1) after its last first request. A v3 confirm attempt rediscovers first, which
  tells a device that ignores our authenticated requests (net-snmp drops what it cannot decrypt)
  from a dead one. An answer slower than ``slow_after`` is measured once more, paced.
- pysnmp drops a datagram it cannot decode, which then looks like a timeout. Here an undecodable
  datagram from a device we wait for is kept, and a device that never answered readably but sent
  one is reported MALFORMED; a valid answer that came after its request had timed out is reported
  as a TIMEOUT "answered after the timeout".
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import math
import os
import platform
import resource
import socket
import struct
import subprocess
import sys
import time
import weakref
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from pyasn1.codec.ber import decoder, encoder
from pyasn1.error import PyAsn1Error
from pyasn1.type import namedtype, univ
from pysnmp.proto import errind, rfc1902, rfc1905
from pysnmp.proto.api import v2c
from pysnmp.proto.api.verdec import decode_message_version
from pysnmp.proto.mpmod.rfc3412 import HeaderData, ScopedPDU, SNMPv3Message
from pysnmp.proto.secmod.rfc3414.auth.hmacsha import HmacSha
from pysnmp.proto.secmod.rfc3414.service import UsmSecurityParameters
from pysnmp.proto.secmod.rfc3826.priv.aes import Aes
from pysnmp.proto.secmod.rfc7860.auth.hmacsha2 import HmacSha2

from fleet.domain.enums import SnmpAuthProtocol, SnmpPrivProtocol, SnmpVersion
from fleet.transports.errors import TransportErrorKind

Value = int | str | bytes

SHARD_MIN = 1000  # sweeps at least this large go to worker processes
RECEIVE_BUFFER = 4 * 1024 * 1024
CONFIRM_RATE = 1000.0  # requests/s (per process) asking silent devices again
REMEASURE_RATE = 500.0  # requests/s (per process) measuring slow answers again
STALE_FACTOR = 4.0  # a request unanswered for this many typical answer times stops holding a slot
MAX_RESYNCS = 2  # engine re-discoveries / time-window resyncs within one attempt
MAX_MESSAGE = 65507

_V2C_VERSION, _V3_VERSION = 1, 3  # msgVersion values
_USM = 3
_FLAG_AUTH, _FLAG_PRIV, _FLAG_REPORTABLE = 0x01, 0x02, 0x04
_RID_LOW, _RID_SPAN = 0x01000000, 0x7F000000  # request-ids that always encode in 4 bytes


@dataclass(frozen=True, slots=True)
class SnmpCredentials:
    version: SnmpVersion
    community: str = ""
    user: str = ""
    auth_protocol: SnmpAuthProtocol | None = None
    auth_key: str = ""
    priv_protocol: SnmpPrivProtocol | None = None
    priv_key: str = ""

    def __repr__(self) -> str:  # never show a secret, even in a traceback
        return f"SnmpCredentials({self.version.value}, user={self.user!r})"


@dataclass(frozen=True, slots=True)
class SnmpTarget:
    name: str
    address: str
    port: int
    credentials: SnmpCredentials


@dataclass(slots=True)
class SnmpResult:
    """What one device answered, as plain Python values keyed by dotted OID, or an error.

    Values: INTEGER, Counter32/64, Gauge32, TimeTicks and Unsigned32 are ``int``; OCTET STRING
    (and Opaque) is ``bytes``; OBJECT IDENTIFIER a dotted ``str``; IpAddress a dotted-quad ``str``.
    Objects the agent lacks (noSuchObject, noSuchInstance, endOfMibView, NULL) are in ``missing``.
    ``elapsed`` runs from sending the request that got the answer to the answer; ``attempts``
    counts the requests the device needed before it answered (all of them when it never did; a
    re-measurement of a slow answer is not counted).
    """

    name: str
    values: dict[str, Value] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    error: TransportErrorKind | None = None
    detail: str = ""
    elapsed: float = 0.0
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class SnmpStats:
    """Counters for benchmarks, since the client (or its worker processes) started."""

    workers: int = 0
    worker_cpu: float = 0.0  # seconds, all workers
    worker_peak_rss_mb: float = 0.0  # sum of each worker's peak
    worker_pids: tuple[int, ...] = ()
    requests: int = 0  # datagrams sent (v3 discovery probes included)
    datagrams: int = 0  # datagrams received


# pysnmp's error indications, by what they mean to a NOC engineer.
_INDICATIONS: dict[type[Any], TransportErrorKind] = {
    errind.RequestTimedOut: TransportErrorKind.TIMEOUT,
    errind.UnknownUserName: TransportErrorKind.AUTH_FAILED,
    errind.WrongDigest: TransportErrorKind.AUTH_FAILED,
    errind.AuthenticationFailure: TransportErrorKind.AUTH_FAILED,
    errind.UnsupportedSecurityLevel: TransportErrorKind.AUTH_FAILED,
    errind.DecryptionError: TransportErrorKind.AUTH_FAILED,
    errind.NotInTimeWindow: TransportErrorKind.PROTOCOL,
}


def classify_indication(indication: Any) -> TransportErrorKind:
    for kind, mapped in _INDICATIONS.items():
        if isinstance(indication, kind):
            return mapped
    return TransportErrorKind.PROTOCOL


# USM statistics an agent reports (RFC 3414 section 5), with pysnmp's indication and our words.
_USM_STATS = (1, 3, 6, 1, 6, 3, 15, 1, 1)
_UNKNOWN_ENGINE_ID = (*_USM_STATS, 4, 0)
_NOT_IN_TIME_WINDOW = (*_USM_STATS, 2, 0)
_REPORTS: dict[tuple[int, ...], tuple[Any, str]] = {
    (*_USM_STATS, 1, 0): (errind.unsupportedSecurityLevel, "the agent does not offer authPriv to this user"),
    (*_USM_STATS, 3, 0): (errind.unknownUserName, "the agent does not know user {user!r}"),
    (*_USM_STATS, 5, 0): (errind.wrongDigest, "wrong authentication key (the agent reports a wrong digest)"),
    (*_USM_STATS, 6, 0): (errind.decryptionError, "wrong privacy key (the agent cannot decrypt)"),
}

_AUTH_SERVICES: dict[SnmpAuthProtocol, Callable[[], tuple[Any, tuple[int, ...]]]] = {
    SnmpAuthProtocol.SHA: lambda: (HmacSha(), HmacSha.SERVICE_ID),
    SnmpAuthProtocol.SHA256: lambda: (
        HmacSha2(HmacSha2.SHA256_SERVICE_ID),
        HmacSha2.SHA256_SERVICE_ID,
    ),
}


def _aes256() -> Any:
    # Imported late: importing it before pysnmp's USM service sends pysnmp's own imports in a circle.
    from pysnmp.proto.secmod.eso.priv.aes256 import Aes256  # noqa: PLC0415

    return Aes256()  # the key extension Cisco and most vendors use


_PRIV_SERVICES: dict[SnmpPrivProtocol, Callable[[], Any]] = {
    SnmpPrivProtocol.AES: Aes,  # AES-128 CFB, RFC 3826
    SnmpPrivProtocol.AES256: _aes256,
}


class _Garbage(Exception):
    """A datagram that is not a readable SNMP answer."""


_DECODE_ERRORS = (PyAsn1Error, _Garbage, ValueError, IndexError)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 80 else text[:77] + "..."


# --- encoding: templates built by pyasn1, request-id patched per send ----------------------------


class _Frame:
    """An encoded message whose varying fields are filled in per send.

    pyasn1 encodes the message twice, each varying field filled with 0x11 bytes, then with 0x22
    bytes; the spans where the two encodings differ are the fields (their widths are checked), and
    everything around them is kept as pyasn1 encoded it. Integer fields are positive and given in
    their minimal width (``_octets``), so any value of that width fits the same frame.
    """

    __slots__ = ("segments",)

    def __init__(self, build: Callable[[bytes], bytes], widths: Sequence[int]) -> None:
        a, b = build(b"\x11"), build(b"\x22")
        if len(a) != len(b):
            raise ValueError("the message frame is not stable")
        segments: list[bytes] = []
        start = i = 0
        while i < len(a):
            if a[i] == b[i]:
                i += 1
                continue
            end = i
            while end < len(a) and a[end] != b[end]:
                end += 1
            segments.append(a[start:i])
            start = i = end
        segments.append(a[start:])
        spans = [len(a) - sum(map(len, segments))]  # total; checked per field below
        if len(segments) != len(widths) + 1 or spans[0] != sum(widths):
            raise ValueError("the message frame does not have the expected fields")
        self.segments = segments

    def join(self, fields: Sequence[bytes]) -> bytes:
        parts = [self.segments[0]]
        for value, segment in zip(fields, self.segments[1:], strict=True):
            parts.append(value)
            parts.append(segment)
        return b"".join(parts)


def _octets(value: int) -> bytes:
    """A non-negative INTEGER's content octets, as BER writes them (minimal, sign bit clear)."""
    return value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big")


def _filled(fill: bytes, width: int) -> int:
    return int.from_bytes(fill * width, "big")


def _get_pdu(rid: int, oids: Sequence[str]) -> Any:
    pdu = v2c.GetRequestPDU()
    v2c.apiPDU.set_defaults(pdu)
    v2c.apiPDU.set_request_id(pdu, rid)
    v2c.apiPDU.set_varbinds(pdu, [(rfc1902.ObjectName(oid), v2c.null) for oid in oids])
    return pdu


def _v2c_frame(community: bytes, oids: tuple[str, ...]) -> _Frame:
    """A v2c GET; field: the request-id."""

    def build(fill: bytes) -> bytes:
        msg = v2c.Message()
        v2c.apiMessage.set_defaults(msg)
        v2c.apiMessage.set_community(msg, community)
        v2c.apiMessage.set_pdu(msg, _get_pdu(_filled(fill, 4), oids))
        return bytes(encoder.encode(msg))

    return _Frame(build, [4])


def _scoped(engine_id: bytes, pdu: Any) -> Any:
    scoped = ScopedPDU()
    scoped.setComponentByPosition(0, engine_id)
    scoped.setComponentByPosition(1, b"")
    scoped.setComponentByPosition(2)
    scoped.getComponentByPosition(2).setComponentByType(pdu.tagSet, pdu)
    return scoped


def _scoped_frame(engine_id_length: int, oids: tuple[str, ...]) -> _Frame:
    """A v3 scoped GET PDU; fields: the context engine ID, the request-id."""

    def build(fill: bytes) -> bytes:
        return bytes(encoder.encode(_scoped(fill * engine_id_length, _get_pdu(_filled(fill, 4), oids))))

    return _Frame(build, [engine_id_length, 4])


def _v3_message(
    msg_id: int, flags: int, params: tuple[bytes, int, int, bytes, bytes, bytes], data: Any
) -> bytes:
    """An SNMPv3 message; ``data`` is a ScopedPDU, or the bytes of an encrypted one."""
    usm = UsmSecurityParameters()
    for position, value in enumerate(params):
        usm.setComponentByPosition(position, value)
    msg = SNMPv3Message()
    msg.setComponentByPosition(0, _V3_VERSION)
    header = msg.setComponentByPosition(1).getComponentByPosition(1)
    header.setComponentByPosition(0, msg_id)
    header.setComponentByPosition(1, MAX_MESSAGE)
    header.setComponentByPosition(2, bytes((flags,)))
    header.setComponentByPosition(3, _USM)
    msg.setComponentByPosition(2, encoder.encode(usm))
    choice = msg.setComponentByPosition(3).getComponentByPosition(3)
    choice.setComponentByPosition(1 if isinstance(data, bytes) else 0, data)
    return bytes(encoder.encode(msg))


def _v3_frame(widths: tuple[int, int, int, int], user: bytes, digest_length: int) -> _Frame:
    """An authPriv v3 message; fields: msgID, engine ID, boots, time, salt, encrypted scoped PDU."""
    engine_id_length, boots_width, time_width, data_length = widths

    def build(fill: bytes) -> bytes:
        params = (
            fill * engine_id_length,
            _filled(fill, boots_width),
            _filled(fill, time_width),
            user,
            b"\x00" * digest_length,
            fill * 8,
        )
        return _v3_message(
            _filled(fill, 4), _FLAG_AUTH | _FLAG_PRIV | _FLAG_REPORTABLE, params, fill * data_length
        )

    return _Frame(build, [4, engine_id_length, boots_width, time_width, 8, data_length])


# The discovery probe (RFC 3414 4): no user, no engine ID, reportable, an empty GET; fields: the
# msgID and the request-id (the same number).
_PROBE = _Frame(
    lambda fill: _v3_message(
        _filled(fill, 4),
        _FLAG_REPORTABLE,
        (b"", 0, 0, b"", b"", b""),
        _scoped(b"", _get_pdu(_filled(fill, 4), ())),
    ),
    [4, 4],
)


class _V3Envelope(univ.Sequence):  # type: ignore[misc]
    """SNMPv3Message with msgData left encoded, to decode the scoped PDU only when it is needed."""

    componentType = namedtype.NamedTypes(
        namedtype.NamedType("msgVersion", univ.Integer()),
        namedtype.NamedType("msgGlobalData", HeaderData()),
        namedtype.NamedType("msgSecurityParameters", univ.OctetString()),
        namedtype.NamedType("msgData", univ.Any()),
    )


# --- decoding: pysnmp types to plain Python values ----------------------------------------------

_V2C_SPEC = v2c.Message()
_V3_SPEC = _V3Envelope()
_ENCRYPTED_SPEC = univ.OctetString()
_USM_SPEC = UsmSecurityParameters()
_SCOPED_SPEC = ScopedPDU()
_RESPONSE = rfc1905.ResponsePDU.tagSet
_REPORT = rfc1905.ReportPDU.tagSet
_ABSENT = (rfc1905.NoSuchObject, rfc1905.NoSuchInstance, rfc1905.EndOfMibView, univ.Null)


def plain_value(value: Any) -> Value | None:
    """A pysnmp value as a plain Python value; None for an object the agent lacks."""
    if isinstance(value, _ABSENT):
        return None
    if isinstance(value, rfc1902.IpAddress):
        return ".".join(str(octet) for octet in value.asNumbers())
    if isinstance(value, univ.Integer):
        return int(value)
    if isinstance(value, univ.ObjectIdentifier):
        return ".".join(str(arc) for arc in value)
    if isinstance(value, univ.OctetString):
        return bytes(value.asOctets())
    raise _Garbage(f"unexpected value type {type(value).__name__}")


def _decode(data: bytes, spec: Any) -> Any:
    value, rest = decoder.decode(data, asn1Spec=spec)
    if rest:
        raise _Garbage(f"{len(rest)} bytes after the message")
    return value


# --- one device in one sweep ---------------------------------------------------------------------


class _Outcome(Enum):
    PENDING = 0
    ANSWERED = 1  # values, or an error-status: the device answered
    FAILED = 2  # final without a retry (auth failure, bad request)
    SILENT = 3  # no answer to the last request


@dataclass(slots=True)
class _Usm:
    """One v3 credential set: pysnmp's services and the master keys, hashed once."""

    user: bytes
    auth: Any
    auth_id: tuple[int, ...]
    priv: Any
    auth_master: Any
    priv_master: Any

    @classmethod
    def make(cls, creds: SnmpCredentials) -> _Usm:
        if creds.auth_protocol is None or creds.priv_protocol is None:
            raise ValueError("v3 credentials need an auth and a privacy protocol (fleet uses authPriv only)")
        if len(creds.auth_key) < 8 or len(creds.priv_key) < 8:
            raise ValueError("SNMPv3 keys must be at least 8 characters (RFC 3414)")
        auth, auth_id = _AUTH_SERVICES[creds.auth_protocol]()
        priv = _PRIV_SERVICES[creds.priv_protocol]()
        return cls(
            creds.user.encode(),
            auth,
            auth_id,
            priv,
            auth.hash_passphrase(creds.auth_key),
            priv.hash_passphrase(auth_id, creds.priv_key),
        )


@dataclass(slots=True)
class _Engine:
    """What we learnt about one agent's SNMPv3 engine (RFC 3414 2.3), kept across sweeps."""

    engine_id: bytes
    boots: int
    time: int
    at: float  # monotonic time ``time`` was learnt
    keys: dict[int, tuple[Any, Any]] = field(default_factory=dict)  # id(_Usm) -> localised keys

    def now(self, now: float) -> int:
        return max(0, min(self.time + int(now - self.at), 2147483647))


class _Kind(Enum):
    MAIN = 0
    CONFIRM = 1
    REMEASURE = 2


Emit = Callable[[int, "SnmpResult"], None]


class _Pass:
    """One round of attempts; the next round follows it, taking its silent (or slow) jobs as they come."""

    __slots__ = ("done", "emit", "kind", "open", "round", "sending", "silent", "slow")

    def __init__(self, loop: asyncio.AbstractEventLoop, kind: _Kind, emit: Emit, round_: int) -> None:
        self.kind = kind
        self.emit = emit
        self.round = round_
        self.open = 0  # attempts under way
        self.sending = True
        self.silent: list[_Job] = []  # for the next confirm round
        self.slow: list[_Job] = []  # for the remeasure round
        self.done: asyncio.Future[None] = loop.create_future()

    def check(self) -> None:
        if not self.sending and self.open <= 0 and not self.done.done():
            self.done.set_result(None)


class _Job:
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
        self.usm: _Usm | None = None
        self.values: dict[str, Value] = {}
        self.missing: list[str] = []
        self.error: TransportErrorKind | None = None
        self.detail = ""
        self.elapsed = 0.0
        self.tries = 0
        self.outcome = _Outcome.PENDING
        self.garbage = ""  # what an undecodable datagram from this address looked like
        self.late: float | None = None  # seconds after which a timed-out request was answered
        self.resyncs = 0
        self.send_error = ""
        self.probe_first = False
        self.discovered = 0  # the attempt in which the agent last answered engine discovery
        self.remeasuring = False
        self.emitted = False
        self.pass_: _Pass | None = None

    def fail(self, kind: TransportErrorKind, detail: str) -> None:
        self.outcome = _Outcome.FAILED
        self.error = kind
        self.detail = detail

    def result(self, timeout: float) -> SnmpResult:
        if self.outcome in (_Outcome.ANSWERED, _Outcome.FAILED):
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


class _Request:
    __slots__ = ("deadline", "holding", "job", "probe", "rid", "sent")

    def __init__(self, rid: int, job: _Job, probe: bool, sent: float, timeout: float) -> None:
        self.rid = rid
        self.job = job
        self.probe = probe
        self.sent = sent
        self.deadline = sent + timeout
        self.holding = True  # counts against in_flight


def _family(addr: tuple[str, int]) -> int:
    return socket.AF_INET6 if ":" in addr[0] else socket.AF_INET


def _address(address: str, port: int) -> tuple[str, int] | None:
    try:
        return (ipaddress.ip_address(address).compressed, port)
    except ValueError:
        return None


# The kernel's receive timestamp (SO_TIMESTAMP, a struct timeval) tells when an answer arrived even
# when the event loop reads it later: ``elapsed`` then excludes the client's own queue. Linux only,
# on the architectures whose option numbers are the generic ones; elsewhere the read time is used.
_SO_TIMESTAMP = 29 if sys.platform == "linux" and platform.machine() in {"x86_64", "aarch64", "arm64"} else 0
_TIMEVAL = struct.Struct("qq")
READ_BATCH = 64  # datagrams read per wake-up, so timers and sends still get their turn


# --- the sweeper: one socket per address family, in one process ----------------------------------


class _Sweeper:
    """Sends GETs and matches answers for any number of concurrent sweeps in one event loop."""

    def __init__(self, timeout: float, retries: int, in_flight: int, slow_after: float) -> None:
        self.timeout = timeout
        self.retries = retries
        self.in_flight = max(1, in_flight)
        self.slow_after = slow_after
        self.latency = 0.0125  # typical answer time (moving average), for telling stale requests
        self._drained_at = 0.0  # when the sockets were last found empty
        self._read_up_to = 0.0  # kernel arrival time of the last datagram read (they queue in order)
        self.loop = asyncio.get_running_loop()
        self._sockets: dict[int, socket.socket] = {}
        self._pending: dict[int, _Request] = {}
        self._expired: dict[int, _Request] = {}
        self._deadlines: deque[_Request] = deque()
        self._holding: deque[_Request] = deque()
        self._slots = 0
        self._slot_waiters: deque[asyncio.Future[None]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._by_addr: dict[tuple[str, int], list[_Job]] = {}
        self._engines: dict[tuple[str, int], _Engine] = {}
        self._usm: dict[SnmpCredentials, _Usm] = {}
        self._frames: dict[tuple[Any, ...], _Frame] = {}
        self._rid = int.from_bytes(os.urandom(4), "big") % _RID_SPAN
        self.receive_buffer = 0
        self.sent = 0
        self.received_count = 0

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
        for family in {_family(j.addr) for j in jobs if j.outcome is _Outcome.PENDING}:
            self._socket(family)
        for job in jobs:
            if job.outcome is _Outcome.FAILED:
                self._emit(job, emit)
            else:
                self._by_addr.setdefault(job.addr, []).append(job)
        try:
            main = _Pass(self.loop, _Kind.MAIN, emit, 0)
            live = [j for j in jobs if j.outcome is _Outcome.PENDING]
            await asyncio.gather(
                self._main(main, live), self._confirm(main), self._follow(main, _Kind.REMEASURE)
            )
        finally:
            for job in jobs:
                here = self._by_addr.get(job.addr)
                if here is not None and job in here:
                    here.remove(job)
                    if not here:
                        del self._by_addr[job.addr]
                job.pass_ = None
                if job.outcome is _Outcome.PENDING:
                    job.outcome = _Outcome.SILENT
            mine = set(map(id, jobs))
            for rid in [rid for rid, req in self._expired.items() if id(req.job) in mine]:
                del self._expired[rid]
        for job in jobs:
            self._emit(job, emit)

    def _slow(self, job: _Job) -> bool:
        return job.outcome is _Outcome.ANSWERED and job.error is None and job.elapsed > self.slow_after

    def _emit(self, job: _Job, emit: Emit) -> None:
        if not job.emitted:
            job.emitted = True
            emit(job.index, job.result(self.timeout))

    def _job(self, index: int, target: SnmpTarget, oids: Sequence[str]) -> _Job:
        job = _Job(index, target, oids)
        addr = _address(target.address, target.port)
        if addr is None:
            job.fail(TransportErrorKind.INTERNAL, f"not an IP address: {target.address!r}")
            return job
        job.addr = addr
        creds = target.credentials
        try:
            if creds.version is SnmpVersion.V2C:
                job.community = creds.community.encode()
                self._frame(("v2c", job.community, job.oids), _v2c_frame, job.community, job.oids)
            else:
                usm = self._usm.get(creds)
                if usm is None:
                    usm = self._usm[creds] = _Usm.make(creds)
                job.usm = usm
                self._frame(("scoped", 5, job.oids), _scoped_frame, 5, job.oids)  # refuses a bad OID now
        except ValueError as exc:
            job.fail(TransportErrorKind.INTERNAL, f"cannot build the request: {_short(exc)}")
        except PyAsn1Error as exc:
            job.fail(TransportErrorKind.INTERNAL, f"cannot build the request (bad OID?): {_short(exc)}")
        return job

    def _frame(self, key: tuple[Any, ...], make: Callable[..., _Frame], *args: Any) -> _Frame:
        frame = self._frames.get(key)
        if frame is None:
            frame = self._frames[key] = make(*args)
        return frame

    async def _main(self, this: _Pass, jobs: list[_Job]) -> None:
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

    async def _confirm(self, main: _Pass) -> None:
        source = main
        for round_ in range(1, self.retries + 1):
            source = await self._follow(source, _Kind.CONFIRM, round_)

    async def _follow(self, source: _Pass, kind: _Kind, round_: int = 0) -> _Pass:
        """Ask again, paced, the jobs ``source`` found silent (or slow) as they appear; wait for them."""
        this = _Pass(self.loop, kind, source.emit, round_)
        interval = 1 / (CONFIRM_RATE if kind is _Kind.CONFIRM else REMEASURE_RATE)
        queue = source.silent if kind is _Kind.CONFIRM else source.slow
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

    def _attempt(self, this: _Pass, job: _Job) -> None:
        job.pass_ = this
        this.open += 1
        job.remeasuring = this.kind is _Kind.REMEASURE
        if not job.remeasuring:
            job.tries += 1
            job.outcome = _Outcome.PENDING
        job.resyncs = 0
        # A confirm attempt of a v3 device starts with discovery again: it tells a device that is
        # alive but ignores our authenticated requests (a wrong privacy key) from a dead one.
        job.probe_first = this.kind is _Kind.CONFIRM and job.version is SnmpVersion.V3
        self._start(job)

    # --- requests ------------------------------------------------------------------------------

    def _next_rid(self) -> int:
        self._rid = (self._rid + 1) % _RID_SPAN
        return _RID_LOW + self._rid

    def _start(self, job: _Job) -> None:
        try:
            if job.version is SnmpVersion.V2C:
                frame = self._frame(("v2c", job.community, job.oids), _v2c_frame, job.community, job.oids)
                self._send(job, lambda rid: frame.join([rid.to_bytes(4, "big")]), probe=False)
            else:
                engine = self._engines.get(job.addr)
                if engine is None or job.probe_first:
                    self._send(job, lambda rid: _PROBE.join([rid.to_bytes(4, "big")] * 2), probe=True)
                else:
                    self._send(job, lambda rid: self._v3_get(job, engine, rid), probe=False)
        except Exception as exc:  # a bug of ours: report it on the device, never hide it
            self._settle(job, _Outcome.FAILED, TransportErrorKind.INTERNAL, f"{type(exc).__name__}: {exc}")

    def _send(self, job: _Job, build: Callable[[int], bytes], *, probe: bool) -> None:
        rid = self._next_rid()
        data = build(rid)
        now = time.monotonic()
        request = _Request(rid, job, probe, now, self.timeout)
        self._pending[rid] = request
        self._deadlines.append(request)
        self._holding.append(request)
        self._slots += 1
        try:
            self._sockets[_family(job.addr)].sendto(data, job.addr)
        except OSError as exc:  # no route, or the send buffer is full: the request will time out
            job.send_error = f"could not send: {exc.strerror or exc}"
        self.sent += 1
        if self._timer is None:
            self._timer = self.loop.call_later(0.01, self._tick)

    def _v3_get(self, job: _Job, engine: _Engine, rid: int) -> bytes:
        usm = job.usm
        assert usm is not None  # noqa: S101 - v3 jobs always have one
        auth_key, priv_key = self._keys(engine, usm)
        engine_id, rid_octets = engine.engine_id, rid.to_bytes(4, "big")
        length = len(engine_id)
        scoped = self._frame(("scoped", length, job.oids), _scoped_frame, length, job.oids)
        plain = scoped.join([engine_id, rid_octets])
        boots, now = engine.boots, engine.now(time.monotonic())
        encrypted, salt = usm.priv.encrypt_data(priv_key, (boots, now, None), plain)
        boots_octets, time_octets = _octets(boots), _octets(now)
        widths = (length, len(boots_octets), len(time_octets), len(plain))
        digest = usm.auth.digest_length
        frame = self._frame(("v3", widths, usm.user, digest), _v3_frame, widths, usm.user, digest)
        whole = frame.join([rid_octets, engine_id, boots_octets, time_octets, bytes(salt), bytes(encrypted)])
        return bytes(usm.auth.authenticate_outgoing_message(auth_key, whole))

    @staticmethod
    def _keys(engine: _Engine, usm: _Usm) -> tuple[Any, Any]:
        keys = engine.keys.get(id(usm))
        if keys is None:
            engine_id = univ.OctetString(engine.engine_id)
            keys = (
                usm.auth.localize_key(usm.auth_master, engine_id),
                usm.priv.localize_key(usm.auth_id, usm.priv_master, engine_id),
            )
            engine.keys[id(usm)] = keys
        return keys

    # --- timers --------------------------------------------------------------------------------

    def _release(self, request: _Request) -> None:
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
                self._settle(request.job, _Outcome.SILENT)
        if self._pending or holding:
            self._timer = self.loop.call_later(0.01, self._tick)

    def _done_with(self, request: _Request, now: float) -> None:
        """An answer to ``request`` arrived at ``now``."""
        self._pending.pop(request.rid, None)
        self._release(request)
        self.latency += (now - request.sent - self.latency) / 32

    def _settle(
        self, job: _Job, outcome: _Outcome, kind: TransportErrorKind | None = None, detail: str = ""
    ) -> None:
        """The end of a job's attempt; emits the result when it is final."""
        this = job.pass_
        if this is None:
            return  # no attempt under way: a stale event
        job.pass_ = None
        final = True
        if job.remeasuring:
            job.remeasuring = False  # a remeasure keeps the first answer; the caller stored elapsed
        elif outcome is _Outcome.FAILED:
            job.fail(kind or TransportErrorKind.INTERNAL, detail)
        else:
            job.outcome = outcome
            if outcome is _Outcome.SILENT and this.round < self.retries:
                this.silent.append(job)
                final = False
            elif this.kind is _Kind.MAIN and self._slow(job):
                this.slow.append(job)
                final = False
        if final:
            self._emit(job, this.emit)
        this.open -= 1
        this.check()

    # --- answers -------------------------------------------------------------------------------

    def received(self, data: bytes, addr: tuple[str, int], now: float) -> None:
        """A datagram from ``addr`` that arrived at ``now`` (monotonic)."""
        self.received_count += 1
        jobs = self._by_addr.get(addr)
        if not jobs:
            return  # not from a device of a sweep under way: not worth decoding
        try:
            version = jobs[0].version
            if any(job.version is not version for job in jobs):  # one address polled both ways
                version = (
                    SnmpVersion.V3 if int(decode_message_version(data)) == _V3_VERSION else SnmpVersion.V2C
                )
            if version is SnmpVersion.V2C:  # decoded as the version the device is polled with
                self._v2c(data, addr, now)
            else:
                self._v3(data, addr, now)
        except _DECODE_ERRORS as exc:
            for job in jobs:
                if job.pass_ is not None:  # only a device we are waiting for can have sent it
                    job.garbage = f"{len(data)} bytes that are not a readable SNMP answer ({_short(exc)})"
        except Exception as exc:  # a bug of ours: report it on the device, never hide it
            for job in list(jobs):
                detail = f"reading the answer: {exc!r}"
                self._settle(job, _Outcome.FAILED, TransportErrorKind.INTERNAL, detail)

    def _match(self, rid: int, addr: tuple[str, int]) -> tuple[_Request | None, bool]:
        """The request this answers, and whether it had already timed out."""
        request = self._pending.get(rid)
        if request is not None and request.job.addr == addr:
            return request, False
        request = self._expired.get(rid)
        if request is not None and request.job.addr == addr:
            return request, True
        return None, False

    def _v2c(self, data: bytes, addr: tuple[str, int], now: float) -> None:
        msg = _decode(data, _V2C_SPEC)
        if int(msg.getComponentByPosition(0)) != _V2C_VERSION:
            raise _Garbage("not an SNMPv2c message")
        pdu = v2c.apiMessage.get_pdu(msg)
        if pdu.tagSet != _RESPONSE:
            raise _Garbage("not a Response PDU")
        request, late = self._match(int(v2c.apiPDU.get_request_id(pdu)), addr)
        if request is None:
            return  # a stray: someone else's answer, or one of a finished sweep
        if late:
            self._late(request, now)
            return
        self._answer(request, pdu, now)

    def _late(self, request: _Request, now: float) -> None:
        job = request.job
        if job.late is None:
            job.late = now - request.sent

    def _answer(self, request: _Request, pdu: Any, now: float) -> None:
        self._done_with(request, now)
        job = request.job
        elapsed = max(0.0, now - request.sent)
        if job.remeasuring:
            job.elapsed = elapsed
            self._settle(job, _Outcome.ANSWERED)
            return
        status = int(pdu.getComponentByPosition(1))
        varbinds = v2c.apiPDU.get_varbinds(pdu)
        job.elapsed = elapsed
        if status:
            index = int(pdu.getComponentByPosition(2))
            where = job.oids[index - 1] if 0 < index <= len(job.oids) else "?"
            job.error = TransportErrorKind.PROTOCOL
            job.detail = f"{pdu.getComponentByPosition(1).prettyPrint()} at {where}"
        else:
            values: dict[str, Value] = {}
            missing: list[str] = []
            for name, value in varbinds:
                oid = ".".join(str(arc) for arc in name)
                converted = plain_value(value)
                if converted is None:
                    missing.append(oid)
                else:
                    values[oid] = converted
            job.values, job.missing, job.error, job.detail = values, missing, None, ""
        self._settle(job, _Outcome.ANSWERED)

    def _v3(self, data: bytes, addr: tuple[str, int], now: float) -> None:
        msg = _decode(data, _V3_SPEC)
        if int(msg.getComponentByPosition(0)) != _V3_VERSION:
            raise _Garbage("not an SNMPv3 message")
        header = msg.getComponentByPosition(1)
        flags_raw = header.getComponentByPosition(2).asOctets()
        if len(flags_raw) != 1 or int(header.getComponentByPosition(3)) != _USM:
            raise _Garbage("not a USM message")
        request, late = self._match(int(header.getComponentByPosition(0)), addr)
        if request is None:
            return
        flags = flags_raw[0]
        params = _decode(msg.getComponentByPosition(2).asOctets(), _USM_SPEC)
        engine_id = params.getComponentByPosition(0).asOctets()
        boots, engine_time = int(params.getComponentByPosition(1)), int(params.getComponentByPosition(2))
        job = request.job
        if request.probe:
            if not engine_id:
                raise _Garbage("a discovery report without an engine ID")
            self._learn(addr, engine_id, boots, engine_time, now)
            if not late:
                self._done_with(request, now)
                job.probe_first = False
                job.discovered = job.tries
                self._start(job)  # the GET, in the same attempt
            return
        usm = job.usm
        engine = self._engines.get(addr)
        if usm is None or engine is None:
            return
        authentic = False
        if flags & _FLAG_AUTH:
            if engine_id != engine.engine_id:
                raise _Garbage("an authenticated answer from another engine ID")
            try:
                auth_key = self._keys(engine, usm)[0]
                usm.auth.authenticate_incoming_message(auth_key, params.getComponentByPosition(4), data)
            except PyAsn1Error:
                raise _Garbage("an answer that fails authentication") from None
            authentic = True
            if boots > engine.boots or (boots == engine.boots and engine_time >= engine.now(now)):
                engine.boots, engine.time, engine.at = boots, engine_time, now
        pdu = self._pdu(msg, params, flags, authentic, usm, engine)
        if pdu.tagSet == _REPORT:
            if not late:
                self._report(request, pdu, (engine_id, boots, engine_time), authentic, now)
            return
        if pdu.tagSet != _RESPONSE or not authentic or not flags & _FLAG_PRIV:
            raise _Garbage("an answer that is not an authPriv Response")
        if int(v2c.apiPDU.get_request_id(pdu)) != request.rid:
            raise _Garbage("an answer whose request-id does not match its msgID")
        if late:
            self._late(request, now)
        else:
            self._answer(request, pdu, now)

    def _pdu(self, msg: Any, params: Any, flags: int, authentic: bool, usm: _Usm, engine: _Engine) -> Any:
        """The PDU of a v3 message: decrypted when it is encrypted."""
        payload = msg.getComponentByPosition(3).asOctets()
        if flags & _FLAG_PRIV:
            if not authentic:
                raise _Garbage("an encrypted answer without authentication")
            boots, engine_time = int(params.getComponentByPosition(1)), int(params.getComponentByPosition(2))
            salt = list(params.getComponentByPosition(5).asNumbers())
            priv_key = self._keys(engine, usm)[1]
            encrypted = _decode(payload, _ENCRYPTED_SPEC)
            payload = usm.priv.decrypt_data(priv_key, (boots, engine_time, salt), encrypted)
        scoped = _decode(payload, _SCOPED_SPEC)
        return scoped.getComponentByPosition(2).getComponent()

    def _learn(self, addr: tuple[str, int], engine_id: bytes, boots: int, time_: int, now: float) -> None:
        engine = self._engines.get(addr)
        if engine is None or engine.engine_id != engine_id:
            self._engines[addr] = _Engine(engine_id, boots, time_, now)
        else:
            engine.boots, engine.time, engine.at = boots, time_, now

    def _report(
        self,
        request: _Request,
        pdu: Any,
        engine: tuple[bytes, int, int],
        authentic: bool,
        now: float,
    ) -> None:
        job = request.job
        varbinds = v2c.apiPDU.get_varbinds(pdu)
        oid = tuple(varbinds[0][0]) if varbinds else ()
        if oid in (_UNKNOWN_ENGINE_ID, _NOT_IN_TIME_WINDOW) and job.resyncs < MAX_RESYNCS:
            # The agent restarted or our clock drifted: learn its engine again and resend at once.
            job.resyncs += 1
            if oid == _UNKNOWN_ENGINE_ID or authentic:
                self._learn(job.addr, *engine, now)
            self._done_with(request, now)
            self._start(job)
            return
        self._done_with(request, now)
        if job.remeasuring:
            self._settle(job, _Outcome.ANSWERED)
            return
        indication, text = _REPORTS.get(oid, (None, ""))
        if indication is None:
            name = ".".join(str(arc) for arc in oid) or "an empty report"
            self._settle(job, _Outcome.FAILED, TransportErrorKind.PROTOCOL, f"the agent reports {name}")
            return
        user = job.usm.user.decode(errors="replace") if job.usm is not None else ""
        self._settle(job, _Outcome.FAILED, classify_indication(indication), text.format(user=user))


# --- worker processes ----------------------------------------------------------------------------


def _flat(result: SnmpResult) -> tuple[Any, ...]:
    error = result.error.value if result.error is not None else None
    return (result.name, result.values, result.missing, error, result.detail, result.elapsed, result.attempts)


def _unflat(fields: tuple[Any, ...]) -> SnmpResult:
    name, values, missing, error, detail, elapsed, attempts = fields
    kind = TransportErrorKind(error) if error is not None else None
    return SnmpResult(name, values, missing, kind, detail, elapsed, attempts)


def _peak_rss_mb() -> float:
    """This process's peak resident memory. Linux's VmHWM, because ru_maxrss also counts the parent's
    memory that a forked child held until it exec'd this interpreter."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker_entry() -> None:
    """A worker process (started by SnmpClient): run the shards the parent sends until it sends None."""
    conn = Connection(int(sys.argv[1]))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_worker_loop(conn, json.loads(sys.argv[2])))


async def _worker_loop(conn: Any, settings: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    sweeper = _Sweeper(**settings)
    batch: list[tuple[int, tuple[Any, ...]]] = []
    flush_at: list[asyncio.TimerHandle] = []

    def flush() -> None:
        flush_at.clear()
        if batch:
            conn.send(("results", list(batch)))
            batch.clear()

    def emit(index: int, result: SnmpResult) -> None:
        batch.append((index, _flat(result)))
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
            conn.send(("done", cpu, _peak_rss_mb(), sweeper.sent, sweeper.received_count))
    except (EOFError, OSError):
        pass  # the parent went away
    finally:
        sweeper.close()


def _stop_workers(pool: list[_Worker], wait: float) -> None:
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
class _Worker:
    process: subprocess.Popen[bytes]
    conn: Connection
    cpu: float = 0.0
    peak_mb: float = 0.0
    sent: int = 0
    received: int = 0


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
        self._local: _Sweeper | None = None
        self._pool: list[_Worker] = []  # the same list for the client's life (see the finaliser)
        self._pool_lock: asyncio.Lock | None = None
        weakref.finalize(self, _stop_workers, self._pool, 0.5)  # a client dropped without close()

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

    def _sweeper(self) -> _Sweeper:
        loop = asyncio.get_running_loop()
        if self._local is None or self._local.loop is not loop:
            if self._local is not None:
                self._local.close()
            self._local = _Sweeper(self.timeout, self.retries, self.in_flight, self.slow_after)
        return self._local

    # --- sharding over worker processes ------------------------------------------------------

    def _start_pool(self) -> list[_Worker]:
        """Start the missing workers: fresh interpreters that import only this module (not __main__)."""
        self._pool[:] = [w for w in self._pool if w.process.poll() is None]
        per_worker = max(1, math.ceil(self.in_flight / self.workers))
        settings = json.dumps(self._settings(per_worker))
        source_root = str(Path(__file__).resolve().parents[2])  # so a source checkout works as well
        env = os.environ | {"PYTHONPATH": os.pathsep.join([source_root, os.environ.get("PYTHONPATH", "")])}
        code = "from fleet.transports.snmp import _worker_entry; _worker_entry()"
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
            self._pool.append(_Worker(process, Connection(mine.detach())))
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
        worker: _Worker,
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
                    emit(index, _unflat(fields))
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
        _stop_workers(self._pool, wait)

    def close(self) -> None:
        if self._local is not None:
            self._local.close()
            self._local = None
        self._stop_pool(wait=2)
