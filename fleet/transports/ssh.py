"""SSH command collection for a whole sweep on netmiko, with verified host keys and a hard time limit.

One netmiko session per device in a bounded thread pool (netmiko is blocking; throughput levels
off near 50 sessions per process). What fleet changes in how netmiko is used, and why:

- Host keys are checked against fleet's known_hosts file and never added: an unknown key is
  HOST_KEY_UNKNOWN (enrol it with ``fleet ssh trust``), a different one HOST_KEY_CHANGED. The file
  is read once per run, and each session gets only its own device's key (netmiko would re-read and
  re-parse the whole file for every login).
- fleet opens the TCP socket itself, with TCP_NODELAY (paramiko leaves Nagle on: ~85 ms more per
  login on loopback), and hands it to netmiko with ``sock=``. That socket is also how the absolute
  per-device time limit is kept: a thread cannot be killed, so at the deadline the socket is shut
  down, which makes netmiko and paramiko fail out, and the device is reported TIMEOUT at that
  moment whatever its thread is still doing.
- curve25519 key exchange and AES-GCM are asked for first (cheapest in client CPU; nothing is
  disabled, see known_hosts.PREFERRED_*).
- netmiko's waits that every following read makes anyway are dropped: a fixed 0.1 s before
  session preparation; for the codec (``cisco_tp``) 2 s of "no more output" at login (its login
  banner ends with ``OK``); and the logout's check for configuration mode (2 s on the codec and on
  VRP), which a read-only session never enters. Each command waits for the prompt seen at login
  instead of looking the prompt up again before every command. Measured on the simulator: a codec
  session went from 4.7 s to 0.2 s, a VRP one from 2.5 s to 0.3 s.
- A session whose channel the device closed or reset fails at once (netmiko would poll the dead
  channel until its read timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any, TypeVar

import paramiko
from netmiko.base_connection import BaseConnection
from netmiko.exceptions import ConfigInvalidException, NetmikoAuthenticationException, ReadTimeout
from netmiko.ssh_dispatcher import CLASS_MAPPER

from fleet.transports.errors import ConfigMode, ConfigRejected, TransportError, TransportErrorKind
from fleet.transports.known_hosts import (
    HostKey,
    KnownHosts,
    classify_handshake,
    exception_chain,
    host_name,
    open_socket,
    tune,
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

# The codec's xAPI ends every answer with one of these lines. netmiko 4.8's cisco_tp default
# pattern keeps a '\r' that netmiko strips from the output, so it never matches.
CE_END = r"\n(?:OK|ERROR|Command not recognized\.)\n"
DEFAULT_EXPECT = {"cisco_tp": CE_END}
LOGOUT = {"cisco_tp": "bye", "huawei": "quit"}  # others: exit


class _UnknownHostKey(paramiko.SSHException):  # type: ignore[misc]
    def __init__(self, key: HostKey) -> None:
        super().__init__("host key not enrolled")
        self.key = key


class _RefuseUnknown(paramiko.MissingHostKeyPolicy):  # type: ignore[misc]
    def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
        raise _UnknownHostKey(HostKey.from_paramiko(key))


class _SessionEnded(Exception):
    """The device closed or reset the SSH channel while fleet was waiting for output."""


class _Transport(paramiko.Transport):  # type: ignore[misc]
    """paramiko's transport, remembering why it died: paramiko hands that reason out only once."""

    fleet_lost: BaseException | None = None

    def get_exception(self) -> BaseException | None:
        lost: BaseException | None = super().get_exception()
        if lost is not None:
            self.fleet_lost = lost
        return lost


class _Client(paramiko.SSHClient):  # type: ignore[misc]
    """paramiko's client, with fleet's algorithm preferences, keeping its transport for diagnosis."""

    def __init__(self) -> None:
        super().__init__()
        self.fleet_transport: Any = None

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["transport_factory"] = self._make_transport  # not _transport: SSHClient uses that name
        return super().connect(*args, **kwargs)

    def _make_transport(self, sock: Any, **kwargs: Any) -> Any:
        transport = _Transport(sock, **kwargs)
        tune(transport)
        self.fleet_transport = transport
        return transport


