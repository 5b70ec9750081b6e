"""Status reads over SSH on asyncssh: every device's commands in one session, all on the event loop.

A sweep only reads: it logs in, runs a few commands and leaves. netmiko (``fleet.transports.ssh``)
stays the path for configuration sessions; for reads it costs a thread and ~8 ms of client CPU per
session, where asyncssh on the event loop costs ~3 ms and needs no thread (bench/ssh_collector.py
prints both in one run). ``StatusReader.run_many`` keeps ``SshClient.run_many``'s contract, so the
sweep and the drivers do not know which one ran:

- the host key must be the enrolled one: unknown and changed keys are refused and told apart, with
  the fingerprints, exactly as the netmiko client words them;
- the per-device time limit is absolute (a timeout on the whole session, connect to logout), and a
  run's ``stop_at`` ends what is unfinished as CANCELLED;
- every failure is a TransportErrorKind: refused, TCP timeout, no SSH banner within
  ``connect_timeout``, login refused, reset or closed by the device, out of time;
- outputs are what netmiko's ``send_command`` returns (line ends normalised, the command's echo and
  the trailing prompt removed), so the parsers read the same text from either path.

What a platform needs in a read-only session (prompt, paging, logout) is data in ``PLATFORMS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
from asyncssh.compression import get_compression_algs
from asyncssh.connection import SSHClientConnection
from asyncssh.encryption import get_encryption_algs
from asyncssh.kex import get_kex_algs

from fleet.transports.errors import TransportError, TransportErrorKind
from fleet.transports.known_hosts import (
    PREFERRED_CIPHERS,
    PREFERRED_KEX,
    HostKey,
    KnownHosts,
    exception_chain,
    host_name,
)
from fleet.transports.ssh_types import (
    REDACTED,
    SshResult,
    SshTarget,
    host_key_changed,
    host_key_unknown,
    login_refused,
    safe_file_name,
)

PROMPT_TAIL = 256  # characters at the end of the buffer searched for a prompt


@dataclass(frozen=True, slots=True)
class Platform:
    """How a read-only session goes on one platform (keyed by netmiko device type)."""

    prompt: re.Pattern[str] | None  # a prompt at the end of what was sent; None: answers end with ``end``
    end: str | None = None  # regex that ends every answer, where there is no prompt
    setup: tuple[str, ...] = ()  # sent after login, as netmiko's session preparation does
    logout: str = "exit"


PLATFORMS: dict[str, Platform] = {
    "cisco_ios": Platform(
        re.compile(r"(?:^|[\r\n])([\w.\-@/:()]{1,80}[>#])[ \t]*\Z"),
        setup=("terminal width 511", "terminal length 0"),
    ),
    "huawei": Platform(
        re.compile(r"(?:^|[\r\n])([<\[][^\r\n<>\[\]]{1,80}[>\]])[ \t]*\Z"),
        setup=("screen-length 0 temporary",),
        logout="quit",
    ),
    "cisco_tp": Platform(None, end=r"\n(?:OK|ERROR|Command not recognized\.)\r?\n", logout="bye"),
}


def _preferred(defaults: Sequence[bytes], first: Sequence[str]) -> list[str]:
    names = [d.decode() for d in defaults]
    return [n for n in first if n in names] + [n for n in names if n not in first]


@dataclass(frozen=True, slots=True)
class _Algorithms:
    """curve25519 and AES-GCM first (cheapest on both sides), no compression first; nothing disabled."""

    kex: list[str]
    ciphers: list[str]
    compression: list[str]

    @classmethod
    def build(cls) -> _Algorithms:
        return cls(
            _preferred(get_kex_algs(), PREFERRED_KEX),
            _preferred(get_encryption_algs(), PREFERRED_CIPHERS),
            _preferred(get_compression_algs(), ("none",)),
        )


def normalise(text: str) -> str:
    """Line ends as netmiko leaves them: CRLF, LFCR and stray CR become LF."""
    return text.replace("\r\r\n", "\n").replace("\r\n", "\n").replace("\n\r", "\n").replace("\r", "\n")


def clean_output(raw: str, command: str, prompt: str | None) -> str:
    """netmiko's ``send_command`` output: without the echoed command line and the trailing prompt."""
    text = normalise(raw)
    if text.startswith(command.strip()):
        text = text.split("\n", 1)[1] if "\n" in text else ""
    if prompt is not None:
        lines = text.split("\n")
        if prompt in lines[-1]:
            text = "\n".join(lines[:-1])
    return text


