"""Programmatic Alembic upgrade, so no alembic.ini is needed on disk."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    """Return an Alembic config whose scripts are the ones shipped in this package."""
    cfg = Config()
    # ConfigParser interpolates '%', which can appear in an install path.
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return cfg


def upgrade(sync_conn: Connection, revision: str = "head") -> None:
    """Upgrade the database behind `sync_conn` to `revision` (inside run_sync)."""
    cfg = alembic_config()
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, revision)
