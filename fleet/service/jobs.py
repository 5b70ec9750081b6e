"""Sweeps, readiness runs and provisioning started through the API: each in a thread of its own.

The request that starts one waits until the run is recorded (so it can answer with the run's id)
or has failed before that (bad scope, nothing to do), and returns; the run goes on. Its record in
the database is the status every process can read; this process also keeps live progress of
the sweeps it runs.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import col, select

from fleet.domain.readiness import RunStatus
from fleet.engine.progress import ProgressEvent
from fleet.engine.provision import Planned, ProvisionOptions, run_provision
from fleet.engine.readiness import ReadinessOptions, run_readiness
from fleet.engine.runner import run_sweep
from fleet.engine.sweep import SweepOptions
from fleet.engine.targets import Scope
from fleet.errors import FleetError
from fleet.provision.playbook import Playbook
from fleet.settings import Settings
from fleet.store import configs as configs_repo
from fleet.store import readiness as readiness_repo
from fleet.store import sweeps as sweeps_repo
from fleet.store.db import Store
from fleet.store.models import ProvisionRun, ReadinessRun

log = logging.getLogger(__name__)
START_WAIT = 60.0  # seconds a request waits for its run to be recorded
KEEP_PROGRESS = 20  # sweeps whose live progress is kept


class Busy(FleetError):
    """The same kind of run is already going on (HTTP 409)."""

    exit_code = 5


@dataclass(slots=True)
class PhaseProgress:
    done: int = 0
    total: int = 0
    not_ok: int = 0


@dataclass(slots=True)
class SweepProgress:
    phases: dict[str, PhaseProgress] = field(default_factory=dict)

    def __call__(self, event: ProgressEvent) -> None:
        phase = self.phases.setdefault(event.phase.value, PhaseProgress())
        phase.done, phase.total = event.done, event.total
        if event.device is not None and not event.ok:
            phase.not_ok += 1


class BackgroundRuns:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store, self.settings = store, settings
        self._lock = threading.Lock()
        self._progress: dict[int, SweepProgress] = {}

    def _start(self, name: str, work: Callable[[Callable[[int], None]], Any]) -> int:
        """Run ``work(on_begin)`` in a thread; return the id it records, or raise what it raised first."""
        begun = threading.Event()
        box: dict[str, Any] = {}

        def on_begin(run_id: int) -> None:
            box["id"] = run_id
            begun.set()

        def target() -> None:
            try:
                work(on_begin)
            except BaseException as exc:
                if not begun.is_set():
                    box["error"] = exc
                    begun.set()
                else:
                    log.exception("%s %s failed", name, box.get("id"))

        threading.Thread(target=target, name=f"fleet-{name}", daemon=True).start()
        if not begun.wait(START_WAIT):
            raise FleetError(f"the {name} did not start within {START_WAIT:g} s")
        if "error" in box:
            error = box["error"]
            if isinstance(error, FleetError):
                raise error
            raise FleetError(f"the {name} could not start: {type(error).__name__}: {error}")
        return int(box["id"])

    # --- sweeps -------------------------------------------------------------------------------------

    def start_sweep(self, scope: Scope, options: SweepOptions) -> int:
        with self._lock:  # two requests at once must not both find no sweep running
            with self.store.session() as session:
                sweeps_repo.reap_dead_sweeps(session)
                running = sweeps_repo.running_sweep(session)
            if running is not None:
                raise Busy(f"sweep {running.id} ({running.trigger}) is still running")
            progress = SweepProgress()

            def work(on_begin: Callable[[int], None]) -> None:
                def begin(sweep_id: int) -> None:
                    self._progress[sweep_id] = progress
                    for old in sorted(self._progress)[:-KEEP_PROGRESS]:
                        self._progress.pop(old, None)
                    on_begin(sweep_id)

                run_sweep(
                    self.store,
                    scope,
                    options,
                    retention=self.settings.sample_retention,
                    listeners=(progress,),
                    trigger="api",
                    on_begin=begin,
                )

            return self._start("sweep", work)

    def sweep_progress(self, sweep_id: int) -> dict[str, PhaseProgress] | None:
        progress = self._progress.get(sweep_id)
        return dict(progress.phases) if progress is not None else None

    # --- readiness ----------------------------------------------------------------------------------

    def start_readiness(self, session_id: int, options: ReadinessOptions) -> int:
        with self._lock:
            with self.store.session() as session:
                readiness_repo.reap_dead_runs(session)
                running = session.exec(
                    select(ReadinessRun)
                    .where(col(ReadinessRun.session_id) == session_id)
                    .where(col(ReadinessRun.status) == RunStatus.RUNNING)
                ).first()
            if running is not None:
                raise readiness_repo.SessionStateError(
                    f"readiness run {running.id} of session {session_id} is still running"
                )

            def work(on_begin: Callable[[int], None]) -> None:
                run_readiness(self.store, session_id, options, trigger="api", on_begin=on_begin)

            return self._start("readiness run", work)

    # --- provisioning -------------------------------------------------------------------------------

    def start_provision(
        self,
        planned: list[Planned],
        options: ProvisionOptions,
        playbook: Playbook,
        scope: Scope,
        frozen: dict[str, list[str]],
    ) -> int:
        with self._lock:
            if options.applies:
                with self.store.session() as session:
                    configs_repo.reap_dead_runs(session)
                    running = session.exec(
                        select(ProvisionRun)
                        .where(col(ProvisionRun.status) == RunStatus.RUNNING)
                        .where(col(ProvisionRun.mode) == options.mode)
                    ).first()
                if running is not None:
                    raise Busy(f"provisioning run {running.id} ({running.mode.value}) is still running")

            def work(on_begin: Callable[[int], None]) -> None:
                asyncio.run(
                    run_provision(
                        self.store,
                        planned,
                        options,
                        playbook=playbook,
                        scope=scope.to_json(),
                        frozen=frozen,
                        on_begin=on_begin,
                    )
                )

            return self._start("provisioning run", work)