class _Closed(Exception):
    """The device ended the session (``reset``: the TCP connection was reset)."""

    def __init__(self, reset: bool) -> None:
        super().__init__("reset" if reset else "closed")
        self.reset = reset


class _Channel(asyncssh.SSHClientSession[str]):
    """One shell: collects what the device sends and wakes the reader when its pattern shows."""

    def __init__(self, transcript: list[str] | None) -> None:
        self.buffer = ""
        self.transcript = transcript
        self._pattern: re.Pattern[str] | None = None
        self._from = 0  # where to search from
        self._tail = False  # the pattern must end the buffer: search only its tail
        self._waiter: asyncio.Future[re.Match[str]] | None = None
        self.ended: _Closed | None = None
        self.chan: asyncssh.SSHClientChannel[str] | None = None

    def connection_made(self, chan: asyncssh.SSHClientChannel[str]) -> None:
        self.chan = chan

    def send(self, line: str) -> None:
        if self.ended is not None or self.chan is None:
            raise self.ended or _Closed(False)
        self.chan.write(line + "\n")

    def data_received(self, data: str, datatype: asyncssh.DataType) -> None:
        self.buffer += data
        if self.transcript is not None:
            self.transcript.append(data)
        self._check()

    def connection_lost(self, exc: Exception | None) -> None:
        reset = _was_reset(exc)
        self.ended = _Closed(reset)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(self.ended)

    def _check(self) -> None:
        if self._pattern is None or self._waiter is None or self._waiter.done():
            return
        start = max(self._from, len(self.buffer) - PROMPT_TAIL) if self._tail else self._from
        found = self._pattern.search(self.buffer, start)
        if found is not None:
            self._waiter.set_result(found)
        elif not self._tail:
            self._from = max(self._from, len(self.buffer) - 64)  # a match may straddle two chunks

    async def expect(
        self, pattern: re.Pattern[str], start: int = 0, *, tail: bool = False
    ) -> tuple[str, re.Match[str]]:
        """Wait until ``pattern`` matches at or after ``start``: the text up to its end (taken out)."""
        if self.ended is not None:
            raise self.ended
        self._pattern, self._from, self._tail = pattern, start, tail
        self._waiter = asyncio.get_running_loop().create_future()
        self._check()
        found = await self._waiter
        self._pattern = None
        text, self.buffer = self.buffer[: found.end()], self.buffer[found.end() :]
        return text, found


class _Client(asyncssh.SSHClient):
    """Keeps the connection from its start (to see whether a banner came) and the key offered."""

    def __init__(self) -> None:
        self.conn: asyncssh.SSHClientConnection | None = None
        self.offered: asyncssh.SSHKey | None = None

    def connection_made(self, conn: asyncssh.SSHClientConnection) -> None:
        self.conn = conn

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        self.offered = key  # called only for a key that is not enrolled
        return False

    def banner_seen(self) -> bool:
        return self.conn is not None and bool(self.conn.get_extra_info("server_version"))


class _Gate:
    """``slots`` sessions at a time; waiters asked for ``first`` are let in before the others."""

    def __init__(self, slots: int) -> None:
        self.free = slots
        self.waiting: tuple[deque[asyncio.Future[None]], deque[asyncio.Future[None]]] = (deque(), deque())
        self.behind: dict[str, asyncio.Future[None]] = {}  # waiting in the second queue, by name

    async def acquire(self, name: str, first: bool) -> None:
        if self.free > 0 and not (self.waiting[0] or self.waiting[1]):
            self.free -= 1
            return
        future = asyncio.get_running_loop().create_future()
        self.waiting[0 if first else 1].append(future)
        if not first:
            self.behind[name] = future
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # the slot was handed over as the waiter was cancelled: pass it on
            raise
        finally:
            self.behind.pop(name, None)

    def hurry(self, name: str) -> None:
        future = self.behind.pop(name, None)
        if future is not None and not future.done():
            self.waiting[0].append(future)  # its place in the second queue is skipped once granted

    def release(self) -> None:
        for queue in self.waiting:
            while queue:
                future = queue.popleft()
                if not future.done():
                    future.set_result(None)  # the slot goes straight to the waiter
                    return
        self.free += 1


