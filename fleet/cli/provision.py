"""``fleet provision``, ``fleet config …``, ``fleet audit``: change devices safely, keep configurations."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.table import Table

from fleet.cli import deps
from fleet.cli.sweep import JSON, Bar, resolve_scope
from fleet.domain.enums import Carrier, Role
from fleet.domain.provision import (
    AuditEntry,
    DeviceOutcome,
    DeviceProvision,
    ProvisionMode,
    describe_selection,
    refusal_entry,
)
from fleet.domain.text import unsafe
from fleet.engine.progress import Phase, ProgressEvent
from fleet.errors import FleetError, NotFoundError
from fleet.provision.playbook import Playbook, find_playbook, list_playbooks, load_playbook
from fleet.provision.templates import Templates
from fleet.store import configs as repo
from fleet.store import inventory as inventory_repo
from fleet.store.models import ProvisionRun
from fleet.store.types import local_iso, local_zone

if TYPE_CHECKING:  # the engine (the SSH stack) loads only for the commands that reach devices
    from fleet.engine.provision import Planned, ProvisionOptions, ProvisionOutcome
    from fleet.engine.targets import Scope

app = typer.Typer(help="Configuration backups, their history, drift from the playbooks, and past runs.")

OUTCOME_STYLE = {
    DeviceOutcome.UNCHANGED: "green",
    DeviceOutcome.CHANGED: "cyan",
    DeviceOutcome.WOULD_CHANGE: "yellow",
    DeviceOutcome.FAILED: "red",
    DeviceOutcome.RESTORED: "magenta",
    DeviceOutcome.RESTORE_FAILED: "bold red",
    DeviceOutcome.FROZEN: "blue",
    DeviceOutcome.NOT_STARTED: "dim",
}
PROVINCE = typer.Option([], "--province", "-p", help="Only this province (code or name); repeat for more.")
CARRIER = typer.Option(
    [], "--carrier", "-c", case_sensitive=False, help="Only this carrier's sites; repeat for more."
)
ROLE = typer.Option([], "--role", "-r", case_sensitive=False, help="Only this role; repeat for more.")
GROUP = typer.Option(None, "--group", "-g", help="Only the sites of this group.")
ROWS_SHOWN = 100  # devices listed per kind of outcome; "… and N more" says how many were left out
NAMES_SHOWN = 20  # devices named after the diffs shown
ACTOR = deps.ACTOR


class InvalidInput(FleetError):
    exit_code = 1


def _scope(province: list[str], carrier: list[Carrier], role: list[Role], group: str | None) -> Scope:
    return resolve_scope(province, carrier, role, group, snmp_only=False)


def _prepare(scope: Scope, playbook: Playbook | None, templates: Templates) -> list[Planned]:
    with deps.store() as store, store.session() as session:
        inventory = inventory_repo.load_inventory(session)
        from fleet.engine.provision import prepare  # noqa: PLC0415 - see the imports

        return prepare(session, inventory, scope, playbook, templates)


def _options(mode: ProvisionMode, actor: str, **given: Any) -> ProvisionOptions:
    from fleet.service.options import provision_options  # noqa: PLC0415 - see the imports

    return provision_options(deps.settings(), mode, actor, **given)


def run_with_progress(
    planned: Sequence[Planned],
    options: ProvisionOptions,
    *,
    playbook: Playbook | None,
    scope: Scope,
    frozen: dict[str, list[str]] | None = None,
    show: bool = True,
    on_begin: Callable[[int], None] | None = None,
) -> ProvisionOutcome:
    label = {ProvisionMode.APPLY: "push", ProvisionMode.BACKUP: "read"}.get(options.mode, "diff")
    bar = Bar(enabled=show, labels={Phase.SSH: label})

    def listener(result: DeviceProvision, done: int, total: int) -> None:
        ok = not result.outcome.failed and result.outcome is not DeviceOutcome.NOT_STARTED
        bar(ProgressEvent(Phase.SSH, done, total, result.device, ok))

    from fleet.engine.provision import run_provision  # noqa: PLC0415 - see the imports

    with deps.store() as store, bar.progress:
        return asyncio.run(
            run_provision(
                store,
                planned,
                options,
                playbook=playbook,
                scope=scope.to_json(),
                frozen=frozen,
                listener=listener,
                on_begin=on_begin,
            )
        )


# --- fleet provision -------------------------------------------------------------------------------


def provision(
    playbook_name: str = typer.Argument(
        ..., metavar="PLAYBOOK", help="A name in playbooks/provision/ or a path."
    ),
    province: list[str] = PROVINCE,
    carrier: list[Carrier] = CARRIER,
    role: list[Role] = ROLE,
    group: str | None = GROUP,
    apply: bool = typer.Option(
        False, "--apply", help="Change the devices (default: a dry run that changes nothing)."
    ),
    canary: int | None = typer.Option(
        None, "--canary", min=0, help="Devices changed first, alone (provision_canary; 0: none)."
    ),
    max_failure_rate: float | None = typer.Option(
        None,
        "--max-failure-rate",
        min=0.0,
        max=1.0,
        help="Stop starting devices past this failure rate (0.1).",
    ),
    workers: int | None = typer.Option(None, "--workers", min=1, max=200, help="Devices at a time (20)."),
    time_limit: float | None = typer.Option(
        None, "--time-limit", min=1, max=3600, help="Seconds one device's SSH session may take (60)."
    ),
    override_freeze: bool = typer.Option(
        False, "--override-freeze", help="Change devices of sites in a session inside the change freeze."
    ),
    reason: str | None = typer.Option(
        None, "--reason", help="Why the freeze is overridden (recorded; required)."
    ),
    diffs: int = typer.Option(
        10, "--diffs", min=0, help="Show at most this many devices' diffs (all: --json)."
    ),
    transcripts: Path | None = typer.Option(
        None, "--transcripts", help="Keep each SSH session's transcript (passwords redacted) here."
    ),
    actor: str | None = ACTOR,
    as_json: bool = JSON,
) -> None:
    """Bring devices to what a playbook's templates render: a dry run unless --apply."""
    who = deps.actor(actor)
    begun: list[int] = []  # the run's id once it is recorded: a failure before that is a refusal
    try:
        if override_freeze and (not reason or not reason.strip() or unsafe(reason)):
            raise InvalidInput("--override-freeze needs --reason with one line saying why (it is recorded)")
        if reason and not override_freeze:
            raise InvalidInput("--reason is only for --override-freeze")
        templates = Templates.open()
        playbook = load_playbook(find_playbook(playbook_name), templates)
        scope = _scope(province, carrier, role, group)
        planned = _prepare(scope, playbook, templates)
        mode = ProvisionMode.APPLY if apply else ProvisionMode.DRY_RUN
        options = _options(
            mode,
            who,
            canary=canary,
            max_failure_rate=max_failure_rate,
            workers=workers,
            time_limit=time_limit,
            transcripts=transcripts,
            override_reason=reason.strip() if override_freeze and reason else "",
        )
        frozen: dict[str, list[str]] = {}
        if apply:
            from fleet.engine.provision import frozen_sites  # noqa: PLC0415 - see the imports

            with deps.store() as store, store.session() as session:
                frozen = frozen_sites(session, options.freeze)
        outcome = run_with_progress(
            planned,
            options,
            playbook=playbook,
            scope=scope,
            frozen=frozen,
            show=not as_json,
            on_begin=begun.append,
        )
    except FleetError as exc:
        if not begun:
            selection = describe_selection(
                province, [c.value for c in carrier], [r.value for r in role], group
            )
            _audit_refusal(who, refusal_entry(str(exc), playbook=playbook_name, scope=selection, apply=apply))
        raise
    if as_json:
        deps.print_json(outcome_json(outcome, playbook))
    else:
        print_outcome(outcome, playbook, diffs)
    frozen_out = any(r.outcome is DeviceOutcome.FROZEN for r in outcome.results)
    if outcome.failed or outcome.stopped or frozen_out:
        raise typer.Exit(1)