class _Session(BaseConnection):
    """Mixed in front of netmiko's class for the device type (see the module notes)."""

    fleet_keys: list[HostKey]
    fleet_deadline: float
    fleet_client: _Client | None = None
    fleet_prompt: str | None = None
    fleet_writes = 0  # writes to the channel: how many configuration lines reached the device

    def write_channel(self, out_data: str) -> None:
        self.fleet_writes += 1
        super().write_channel(out_data)

    def fleet_remaining(self) -> float:
        return max(self.fleet_deadline - time.monotonic(), 0.05)

    def _build_ssh_client(self) -> Any:
        client = _Client()
        name = host_name(self.host, self.port)
        for key in self.fleet_keys:
            with contextlib.suppress(paramiko.SSHException, ValueError):  # a key type paramiko lacks: unknown
                client.get_host_keys().add(name, key.key_type, key.to_paramiko())
        client.set_missing_host_key_policy(_RefuseUnknown())
        self.fleet_client = client
        return client

    def _try_session_preparation(self, force_data: bool = True) -> None:
        # netmiko's, less its fixed 0.1 s sleep: every read that follows waits for a pattern.
        try:
            if force_data:
                self.write_channel(self.RETURN)
            self.session_preparation()
        except Exception:
            self.disconnect()
            raise

    def find_prompt(self, *args: Any, **kwargs: Any) -> str:
        prompt: str = super().find_prompt(*args, **kwargs)
        self.fleet_prompt = prompt
        return prompt

    def read_channel(self) -> str:
        data: str = super().read_channel()
        chan: Any = self.remote_conn
        if not data and chan is not None and (chan.closed or chan.eof_received):
            raise _SessionEnded
        return data

    def cleanup(self, command: str = "") -> None:
        # A read-only session never enters configuration mode: log out without checking for it.
        if self.session_log:
            self.session_log.fin = True
        self.write_channel(LOGOUT.get(self.device_type, "exit") + self.RETURN)


class _CodecSession(_Session):
    def session_preparation(self) -> None:
        # The CE login banner ends with "OK"; netmiko waits for 2 s of silence instead.
        self.read_until_pattern(pattern=r"\n(?:OK|ERROR)\s*\n", read_timeout=self.fleet_remaining())
        self.set_base_prompt()


class _HuaweiSession(_Session):
    def check_config_mode(
        self, check_string: str = "]", pattern: str = "", force_regex: bool = False
    ) -> bool:
        # netmiko's VRP driver waits for 2 s of silence after the prompt (it drops the pattern),
        # three times per configuration push; the prompt ends in '>' or ']', so wait for that.
        self.write_channel(self.RETURN)
        output: str = self.read_until_pattern(
            pattern=pattern or r"[>\]]", read_timeout=self.fleet_remaining()
        )
        return bool(re.search(check_string, output)) if force_regex else check_string in output


_class_lock = threading.Lock()


@cache
def _session_class(device_type: str) -> type[Any]:
    base = CLASS_MAPPER[device_type]
    mixin = {"cisco_tp": _CodecSession, "huawei": _HuaweiSession}.get(device_type, _Session)
    return type(f"Fleet{base.__name__}", (mixin, base), {})


def session_class(device_type: str) -> type[Any]:
    """netmiko's class for ``device_type`` with fleet's changes in front. KeyError for an unknown type."""
    if device_type not in CLASS_MAPPER:
        raise KeyError(device_type)
    with _class_lock:
        return _session_class(device_type)


def _transport_of(conn: _Session | None) -> Any:
    client = conn.fleet_client if conn is not None else None
    return client.fleet_transport if client is not None else None


def _lost(transport: Any) -> BaseException | None:
    """Why the transport died on its own (None: it did not, or fleet closed it)."""
    return getattr(transport, "saved_exception", None) or getattr(transport, "fleet_lost", None)


def _ended_detail(transport: Any) -> str:
    if isinstance(_lost(transport), ConnectionResetError):
        return "the device reset the connection"
    return "the device closed the session"


