"""What callers give the SNMP transport and what they get back."""

from __future__ import annotations

from dataclasses import dataclass, field

from fleet.domain.enums import SnmpAuthProtocol, SnmpPrivProtocol, SnmpVersion
from fleet.snmp.ber import Value
from fleet.transports.errors import TransportErrorKind

__all__ = ["SnmpCredentials", "SnmpResult", "SnmpStats", "SnmpTarget", "Value"]


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