def _audit_refusal(actor: str, entry: AuditEntry) -> None:
    """Record a refused run in the audit trail; if even that fails, say so and go on refusing."""
    try:
        with deps.store() as store, store.session() as session:
            repo.add_audit(session, [entry], actor, None)
    except Exception as exc:  # the refusal itself is what the user must see
        deps.err.print(f"(the refusal could not be recorded in the audit trail: {exc})", markup=False)


def outcome_json(outcome: ProvisionOutcome, playbook: Playbook | None) -> dict[str, Any]:
    return {
        "run": outcome.run_id,
        "mode": outcome.mode.value,
        "playbook": playbook.name if playbook else None,
        "seconds": round(outcome.seconds, 2),
        "counts": outcome.counts(),
        "stopped": outcome.stopped or None,
        "frozen_by": outcome.frozen_sessions,
        "devices": [result_json(r) for r in outcome.results],
    }


def result_json(r: DeviceProvision) -> dict[str, Any]:
    return {
        "device": r.device,
        "site": r.site,
        "driver": r.driver,
        "outcome": r.outcome.value,
        "step": r.step.value if r.step else None,
        "reason": r.reason or None,
        "failed_line": r.failed_line or None,
        "lines": list(r.commands),
        "diff": r.diff or None,
        "seconds": round(r.elapsed, 3),
    }


