"""SSH for simulated devices: one listening socket per device, asyncssh per connection.

Listening sockets are plain sockets watched by the event loop; a connection is handed to
asyncssh only once accepted, so 6,000 listeners cost a socket each and nothing more.

The 'slow' and 'loss' faults act on the link (fleet.sim.link): the server's version string is
held back by the link's lateness before asyncssh starts, and everything a session writes goes
through its link. The rest of the key exchange and the login itself stay fast: one late message
at connect stands for the handshake's round trips, and asyncssh's transport is left untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import hashlib
import logging
import random
import socket
from collections.abc import Callable
from typing import Any

import asyncssh
from asyncssh.connection import SSHServerConnection
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fleet.sim.cli_base import Cli, Reply
from fleet.sim.device import DeviceState
from fleet.sim.faults import FaultKind
from fleet.sim.link import Link, faults_of, lateness

log = logging.getLogger(__name__)

SILENT_HOLD_SECONDS = 300.0  # how long a "no banner" device keeps a connection open in silence
MAX_LINE = 4096  # characters kept of one input line; a real CLI's buffer is smaller still
SERVER_VERSION = {"cisco_ios": "Cisco-1.25", "huawei_vrp": "-", "cisco_ce": "OpenSSH_8.9"}


def host_key(seed: int, name: str) -> asyncssh.SSHKey:
    """A stable ed25519 host key per device: the same seed gives the same keys after a restart."""
    raw = hashlib.sha256(f"fleet-sim-host-key:{seed}:{name}".encode()).digest()
    pem = Ed25519PrivateKey.from_private_bytes(raw).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    return asyncssh.import_private_key(pem)


class CliSession(asyncssh.SSHServerSession):  # type: ignore[type-arg]
    """A PTY shell (or one exec command) on a simulated CLI, with immediate echo like a device.

    Input is handled as it arrives; everything written goes through the session's link, which
    delays it in order for the 'slow' and 'loss' faults (see fleet.sim.link).
    """

    def __init__(self, cli: Cli, link: Link, resets: Callable[[], bool] = lambda: False) -> None:
        self._cli = cli
        self._link = link
        self._resets = resets
        self._chan: Any = None
        self._buffer = ""
        self._last_cr = False
        self._closing = False  # no more input is handled; what is queued still goes out

    def connection_made(self, chan: Any) -> None:
        self._chan = chan

    def pty_requested(self, term_type: str, term_size: Any, term_modes: Any) -> bool:
        return True

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        return True  # answered once the session has started

    def session_started(self) -> None:
        command = self._chan.get_command()
        if command is None:
            self._write(self._cli.banner() + self._cli.prompt())
            return
        reply = self._handle(command)
        if reply.reset:
            self._abort()
            return
        self._write(reply.output + "\n" if reply.output else "")
        self._closing = True
        self._link.send(self._exit)

    def _handle(self, line: str) -> Reply:
        if line.strip() and self._resets():
            return Reply(reset=True)  # the 'ssh_reset' fault: the first command drops the connection
        try:
            return self._cli.handle(line)
        except Exception:  # a simulator bug must not hang the session; say so and carry on
            log.exception("CLI failed on %r", line)
            return Reply("% Internal error in the simulated CLI")

    def data_received(self, data: str, datatype: Any) -> None:
        if self._closing:
            return
        # Echo typed characters per chunk; the Enter itself is answered by the reply's leading
        # CRLF, as on a real device. The echo and the answers to the lines the chunk completes
        # leave in one write: the same bytes in the same order, in one packet instead of several.
        out = ["".join(ch for ch in data if ch >= " " and ch != "\x7f")]
        lines: list[str] = []
        for ch in data:
            if ch in "\r\n":
                if ch == "\n" and self._last_cr:
                    self._last_cr = False
                    continue
                self._last_cr = ch == "\r"
                lines.append(self._buffer)
                self._buffer = ""
            else:
                self._last_cr = False
                if ch in "\x08\x7f":
                    self._buffer = self._buffer[:-1]
                elif ch == "\x1a":  # Ctrl-Z: each CLI says what it means (IOS: end, VRP: return)
                    lines.append("\x1a")
                    self._buffer = ""
                elif ch >= " " and len(self._buffer) < MAX_LINE:
                    self._buffer += ch
        for line in lines:
            if self._closing:
                break
            reply = self._handle(line)
            if reply.reset:
                self._write("".join(out))
                self._abort()
                return
            text = "\n" + reply.output + "\n" if reply.output else "\n"
            if reply.prompt and not reply.close:
                text += self._cli.prompt()
            out.append(text)
            if reply.close:
                self._write("".join(out))
                self._closing = True
                self._link.send(self._close)
                return
        self._write("".join(out))

    def _write(self, text: str) -> None:
        if text:
            self._link.send(functools.partial(self._put, text.replace("\r\n", "\n").replace("\n", "\r\n")))

    def _put(self, text: str) -> None:
        if self._chan is not None and not self._chan.is_closing():
            self._chan.write(text)

    def _exit(self) -> None:
        if not self._chan.is_closing():
            self._chan.exit(0)

    def _close(self) -> None:
        if not self._chan.is_closing():
            self._chan.close()

    def _abort(self) -> None:
        # The reset follows what the device sent before it, as a RST follows data on the wire.
        self._closing = True
        self._link.send(self._reset)

    def _reset(self) -> None:
        conn = self._chan.get_extra_info("connection")
        sock = conn.get_extra_info("socket") if conn is not None else None
        if sock is not None:
            # Linger 0 turns the close into a TCP reset, as a device that drops the session does.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        if conn is not None:
            conn.abort()

    def eof_received(self) -> bool:
        """No more input: close once what is queued has gone out (staying half-open until then)."""
        if not self._closing:
            self._closing = True
            self._link.send(self._close)
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self._link.drop()

    def break_received(self, msec: int) -> bool:
        return False


class DeviceSshServer(asyncssh.SSHServer):
    def __init__(
        self, state: DeviceState, password: str, make_cli: Callable[[], Cli], rng: random.Random
    ) -> None:
        self._state = state
        self._password = password
        self._make_cli = make_cli
        self._rng = rng

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        if self._state.has(FaultKind.SSH_AUTH_FAILURE):
            return False
        return username == self._state.ssh_user and password == self._password

    def session_requested(self) -> CliSession:
        link = Link(functools.partial(faults_of, self._state), self._rng)
        return CliSession(self._make_cli(), link, lambda: self._state.has(FaultKind.SSH_RESET))


class SshListener:
    """The listening socket of one device and what to do with each connection it accepts."""

    def __init__(
        self,
        state: DeviceState,
        options: Callable[[], asyncssh.SSHServerConnectionOptions],
        rng: random.Random,
    ) -> None:
        self.state = state
        self._options = options
        self._rng = rng
        self._sock: socket.socket | None = None
        self._silent: set[socket.socket] = set()
        self._late: set[socket.socket] = set()  # accepted, the version string still on a slow link
        self._tasks: set[asyncio.Task[Any]] = set()
        self._connections: set[asyncssh.SSHServerConnection] = set()

    @property
    def listening(self) -> bool:
        return self._sock is not None

    def open(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._sock is not None:
            return
        record = self.state.record
        assert record.ssh_port is not None  # noqa: S101 - only SSH devices get a listener
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setblocking(False)
        sock.bind((record.mgmt_address, record.ssh_port))
        sock.listen(64)
        loop.add_reader(sock.fileno(), self._accept, loop)
        self._sock = sock

    def close(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._sock is not None:
            loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        for conn in self._silent | self._late:
            conn.close()
        self._silent.clear()
        self._late.clear()
        for connection in list(self._connections):
            connection.abort()  # a powered-off device drops its sessions too
        self._connections.clear()

    def _accept(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._sock is None:
            return
        try:
            conn, _peer = self._sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            log.warning("%s: accept failed: %s", self.state.name, exc)
            return
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.state.has(FaultKind.SSH_NO_BANNER):
            self._silent.add(conn)
            loop.call_later(SILENT_HOLD_SECONDS, self._drop_silent, conn)
            return
        conn.setblocking(False)
        task = loop.create_task(self._serve(conn))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _drop_silent(self, conn: socket.socket) -> None:
        if conn in self._silent:
            self._silent.discard(conn)
            conn.close()

    async def _serve(self, conn: socket.socket) -> None:
        late = lateness(faults_of(self.state), self._rng)
        if late > 0:
            self._late.add(conn)
            await asyncio.sleep(late)
            if conn not in self._late:
                return  # the device went off meanwhile and closed it
            self._late.discard(conn)
        try:
            connection = await _serve_connection(conn, self._options())
        except (OSError, asyncssh.Error) as exc:
            log.debug("%s: SSH connection ended: %s", self.state.name, exc)
            conn.close()
            return
        self._connections.add(connection)
        try:
            await connection.wait_closed()
        finally:
            self._connections.discard(connection)


async def _serve_connection(
    sock: socket.socket, base: asyncssh.SSHServerConnectionOptions
) -> asyncssh.SSHServerConnection:
    """What ``asyncssh.run_server`` does, less rebuilding the options in a thread for every connection.

    The device's options are built once; a connection needs its own object only for the waiter
    asyncssh keeps on it, so a shallow copy does (the thread hop cost more CPU than the handshake).
    """
    loop = asyncio.get_running_loop()
    options = copy.copy(base)
    options.waiter = loop.create_future()
    connection = SSHServerConnection(loop, options, wait="auth")
    await loop.create_connection(lambda: connection, sock=sock)
    try:
        await options.waiter  # the connection's own login timer bounds it
    except BaseException:
        connection.abort()
        raise
    return connection
