"""``fleet session …`` and ``fleet ready``: sessions the sites must be ready for, and readiness runs."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from fleet.cli import deps
from fleet.cli.sweep import JSON, Bar
from fleet.domain.health import Party
from fleet.domain.readiness import VERDICT_ORDER, Verdict
from fleet.engine.sessions import build_session, move_session, options_definition, read_definition
from fleet.store import readiness as repo
from fleet.store.models import MeetingSession, ReadinessRun
from fleet.store.types import local_iso, local_zone, utcnow

if TYPE_CHECKING:  # the engine (SNMP and SSH stacks) loads only for a readiness run
    from fleet.engine.readiness import ReadinessOptions, ReadinessOutcome

app = typer.Typer(help="Sessions (meetings) the sites must be ready for.", no_args_is_help=True)
VERDICT_STYLE = {
    Verdict.READY: "green",
    Verdict.DEGRADED: "yellow",
    Verdict.NOT_READY: "bold red",
    Verdict.UNKNOWN: "magenta",
}
MAX_SITES_SHOWN = 60


def _starts(meeting: MeetingSession) -> str:
    return repo.describe_start(meeting, local_zone())


def _session_json(meeting: MeetingSession, runs: list[ReadinessRun] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": meeting.id,
        "title": meeting.title,
        "starts_at": local_iso(meeting.starts_at),
        "starts_local": deps.local_time(meeting.starts_at),
        "timezone": meeting.timezone,
        "dial_string": meeting.dial_string,
        "bridge": meeting.bridge,
        "check_set": meeting.check_set,
        "participants": meeting.participants,
        "status": meeting.status.value,
        "note": meeting.note,
    }
    if runs is not None:
        out["runs"] = [_run_json(r) for r in runs]
    return out


def _run_json(run: ReadinessRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "status": run.status.value,
        "started_at": local_iso(run.started_at),
        "duration_s": round(run.duration_s or 0.0, 1),
        "sites": run.sites,
        "counts": run.counts,
        "polled": run.polled,
        "reused": run.reused,
        "rechecked": run.rechecked,
        "deadline_hit": run.deadline_hit,
        "report_dir": run.report_dir,
    }


@app.command("create")
def create(
    file: Path | None = typer.Option(None, "--file", "-f", help="A session definition in YAML."),
    title: str | None = typer.Option(None, "--title", help="What the session is."),
    start: str | None = typer.Option(
        None,
        "--start",
        help="Start, 'YYYY-MM-DD HH:MM' in the session's time zone (or with an offset); a date needs a time.",
    ),
    timezone: str | None = typer.Option(None, "--timezone", help="Default: Asia/Ho_Chi_Minh."),
    dial: str | None = typer.Option(None, "--dial", help="The bridge's dial string (SIP URI)."),
    bridge: str | None = typer.Option(None, "--bridge", help="The bridge's address (for the report)."),
    check_set: str | None = typer.Option(
        None, "--check-set", help="Name in playbooks/readiness/, or a path."
    ),
    all_sites: bool = typer.Option(False, "--all", help="Every site of the inventory takes part."),
    province: list[str] = typer.Option([], "--province", "-p", help="Province code or name (repeatable)."),
    group: str | None = typer.Option(None, "--group", "-g", help="The sites of this group."),
    sites_file: Path | None = typer.Option(None, "--sites-file", help="A file of site codes, one per line."),
    as_json: bool = JSON,
) -> None:
    """Create a session, from a file or from options; nothing is stored unless all of it is valid."""
    given = [all_sites, bool(province), group is not None, sites_file is not None]
    if sum(given) > 1:
        raise typer.BadParameter("give one of --all, --province, --group or --sites-file")
    if file is not None:
        if any(v is not None for v in (title, start, timezone, dial, bridge, check_set)) or any(given):
            raise typer.BadParameter("--file takes no other options: the file holds the whole definition")
        fields = read_definition(file)
        source, base = file, file.parent
    else:
        participants: Any = None
        if all_sites:
            participants = "all"
        elif province:
            participants = {"provinces": province}
        elif group is not None:
            participants = {"group": group}
        elif sites_file is not None:
            participants = {"sites_file": str(sites_file)}
        fields = options_definition(
            title=title,
            start=start,
            timezone=timezone,
            dial_string=dial,
            bridge=bridge,
            check_set=check_set,
            participants=participants,
        )
        source, base = Path("command line"), Path.cwd()
    with deps.store() as store, store.session() as db:
        meeting = repo.add_session(db, build_session(db, fields, source, base=base))
        count = len(repo.participant_codes(db, meeting))
    if as_json:
        deps.print_json(_session_json(meeting) | {"sites": count})
        return
    deps.out.print(
        f"session {meeting.id} created: {meeting.title}, starts {_starts(meeting)}, "
        f"{count:,} sites, dial {meeting.dial_string}"
    )
    deps.err.print(f"next: fleet ready {meeting.id}")


@app.command("list")
def list_(
    all_: bool = typer.Option(False, "--all", help="Also cancelled and past sessions."),
    as_json: bool = JSON,
) -> None:
    """Sessions from an hour ago on, soonest first."""
    since = None if all_ else utcnow() - timedelta(hours=1)
    with deps.store() as store, store.session() as db:
        sessions = repo.list_sessions(db, include_cancelled=all_, since=since, limit=500)
        last = {m.id: repo.list_runs(db, m.id or 0, limit=1) for m in sessions}
    if as_json:
        deps.print_json({"sessions": [_session_json(m) for m in sessions]})
        return
    if not sessions:
        deps.err.print("No sessions. Create one: fleet session create --help")
        return
    table = Table(title_justify="left")
    for column in ("id", "starts", "title", "participants", "status", "last run"):
        table.add_column(column, overflow="fold")
    for m in sessions:
        runs = last.get(m.id) or []
        table.add_row(
            str(m.id),
            _starts(m),
            m.title,
            repo.describe_participants(m.participants),
            m.status.value,
            _run_cell(runs[0]) if runs else "",
        )
    deps.out.print(table)


def _run_cell(run: ReadinessRun) -> str:
    counts = run.counts or {}
    if not counts:
        return f"{run.id}: {run.status.value}"
    shown = ", ".join(f"{counts.get(v.value, 0)} {v.label}" for v in reversed(VERDICT_ORDER))
    return f"run {run.id} {deps.local_time(run.started_at)}: {shown}"


@app.command("show")
def show(session_id: int = typer.Argument(..., help="The session's id."), as_json: bool = JSON) -> None:
    """A session, its participants and its readiness runs."""
    with deps.store() as store, store.session() as db:
        meeting = repo.get_session(db, session_id)
        runs = repo.list_runs(db, session_id, limit=20)
        count = len(repo.participant_codes(db, meeting))
    if as_json:
        deps.print_json(_session_json(meeting, runs) | {"sites": count})
        return
    deps.out.print(f"[bold]session {meeting.id}[/]: {meeting.title}")
    deps.out.print(f"  starts      {_starts(meeting)}")
    deps.out.print(f"  status      {meeting.status.value}{f' ({meeting.note})' if meeting.note else ''}")
    deps.out.print(
        f"  dial        {meeting.dial_string}{f'  bridge {meeting.bridge}' if meeting.bridge else ''}"
    )
    deps.out.print(f"  check set   {meeting.check_set}")
    deps.out.print(f"  sites       {count:,} ({repo.describe_participants(meeting.participants)})")
    for run in runs:
        deps.out.print(f"  {_run_cell(run)}  {run.report_dir}")


@app.command("move")
def move(
    session_id: int = typer.Argument(..., help="The session's id."),
    start: str = typer.Option(
        ...,
        "--start",
        help="New start, 'YYYY-MM-DD HH:MM' in the session's zone (or with an offset); a date needs a time.",
    ),
) -> None:
    """Move a session to a new start; the scheduler moves its readiness runs with it."""
    with deps.store() as store, store.session() as db:
        before = repo.get_session(db, session_id).starts_at
        meeting = move_session(db, session_id, start)
    deps.out.print(
        f"session {meeting.id} moved from {deps.local_time(before)} to {deps.local_time(meeting.starts_at)}"
    )


@app.command("cancel")
def cancel(
    session_id: int = typer.Argument(..., help="The session's id."),
    reason: str = typer.Option(..., "--reason", help="Why (kept with the session)."),
) -> None:
    """Cancel a session: no readiness runs for it any more."""
    with deps.store() as store, store.session() as db:
        meeting = repo.cancel_session(db, session_id, reason)
    deps.out.print(f"session {meeting.id} cancelled: {meeting.title}")


def ready(
    session_id: int = typer.Argument(..., help="The session's id (fleet session list)."),
    deadline: float | None = typer.Option(
        None,
        "--deadline",
        min=5,
        max=3600,
        help="Seconds before the verdicts are final (readiness_deadline).",
    ),
    fresh: bool = typer.Option(False, "--fresh", help="Poll every device: reuse no sweep data."),
    no_recheck: bool = typer.Option(False, "--no-recheck", help="Do not poll failing sites a second time."),
    report_dir: Path | None = typer.Option(None, "--report-dir", help="Where reports go (report_dir)."),
    as_json: bool = JSON,
) -> None:
    """Judge every participating site of a session now; write the HTML, CSV and JSON report."""
    from fleet.service.options import readiness_options  # noqa: PLC0415 - see the imports

    options = readiness_options(
        deps.settings(),
        deadline=deadline,
        fresh=fresh,
        recheck=False if no_recheck else None,
        report_dir=report_dir,
    )
    done = readiness_with_progress(session_id, options, show=not as_json)
    if as_json:
        deps.print_json(_outcome_json(done))
        return
    print_outcome(done)


def readiness_with_progress(
    session_id: int, options: ReadinessOptions, *, show: bool = True
) -> ReadinessOutcome:
    bars: list[Bar] = []

    def listener(event: Any) -> None:
        if not bars or (event.phase.value == "snmp" and event.done == 0 and bars[-1].tasks):
            bars.append(Bar(enabled=show))
            bars[-1].progress.start()
        bars[-1](event)

    def stage(message: str) -> None:
        if show:
            deps.err.print(message)

    try:
        with deps.store() as store:
            from fleet.engine.readiness import run_readiness  # noqa: PLC0415 - see the imports

            return run_readiness(store, session_id, options, listeners=(listener,), on_stage=stage)
    finally:
        for bar in bars:
            bar.progress.stop()


def _outcome_json(done: ReadinessOutcome) -> dict[str, Any]:
    return done.document | {"files": {kind: str(path) for kind, path in done.reports.items()}}


def _sites(count: int) -> str:
    return f"{count:,} site" + ("" if count == 1 else "s")


def print_outcome(done: ReadinessOutcome) -> None:
    """The terminal's view: counts, who must act on what, what changed, where the report is."""
    run, verdicts, sites = done.run, done.verdicts, done.sites
    counts = Counter(v.verdict for v in verdicts)
    meeting = done.meeting
    deps.out.print(
        f"[bold]Readiness run {run.id}[/] of session {meeting.id}, {meeting.title}, "
        f"starting {_starts(meeting)}"
    )
    table = Table()
    for verdict in reversed(VERDICT_ORDER):
        table.add_column(verdict.label, justify="right", style=VERDICT_STYLE[verdict])
    table.add_column("sites", justify="right")
    table.add_row(*[f"{counts[v]:,}" for v in reversed(VERDICT_ORDER)], f"{len(verdicts):,}")
    deps.out.print(table)
    broken = [v for v in verdicts if v.verdict is not Verdict.READY]
    broken.sort(key=lambda v: (VERDICT_ORDER.index(v.verdict), v.site))
    if broken:
        faults = Table(title=f"Sites not READY ({len(broken):,})", title_justify="left")
        for column in ("site", "verdict", "who must act", "reason"):
            faults.add_column(column, overflow="fold")
        for v in broken[:MAX_SITES_SHOWN]:
            site = sites[v.site]
            faults.add_row(
                f"{site.code} {site.name}",
                f"[{VERDICT_STYLE[v.verdict]}]{v.verdict.label}[/]",
                ", ".join(p.value for p in v.parties),
                v.reason,
            )
        deps.out.print(faults)
        if len(broken) > MAX_SITES_SHOWN:
            deps.out.print(f"… and {len(broken) - MAX_SITES_SHOWN:,} more: the report lists every site")
        by_party = Counter(p for v in broken for p in v.parties)
        deps.out.print(
            "who must act: " + ", ".join(f"{p.value} {_sites(by_party[p])}" for p in Party if by_party[p])
        )
    else:
        deps.out.print("Every site is READY.")
    if done.previous is not None:
        doc = done.document["changes"]
        deps.out.print(
            f"since run {done.previous.id}: {len(doc['newly_broken'])} newly broken, "
            f"{len(doc['repaired'])} repaired, {len(doc['other'])} changed otherwise"
        )
    deps.err.print(
        f"run {run.id}: {run.sites:,} sites in {run.duration_s or 0:.1f} s; {run.polled:,} devices polled, "
        f"{run.reused:,} judged from recent sweeps, {run.rechecked:,} sites re-checked"
        + ("; the deadline came before every device was checked" if run.deadline_hit else "")
    )
    for kind in ("html", "csv", "json"):
        deps.out.print(f"report ({kind}): {done.reports[kind]}")