def _counts_line(counts: dict[str, int]) -> str:
    order = [o.value for o in DeviceOutcome]
    parts = [
        f"[{OUTCOME_STYLE[DeviceOutcome(k)]}]{k.replace('_', ' ')} {counts[k]:,}[/]"
        for k in order
        if counts.get(k)
    ]
    return " · ".join(parts) or "no devices"


def print_outcome(outcome: ProvisionOutcome, playbook: Playbook | None, diffs: int) -> None:
    out = deps.out
    n = len(outcome.results)
    name = playbook.name if playbook else ""
    title = {
        ProvisionMode.DRY_RUN: f"Dry run of playbook {name}: nothing was changed",
        ProvisionMode.APPLY: f"Applied playbook {name}",
        ProvisionMode.BACKUP: "Backup of running configurations",
        ProvisionMode.DRIFT: f"Drift from playbook {playbook.name if playbook else ''}",
    }[outcome.mode]
    out.print(f"[bold]{escape(title)}[/] — {n:,} device(s), run {outcome.run_id}, {outcome.seconds:.1f} s")
    out.print("  " + _counts_line(outcome.counts()))
    if outcome.stopped:
        out.print(f"[bold red]Stopped:[/] {escape(outcome.stopped)}")
    if outcome.frozen_sessions:
        out.print(
            "[blue]Change freeze[/] (use --override-freeze --reason … to go ahead): "
            + escape("; ".join(outcome.frozen_sessions))
        )
    changing = [
        r
        for r in outcome.results
        if r.diff and r.outcome in {DeviceOutcome.WOULD_CHANGE, DeviceOutcome.CHANGED}
    ]
    if changing:
        verb = "Would change" if outcome.mode is not ProvisionMode.APPLY else "Changed, verified and saved"
        out.print(f"\n[bold]{verb}[/] ({len(changing):,}):")
        for r in changing[:diffs]:
            out.print(f"  [bold]{r.device}[/] (site {r.site}, {r.driver}): {len(r.commands)} line(s)")
            for line in r.diff.splitlines()[2:]:
                style = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
                out.print(f"    [{style}]{escape(line)}[/]")
        if len(changing) > diffs:
            named = changing[diffs : diffs + NAMES_SHOWN]
            unnamed = len(changing) - diffs - len(named)
            names = ", ".join(r.device for r in named) + (f" and {unnamed:,} more" if unnamed else "")
            out.print(f"  … and {len(changing) - diffs:,} more: {names} (every diff: --json)")
    for outcome_kind, heading in (
        (
            DeviceOutcome.RESTORE_FAILED,
            "[bold red]NOT restored — act now[/] (the device may hold part of the change)",
        ),
        (DeviceOutcome.RESTORED, "[magenta]Failed, then restored from backup and verified[/]"),
        (DeviceOutcome.FAILED, "[red]Failed before any change[/] (the device is as it was)"),
    ):
        rows = [r for r in outcome.results if r.outcome is outcome_kind]
        if not rows:
            continue
        out.print(f"\n{heading} ({len(rows):,}):")
        for r in rows[:ROWS_SHOWN]:
            step = f"{r.step.value}: " if r.step else ""
            line = f" [line: {escape(r.failed_line)}]" if r.failed_line else ""
            out.print(f"  {r.device:<16} {escape(step + r.reason)}{line}")
        if len(rows) > ROWS_SHOWN:
            out.print(f"  … and {len(rows) - ROWS_SHOWN:,} more (--json)")
    counts = outcome.counts()
    if outcome.mode is ProvisionMode.DRY_RUN and counts.get("would_change"):
        out.print(
            f"\nTo change these {counts['would_change']:,} device(s): "
            f"fleet provision {playbook.name if playbook else ''} --apply (same scope)"
        )


