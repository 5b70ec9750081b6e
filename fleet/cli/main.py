"""Entry point of the ``fleet`` command."""

from __future__ import annotations

import logging
import sys

import typer

from fleet import __version__
from fleet.cli import db as db_cli
from fleet.cli import demo as demo_cli
from fleet.cli import drivers as drivers_cli
from fleet.cli import inventory as inventory_cli
from fleet.cli import lab as lab_cli
from fleet.cli import provision as provision_cli
from fleet.cli import readiness as readiness_cli
from fleet.cli import service as service_cli
from fleet.cli import sim as sim_cli
from fleet.cli import ssh as ssh_cli
from fleet.cli import sweep as sweep_cli
from fleet.cli.deps import err, set_overrides, use_lab
from fleet.errors import FleetError

app = typer.Typer(
    name="fleet",
    help="Conference endpoint fleet manager: inventory, health sweeps, provisioning, readiness.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(inventory_cli.app, name="inventory")
app.add_typer(db_cli.app, name="db")
app.add_typer(ssh_cli.app, name="ssh")
app.add_typer(readiness_cli.app, name="session")
app.add_typer(provision_cli.app, name="config")
app.add_typer(service_cli.token_app, name="token")
app.add_typer(service_cli.scheduler_app, name="scheduler")
app.add_typer(lab_cli.app, name="lab")
app.command("demo")(demo_cli.demo)
app.command("drivers")(drivers_cli.drivers)
app.command("sim")(sim_cli.sim)
app.command("sweep")(sweep_cli.sweep)
app.command("status")(sweep_cli.status)
app.command("ready")(readiness_cli.ready)
app.command("provision")(provision_cli.provision)
app.command("audit")(provision_cli.audit)
app.command("serve")(service_cli.serve)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fleet {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        envvar="FLEET_DATABASE_URL",
        help="Database URL (default: sqlite:///fleet.db).",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what fleet does to stderr."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    set_overrides(database_url=database_url)
    use_lab()


def main() -> None:
    try:
        app()
    except FleetError as exc:
        err.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
