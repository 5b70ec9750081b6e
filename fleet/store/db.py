"""Engine and sessions. SQLite runs in WAL mode with a busy timeout; PostgreSQL through psycopg 3."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlmodel import Session

from fleet.errors import ConfigError, StoreError
from fleet.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config

# The newest migration. Every command opens the database and checks it; reading it from here
# spares each one loading Alembic (a third of a second). A test holds it equal to Alembic's head.
HEAD_REVISION = "0005"

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"database URL is not valid: {redact_url(url)}") from None
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def redact_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable URL>"


def create_db_engine(url: str, *, busy_timeout_ms: int = 10_000) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config  # noqa: PLC0415 - only when migrating

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def schema_is_current(engine: Engine) -> bool:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return False
        current = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return current == [HEAD_REVISION]


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (a no-op when it is already there)."""
    try:
        if schema_is_current(engine):
            return
        from alembic import command  # noqa: PLC0415 - only when migrating

        log.info("upgrading database schema at %s", redact_url(str(engine.url)))
        command.upgrade(alembic_config(engine), "head")
    except OperationalError as exc:
        raise StoreError(f"cannot reach the database {redact_url(str(engine.url))}: {exc.orig}") from None


class Store:
    """The database: one engine, sessions on demand."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool | None = None) -> Store:
        engine = create_db_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
        store = cls(engine)
        if settings.auto_migrate if migrate is None else migrate:
            upgrade(engine)
        elif not schema_is_current(engine):
            raise StoreError("the database schema is not current: run 'fleet db upgrade'")
        return store

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on any error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except OperationalError as exc:
                session.rollback()
                raise StoreError(f"database error: {exc.orig}") from None
            except SQLAlchemyError:
                session.rollback()
                raise

    def close(self) -> None:
        self.engine.dispose()
