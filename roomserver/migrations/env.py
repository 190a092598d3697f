"""Alembic environment: runs migrations on the connection SqlStore hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from roomserver.tables import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    """Emit SQL for `alembic upgrade --sql` from the configured URL."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run on the sync connection placed in config.attributes by roomserver.migrate."""
    connection = config.attributes.get("connection")
    if connection is None:
        # The store is async; it always passes its own connection in.
        raise RuntimeError("run migrations through roomserver.migrate.upgrade(connection)")
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
