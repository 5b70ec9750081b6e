"""``fleet serve``, ``fleet scheduler`` and ``fleet token``: the service side of fleet."""

from __future__ import annotations

import logging
import os
import signal
from datetime import timedelta
from types import FrameType
from typing import Any

import typer
from rich.table import Table

from fleet.cli import deps
from fleet.cli.sweep import JSON
from fleet.domain.provision import AuditAction, AuditEntry, AuditOutcome
from fleet.domain.service import ApiRole
from fleet.store import configs as audit_repo
from fleet.store import service as repo
from fleet.store.db import redact_url
from fleet.store.types import utcnow

token_app = typer.Typer(help="API tokens: create (shown once), list, revoke.", no_args_is_help=True)
scheduler_app = typer.Typer(
    help="The scheduler: health sweeps at an interval, readiness before every session.",
    invoke_without_command=True,
)


def _service_logging(verbose: bool = False) -> None:
    """A service logs what it does: INFO from fleet's service side even without --verbose."""
    logging.getLogger("fleet").setLevel(logging.DEBUG if verbose else logging.INFO)
    root = logging.getLogger()
    for handler in root.handlers:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))


# --- fleet serve ---------------------------------------------------------------------------------------


def serve(
    host: str | None = typer.Option(None, "--host", help="Address to listen on (api_host, 127.0.0.1)."),
    port: int | None = typer.Option(None, "--port", min=1, max=65535, help="Port (api_port, 8000)."),
    workers: int = typer.Option(1, "--workers", min=1, max=64, help="API worker processes."),
    scheduler: bool = typer.Option(
        True,
        "--scheduler/--no-scheduler",
        help="Also run the scheduler here (one process holds it at a time; others stand by).",
    ),
) -> None:
    """Run the REST API (and, unless --no-scheduler, the scheduler) until stopped."""
    # The web stack loads only for this command: every other command starts faster without it.
    import uvicorn  # noqa: PLC0415

    from fleet.api.app import create_app  # noqa: PLC0415

    settings = deps.settings()
    with deps.store() as store, store.session() as session:
        live = repo.list_tokens(session)
    host, port = host or settings.api_host, port or settings.api_port
    _service_logging()
    deps.err.print(
        f"fleet API on http://{host}:{port} (OpenAPI: /docs), database {redact_url(settings.database_url)}, "
        f"{workers} worker(s), scheduler {'embedded' if scheduler else 'off'}"
    )
    if not live:
        deps.err.print("[yellow]no API token exists yet[/]: fleet token create NAME --role admin")
    if workers == 1:
        uvicorn.run(create_app(settings, scheduler=scheduler), host=host, port=port, log_level="info")
        return
    # Worker processes build their own app from the environment: hand the settings over there.
    os.environ["FLEET_DATABASE_URL"] = settings.database_url
    os.environ["FLEET_SERVE_SCHEDULER"] = "1" if scheduler else "0"
    uvicorn.run(
        "fleet.api.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


# --- fleet scheduler -------------------------------------------------------------------------------------


@scheduler_app.callback()
def scheduler(ctx: typer.Context) -> None:
    """Run the scheduler on its own until stopped (SIGTERM or Ctrl-C stop it cleanly)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = deps.settings()
    _service_logging()
    from fleet.service.scheduler import SchedulerService  # noqa: PLC0415 - APScheduler: only to run it

    with deps.store() as store:
        service = SchedulerService(store, settings)
        deps.err.print(
            f"scheduler {service.holder}: sweeps every {settings.sweep_interval:g} s, readiness "
            f"{', '.join(f'{m:g}' for m in settings.readiness_offsets)} min before each session, "
            f"lease {settings.scheduler_lease:g} s"
        )

        def stop(signum: int, _frame: FrameType | None) -> None:
            deps.err.print(f"scheduler {service.holder}: stopping ({signal.Signals(signum).name})")
            service.request_stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        service.run()


@scheduler_app.command("status")
def scheduler_status(
    limit: int = typer.Option(20, "--limit", min=1, max=1000, help="Firings to show."), as_json: bool = JSON
) -> None:
    """Who holds the lease, and the latest firings with how they ended."""
    with deps.store() as store, store.session() as session:
        lease = repo.current_lease(session)
        rows = repo.firings(session, limit=limit)
    now = utcnow()
    if as_json:
        deps.print_json(
            {
                "lease": lease.model_dump(mode="json") | {"alive": lease.expires_at > now} if lease else None,
                "firings": [r.model_dump(mode="json") for r in rows],
            }
        )
        return
    if lease is None:
        deps.out.print("No scheduler has run against this database.")
    else:
        state = "alive" if lease.expires_at > now else "[red]expired: no scheduler running[/]"
        deps.out.print(
            f"lease: {lease.holder}, generation {lease.generation}, "
            f"since {deps.local_time(lease.acquired_at)}, {state} "
            f"(until {deps.local_time(lease.expires_at, seconds=True)})"
        )
    table = Table(title="Latest firings", title_justify="left")
    for column in ("job", "scheduled", "status", "late", "holder", "note"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            r.job_id,
            deps.local_time(r.scheduled_for, seconds=True),
            r.status.value,
            f"{r.late_s:.0f} s" if r.late_s >= 1 else "",
            r.holder,
            r.note,
        )
    deps.out.print(table)


# --- fleet token ----------------------------------------------------------------------------------------


def _token_json(t: Any) -> dict[str, Any]:
    return {k: v for k, v in t.model_dump(mode="json").items() if k != "sha256"}


@token_app.command("create")
def token_create(
    name: str = typer.Argument(..., help="Whose token (a person or a system): the actor in the audit trail."),
    role: ApiRole = typer.Option(
        ..., "--role", help="viewer: read; operator: sweeps, readiness, dry runs; admin."
    ),
    expires_days: int | None = typer.Option(
        None, "--expires-days", min=1, max=3650, help="Expire after N days."
    ),
    as_json: bool = JSON,
) -> None:
    """Create a token and print it once: it is stored hashed and cannot be shown again."""
    expires = utcnow() + timedelta(days=expires_days) if expires_days else None
    actor = deps.actor()
    with deps.store() as store, store.session() as session:
        new = repo.create_token(session, name, role, actor, expires)
        entry = AuditEntry(
            AuditAction.TOKEN,
            AuditOutcome.OK,
            detail=f"token {new.row.id} created for {new.row.name!r}, role {role.value}",
        )
        audit_repo.add_audit(session, [entry], actor, None)
    if as_json:
        deps.print_json(_token_json(new.row) | {"token": new.token})
        return
    deps.out.print(new.token)
    deps.err.print(
        f"token {new.row.id} for {new.row.name} ({role.value}): shown this once; "
        "send it as 'Authorization: Bearer <token>'"
    )


@token_app.command("list")
def token_list(
    all_: bool = typer.Option(False, "--all", help="Also revoked tokens."), as_json: bool = JSON
) -> None:
    """Tokens: owner, role, first characters, last use (never the token itself)."""
    with deps.store() as store, store.session() as session:
        rows = repo.list_tokens(session, include_revoked=all_)
    if as_json:
        deps.print_json([_token_json(t) for t in rows])
        return
    if not rows:
        deps.err.print("No tokens. Create one: fleet token create NAME --role admin")
        return
    table = Table(title_justify="left")
    for column in ("id", "name", "role", "starts with", "created", "expires", "last used", "revoked"):
        table.add_column(column)

    def when(moment: Any) -> str:
        return deps.local_time(moment) if moment else ""

    for t in rows:
        table.add_row(
            str(t.id),
            t.name,
            t.role.value,
            t.prefix + "…",
            when(t.created_at),
            when(t.expires_at),
            when(t.last_used_at),
            when(t.revoked_at),
        )
    deps.out.print(table)


@token_app.command("revoke")
def token_revoke(token: str = typer.Argument(..., help="The token's id, or its name.")) -> None:
    """Revoke a token: it stops working at once."""
    actor = deps.actor()
    with deps.store() as store, store.session() as session:
        row = repo.revoke_token(session, repo.find_token(session, token).id or 0)
        entry = AuditEntry(
            AuditAction.TOKEN, AuditOutcome.OK, detail=f"token {row.id} of {row.name!r} revoked"
        )
        audit_repo.add_audit(session, [entry], actor, None)
    deps.out.print(f"token {row.id} of {row.name} revoked")
