"""fleet's SSH host keys: an OpenSSH-format known_hosts file, and fetching a device's key to enrol it.

fleet never trusts a host key on first use. ``fleet ssh trust`` fetches each device's key (no
login) and records the new ones; the collector then refuses any device whose key is unknown or
differs from the recorded one. A changed key is replaced only when the operator says so.

The file is the one OpenSSH reads (``[127.0.1.2]:2222 ssh-ed25519 AAAA…``), so ``ssh -o
UserKnownHostsFile=known_hosts`` verifies devices the same way. Lines fleet does not manage
(comments, hashed names, ``@cert-authority``/``@revoked`` markers, host lists) are kept as they are;
plain and hashed names are both found by lookup. Writes are atomic.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import logging
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import paramiko

from fleet.inventory.writer import write_atomic
from fleet.transports.errors import TransportError, TransportErrorKind

SSH_PORT = 22

# paramiko logs every failed connection at ERROR level, with a traceback, from its own thread;
# fleet reports each failure itself as a TransportError, so paramiko's copies stay out of the
# terminal (unless logging was configured for paramiko on purpose).
if logging.getLogger("paramiko.transport").level == logging.NOTSET:
    logging.getLogger("paramiko.transport").setLevel(logging.CRITICAL)
# Preferences that cut paramiko's CPU per session; nothing is disabled, only the order changes.
# curve25519 is the cheapest key exchange that devices commonly offer (the post-quantum hybrid
# paramiko would pick first costs more on both sides). AES-GCM needs no separate MAC: with a MAC
# paramiko compares every packet's tag byte by byte in Python (about a fifth of a session's CPU).
PREFERRED_KEX = ("curve25519-sha256", "curve25519-sha256@libssh.org")
PREFERRED_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")


def host_name(address: str, port: int) -> str:
    """How OpenSSH names a host in known_hosts: ``address`` on port 22, ``[address]:port`` otherwise."""
    return address if port == SSH_PORT else f"[{address}]:{port}"


@dataclass(frozen=True, slots=True)
class HostKey:
    """A public host key as a known_hosts line holds it: the type and the base64 blob."""

    key_type: str
    blob: str

    @property
    def fingerprint(self) -> str:
        """``SHA256:…`` as OpenSSH prints it."""
        digest = hashlib.sha256(base64.b64decode(self.blob)).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")

    def to_paramiko(self) -> paramiko.PKey:
        return paramiko.PKey.from_type_string(self.key_type, base64.b64decode(self.blob))

    @classmethod
    def from_paramiko(cls, key: paramiko.PKey) -> HostKey:
        return cls(key.get_name(), key.get_base64())


class Enrolment(StrEnum):
    NEW = "new"  # unknown before: recorded
    KNOWN = "known"  # the same key is recorded already: nothing to do
    CHANGED = "changed"  # differs from the recorded key: refused (replace not asked for)
    REPLACED = "replaced"  # differed, and replaced because the operator asked for it


def _matches(host_field: str, name: str) -> bool:
    """Whether a known_hosts host field (a comma list of names, or a hashed name) names ``name``."""
    for pattern in host_field.split(","):
        if pattern.startswith("|1|"):
            try:
                _, _, salt, digest = pattern.split("|", 3)
                mac = hmac.new(base64.b64decode(salt), name.encode(), hashlib.sha1).digest()
                if hmac.compare_digest(mac, base64.b64decode(digest)):
                    return True
            except (ValueError, binascii.Error):
                continue
        elif pattern == name:
            return True
    return False


@dataclass(slots=True)
class _Line:
    text: str  # the line as read (without its line break)
    hosts: str = ""  # host field of a key line fleet can use; empty for anything else
    key: HostKey | None = None


def _parse(text: str) -> _Line:
    fields = text.split()
    if not fields or fields[0].startswith(("#", "@")) or len(fields) < 3:
        return _Line(text)  # comments, blank lines and marker lines (@revoked, @cert-authority) are kept
    hosts, key_type, blob = fields[:3]
    try:
        base64.b64decode(blob, validate=True)
    except (ValueError, binascii.Error):
        return _Line(text)
    return _Line(text, hosts, HostKey(key_type, blob))


class KnownHosts:
    """A known_hosts file read into memory, indexed by host name; ``save()`` writes it back atomically."""

    def __init__(self, path: Path, lines: list[_Line] | None = None) -> None:
        self.path = path
        self._lines: list[_Line] = []
        self._plain: dict[str, list[_Line]] = {}  # host name -> key lines naming it in clear
        self._hashed: list[_Line] = []  # key lines with a hashed name (found by trying each)
        self._changed = False
        for line in lines or []:
            self._add(line)

    def _add(self, line: _Line) -> None:
        self._lines.append(line)
        if line.key is None:
            return
        for pattern in line.hosts.split(","):
            if pattern.startswith("|"):
                self._hashed.append(line)
            else:
                self._plain.setdefault(pattern, []).append(line)

    @classmethod
    def load(cls, path: Path) -> KnownHosts:
        """Read ``path``; a missing file is an empty one."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise TransportError(TransportErrorKind.INTERNAL, f"cannot read {path}: {exc}") from None
        return cls(path, [_parse(line) for line in text.splitlines()])

    def __len__(self) -> int:
        return sum(1 for line in self._lines if line.key is not None)

    @property
    def changed(self) -> bool:
        return self._changed

    def _lines_for(self, name: str) -> list[_Line]:
        found = list(self._plain.get(name, ()))
        found += [h for h in self._hashed if all(h is not f for f in found) and _matches(h.hosts, name)]
        return found

    def lookup(self, address: str, port: int) -> list[HostKey]:
        """The keys recorded for a device (usually one)."""
        return [line.key for line in self._lines_for(host_name(address, port)) if line.key is not None]

    def resolver(self) -> Callable[[str, int], list[HostKey]]:
        """``lookup`` for a run over many devices (the index makes it cheap already)."""
        return self.lookup

    def enrol(self, address: str, port: int, key: HostKey, *, replace: bool = False) -> Enrolment:
        """Record a device's key: unknown → recorded; same → nothing; changed → refused unless ``replace``."""
        known = self.lookup(address, port)
        if key in known:
            return Enrolment.KNOWN
        if known and not replace:
            return Enrolment.CHANGED
        if known:
            self.forget(address, port)
        name = host_name(address, port)
        self._add(_Line(f"{name} {key.key_type} {key.blob}", name, key))
        self._changed = True
        return Enrolment.REPLACED if known else Enrolment.NEW

    def forget(self, address: str, port: int) -> int:
        """Remove every key recorded for a device; returns how many lines went."""
        going = self._lines_for(host_name(address, port))
        if not going:
            return 0
        kept = [line for line in self._lines if all(line is not g for g in going)]
        self._lines, self._plain, self._hashed = [], {}, []
        for line in kept:
            self._add(line)
        self._changed = True
        return len(going)

    def render(self) -> str:
        return "".join(line.text + "\n" for line in self._lines)

    def save(self) -> None:
        """Write the file atomically (a reader sees the old file or the new one, never half of it)."""
        write_atomic(self.path, self.render())
        self._changed = False