@dataclass(slots=True)
class _Run:
    """One device's session as it goes: what is known when it fails or runs out of time."""

    target: SshTarget
    commands: list[str]
    keys: list[HostKey]
    outputs: dict[str, str] = field(default_factory=dict)
    connected: bool = False
    client: _Client | None = None
    no_banner: bool = False
    transcript: list[str] | None = None


def _was_reset(exc: BaseException | None) -> bool:
    """Whether a TCP reset is what ended the connection (anywhere in the exception's chain)."""
    return exc is not None and any(isinstance(e, ConnectionResetError) for e in exception_chain(exc))


def _fingerprint(key: asyncssh.SSHKey) -> str:
    key_type, blob = key.export_public_key("openssh").decode().split()[:2]
    return HostKey(key_type, blob).fingerprint


class StatusReader:
    """A sweep's read-only SSH sessions: ``in_flight`` at a time, each within ``time_limit`` seconds."""

    def __init__(
        self,
        known_hosts: Path,
        *,
        in_flight: int = 200,
        time_limit: float = 30.0,
        connect_timeout: float = 10.0,
        transcripts: Path | None = None,
    ) -> None:
        if in_flight < 1 or time_limit <= 0 or connect_timeout <= 0:
            raise ValueError("in_flight, time_limit and connect_timeout must be positive")
        self.known_hosts = known_hosts
        self.in_flight = in_flight
        self.time_limit = time_limit
        self.connect_timeout = connect_timeout
        self.transcripts = transcripts
        if transcripts is not None:
            transcripts.mkdir(parents=True, exist_ok=True)
        self._algorithms = _Algorithms.build()
        self._keys: Callable[[str, int], list[HostKey]] | None = None
        self._gate: _Gate | None = None
        self._timeout_detail = f"no answer within {time_limit:g} s"
        self._late_detail = f"connected, but the session did not finish within {time_limit:g} s"

    async def run_many(
        self,
        jobs: Sequence[tuple[SshTarget, Sequence[str]]],
        on_result: Callable[[SshResult], None] | None = None,
        stop_at: float | None = None,
    ) -> list[SshResult]:
        """Run each job's commands on its device; one result per job, in order. Never raises for a device.

        ``stop_at`` (time.monotonic()): sessions unfinished then end CANCELLED, so a run keeps its deadline.
        """

        async def one(target: SshTarget, commands: Sequence[str]) -> SshResult:
            result = await self.read(target, commands, stop_at)
            if on_result is not None:
                on_result(result)
            return result

        self._keys, self._gate = None, None  # a batch reads the file as it is now, on its own loop
        return list(await asyncio.gather(*(one(t, c) for t, c in jobs)))

    async def read(
        self, target: SshTarget, commands: Sequence[str], stop_at: float | None = None, *, first: bool = False
    ) -> SshResult:
        """One device's commands, when a slot is free (``in_flight`` at a time); never raises for the device.

        For a sweep that starts each device's session as soon as it knows it needs one; ``first``
        jumps the queue of sessions waiting for a slot. The known_hosts file is read at the first call.
        """
        if self._keys is None:
            self._keys = KnownHosts.load(self.known_hosts).resolver()
        if self._gate is None:
            self._gate = _Gate(self.in_flight)
        run = _Run(target, list(commands), self._keys(target.address, target.port))
        await self._gate.acquire(target.name, first)
        try:
            return await self._guarded(run, stop_at)
        finally:
            self._gate.release()

    def hurry(self, name: str) -> None:
        """``name``'s session, if it waits for a slot, goes before those not asked to go first."""
        if self._gate is not None:
            self._gate.hurry(name)

    def close(self, *, wait: bool = False) -> None:
        """Nothing outlives ``run_many``; here so the reader and SshClient are used alike."""

    async def _guarded(self, run: _Run, stop_at: float | None) -> SshResult:
        started = time.monotonic()
        ends = started + self.time_limit
        cancelled = stop_at is not None and stop_at < ends
        if cancelled and stop_at is not None:
            ends = stop_at
        if self.transcripts is not None:
            run.transcript = []
        result = SshResult(run.target.name, outputs=run.outputs)
        try:
            if time.monotonic() >= ends:
                raise TimeoutError
            loop = asyncio.get_running_loop()
            async with asyncio.timeout_at(loop.time() + (ends - time.monotonic())):
                await self._session(run, ends)
        except TimeoutError:
            if cancelled:
                result.error, result.detail = (
                    TransportErrorKind.CANCELLED,
                    "not finished by the run's deadline",
                )
            else:
                result.error = TransportErrorKind.TIMEOUT
                result.detail = self._late_detail if run.connected else self._timeout_detail
        except TransportError as exc:
            result.error, result.detail = exc.kind, exc.detail
        except (_Closed, asyncssh.Error, OSError) as exc:
            reset = exc.reset if isinstance(exc, _Closed) else _was_reset(exc)
            result.error = TransportErrorKind.RESET
            result.detail = "the device reset the connection" if reset else "the device closed the session"
        except Exception as exc:  # a bug in fleet: reported, never hidden, never fatal to the sweep
            result.error, result.detail = TransportErrorKind.INTERNAL, f"{type(exc).__name__}: {exc}"
        finally:
            conn = run.client.conn if run.client is not None else None
            if conn is not None:
                conn.abort()
        result.elapsed = time.monotonic() - started
        if result.error in (TransportErrorKind.TIMEOUT, TransportErrorKind.CANCELLED):
            result.elapsed = min(result.elapsed, self.time_limit)
        result.connected = run.connected
        if run.target.password:
            result.detail = result.detail.replace(run.target.password, REDACTED)
        self._write_transcript(run, result)
        return result

    async def _session(self, run: _Run, ends: float) -> None:
        target = run.target
        platform = PLATFORMS.get(target.device_type)
        if platform is None:
            raise TransportError(
                TransportErrorKind.INTERNAL, f"no status reader for device type '{target.device_type}'"
            )
        sock = await self._open(target, ends)
        run.connected = True
        chan = await self._login(run, sock, ends)
        prompt: str | None = None
        if platform.prompt is not None:
            _banner, found = await chan.expect(platform.prompt, tail=True)
            prompt = found.group(1)
            for command in platform.setup:
                await self._command(chan, command, prompt, None)
        elif platform.end is not None:
            await chan.expect(_pattern(platform.end))  # the login banner ends like an answer
        end = target.expect_string or platform.end
        for command in run.commands:
            run.outputs[command] = await self._command(chan, command, prompt, end)
        with contextlib.suppress(Exception):  # leaving politely is a courtesy, not a result
            chan.send(platform.logout)

    async def _command(self, chan: _Channel, command: str, prompt: str | None, end: str | None) -> str:
        chan.buffer = ""  # nothing the device sent before the command belongs to its answer
        chan.send(command)
        echo, _ = await chan.expect(_ECHO)  # the echo's line: the answer starts after it
        if end is not None:
            rest, _ = await chan.expect(_pattern(end))
        else:
            assert prompt is not None  # noqa: S101 - a platform has a prompt or an end pattern
            rest, _ = await chan.expect(_prompt_pattern(prompt), tail=True)
        return clean_output(echo + rest, command, prompt)

    async def _open(self, target: SshTarget, ends: float) -> socket.socket:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET6 if ":" in target.address else socket.AF_INET)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        limit = min(self.connect_timeout, max(ends - time.monotonic(), 0.001))
        try:
            async with asyncio.timeout(limit):
                await loop.sock_connect(sock, (target.address, target.port))
        except ConnectionRefusedError:
            sock.close()
            raise TransportError(
                TransportErrorKind.REFUSED, f"connection refused by {target.address}:{target.port}"
            ) from None
        except TimeoutError:
            sock.close()
            if time.monotonic() >= ends:
                raise
            raise TransportError(
                TransportErrorKind.TIMEOUT, f"TCP connect timed out after {limit:g} s"
            ) from None
        except OSError as exc:
            sock.close()
            raise TransportError(
                TransportErrorKind.TIMEOUT, f"cannot connect: {exc.strerror or exc}"
            ) from None
        return sock

    async def _login(self, run: _Run, sock: socket.socket, ends: float) -> _Channel:
        target = run.target
        client = run.client = _Client()
        trusted = []
        for key in run.keys:
            with contextlib.suppress(asyncssh.KeyImportError):  # a type asyncssh lacks: as if unknown
                trusted.append(asyncssh.import_public_key(f"{key.key_type} {key.blob}"))
        loop = asyncio.get_running_loop()

        def no_banner() -> None:
            if not client.banner_seen() and client.conn is not None:
                run.no_banner = True
                client.conn.abort()

        watch = loop.call_later(min(self.connect_timeout, max(ends - time.monotonic(), 0.001)), no_banner)
        algorithms = self._algorithms
        try:
            options = asyncssh.SSHClientConnectionOptions(
                None,
                loop=loop,
                host=target.address,
                port=target.port,
                client_factory=lambda: client,
                config=None,
                known_hosts=(trusted, [], []),
                username=target.username,
                password=target.password,
                client_keys=None,
                agent_path=None,
                gss_auth=False,
                gss_kex=False,
                host_based_auth=False,
                public_key_auth=False,
                preferred_auth=("password", "keyboard-interactive"),
                kex_algs=algorithms.kex,
                encryption_algs=algorithms.ciphers,
                compression_algs=algorithms.compression,
                login_timeout=max(ends - time.monotonic(), 0.001),
                keepalive_interval=0,
            )
            conn = await _connect(loop, options, sock)
            _chan, session = await conn.create_session(
                lambda: _Channel(run.transcript), term_type="vt100", term_size=(511, 1000), errors="replace"
            )
        except (OSError, asyncssh.Error, _Closed) as exc:
            raise self._login_error(run, exc, trusted) from None
        finally:
            watch.cancel()
        assert isinstance(session, _Channel)  # noqa: S101 - made by the factory above
        return session

    def _login_error(self, run: _Run, exc: BaseException, trusted: list[Any]) -> TransportError:
        target, client = run.target, run.client
        if run.no_banner:
            return TransportError(TransportErrorKind.BANNER_TIMEOUT, "TCP connection open but no SSH banner")
        if isinstance(exc, asyncssh.HostKeyNotVerifiable) and client is not None and client.offered:
            offered = _fingerprint(client.offered)
            if trusted:
                return host_key_changed(target, offered, ", ".join(_fingerprint(k) for k in trusted))
            return host_key_unknown(target, offered, host_name(target.address, target.port))
        if isinstance(exc, asyncssh.PermissionDenied):
            return login_refused(target)
        if _was_reset(exc):
            return TransportError(TransportErrorKind.RESET, "the device reset the connection")
        if isinstance(exc, asyncssh.ConnectionLost | _Closed | EOFError | BrokenPipeError):
            during = "during login" if client is not None and client.banner_seen() else ""
            return TransportError(
                TransportErrorKind.RESET, f"the device closed the connection {during}".strip()
            )
        if isinstance(exc, asyncssh.Error):
            return TransportError(TransportErrorKind.PROTOCOL, f"SSH negotiation failed: {exc}")
        return TransportError(TransportErrorKind.RESET, f"connection failed: {exc}")

    def _write_transcript(self, run: _Run, result: SshResult) -> None:
        if self.transcripts is None:
            return
        text = "".join(run.transcript or ())
        if run.target.password:
            text = text.replace(run.target.password, REDACTED)
        verdict = "ok" if result.ok else f"{result.error}: {result.detail}"
        path = self.transcripts / f"{safe_file_name(run.target.name)}.log"
        with contextlib.suppress(OSError), path.open("a", encoding="utf-8") as out:
            out.write(f"{text}\n--- fleet: {run.target.name} {verdict} ({result.elapsed:.2f} s)\n")


