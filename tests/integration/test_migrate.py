"""The schema's upgrade at a server's start: Alembic only for a database behind the newest
revision."""

import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from roomserver import migrate
from roomserver.config import StoreConfig
from roomserver.store import SqlStore

# Opens the store at the URL given and tells whether Alembic was imported to do it.
OPEN_STORE = """
import asyncio, sys
from roomserver.config import StoreConfig
from roomserver.store import SqlStore

async def main():
    async with SqlStore(StoreConfig(database_url=sys.argv[1])) as store:
        await store.is_empty()

asyncio.run(main())
print("alembic" in sys.modules)
"""


def test_head_is_the_newest_script() -> None:
    """A new migration with ``HEAD`` left behind fails here, not at a start that skips it."""
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    assert scripts.get_current_head() == migrate.HEAD


def open_store(url: str) -> bool:
    """Open the store at `url` in a fresh interpreter; whether it imported Alembic."""
    done = subprocess.run(
        [sys.executable, "-c", OPEN_STORE, url],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    return done.stdout.strip().splitlines()[-1] == "True"


async def test_a_database_at_head_opens_without_alembic(tmp_path: Path) -> None:
    """A new database is built by Alembic; opened again at the newest revision, it is left as
    it is, and Alembic is not even imported (a quarter of a second of every start)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'roomserver.db'}"
    assert open_store(url) is True
    assert open_store(url) is False
    async with SqlStore(StoreConfig(database_url=url)) as store:
        assert await store.is_empty()


async def test_a_database_behind_is_upgraded(tmp_path: Path) -> None:
    """A database at an older revision is taken to the newest by Alembic when opened."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'roomserver.db'}"
    engine = create_engine(url.replace("+aiosqlite", ""))
    with engine.begin() as conn:
        migrate.upgrade(conn, "0012")
    with engine.connect() as conn:
        assert migrate.current_revision(conn) == "0012"
    assert open_store(url) is True
    with engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.HEAD
    engine.dispose()
