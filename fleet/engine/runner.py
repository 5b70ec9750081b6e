"""Run a sweep against the database's inventory and record it: what the CLI, scheduler and API call."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any

from fleet.domain.sweep import SweepStatus
from fleet.drivers.facts import Facts
from fleet.engine.progress import ProgressEvent
from fleet.engine.sweep import SweepEngine, SweepOptions, SweepResult
from fleet.engine.targets import Scope, Target, build_targets, require_credentials
from fleet.errors import FleetError
from fleet.store import sweeps as repo
from fleet.store.db import Store
from fleet.store.inventory import load_inventory
from fleet.store.models import Sweep

log = logging.getLogger(__name__)
HEARTBEAT_EVERY = 15.0  # seconds; a sweep silent for sweeps.STALE_AFTER is taken for dead


class NothingToSweep(FleetError):
    exit_code = 4


@dataclass(slots=True)
class StoredSweep:
    sweep: Sweep
    result: SweepResult
    targets: list[Target]


_FACT_FIELDS = {f.name for f in fields(Facts)} - {"codec"}


def _facts(data: dict[str, Any]) -> Facts:
    return Facts(**{k: v for k, v in data.items() if k in _FACT_FIELDS})


def run_sweep(
    store: Store,
    scope: Scope,
    options: SweepOptions,
    *,
    retention: timedelta,
    listeners: tuple[Any, ...] = (),
    trigger: str = "cli",
    deadline: float | None = None,
    on_begin: Callable[[int], None] | None = None,
) -> StoredSweep:
    """Sweep the devices in scope and record the outcome; an interrupted sweep is marked aborted."""
    with store.session() as session:
        inventory = load_inventory(session)
        previous = {name: _facts(f) for name, f in repo.latest_facts(session).items()}
        troubled = frozenset(repo.troubled_devices(session))
    targets = build_targets(inventory, scope)
    if not targets:
        raise NothingToSweep("no device matches the scope given (is the inventory imported?)")
    require_credentials(targets)  # a sweep without its secrets would overwrite good state with errors
    with store.session() as session:
        sweep_id = repo.begin_sweep(session, scope.to_json(), len(targets), trigger).id or 0
    if on_begin is not None:
        on_begin(sweep_id)
    engine = SweepEngine(options)
    for listener in listeners:
        engine.subscribe(listener)
    last_beat = time.monotonic()

    def beat(_event: ProgressEvent) -> None:
        nonlocal last_beat
        if time.monotonic() - last_beat > HEARTBEAT_EVERY:
            last_beat = time.monotonic()
            with store.session() as session:
                repo.heartbeat(session, sweep_id)

    engine.subscribe(beat)
    try:
        result = asyncio.run(engine.run(targets, previous, deadline, first=troubled))
        with store.session() as session:
            sweep = repo.record_sweep(session, sweep_id, result.healths, retention)
    except BaseException as exc:
        status = SweepStatus.ABORTED if isinstance(exc, KeyboardInterrupt) else SweepStatus.FAILED
        note = "interrupted by the operator" if isinstance(exc, KeyboardInterrupt) else repr(exc)
        try:
            with store.session() as session:
                repo.end_sweep(session, sweep_id, status, note)
        except Exception:  # the original error matters more; the next sweep reaps this one
            log.exception("could not record sweep %s as %s", sweep_id, status.value)
        raise
    return StoredSweep(sweep, result, targets)