# --- fleet config ----------------------------------------------------------------------------------


@app.command("backup")
def backup(
    province: list[str] = PROVINCE,
    carrier: list[Carrier] = CARRIER,
    role: list[Role] = ROLE,
    group: str | None = GROUP,
    workers: int | None = typer.Option(None, "--workers", min=1, max=200, help="Devices at a time (20)."),
    actor: str | None = ACTOR,
    as_json: bool = JSON,
) -> None:
    """Read and keep the running configuration of every router and codec in scope (new version if changed)."""
    scope = _scope(province, carrier, role, group)
    planned = _prepare(scope, None, Templates.open())
    options = _options(ProvisionMode.BACKUP, deps.actor(actor), workers=workers)
    outcome = run_with_progress(planned, options, playbook=None, scope=scope, show=not as_json)
    if as_json:
        deps.print_json(outcome_json(outcome, None))
    else:
        print_outcome(outcome, None, 0)
    if outcome.failed:
        raise typer.Exit(1)


def _playbooks(names: list[str], templates: Templates) -> list[Playbook]:
    paths = [find_playbook(n) for n in names] if names else list_playbooks()
    if not paths:
        raise NotFoundError("no playbooks in playbooks/provision/")
    return [load_playbook(p, templates) for p in paths]


@app.command("drift")
def drift(
    province: list[str] = PROVINCE,
    carrier: list[Carrier] = CARRIER,
    role: list[Role] = ROLE,
    group: str | None = GROUP,
    playbook_names: list[str] = typer.Option(
        [],
        "--playbook",
        help="Compare with this playbook (repeat; default: every one in playbooks/provision/).",
    ),
    stored: bool = typer.Option(
        False, "--stored", help="Compare the latest kept backups instead of reading the devices."
    ),
    workers: int | None = typer.Option(None, "--workers", min=1, max=200, help="Devices at a time (20)."),
    actor: str | None = ACTOR,
    as_json: bool = JSON,
) -> None:
    """Devices whose running configuration differs from what their playbook renders, with the diff."""
    templates = Templates.open()
    scope = _scope(province, carrier, role, group)
    report: list[dict[str, Any]] = []
    for playbook in _playbooks(playbook_names, templates):
        planned = _prepare(scope, playbook, templates)
        if stored:
            report += _stored_drift(planned, playbook)
            continue
        options = _options(ProvisionMode.DRIFT, deps.actor(actor), workers=workers)
        outcome = run_with_progress(planned, options, playbook=playbook, scope=scope, show=not as_json)
        for r in outcome.results:
            if r.outcome is DeviceOutcome.WOULD_CHANGE or r.outcome.failed:
                item = result_json(r) | {"playbook": playbook.name}
                item["drift"] = r.outcome is DeviceOutcome.WOULD_CHANGE
                report.append(item)
        report.append({"playbook": playbook.name, "checked": len(planned), "summary": True})
    if as_json:
        deps.print_json([r for r in report if not r.get("summary")])
    else:
        _print_drift(report)
    if any(not r.get("summary") and not r.get("drift") for r in report):
        raise typer.Exit(1)  # some devices could not be compared: "no drift" would not be the truth


def _stored_drift(planned: Sequence[Planned], playbook: Playbook) -> list[dict[str, Any]]:
    from fleet.engine.provision import stored_drift  # noqa: PLC0415 - see the imports

    with deps.store() as store, store.session() as session:
        report = stored_drift(session, planned, playbook)
    for item in report:
        if item.get("backup_taken_at"):
            taken = deps.local_time(datetime.fromisoformat(item["backup_taken_at"]))
            item["backup"] = f"version {item['backup_version']} of {taken}"
    return report


def _reasons(unknown: list[dict[str, Any]]) -> str:
    """Why devices were not compared, most common first: the reason itself when they share one."""
    counts = Counter(str(r.get("reason") or "no reason given") for r in unknown)
    if len(counts) == 1:
        return next(iter(counts))
    shown = "; ".join(f"{n:,} {why}" for why, n in counts.most_common(3))
    return shown + (f"; {len(counts) - 3:,} other reason(s)" if len(counts) > 3 else "")


