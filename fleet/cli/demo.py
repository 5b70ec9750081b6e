"""``fleet demo``: the main job on the embedded default (SQLite).

Today it imports the shipped inventory and prints a summary; it grows into the whole loop
(simulator, sweep, readiness, report) as those parts land.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table

from fleet.cli import deps
from fleet.inventory.problems import InventoryInvalid
from fleet.inventory.validate import validate_paths
from fleet.store import inventory as repo


def demo(
    inventory: Path = typer.Option(Path("inventory"), "--inventory", help="Inventory directory to import."),
) -> None:
    """Import the shipped inventory into the database and summarise it."""
    if not inventory.is_dir():
        deps.err.print(f"[bold red]error:[/] {inventory} is not a directory; run from the project's root")
        raise typer.Exit(2)
    started = time.perf_counter()
    settings = deps.settings()
    deps.err.print(f"database: {settings.database_url}")
    with deps.store() as store:
        with deps.err.status(f"validating {inventory}…"), store.session() as session:
            result = validate_paths([inventory], repo.known(session))
        if not result.ok:
            for problem in result.problems[:50]:
                deps.err.print(str(problem), markup=False)
            raise InventoryInvalid(result.problems)
        with deps.err.status("importing…"), store.session() as session:
            report = repo.import_inventory(session, result.inventory)
        with store.session() as session:
            totals = repo.summary(session)
    elapsed = time.perf_counter() - started
    table = Table("kind", "created", "updated", "unchanged", title="inventory import")
    for kind, counts in report.counts.items():
        table.add_row(kind, f"{counts.created:,}", f"{counts.updated:,}", f"{counts.unchanged:,}")
    deps.out.print(table)
    carriers = ", ".join(f"{k} {v:,}" for k, v in totals["sites_by_carrier"].items())
    roles = ", ".join(f"{k} {v:,}" for k, v in totals["devices_by_role"].items())
    deps.out.print(
        f"inventory: {totals['sites']:,} sites in {totals['provinces']} provinces ({carriers}); "
        f"{totals['devices']:,} devices ({roles}); {elapsed:.1f} s"
    )
    deps.out.print("next: fleet inventory list --province ho_chi_minh   |   fleet inventory show 32248")
