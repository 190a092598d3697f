"""Programmatic Alembic upgrade, so no alembic.ini is needed on disk."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The PostgreSQL advisory lock that upgraders of one database queue on ("room" in ASCII).
ADVISORY_LOCK_KEY = 0x726F6F6D


def alembic_config() -> Config:
    """Return an Alembic config whose scripts are the ones shipped in this package."""
    cfg = Config()
    # ConfigParser interpolates '%', which can appear in an install path.
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return cfg


def lock_schema(sync_conn: Connection) -> None:
    """Make this transaction the only one that may migrate the database, until it ends.

    Servers that start at once on one database would otherwise each see the old revision and
    each run its migrations, and all but one fail. Call it first in the transaction.
    """
    if sync_conn.dialect.name == "postgresql":
        sync_conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    elif sync_conn.dialect.name == "sqlite":
        # The write lock from the start (waiting up to the busy timeout), so that the revision
        # read and the DDL after it are one atomic step; Python's sqlite3 would otherwise run
        # each CREATE TABLE in a transaction of its own.
        sync_conn.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade(sync_conn: Connection, revision: str = "head") -> None:
    """Upgrade the database behind `sync_conn` to `revision` (inside run_sync), at the start of
    a transaction; concurrent upgraders of the same database wait for each other."""
    lock_schema(sync_conn)
    cfg = alembic_config()
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, revision)