def classify(exc: BaseException, target: SshTarget, conn: _Session | None) -> TransportError:
    """fleet's error for what netmiko or paramiko raised on one device."""
    chain = exception_chain(exc)
    transport = _transport_of(conn)
    for e in chain:
        if isinstance(e, TransportError):
            return e
        if isinstance(e, _UnknownHostKey):
            return host_key_unknown(target, e.key.fingerprint, host_name(target.address, target.port))
        if isinstance(e, paramiko.BadHostKeyException):
            offered = HostKey.from_paramiko(e.key).fingerprint
            return host_key_changed(target, offered, HostKey.from_paramiko(e.expected_key).fingerprint)
        if isinstance(e, _SessionEnded):
            return TransportError(TransportErrorKind.RESET, _ended_detail(transport))
    if isinstance(exc, NetmikoAuthenticationException | paramiko.AuthenticationException):
        if isinstance(
            _lost(transport), EOFError | OSError
        ):  # paramiko calls a connection lost in auth a refusal
            return TransportError(TransportErrorKind.RESET, "the device dropped the connection during login")
        return login_refused(target)
    if isinstance(exc, ReadTimeout):
        return TransportError(TransportErrorKind.TIMEOUT, "the device did not finish its answer in time")
    if isinstance(exc, paramiko.SSHException | OSError | EOFError):
        return classify_handshake(exc, transport)
    return TransportError(TransportErrorKind.INTERNAL, f"{type(exc).__name__}: {exc}")


@dataclass(slots=True, kw_only=True)
class _Held:
    """One open session's resources, shared by its worker thread and whatever enforces its deadline."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    sock: socket.socket | None = None  # fleet's socket: shut down at the deadline
    theirs: socket.socket | None = None  # paramiko's copy of it
    conn: Any = None  # the netmiko session, once built
    connected: bool = False  # TCP connected at some point (tells a hung connect from a slow session)
    expired: bool = False
    transcribed: bool = False  # netmiko opened the transcript file

    def shut(self) -> None:
        with self.lock:
            self.expired = True
            if self.sock is not None:
                with contextlib.suppress(OSError):
                    self.sock.shutdown(socket.SHUT_RDWR)


def _release(held: _Held) -> None:
    """Log out and close everything the session holds (each step safe when it never opened)."""
    if held.conn is not None:
        with contextlib.suppress(Exception):  # a dead channel cannot log out; nothing is lost
            held.conn.disconnect()  # closes the transport and transcript, drops netmiko's log filter
        held.conn = None
    if held.theirs is not None:
        held.theirs.close()  # closed already by paramiko unless netmiko failed before taking it
        held.theirs = None
    with held.lock:
        if held.sock is not None:
            held.sock.close()
            held.sock = None


@dataclass(slots=True, kw_only=True)
class _Job(_Held):
    """One device's command run, shared by its worker thread and the deadline on the event loop."""

    target: SshTarget
    commands: list[str]
    future: asyncio.Future[SshResult]
    timer: asyncio.TimerHandle | None = None
    outputs: dict[str, str] = field(default_factory=dict)


def _report(on_result: Callable[[SshResult], None], future: asyncio.Future[SshResult]) -> None:
    on_result(future.result())


T = TypeVar("T")


