"""Configuration of the roomserver package, parsed elsewhere and passed in."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StoreConfig:
    """Where the store keeps its data, as an SQLAlchemy async URL."""

    # e.g. "sqlite+aiosqlite:///var/roomserver.db" or "postgresql+asyncpg://user@host/db"
    database_url: str
