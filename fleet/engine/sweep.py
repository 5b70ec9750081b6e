"""A health sweep: SNMP to every device, SSH where the driver asks, a verdict per device, root cause.

The engine owns concurrency for both collectors: the SNMP client's in-flight limit and the SSH
worker pool are set here, and progress is published to whoever subscribes (the CLI's progress bar,
later the API). Order of work:

1. SNMP GET of each driver's objects to every device with SNMP credentials.
2. SSH to every SSH-capable device, except codecs and cameras that were silent on SNMP behind a
   router that was silent too: they wait for the router's SSH answer, and are only tried when the
   router turns out to be alive (a dark site costs one router attempt, not three).
3. Classification per device, then root cause per site.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fleet.checks.health import HealthPolicy, classify, root_cause
from fleet.domain.enums import Role
from fleet.domain.health import DeviceHealth, DeviceStatus, Finding, Problem, party_for, worst
from fleet.drivers.facts import Facts
from fleet.engine.progress import Phase, ProgressEvent
from fleet.engine.ssh_phase import SshPhase
from fleet.engine.targets import Target
from fleet.transports.snmp import SnmpClient, SnmpResult
from fleet.transports.ssh_read import StatusReader
from fleet.transports.ssh_types import SshReader, SshResult, SshTarget

if TYPE_CHECKING:
    from fleet.transports.ssh import SshClient

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SweepOptions:
    snmp_timeout: float = 1.0
    snmp_retries: int = 1
    snmp_in_flight: int = 200
    ssh_reader: SshReader = SshReader.ASYNCSSH
    ssh_in_flight: int = 200  # sessions open at once with the asyncssh reader
    ssh_workers: int = 50  # netmiko threads, with ssh_reader=netmiko
    ssh_time_limit: float = 30.0
    ssh_connect_timeout: float = 10.0
    known_hosts: Path = Path("known_hosts")
    transcripts: Path | None = None
    policy: HealthPolicy = field(default_factory=HealthPolicy)
    # Roles logged in to over SSH; None: every SSH-capable device. Devices of other roles are
    # still tried over SSH when silent on SNMP, to tell a dead agent from a dead device.
    ssh_roles: frozenset[Role] | None = None
    # Ask a device again at once after an SSH failure that may be a fluke (see ssh_phase.FLUKES):
    # readiness runs do, so that no verdict rests on one refused or reset connection.
    ssh_confirm: bool = False


@dataclass(slots=True)
class SweepResult:
    healths: list[DeviceHealth]
    snmp_seconds: float = 0.0
    ssh_seconds: float = 0.0
    ssh_sessions: int = 0

    def by_status(self) -> dict[DeviceStatus, int]:
        out: dict[DeviceStatus, int] = {}
        for h in self.healths:
            out[h.status] = out.get(h.status, 0) + 1
        return out


Listener = Callable[[ProgressEvent], None]


class SweepEngine:
    def __init__(self, options: SweepOptions | None = None) -> None:
        self.options = options or SweepOptions()
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _emit(self, event: ProgressEvent) -> None:
        for listener in self._listeners:
            listener(event)

    async def run(
        self,
        targets: Sequence[Target],
        previous: Mapping[str, Facts] | None = None,
        deadline: float | None = None,
        *,
        first: frozenset[str] = frozenset(),
    ) -> SweepResult:
        """``deadline`` (time.monotonic()): SSH sessions unfinished then are reported not checked.

        ``first``: devices whose SSH sessions go before the others' (those not up last time).
        """
        opts = self.options
        started = time.monotonic()
        phase = SshPhase(
            targets,
            opts.ssh_roles,
            self._emit,
            deadline,
            first=first,
            confirm=opts.ssh_confirm,
            slow_after=opts.policy.slow_after_s,
        )
        client = _reader(opts) if any(t.ssh is not None for t in targets) else None
        try:
            pipelined = client if isinstance(client, StatusReader) else None  # else netmiko
            phase.begin(pipelined)
            if pipelined is not None and phase.expected:
                phase.announce()
            snmp = await self._snmp(targets, phase.snmp_done)
            phase.snmp_finished()
            snmp_seconds = time.monotonic() - started
            if pipelined is not None:
                await phase.drain()
            elif client is not None and phase.started:
                await _batches(client, phase)  # type: ignore[arg-type]  # the netmiko client
            for target in phase.held_left():
                phase.skip(target.ref.name)
        finally:
            if client is not None:
                client.close()
        ssh = phase.results
        ssh_seconds = (phase.last_end or 0.0) - (phase.first_start or phase.last_end or 0.0)
        healths = []
        for target in targets:
            name = target.ref.name
            try:
                health = classify(
                    target.ref, snmp.get(name), ssh.get(name), opts.policy, (previous or {}).get(name)
                )
            except Exception as exc:  # a bug in fleet: this device's verdict says so, the sweep goes on
                log.exception("classifying %s failed", name)
                problem = Problem(
                    Finding.INTERNAL,
                    f"{type(exc).__name__}: {exc}",
                    party_for(Finding.INTERNAL, target.ref.carrier),
                )
                health = DeviceHealth(name, target.ref.site, problem.status, [problem])
            if target.secret_problem:
                problem = Problem(
                    Finding.SECRET_MISSING,
                    target.secret_problem,
                    party_for(Finding.SECRET_MISSING, target.ref.carrier),
                )
                health.problems.insert(0, problem)
                health.status = worst([p.status for p in health.problems])
            healths.append(health)
        root_cause(healths, {t.ref.name: t.ref for t in targets})
        self._emit(ProgressEvent(Phase.DONE, len(healths), len(healths)))
        return SweepResult(healths, snmp_seconds, ssh_seconds, len(ssh))

    async def _snmp(
        self, targets: Sequence[Target], answered: Callable[[SnmpResult], None]
    ) -> dict[str, SnmpResult]:
        opts = self.options
        # Routers first: a codec's SSH session can start once its router is known to be reachable.
        ordered = sorted(targets, key=lambda t: t.ref.role is not Role.ROUTER)
        requests = [(t.snmp, t.ref.driver.snmp.oids) for t in ordered if t.snmp is not None]
        progress = _Counter(self._emit, Phase.SNMP, len(requests))

        def done(result: SnmpResult) -> None:
            progress(result)
            answered(result)

        client = SnmpClient(
            timeout=opts.snmp_timeout, retries=opts.snmp_retries, in_flight=opts.snmp_in_flight
        )
        try:
            results = await client.get_many(requests, done)
        finally:
            # Stopping the worker processes waits for them: off the event loop, where SSH sessions run.
            await asyncio.to_thread(client.close)
        return {r.name: r for r in results}


async def _batches(client: SshClient, phase: SshPhase) -> None:
    """The netmiko path: the sessions decided during SNMP in one batch, then those decided by its
    answers (held devices whose router answered, devices asked again), batch after batch."""
    phase.first_start = time.monotonic()
    done = 0
    while len(phase.started) > done:
        batch, done = phase.started[done:], len(phase.started)
        await client.run_many(_jobs(batch), phase.record, phase.deadline)


class _Counter:
    """Counts one phase's finished devices and publishes each as a progress event."""

    def __init__(self, emit: Listener, phase: Phase, total: int) -> None:
        self.emit, self.phase, self.total, self.done = emit, phase, total, 0
        emit(ProgressEvent(phase, 0, total))

    def __call__(self, result: SnmpResult | SshResult) -> None:
        self.done += 1
        self.emit(ProgressEvent(self.phase, self.done, self.total, result.name, result.ok))


def _reader(opts: SweepOptions) -> StatusReader | SshClient:
    """The SSH collector the options ask for; both keep the same contract (run_many, close)."""
    if opts.ssh_reader is SshReader.NETMIKO:
        from fleet.transports.ssh import SshClient  # noqa: PLC0415 - netmiko loads only when asked for

        return SshClient(
            opts.known_hosts,
            workers=opts.ssh_workers,
            time_limit=opts.ssh_time_limit,
            connect_timeout=opts.ssh_connect_timeout,
            transcripts=opts.transcripts,
        )
    return StatusReader(
        opts.known_hosts,
        in_flight=opts.ssh_in_flight,
        time_limit=opts.ssh_time_limit,
        connect_timeout=opts.ssh_connect_timeout,
        transcripts=opts.transcripts,
    )


def _jobs(targets: Sequence[Target]) -> list[tuple[SshTarget, Sequence[str]]]:
    return [(t.ssh, t.ref.driver.ssh.commands) for t in targets if t.ssh is not None and t.ref.driver.ssh]
