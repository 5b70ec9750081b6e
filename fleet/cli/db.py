"""``fleet db``: schema migrations."""

from __future__ import annotations

import typer

from fleet.cli import deps
from fleet.errors import StoreError
from fleet.store.db import Store, create_db_engine, schema_is_current

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command()
def upgrade() -> None:
    """Bring the database schema up to date."""
    Store.open(deps.settings(), migrate=True).close()
    deps.err.print("database schema is current")


@app.command()
def status() -> None:
    """Say whether the database schema is current (exit 1 when it is not)."""
    s = deps.settings()
    engine = create_db_engine(s.database_url, busy_timeout_ms=s.sqlite_busy_timeout_ms)
    try:
        current = schema_is_current(engine)
    except Exception as exc:
        raise StoreError(f"cannot reach the database: {exc}") from None
    finally:
        engine.dispose()
    deps.out.print("current" if current else "out of date: run 'fleet db upgrade'")
    if not current:
        raise typer.Exit(1)