def prefer(options: Iterable[str], first: Iterable[str]) -> list[str]:
    """``options`` reordered so that those in ``first`` come first; nothing is dropped."""
    wanted = list(first)
    listed = list(options)
    return [o for o in wanted if o in listed] + [o for o in listed if o not in wanted]


def tune(transport: paramiko.Transport) -> paramiko.SecurityOptions:
    """Apply fleet's algorithm preferences to a transport not yet started; returns its options."""
    options = transport.get_security_options()
    options.kex = prefer(options.kex, PREFERRED_KEX)
    options.ciphers = prefer(options.ciphers, PREFERRED_CIPHERS)
    return options


def open_socket(address: str, port: int, timeout: float) -> socket.socket:
    """A connected TCP socket with Nagle off (paramiko leaves it on: ~85 ms more per login on loopback).

    Raises TransportError REFUSED or TIMEOUT (or TIMEOUT for an unreachable host).
    """
    try:
        sock = socket.create_connection((address, port), timeout=max(timeout, 0.001))
    except ConnectionRefusedError:
        raise TransportError(TransportErrorKind.REFUSED, f"connection refused by {address}:{port}") from None
    except TimeoutError:
        raise TransportError(
            TransportErrorKind.TIMEOUT, f"TCP connect timed out after {timeout:g} s"
        ) from None
    except OSError as exc:
        raise TransportError(TransportErrorKind.TIMEOUT, f"cannot connect: {exc.strerror or exc}") from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def classify_handshake(exc: BaseException, transport: paramiko.Transport | None) -> TransportError:
    """What a failed SSH handshake (banner, key exchange) means, from paramiko's exception chain."""
    chain = exception_chain(exc)
    banner_seen = transport is not None and bool(transport.remote_version)
    if any(isinstance(e, ConnectionResetError) for e in chain):
        return TransportError(TransportErrorKind.RESET, "the device reset the connection")
    if any(isinstance(e, EOFError | BrokenPipeError | ConnectionAbortedError) for e in chain):
        return TransportError(TransportErrorKind.RESET, "the device closed the connection")
    if not banner_seen and (
        any(isinstance(e, TimeoutError) for e in chain) or "SSH protocol banner" in str(exc)
    ):
        return TransportError(TransportErrorKind.BANNER_TIMEOUT, "TCP connection open but no SSH banner")
    if isinstance(exc, paramiko.SSHException):
        return TransportError(TransportErrorKind.PROTOCOL, f"SSH negotiation failed: {exc}")
    return TransportError(TransportErrorKind.INTERNAL, f"{type(exc).__name__}: {exc}")


def exception_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or during, innermost last (bounded)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 20:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def fetch_host_key(address: str, port: int, timeout: float, prefer_types: Iterable[str] = ()) -> HostKey:
    """The device's host key, from the key exchange alone (no login). Bounded by ``timeout`` in all.

    ``prefer_types`` (the types already recorded for the device) are asked for first, so a device
    with several keys is compared like for like. Raises TransportError.
    """
    deadline = time.monotonic() + timeout
    sock = open_socket(address, port, timeout)
    transport: paramiko.Transport | None = None
    try:
        transport = paramiko.Transport(sock)
        options = tune(transport)
        if prefer_types:
            options.key_types = prefer(options.key_types, prefer_types)
        remaining = max(deadline - time.monotonic(), 0.001)
        transport.banner_timeout = remaining
        try:
            transport.start_client(timeout=remaining)
            if not transport.initial_kex_done:
                raise TimeoutError  # start_client returns quietly when its timeout runs out
            return HostKey.from_paramiko(transport.get_remote_server_key())
        except TimeoutError:
            if transport.remote_version:
                raise TransportError(
                    TransportErrorKind.TIMEOUT, f"key exchange not finished within {timeout:g} s"
                ) from None
            raise TransportError(
                TransportErrorKind.BANNER_TIMEOUT,
                f"TCP connection open but no SSH banner within {timeout:g} s",
            ) from None
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise classify_handshake(exc, transport) from None
    finally:
        if transport is not None:
            transport.close()
        with contextlib.suppress(OSError):
            sock.close()
