"""Programmatic Alembic upgrade, so no alembic.ini is needed on disk.

A database already at ``HEAD`` is left as it is without Alembic: importing it and reading its
sixteen scripts took 0.23 s of every server start (most starts), the revision check takes
milliseconds. Any other revision, or none, is upgraded by Alembic as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The newest revision in migrations/versions; tests/integration/test_migrate.py checks it against
# Alembic's own reading of the scripts, so that a new migration cannot be skipped.
HEAD = "0016"
# The PostgreSQL advisory lock that upgraders of one database queue on ("room" in ASCII).
ADVISORY_LOCK_KEY = 0x726F6F6D


def alembic_config() -> Config:
    """Return an Alembic config whose scripts are the ones shipped in this package."""
    from alembic.config import Config

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


def current_revision(sync_conn: Connection) -> str | None:
    """The database's Alembic revision; None for a database never migrated."""
    if not inspect(sync_conn).has_table("alembic_version"):
        return None
    versions = sync_conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return versions[0] if len(versions) == 1 else None


def upgrade(sync_conn: Connection, revision: str = "head") -> None:
    """Upgrade the database behind `sync_conn` to `revision` (inside run_sync), at the start of
    a transaction; concurrent upgraders of the same database wait for each other (one at
    ``HEAD`` already has nothing to wait for)."""
    if revision == "head" and current_revision(sync_conn) == HEAD:
        return
    from alembic import command

    lock_schema(sync_conn)
    cfg = alembic_config()
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, revision)
