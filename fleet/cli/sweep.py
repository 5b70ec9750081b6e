"""``fleet sweep`` and ``fleet status``: poll the fleet's health, and show the latest state."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fleet.cli import deps
from fleet.domain.enums import Carrier, Role
from fleet.domain.health import STATUS_ORDER, DeviceHealth, DeviceStatus
from fleet.engine.progress import Phase, ProgressEvent
from fleet.errors import NotFoundError
from fleet.store import inventory as inventory_repo
from fleet.store import sweeps as repo
from fleet.store.types import local_iso

if TYPE_CHECKING:  # the engine (SNMP and SSH stacks) loads only for the commands that poll
    from fleet.engine.runner import StoredSweep
    from fleet.engine.sweep import SweepOptions
    from fleet.engine.targets import Scope, Target

JSON = typer.Option(False, "--json", help="Print JSON for machines instead of tables.")
STATUS_STYLE = {
    DeviceStatus.UP: "green",
    DeviceStatus.DEGRADED: "yellow",
    DeviceStatus.DOWN: "bold red",
    DeviceStatus.UNREACHABLE: "red",
    DeviceStatus.AUTH_FAILED: "magenta",
    DeviceStatus.ERROR: "magenta",
}
MAX_FAULTS_SHOWN = 100


def resolve_scope(
    provinces: list[str], carriers: list[Carrier], roles: list[Role], group: str | None, snmp_only: bool
) -> Scope:
    with deps.store() as store, store.session() as session:
        codes = frozenset(inventory_repo.resolve_province(session, p).code for p in provinces)
        sites = frozenset(inventory_repo.group_site_codes(session, group)) if group else None
    if sites is not None and not sites:
        raise NotFoundError(f"group '{group}' has no sites")
    from fleet.engine.targets import Scope  # noqa: PLC0415 - see the imports

    return Scope(codes, frozenset(carriers), frozenset(roles), sites, snmp_only, group)


class Bar:
    """A live progress bar per phase on a terminal; a line per tenth of each phase in a log."""

    def __init__(self, enabled: bool, labels: dict[Phase, str] | None = None) -> None:
        self.labels = {Phase.SNMP: "SNMP", Phase.SSH: "SSH", **(labels or {})}
        self.lines = enabled and not deps.err.is_terminal
        self.progress = Progress(
            TextColumn("{task.description:<5}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} not ok"),
            TimeElapsedColumn(),
            console=deps.err,
            disable=not enabled or self.lines,
            transient=False,
        )
        self.tasks: dict[Phase, Any] = {}
        self.failed: Counter[Phase] = Counter()

    def __call__(self, event: ProgressEvent) -> None:
        if event.phase is Phase.DONE:
            return
        if event.phase not in self.tasks:
            label = self.labels[event.phase]
            self.tasks[event.phase] = self.progress.add_task(label, total=event.total, failed=0)
        if event.device is not None and not event.ok:
            self.failed[event.phase] += 1
        self.progress.update(
            self.tasks[event.phase], completed=event.done, total=event.total, failed=self.failed[event.phase]
        )
        step = max(1, event.total // 10)
        if self.lines and (event.done % step == 0 or event.done == event.total):
            label = self.labels[event.phase]
            deps.err.print(f"{label} {event.done:,}/{event.total:,}, {self.failed[event.phase]:,} not ok")


def sweep(
    province: list[str] = typer.Option([], "--province", "-p", help="Province code or name (repeatable)."),
    carrier: list[Carrier] = typer.Option(
        [], "--carrier", "-c", case_sensitive=False, help="Carrier (repeatable)."
    ),
    role: list[Role] = typer.Option(
        [], "--role", "-r", case_sensitive=False, help="Device role (repeatable)."
    ),
    group: str | None = typer.Option(None, "--group", "-g", help="Only the sites of this group."),
    snmp_only: bool = typer.Option(False, "--snmp-only", help="Skip SSH: faster, tells less."),
    timeout: float = typer.Option(1.0, "--timeout", min=0.1, max=30, help="SNMP timeout per request, s."),
    retries: int = typer.Option(1, "--retries", min=0, max=5, help="SNMP retries per device."),
    in_flight: int = typer.Option(200, "--in-flight", min=1, max=2000, help="SNMP requests in flight."),
    ssh_workers: int | None = typer.Option(
        None, "--ssh-workers", min=1, max=500, help="SSH sessions at once (default: ssh_workers setting)."
    ),
    ssh_time_limit: float | None = typer.Option(
        None, "--ssh-time-limit", min=1, max=600, help="Absolute limit per SSH session, s (ssh_time_limit)."
    ),
    transcripts: Path | None = typer.Option(
        None, "--transcripts", help="Keep each SSH session's transcript (passwords redacted) here."
    ),
    as_json: bool = JSON,
) -> None:
    """Poll every device in scope over SNMP (and SSH where its driver needs it), then report."""
    from fleet.service.options import sweep_options  # noqa: PLC0415 - see the imports

    scope = resolve_scope(province, carrier, role, group, snmp_only)
    options = sweep_options(
        deps.settings(),
        snmp_timeout=timeout,
        snmp_retries=retries,
        snmp_in_flight=in_flight,
        ssh_workers=ssh_workers,
        ssh_time_limit=ssh_time_limit,
        transcripts=transcripts,
    )
    done = sweep_with_progress(scope, options, show=not as_json)
    if as_json:
        deps.print_json(_sweep_json(done))
    else:
        print_summary(done)
    # For scripts: 0 every device up, 1 completed with faults; could not run: 2, 3, 4 or 6.
    if any(h.status is not DeviceStatus.UP for h in done.result.healths):
        raise typer.Exit(1)


def sweep_with_progress(scope: Scope, options: SweepOptions, *, show: bool = True) -> StoredSweep:
    """Run and record a sweep with a live progress bar on stderr (when it is a terminal)."""
    from fleet.engine.runner import run_sweep  # noqa: PLC0415 - see the imports

    bar = Bar(enabled=show)
    with deps.store() as store, bar.progress:
        return run_sweep(
            store,
            scope,
            options,
            retention=deps.settings().sample_retention,
            listeners=(bar,),
        )


def _sweep_json(done: StoredSweep) -> dict[str, Any]:
    sweep, result = done.sweep, done.result
    return {
        "sweep": sweep.id,
        "status": sweep.status.value,
        "started_at": local_iso(sweep.started_at),
        "finished_at": local_iso(sweep.finished_at) if sweep.finished_at else None,
        "duration_s": round(sweep.duration_s or 0.0, 2),
        "scope": sweep.scope,
        "counts": sweep.counts,
        "devices": [
            {
                "device": h.device,
                "site": h.site,
                "status": h.status.value,
                "problems": [repo.problem_json(p) for p in h.problems],
                "facts": h.facts,
            }
            for h in result.healths
        ],
    }


def _status_cells(counts: Counter[DeviceStatus]) -> list[str]:
    return [str(counts.get(s, 0) or "") for s in reversed(STATUS_ORDER)]


def print_summary(done: StoredSweep) -> None:
    result, targets = done.result, {t.ref.name: t for t in done.targets}
    by_province: dict[str, Counter[DeviceStatus]] = defaultdict(Counter)
    by_carrier: dict[str, Counter[DeviceStatus]] = defaultdict(Counter)
    for h in result.healths:
        target = targets[h.device]
        by_province[target.province_code][h.status] += 1
        by_carrier[target.ref.carrier.value][h.status] += 1
    with deps.store() as store, store.session() as session:
        names = inventory_repo.province_names(session)
    for title, groups, label in (
        ("by province", by_province, lambda k: f"{k} {names.get(k, '')}"),
        ("by carrier", by_carrier, str),
    ):
        table = Table(title=f"Sweep {done.sweep.id} {title}", title_justify="left")
        table.add_column("")
        for status in reversed(STATUS_ORDER):
            table.add_column(status.value, justify="right", style=STATUS_STYLE[status])
        for key in sorted(groups):
            table.add_row(label(key), *_status_cells(groups[key]))
        table.add_row("total", *_status_cells(Counter(h.status for h in result.healths)), style="bold")
        deps.out.print(table)
    _print_faults(result.healths, targets)
    sweep = done.sweep
    deps.err.print(
        f"sweep {sweep.id}: {sweep.devices} devices in {sweep.duration_s or 0:.1f} s "
        f"(SNMP {result.snmp_seconds:.1f} s, "
        f"SSH {result.ssh_seconds:.1f} s for {result.ssh_sessions} sessions)"
    )


def _print_faults(healths: list[DeviceHealth], targets: dict[str, Target]) -> None:
    """Faults with their reasons; devices only unreachable behind a faulty router are folded into it."""
    behind: Counter[str] = Counter()
    for h in healths:
        for p in h.problems:
            if p.cause:
                behind[p.cause] += 1
    faults = [
        h for h in healths if h.status is not DeviceStatus.UP and h.status is not DeviceStatus.UNREACHABLE
    ]
    if not faults:
        deps.out.print("No faults.")
        return
    table = Table(title=f"Faults ({len(faults)})", title_justify="left")
    for column in ("site", "device", "status", "responsible", "reason"):
        table.add_column(column, overflow="fold")
    for h in faults[:MAX_FAULTS_SHOWN]:
        target = targets[h.device]
        parties = ", ".join(dict.fromkeys(p.party.value for p in h.problems))
        reason = h.reason + (f" (+{behind[h.device]} behind it unreachable)" if behind[h.device] else "")
        table.add_row(
            f"{h.site} {target.site_name}",
            h.device,
            f"[{STATUS_STYLE[h.status]}]{h.status.value}[/]",
            parties,
            reason,
        )
    deps.out.print(table)
    if len(faults) > MAX_FAULTS_SHOWN:
        deps.out.print(f"… and {len(faults) - MAX_FAULTS_SHOWN} more (fleet status, or --json, shows all)")


def status(
    site: str | None = typer.Argument(None, help="A site code: every device of it, with facts."),
    province: str | None = typer.Option(None, "--province", "-p", help="Province code or name."),
    carrier: Carrier | None = typer.Option(None, "--carrier", "-c", case_sensitive=False),
    faults_only: bool = typer.Option(False, "--faults", help="Only devices that are not up."),
    as_json: bool = JSON,
) -> None:
    """The latest state of devices, from the database (no polling)."""
    wanted = [s for s in DeviceStatus if s is not DeviceStatus.UP] if faults_only else []
    with deps.store() as store, store.session() as session:
        rows = repo.device_states(session, site=site, province=province, carrier=carrier, statuses=wanted)
        last = repo.list_sweeps(session, limit=1)
    if as_json:
        deps.print_json({"devices": [r.to_json() for r in rows]})
        return
    if not rows and faults_only and last:
        deps.out.print("No faults.")
        return
    if not rows:
        deps.err.print("No state recorded yet for these devices: run fleet sweep first.")
        raise typer.Exit(4 if site else 0)
    table = Table(title_justify="left")
    for column in ("site", "device", "status", "since", "checked", "responsible", "reason"):
        table.add_column(column, overflow="fold")
    for r in rows:
        parties = ", ".join(dict.fromkeys(p["party"] for p in r.problems))
        reason = "; ".join(p["detail"] for p in r.problems)
        table.add_row(
            f"{r.site_code} {r.site_name}",
            r.device,
            f"[{STATUS_STYLE[r.status]}]{r.status.value}[/]",
            deps.local_time(r.since),
            deps.local_time(r.checked_at, seconds=True),
            parties,
            reason,
        )
    deps.out.print(table)
    counts = Counter(r.status for r in rows)
    summary = ", ".join(f"{counts[s]} {s.value}" for s in reversed(STATUS_ORDER) if counts[s])
    if last:
        deps.err.print(f"{len(rows)} devices: {summary}. Last sweep {last[0].id}: {last[0].status.value}.")
