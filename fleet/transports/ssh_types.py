"""What an SSH run is given and gives back, shared by the netmiko client and the status reader."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from fleet.transports.errors import TransportError, TransportErrorKind

REDACTED = "********"


class SshReader(StrEnum):
    """How a sweep reads devices over SSH (provisioning always uses netmiko)."""

    ASYNCSSH = "asyncssh"  # fleet.transports.ssh_read: sessions on the event loop (default)
    NETMIKO = "netmiko"  # fleet.transports.ssh: one thread per session


@dataclass(frozen=True, slots=True)
class SshTarget:
    name: str
    address: str
    port: int
    device_type: str  # netmiko device type
    username: str
    password: str = field(repr=False)
    expect_string: str | None = None  # regex that ends a command's output; None: the driver's default

    def __repr__(self) -> str:  # never show the password, even in a traceback
        where = f"{self.address}:{self.port}"
        return f"SshTarget({self.name!r}, {where}, {self.device_type}, user={self.username!r})"


@dataclass(slots=True)
class SshResult:
    """What one device answered: raw output per command, or an error (with what was read before it)."""

    name: str
    outputs: dict[str, str] = field(default_factory=dict)
    error: TransportErrorKind | None = None
    detail: str = ""
    elapsed: float = 0.0
    connected: bool = True  # False: the TCP connect never succeeded (refused, unanswered, not tried)

    @property
    def ok(self) -> bool:
        return self.error is None


def host_key_unknown(target: SshTarget, fingerprint: str, where: str) -> TransportError:
    """The refusal of a key not enrolled, worded alike by both SSH paths (``where``: host_name)."""
    return TransportError(
        TransportErrorKind.HOST_KEY_UNKNOWN,
        f"host key {fingerprint} of {where} is not enrolled; "
        f"check it, then run 'fleet ssh trust --device {target.name}'",
    )


def host_key_changed(target: SshTarget, offered: str, expected: str) -> TransportError:
    return TransportError(
        TransportErrorKind.HOST_KEY_CHANGED,
        f"host key changed: the device offers {offered}, {expected} is enrolled; refused. If the "
        f"change is expected, run 'fleet ssh trust --replace --device {target.name}'",
    )


def login_refused(target: SshTarget) -> TransportError:
    return TransportError(TransportErrorKind.AUTH_FAILED, f"login refused for user '{target.username}'")


def safe_file_name(name: str) -> str:
    """A device name as a transcript's file name: nothing that escapes the directory."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return cleaned if cleaned and not cleaned.startswith(".") else f"_{cleaned}"