def _print_drift(report: list[dict[str, Any]]) -> None:
    out = deps.out
    drifted = [r for r in report if r.get("drift")]
    unknown = [r for r in report if not r.get("summary") and not r.get("drift")]
    checked = sum(r["checked"] for r in report if r.get("summary"))
    headline = f"[bold]Drift[/]: {len(drifted):,} of {checked:,} device(s) differ from their playbook"
    if unknown:
        headline += f"; [yellow]{len(unknown):,} not compared[/] ({escape(_reasons(unknown))})"
    out.print(headline)
    for r in drifted:
        backup_note = f", from backup {r['backup']}" if r.get("backup") else ""
        out.print(f"\n  [bold]{r['device']}[/] (site {r['site']}, playbook {r['playbook']}{backup_note}):")
        for line in (r.get("diff") or "").splitlines()[2:]:
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
            out.print(f"    [{style}]{escape(line)}[/]")
    if unknown:
        out.print(f"\n[yellow]Not compared[/] ({len(unknown):,}):")
        for r in unknown[:ROWS_SHOWN]:
            out.print(f"  {r['device']:<16} {escape(str(r.get('reason') or ''))}")
        if len(unknown) > ROWS_SHOWN:
            out.print(f"  … and {len(unknown) - ROWS_SHOWN:,} more (--json lists every one)")


@app.command("show")
def show(
    device: str = typer.Argument(..., help="Device name."),
    at: str | None = typer.Option(
        None,
        "--at",
        help="The configuration the device had then (local time 'YYYY-MM-DD HH:MM', or ISO 8601).",
    ),
    version: int | None = typer.Option(None, "--version", min=1, help="A kept version by number."),
    history: bool = typer.Option(False, "--history", help="List the kept versions instead."),
    as_json: bool = JSON,
) -> None:
    """A device's kept running configuration: the latest, the one it had at a time, or a version."""
    moment = _parse_time(at) if at else None
    with deps.store() as store, store.session() as session:
        if history:
            rows = repo.history(session, device)
            if not rows:
                raise NotFoundError(f"no configuration kept for '{device}' (fleet config backup)")
            if as_json:
                deps.print_json(
                    [
                        {
                            "version": r.version,
                            "taken_at": local_iso(r.taken_at),
                            "last_seen_at": local_iso(r.last_seen_at),
                            "sha256": r.sha256,
                            "size": r.size,
                            "source": r.source,
                            "run": r.run_id,
                        }
                        for r in rows
                    ]
                )
                return
            table = Table("version", "taken", "last seen", "sha256", "bytes", "source", "run", title=device)
            for r in rows:
                table.add_row(
                    str(r.version),
                    deps.local_time(r.taken_at),
                    deps.local_time(r.last_seen_at),
                    r.sha256[:12],
                    f"{r.size:,}",
                    r.source,
                    str(r.run_id or ""),
                )
            deps.out.print(table)
            return
        row = (
            repo.backup_version(session, device, version)
            if version
            else repo.backup_at(session, device, moment)
        )
    if row is None:
        shown = f" at {deps.local_time(moment, seconds=True)}" if moment else ""
        when = shown or (f" version {version}" if version else "")
        raise NotFoundError(
            f"no configuration kept for '{device}'{when} (fleet config show {device} --history)"
        )
    if as_json:
        deps.print_json(
            {
                "device": device,
                "version": row.version,
                "taken_at": local_iso(row.taken_at),
                "sha256": row.sha256,
                "text": row.text,
            }
        )
        return
    deps.err.print(
        f"{device} version {row.version}, taken {deps.local_time(row.taken_at)}, "
        f"last seen {deps.local_time(row.last_seen_at)}, sha256 {row.sha256[:12]}"
    )
    deps.out.out(row.text, end="", highlight=False)


def _parse_time(text: str) -> datetime:
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=local_zone())
        except ValueError:
            continue
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"--at {text!r}: not a time (use 'YYYY-MM-DD HH:MM' or ISO 8601)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=local_zone())