class SshSession:
    """One open session as a task sees it: show commands, configuration lines, save.

    Every method raises TransportError (ConfigRejected for a refused line); nothing of netmiko leaks.
    """

    def __init__(self, target: SshTarget, conn: Any, held: _Held, deadline: float, time_limit: float) -> None:
        self.target = target
        self._conn = conn
        self._held = held
        self._deadline = deadline
        self._time_limit = time_limit
        expect = target.expect_string or DEFAULT_EXPECT.get(target.device_type)
        if expect is None and conn.fleet_prompt:
            expect = rf"(?m)^{re.escape(conn.fleet_prompt.strip())}\s*$"
        self._expect = expect
        self.lines_sent = 0

    def _left(self) -> float:
        return max(self._deadline - time.monotonic(), 0.05)

    def _failed(self, exc: BaseException) -> TransportError:
        if self._held.expired or time.monotonic() >= self._deadline:
            return TransportError(
                TransportErrorKind.TIMEOUT, f"the session did not finish within {self._time_limit:g} s"
            )
        error = classify(exc, self.target, self._conn)
        if self.target.password:
            error.detail = error.detail.replace(self.target.password, REDACTED)
        return error

    def send(self, command: str) -> str:
        """A command's output (the echo and the prompt left out)."""
        try:
            output = self._conn.send_command(
                command,
                expect_string=self._expect,
                read_timeout=self._left(),
                auto_find_prompt=self._expect is None,
            )
        except Exception as exc:
            raise self._failed(exc) from None
        return output if isinstance(output, str) else str(output)

    def configure(
        self, lines: Sequence[str], *, error_pattern: str, mode: ConfigMode | None, terminator: str = r"#"
    ) -> str:
        """Send configuration lines one at a time; stop at the first answer matching ``error_pattern``.

        ``mode``: enter the device's configuration mode first (waiting for its prompt within the
        session's time, however slow the link) and leave it after; None for devices that take
        settings at their prompt. ``lines_sent`` tells afterwards, even after a failure, how many
        lines reached the device: none means the device was not changed.
        """
        conn = self._conn
        self.lines_sent = 0
        output: str = ""
        try:
            if mode is not None:
                output += self._wait_after(mode.enter, rf"{mode.prompt}\s*$")
            before = conn.fleet_writes
            try:
                output += conn.send_config_set(
                    list(lines),
                    error_pattern=error_pattern,
                    enter_config_mode=False,
                    exit_config_mode=False,
                    read_timeout=self._left(),
                    terminator=terminator,
                )
            finally:
                self.lines_sent = conn.fleet_writes - before
            if mode is not None:
                prompt = (conn.fleet_prompt or conn.base_prompt or "").strip()
                output += self._wait_after(mode.leave, rf"^{re.escape(prompt)}\s*$")
        except ConfigInvalidException as exc:
            line, message = _rejection(str(exc))
            raise ConfigRejected(line, message) from None
        except Exception as exc:
            raise self._failed(exc) from None
        return output

    def _wait_after(self, command: str, prompt: str) -> str:
        """Send a mode command and read until ``prompt``, within the session's time (no fixed waits)."""
        self._conn.write_channel(self._conn.normalize_cmd(command))
        text: str = self._conn.read_until_pattern(pattern=prompt, re_flags=re.M, read_timeout=self._left())
        return text

    def save(self) -> str:
        """Make the running configuration the one the device starts with."""
        try:
            output: str = self._conn.save_config()
        except Exception as exc:
            raise self._failed(exc) from None
        return output


def _rejection(message: str) -> tuple[str, str]:
    """(line, error) from netmiko's 'Invalid input detected at command: X, matched error: Y'."""
    found = re.match(r"Invalid input detected at command: (.*), matched error: (.*)$", message, re.S)
    if found is None:
        return "", message
    return found.group(1), found.group(2).strip()


class Connector:
    """How a task opens sessions to its device: each with its own time limit, always released."""

    def __init__(self, client: SshClient, target: SshTarget, keys: list[HostKey]) -> None:
        self._client = client
        self.target = target
        self._keys = keys
        self.sessions = 0

    @contextlib.contextmanager
    def session(self) -> Iterator[SshSession]:
        """A logged-in session; TransportError when it cannot be opened."""
        client, target = self._client, self.target
        try:
            cls = session_class(target.device_type)
        except KeyError:
            raise TransportError(
                TransportErrorKind.INTERNAL, f"netmiko has no device type '{target.device_type}'"
            ) from None
        held = _Held()
        deadline = time.monotonic() + client.time_limit
        timer = threading.Timer(client.time_limit, held.shut)
        timer.daemon = True
        timer.start()
        self.sessions += 1
        try:
            try:
                conn = client._connect(target, cls, self._keys, deadline, held)
            except TransportError:
                raise
            except Exception as exc:
                if held.expired:
                    raise TransportError(
                        TransportErrorKind.TIMEOUT, f"no login within {client.time_limit:g} s"
                    ) from None
                error = classify(exc, target, held.conn)
                if target.password:
                    error.detail = error.detail.replace(target.password, REDACTED)
                raise error from None
            if conn is None:
                raise TransportError(TransportErrorKind.TIMEOUT, f"no login within {client.time_limit:g} s")
            yield SshSession(target, conn, held, deadline, client.time_limit)
        finally:
            timer.cancel()
            _release(held)


