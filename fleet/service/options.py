"""Engine options from the settings: one place for the CLI, the scheduler and the API."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fleet.domain.provision import ProvisionMode
from fleet.engine.provision import Freeze, ProvisionOptions
from fleet.engine.readiness import ReadinessOptions
from fleet.engine.sweep import SweepOptions
from fleet.settings import Settings


def sweep_options(settings: Settings, **given: object) -> SweepOptions:
    """A sweep as the settings describe it; ``given`` (not None) overrides."""
    values: dict[str, object] = {
        "ssh_workers": settings.ssh_workers,
        "ssh_reader": settings.ssh_reader,
        "ssh_in_flight": settings.ssh_in_flight,
        "ssh_time_limit": settings.ssh_time_limit,
        "ssh_connect_timeout": settings.ssh_connect_timeout,
        "known_hosts": settings.ssh_known_hosts,
    }
    values.update({k: v for k, v in given.items() if v is not None})
    return SweepOptions(**values)  # type: ignore[arg-type]


def readiness_options(
    settings: Settings,
    *,
    deadline: float | None = None,
    fresh: bool = False,
    recheck: bool | None = None,
    report_dir: Path | None = None,
) -> ReadinessOptions:
    return ReadinessOptions(
        sweep=sweep_options(settings),
        deadline_s=deadline or settings.readiness_deadline,
        reuse_minutes=0.0 if fresh else None,
        recheck=recheck,
        report_dir=report_dir or settings.report_dir,
        retention=settings.sample_retention,
    )


def provision_options(
    settings: Settings, mode: ProvisionMode, actor: str, **given: object
) -> ProvisionOptions:
    """A provisioning run as the settings describe it; ``given`` (not None) overrides."""
    values: dict[str, object] = {
        "workers": settings.provision_workers,
        "canary": settings.provision_canary,
        "max_failure_rate": settings.provision_max_failure_rate,
        "time_limit": settings.provision_time_limit,
    }
    values.update({k: v for k, v in given.items() if v is not None})
    return ProvisionOptions(
        mode=mode,
        actor=actor,
        connect_timeout=settings.ssh_connect_timeout,
        known_hosts=settings.ssh_known_hosts,
        freeze=Freeze(
            timedelta(minutes=settings.change_freeze_before), timedelta(minutes=settings.change_freeze_after)
        ),
        **values,  # type: ignore[arg-type]
    )