@app.command("runs")
def runs(
    limit: int = typer.Option(20, "--limit", min=1, max=1000),
    as_json: bool = JSON,
) -> None:
    """The latest provisioning, backup and drift runs."""
    with deps.store() as store, store.session() as session:
        rows = repo.list_runs(session, limit)
    if as_json:
        deps.print_json([_run_json(r) for r in rows])
        return
    table = Table("run", "mode", "playbook", "actor", "started", "status", "devices", "outcome")
    for r in rows:
        table.add_row(
            str(r.id),
            r.mode.value,
            r.playbook,
            r.actor,
            deps.local_time(r.started_at),
            r.status.value + (" (stopped)" if r.stopped else ""),
            f"{r.devices:,}",
            ", ".join(f"{k} {v}" for k, v in sorted(r.counts.items())),
        )
    deps.out.print(table)


def _run_json(r: ProvisionRun) -> dict[str, Any]:
    return {
        "run": r.id,
        "mode": r.mode.value,
        "playbook": r.playbook or None,
        "actor": r.actor,
        "status": r.status.value,
        "started_at": local_iso(r.started_at),
        "finished_at": local_iso(r.finished_at) if r.finished_at else None,
        "devices": r.devices,
        "counts": r.counts,
        "stopped": r.stopped or None,
        "override_reason": r.override_reason or None,
    }


@app.command("run")
def run_detail(run_id: int = typer.Argument(..., help="Run number."), as_json: bool = JSON) -> None:
    """One run: every device's outcome, with the failing step, reason and line."""
    with deps.store() as store, store.session() as session:
        run = repo.get_run(session, run_id)
        if run is None:
            raise NotFoundError(f"no provisioning run {run_id}")
        rows = repo.run_results(session, run_id)
    if as_json:
        deps.print_json(
            _run_json(run)
            | {
                "devices": [
                    {
                        "device": r.device,
                        "site": r.site,
                        "outcome": r.outcome.value,
                        "step": r.step.value if r.step else None,
                        "reason": r.reason or None,
                        "failed_line": r.failed_line or None,
                        "diff": r.diff or None,
                    }
                    for r in rows
                ]
            }
        )
        return
    deps.out.print(
        f"[bold]Run {run.id}[/]: {run.mode.value} {run.playbook} by {run.actor}, {run.status.value}"
    )
    if run.stopped:
        deps.out.print(f"[bold red]Stopped:[/] {escape(run.stopped)}")
    table = Table("device", "site", "outcome", "step", "reason")
    for r in rows:
        style = OUTCOME_STYLE[r.outcome]
        step = r.step.value if r.step else ""
        table.add_row(r.device, r.site, f"[{style}]{r.outcome.value}[/]", step, escape(r.reason))
    deps.out.print(table)


# --- fleet audit -----------------------------------------------------------------------------------


def audit(
    device: str | None = typer.Option(None, "--device", "-d", help="Only this device."),
    run: int | None = typer.Option(None, "--run", help="Only this provisioning run."),
    action: list[str] = typer.Option(
        [], "--action", help="Only this action (backup, push, verify, …); repeat."
    ),
    actor: str | None = typer.Option(None, "--actor", help="Only what this person or token did."),
    request: str | None = typer.Option(None, "--request", help="Only what this API request did."),
    limit: int = typer.Option(100, "--limit", min=1, max=100_000),
    as_json: bool = JSON,
) -> None:
    """The audit trail, newest first: who did what to which device, when, and how it ended."""
    with deps.store() as store, store.session() as session:
        rows = repo.list_audit(
            session, device=device, run_id=run, actions=action, actor=actor, request_id=request, limit=limit
        )
    if as_json:
        deps.print_json(
            [
                {
                    "id": r.id,
                    "at": local_iso(r.at),
                    "actor": r.actor,
                    "action": r.action.value,
                    "outcome": r.outcome.value,
                    "device": r.device or None,
                    "run": r.run_id,
                    "detail": r.detail,
                    "diff": r.diff or None,
                    "request_id": r.request_id or None,
                }
                for r in rows
            ]
        )
        return
    table = Table("id", "time", "actor", "action", "outcome", "device", "run", "detail")
    for r in rows:
        style = "red" if r.outcome.value == "failed" else "green" if r.outcome.value == "ok" else ""
        table.add_row(
            str(r.id),
            deps.local_time(r.at, seconds=True),
            r.actor,
            r.action.value,
            f"[{style}]{r.outcome.value}[/]" if style else r.outcome.value,
            r.device,
            str(r.run_id or ""),
            escape(r.detail),
        )
    deps.out.print(table)