class SshClient:
    """A sweep's SSH sessions: ``workers`` netmiko sessions at a time, each within ``time_limit`` seconds."""

    def __init__(
        self,
        known_hosts: Path,
        *,
        workers: int = 50,
        time_limit: float = 30.0,
        connect_timeout: float = 10.0,
        transcripts: Path | None = None,
    ) -> None:
        if workers < 1 or time_limit <= 0 or connect_timeout <= 0:
            raise ValueError("workers, time_limit and connect_timeout must be positive")
        self.known_hosts = known_hosts
        self.workers = workers
        self.time_limit = time_limit
        self.connect_timeout = connect_timeout
        self.transcripts = transcripts
        if transcripts is not None:
            transcripts.mkdir(parents=True, exist_ok=True)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fleet-ssh")
        self._closed = False
        self._timeout_detail = f"no answer within {time_limit:g} s"
        self._late_detail = f"connected, but the session did not finish within {time_limit:g} s"

    async def run_many(
        self,
        jobs: Sequence[tuple[SshTarget, Sequence[str]]],
        on_result: Callable[[SshResult], None] | None = None,
        stop_at: float | None = None,
    ) -> list[SshResult]:
        """Run each job's commands on its device; one result per job, in order. Never raises for a device.

        ``stop_at`` (time.monotonic()): jobs unfinished then end CANCELLED, so a run keeps its deadline.
        """
        if self._closed:
            raise RuntimeError("SshClient is closed")
        loop = asyncio.get_running_loop()
        keys = KnownHosts.load(self.known_hosts).resolver()
        pending: list[_Job] = []
        for target, commands in jobs:
            job = _Job(target=target, commands=list(commands), future=loop.create_future())
            if on_result is not None:
                job.future.add_done_callback(partial(_report, on_result))
            self._pool.submit(self._work, loop, job, keys(target.address, target.port))
            pending.append(job)
        stop = None
        if stop_at is not None:
            stop = loop.call_later(max(stop_at - time.monotonic(), 0.0), self._cancel_all, pending)
        try:
            return list(await asyncio.gather(*(job.future for job in pending)))
        except asyncio.CancelledError:
            self._cancel_all(pending)
            raise
        finally:
            if stop is not None:
                stop.cancel()

    def _cancel_all(self, jobs: Sequence[_Job]) -> None:
        for job in jobs:
            self._expire(job, cancelled=True)

    async def run_tasks(
        self,
        jobs: Sequence[tuple[SshTarget, Callable[[Connector], T]]],
        crashed: Callable[[SshTarget, BaseException], T],
        on_result: Callable[[T], None] | None = None,
    ) -> list[T]:
        """Run each job's task in the worker pool; one result per job, in order.

        A task opens its own sessions (``connector.session()``), each within ``time_limit``, and
        must report its device's failures in what it returns; ``crashed`` turns an exception that
        escaped a task (a bug) into a result, so one device never ends the run.
        """
        if self._closed:
            raise RuntimeError("SshClient is closed")
        loop = asyncio.get_running_loop()
        keys = KnownHosts.load(self.known_hosts).resolver()

        def work(target: SshTarget, task: Callable[[Connector], T]) -> T:
            try:
                return task(Connector(self, target, keys(target.address, target.port)))
            except Exception as exc:
                return crashed(target, exc)

        futures = []
        for target, task in jobs:
            future = asyncio.wrap_future(self._pool.submit(work, target, task), loop=loop)
            if on_result is not None:
                future.add_done_callback(lambda f: on_result(f.result()) if not f.cancelled() else None)
            futures.append(future)
        return list(await asyncio.gather(*futures))

    def close(self, *, wait: bool = False) -> None:
        """Stop taking work; sessions still running end by their own deadline (``wait``: wait for them)."""
        self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=True)

    # --- the event loop's side: deadlines ----------------------------------------------------

    def _arm(self, job: _Job, deadline: float) -> None:
        if not job.future.done():
            delay = max(deadline - time.monotonic(), 0.0)
            job.timer = asyncio.get_running_loop().call_later(delay, self._expire, job)

    def _expire(self, job: _Job, cancelled: bool = False) -> None:
        job.shut()
        if not job.future.done():
            job.future.set_result(
                SshResult(
                    job.target.name,
                    outputs=dict(job.outputs),
                    error=TransportErrorKind.CANCELLED if cancelled else TransportErrorKind.TIMEOUT,
                    detail="not finished by the run's deadline" if cancelled else self._deadline_detail(job),
                    elapsed=self.time_limit,
                    connected=job.connected,
                )
            )

    def _deadline_detail(self, job: _Job) -> str:
        return self._late_detail if job.connected else self._timeout_detail

    def _settle(self, job: _Job, result: SshResult) -> None:
        if job.timer is not None:
            job.timer.cancel()
        if not job.future.done():
            job.future.set_result(result)

    # --- the worker's side: one session --------------------------------------------------------

    def _work(self, loop: asyncio.AbstractEventLoop, job: _Job, keys: list[HostKey]) -> None:
        started = time.monotonic()
        deadline = started + self.time_limit
        try:
            loop.call_soon_threadsafe(self._arm, job, deadline)
        except RuntimeError:  # the loop is gone: nobody is waiting for this result
            return
        try:
            result = self._session(job, keys, deadline)
        except Exception as exc:  # a bug in fleet: reported, never hidden, never fatal to the sweep
            result = SshResult(
                job.target.name, error=TransportErrorKind.INTERNAL, detail=f"{type(exc).__name__}: {exc}"
            )
        result.elapsed = time.monotonic() - started
        result.connected = job.connected
        if job.target.password:
            result.detail = result.detail.replace(job.target.password, REDACTED)
        if job.expired or (not result.ok and time.monotonic() >= deadline):
            # Out of time: one verdict, whether the deadline or one of netmiko's own timeouts (set to
            # the time left) went off first, and whatever the thread saw after it.
            result.error, result.detail = TransportErrorKind.TIMEOUT, self._deadline_detail(job)
            result.elapsed = self.time_limit
        self._trailer(job, result)
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._settle, job, result)

    def _session(self, job: _Job, keys: list[HostKey], deadline: float) -> SshResult:
        target = job.target
        result = SshResult(target.name, outputs=job.outputs)
        if job.expired:
            return result
        try:
            cls = session_class(target.device_type)
        except KeyError:
            result.error, result.detail = (
                TransportErrorKind.INTERNAL,
                f"netmiko has no device type '{target.device_type}'",
            )
            return result
        try:
            conn = self._connect(target, cls, keys, deadline, job)
            if conn is None:
                return result
            expect = target.expect_string or DEFAULT_EXPECT.get(target.device_type)
            if expect is None and conn.fleet_prompt:
                expect = rf"(?m)^{re.escape(conn.fleet_prompt.strip())}\s*$"
            for command in job.commands:
                output = conn.send_command(
                    command,
                    expect_string=expect,
                    read_timeout=max(deadline - time.monotonic(), 0.05),
                    auto_find_prompt=expect is None,
                )
                job.outputs[command] = output if isinstance(output, str) else str(output)
        except Exception as exc:
            error = classify(exc, target, job.conn)
            result.error, result.detail = error.kind, error.detail
        finally:
            _release(job)
        return result

    def _connect(
        self, target: SshTarget, cls: type[Any], keys: list[HostKey], deadline: float, holder: _Held
    ) -> Any:
        """Open and log in; the netmiko session, or None when the deadline came first.

        ``holder`` keeps the socket (so the deadline can shut it down whatever the thread is doing)
        and the session (so the caller can diagnose a failed login and always release both).
        """
        sock = open_socket(
            target.address, target.port, min(self.connect_timeout, deadline - time.monotonic())
        )
        with holder.lock:
            if holder.expired:
                sock.close()
                return None
            holder.sock = sock
            holder.connected = True
        remaining = max(deadline - time.monotonic(), 0.05)
        # paramiko owns the copy; fleet keeps the original to shut down at the deadline
        holder.theirs = sock.dup()
        conn = cls(
            host=target.address,
            port=target.port,
            username=target.username,
            password=target.password,
            device_type=target.device_type,
            sock=holder.theirs,
            auto_connect=False,
            conn_timeout=remaining,
            banner_timeout=min(self.connect_timeout, remaining),
            auth_timeout=remaining,
            blocking_timeout=remaining,
            session_log=self._transcript(target),
            session_log_file_mode="append",  # a restore session adds to the push's transcript
        )
        holder.transcribed = self.transcripts is not None
        conn.fleet_keys = keys
        conn.fleet_deadline = deadline
        holder.conn = conn
        conn._open()
        return conn

    def _transcript(self, target: SshTarget) -> str | None:
        if self.transcripts is None:
            return None
        return str(self.transcripts / f"{safe_file_name(target.name)}.log")

    def _trailer(self, job: _Job, result: SshResult) -> None:
        """End the device's transcript with fleet's verdict (the whole file when netmiko never started)."""
        path = self._transcript(job.target)
        if path is None:
            return
        verdict = "ok" if result.ok else f"{result.error}: {result.detail}"
        mode = "a" if job.transcribed else "w"
        with contextlib.suppress(OSError), Path(path).open(mode, encoding="utf-8") as out:
            out.write(f"\n--- fleet: {job.target.name} {verdict} ({result.elapsed:.2f} s)\n")
