"""Persistence: SQLModel tables, migrations, engine and repositories."""
