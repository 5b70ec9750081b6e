"""Which devices a sweep logs in to over SSH, and when.

A device is logged in to when its driver reads over SSH (or, for roles not asked for, when it was
silent on SNMP, to tell a dead agent from a dead device), except a codec or camera that was silent
on SNMP behind a router that is dark (silent on SNMP, or answering that its WAN is down): it is
held until the router's own SSH answer says whether the site is cut off (a dark site costs one
router attempt, not three).

With the asyncssh reader each decision is taken as soon as the SNMP answers it needs are in, so
SSH sessions start while SNMP is still running: the slowest sessions (a slow link takes most of
the 30 s limit) begin in the first seconds of a sweep instead of after its SNMP phase. With the
netmiko client the same decisions are collected and run as two batches after SNMP, as before.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from fleet.domain.enums import Role
from fleet.engine.progress import Phase, ProgressEvent
from fleet.engine.targets import Target
from fleet.transports.errors import TransportErrorKind
from fleet.transports.snmp import SnmpResult
from fleet.transports.ssh_read import StatusReader
from fleet.transports.ssh_types import SshResult

Emit = Callable[[ProgressEvent], None]
# Failures one session cannot be trusted with: a refused or reset connection, no banner, a garbled
# negotiation. A timeout is not among them: the device had its whole time limit.
FLUKES = frozenset(
    {
        TransportErrorKind.REFUSED,
        TransportErrorKind.RESET,
        TransportErrorKind.BANNER_TIMEOUT,
        TransportErrorKind.PROTOCOL,
    }
)
LATE_SHARE = 0.95  # once this share of devices has answered SNMP, the rest are suspected slow


@dataclass(slots=True)
class SshPhase:
    targets: Sequence[Target]
    roles: frozenset[Role] | None
    emit: Emit
    deadline: float | None = None
    first: frozenset[str] = frozenset()  # devices read before the others (not up last time)
    confirm: bool = False  # ask again at once after a failure that may be a fluke (FLUKES)
    slow_after: float = 0.3  # seconds: the health policy's mark of a slow SNMP answer
    snmp: dict[str, SnmpResult] = field(default_factory=dict)
    results: dict[str, SshResult] = field(default_factory=dict)
    started: list[Target] = field(default_factory=list)  # in the order decided
    first_start: float | None = None
    last_end: float | None = None
    _routers: dict[str, Target] = field(default_factory=dict)
    _index: dict[str, Target] = field(default_factory=dict)
    _decided: set[str] = field(default_factory=set)
    _confirmed: set[str] = field(default_factory=set)
    _waiting: dict[str, list[Target]] = field(default_factory=lambda: defaultdict(list))  # router -> devices
    _held: dict[str, list[Target]] = field(default_factory=lambda: defaultdict(list))  # router -> devices
    _reader: StatusReader | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _total: int = 0
    _late_after: int = 0
    _done: int = 0

    def __post_init__(self) -> None:
        self._routers = {t.ref.site: t for t in self.targets if t.ref.role is Role.ROUTER}
        self._index = {t.ref.name: t for t in self.targets}
        self._total = sum(1 for t in self.targets if self._capable(t) and self._by_role(t))
        asked = sum(1 for t in self.targets if t.snmp is not None)
        self._late_after = max(1, int(asked * LATE_SHARE))

    # --- decisions -------------------------------------------------------------------------------

    def begin(self, reader: StatusReader | None) -> None:
        """Start deciding; ``reader``: start sessions at once (None: collect them for a batch)."""
        self._reader = reader
        for target in self.targets:
            self._decide(target)

    def snmp_done(self, result: SnmpResult) -> None:
        """An SNMP answer is in: decide its device, and the devices that waited for it as their router."""
        self.snmp[result.name] = result
        if self._reader is not None:
            if self._suspect(result):
                self._reader.hurry(result.name)  # if its session waits for a slot, it goes next
            if len(self.snmp) == self._late_after:
                self._hurry_unanswered()
        target = self._index.get(result.name)
        if target is not None:
            self._decide(target)
            for waiting in self._waiting.pop(result.name, []):
                self._decide(waiting)

    def _hurry_unanswered(self) -> None:
        """Most devices have answered SNMP: those still silent are on slow or dead links, read first."""
        assert self._reader is not None  # noqa: S101 - only when sessions start at once
        for target in self.targets:
            if target.snmp is not None and target.ref.name not in self.snmp:
                self._reader.hurry(target.ref.name)

    def snmp_finished(self) -> None:
        """Every SNMP answer is in; anything still undecided (none should be) is decided now."""
        self._waiting.clear()
        for target in self.targets:
            self._decide(target, final=True)

    def silent(self, name: str) -> bool:
        result = self.snmp.get(name)
        return result is not None and result.error is TransportErrorKind.TIMEOUT

    def _capable(self, target: Target) -> bool:
        return target.ssh is not None and target.ref.driver.ssh is not None

    def _by_role(self, target: Target) -> bool:
        return self.roles is None or target.ref.role in self.roles

    def _suspect(self, answer: SnmpResult) -> bool:
        """Silent, failing, or slower than the health policy's slow mark: a slow link, likely."""
        return not answer.ok or answer.elapsed > self.slow_after

    def _dark(self, router: Target | None) -> bool:
        """Silent on SNMP, or answering that its WAN is down: what is behind it is cut off."""
        if router is None:
            return False
        result = self.snmp.get(router.ref.name)
        if result is None or result.error is TransportErrorKind.TIMEOUT:
            return result is not None
        try:
            return result.ok and router.ref.driver.snmp.read(result.values).wan_up is False
        except Exception:  # an odd answer: classification reports it; here it only means 'not dark'
            return False

    def _decide(self, target: Target, *, final: bool = False) -> None:
        """Start, hold or leave ``target`` once the SNMP answers its decision needs are in.

        A router, and a device whose router answered SNMP with its WAN up, is started without
        waiting for its own SNMP answer: whatever that answer is, the device will be logged in to.
        """
        name = target.ref.name
        if name in self._decided:
            return
        own = self.snmp.get(name)
        known = own is not None or target.snmp is None or final
        if not self._capable(target):
            self._decided.add(name)
            return
        if not self._by_role(target):
            if not known:
                return
            self._decided.add(name)
            if not self.silent(name):
                return
            self._total += 1  # asked only because it was silent
        router = self._routers.get(target.ref.site) if target.ref.role is not Role.ROUTER else None
        if router is None or router.snmp is None:
            self._go(target)
            return
        if router.ref.name not in self.snmp and not final:
            if known and not self.silent(name):
                self._go(target)
            else:
                self._waiting[router.ref.name].append(target)
            return
        if not self._dark(router):
            self._go(target)
        elif not known:
            return  # its own SNMP answer decides (snmp_done)
        elif not self.silent(name):
            self._go(target)
        else:
            self._decided.add(name)
            if router.ref.name in self.results or not self._will_answer(router):
                self._resolve_held(router, target)
            else:
                self._held[router.ref.name].append(target)

    def _go(self, target: Target) -> None:
        self._decided.add(target.ref.name)
        self._start(target)

    def _will_answer(self, router: Target) -> bool:
        """Whether the router gets an SSH result of its own to decide its held devices by."""
        return self._capable(router) and (self._by_role(router) or self.silent(router.ref.name))

    def _resolve_held(self, router: Target, target: Target) -> None:
        answer = self.results.get(router.ref.name)
        wan_down = not self.silent(router.ref.name)
        if answer is not None and answer.connected and not wan_down:
            self._start(target)  # the router is alive: the device's silence is its own
        else:
            self.skip(target.ref.name)

    # --- sessions --------------------------------------------------------------------------------

    def _start(self, target: Target) -> None:
        self.started.append(target)
        if self._reader is None:
            return
        if self.first_start is None:
            self.first_start = time.monotonic()
        task = asyncio.get_running_loop().create_task(self._session(self._reader, target))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _session(self, reader: StatusReader, target: Target) -> None:
        assert target.ssh is not None and target.ref.driver.ssh is not None  # noqa: S101 - _capable
        # Devices not up last time, or slow or silent on SNMP now, go first: a slow link's session
        # takes most of the time limit, and started last it would set the sweep's length.
        answer = self.snmp.get(target.ref.name)
        urgent = target.ref.name in self.first or (answer is not None and self._suspect(answer))
        commands = target.ref.driver.ssh.commands
        self.record(await reader.read(target.ssh, commands, self.deadline, first=urgent))

    def record(self, result: SshResult) -> None:
        """A session's result: counted, and the devices held behind it (a router) decided.

        With ``confirm``, a failure that one lost packet or a busy moment can cause is not taken
        from one session: the device is asked once more at once, and the second answer stands.
        """
        if self.confirm and result.error in FLUKES and result.name not in self._confirmed:
            self._confirmed.add(result.name)
            self._start(self._index[result.name])
            return
        self.results[result.name] = result
        self.last_end = time.monotonic()
        self._progress(result.name, result.ok)
        for held in self._held.pop(result.name, []):
            router = self._index.get(result.name)
            assert router is not None  # noqa: S101 - held devices wait for a known router
            self._resolve_held(router, held)

    def skip(self, name: str) -> None:
        self._progress(name, ok=False)

    def _progress(self, name: str, ok: bool) -> None:
        self._done += 1
        self.emit(ProgressEvent(Phase.SSH, self._done, max(self._total, self._done), name, ok))

    @property
    def expected(self) -> int:
        return self._total

    def announce(self) -> None:
        """The SSH bar, from the start: how many sessions the sweep expects so far."""
        self.emit(ProgressEvent(Phase.SSH, 0, self._total))

    async def drain(self) -> None:
        """Wait for every session started, including those a router's answer starts late."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    def held_left(self) -> list[Target]:
        """Devices still held once every session is over (their router gave no answer): skipped."""
        left = [t for devices in self._held.values() for t in devices]
        self._held.clear()
        return left