async def _connect(
    loop: asyncio.AbstractEventLoop, options: asyncssh.SSHClientConnectionOptions, sock: socket.socket
) -> asyncssh.SSHClientConnection:
    """Log in over a connected socket: what ``asyncssh.connect(sock=…)`` does, less its thread hop.

    asyncssh builds every connection's options in the default thread pool (it may read files); with
    ``config=None`` nothing is read, so building them here costs ~0.1 ms, where the hop to a thread
    and back cost more CPU than the key exchange (bench/ssh_collector.py).
    """
    options.waiter = loop.create_future()
    conn = SSHClientConnection(loop, options, wait="auth")
    await loop.create_connection(lambda: conn, sock=sock)
    conn.set_extra_info(host=options.host, port=options.port)
    await options.waiter  # raises what ended the login; the caller aborts the connection
    return conn


_ECHO = re.compile(r"\n")
_patterns: dict[str, re.Pattern[str]] = {}


def _pattern(regex: str) -> re.Pattern[str]:
    found = _patterns.get(regex)
    if found is None:
        found = _patterns[regex] = re.compile(regex)
    return found


def _prompt_pattern(prompt: str) -> re.Pattern[str]:
    return _pattern(rf"(?:^|[\r\n]){re.escape(prompt)}[ \t]*\Z")
