"""Alembic environment: uses fleet's engine (WAL, busy timeout) handed over in the config."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, create_engine
from sqlmodel import SQLModel

import fleet.store.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from fleet.settings import get_settings
from fleet.store.db import normalise_url

config = context.config
target_metadata = SQLModel.metadata


def _engine() -> Engine:
    engine = config.attributes.get("engine")
    if isinstance(engine, Engine):
        return engine
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        url = normalise_url(get_settings().database_url)
    return create_engine(url)


def run_migrations() -> None:
    engine = _engine()
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
