"""What can go wrong talking to a device, as fleet names it (never a library's exception)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fleet.errors import FleetError


class TransportErrorKind(StrEnum):
    TIMEOUT = "timeout"  # no answer in time (SNMP), or connect/read timed out (SSH)
    REFUSED = "refused"  # TCP connection refused
    RESET = "reset"  # the device dropped the connection
    AUTH_FAILED = "auth_failed"  # SSH login refused; SNMPv3 wrong key or unknown user
    BANNER_TIMEOUT = "banner_timeout"  # TCP open, no SSH banner
    HOST_KEY_UNKNOWN = "host_key_unknown"  # not enrolled with 'fleet ssh trust'
    HOST_KEY_CHANGED = "host_key_changed"  # differs from the enrolled key: refused, never replaced
    MALFORMED = "malformed"  # an answer fleet cannot read
    NO_SUCH_OBJECT = "no_such_object"  # the agent lacks an object the driver reads
    PROTOCOL = "protocol"  # an SNMP error-status, a CLI error line
    SECRET = "secret"  # noqa: S105 - a kind of error: a credential reference could not be resolved
    INTERNAL = "internal"  # a bug in fleet: reported, never hidden
    CANCELLED = "cancelled"  # the run's deadline came first: says nothing about the device
    REJECTED = "rejected"  # the device refused a configuration line (an error pattern matched)
    INCOMPLETE = "incomplete"  # a configuration read that lacks the platform's marks of a whole one


class TransportError(FleetError):
    """A failure talking to one device, with the kind and a readable detail."""

    def __init__(self, kind: TransportErrorKind, detail: str) -> None:
        self.kind = kind
        self.detail = detail
        super().__init__(f"{kind.value}: {detail}")


class ConfigRejected(TransportError):
    """The device answered a configuration line with an error: the line and what it said."""

    def __init__(self, line: str, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(TransportErrorKind.REJECTED, f"'{line}' refused: {message}")


@dataclass(frozen=True, slots=True)
class ConfigMode:
    """How a platform enters and leaves configuration mode (IOS: configure terminal … end).

    Platform data the drivers give and the SSH transport uses; it lives here, beside the errors,
    so that drivers need not import the transport.
    """

    enter: str
    prompt: str  # regex of the configuration prompt, e.g. '\\(config[^)]*\\)#'
    leave: str
