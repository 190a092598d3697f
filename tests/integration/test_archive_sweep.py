"""The re-verification's order and its `active` switch, on real archives, a real store and the
real copies: the copy unverified longest first, nothing while inactive, each session once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from recorder.archive import ArchivedEvent, SessionArchive
from recorder.config import RecorderConfig
from recorder.keys import Keyring
from roomserver.config import StoreConfig
from roomserver.copies import PRIMARY, REPLICA, Schedule
from roomserver.store import SqlStore
from signaling.metrics import Metrics
from signaling.services.copies import ArchiveCopies, Verification
from signaling.services.reverify import ArchiveSweep
from signaling.services.signals import Signals
from tests.archivekeys import make_keyring

DAY = timedelta(days=1)


async def sealed(root: Path, keyring: Keyring, session_id: str) -> None:
    archive = SessionArchive(root, session_id, keys=keyring, config=RecorderConfig())
    await archive.open()
    event = ArchivedEvent(1, "2026-12-07T09:00:00+08:00", "note", None, {"text": "评标"})
    await archive.record_events([event])
    await archive.seal("ended")
    await archive.close()


async def test_the_longest_unverified_first_one_session_at_a_time_while_active(
    tmp_path: Path,
) -> None:
    keyring = make_keyring(tmp_path / "data")
    root = tmp_path / "data" / "archive"
    for session_id in ("s1", "s2", "s3"):
        await sealed(root, keyring, session_id)
    replica = tmp_path / "replica"
    replica.mkdir()
    config = StoreConfig(database_url=f"sqlite+aiosqlite:///{tmp_path / 'roomserver.db'}")
    async with SqlStore(config) as store:
        signals = Signals()
        copies = ArchiveCopies(
            root,
            replica,
            Schedule(every_s=30 * 86400, retry_s=300, replica=True),
            store,
            Metrics(media=False),
            signals,
            Verification(lambda: [keyring.listing.read_bytes()], lambda: []),
            replica_rate_mb_s=0,
        )
        signals.freeze()
        turns = {"left": 0}

        def active() -> bool:
            turns["left"] -= 1
            return turns["left"] >= 0

        sweep = ArchiveSweep(copies, rate_mb_s=0, active=active)
        assert await sweep.run_once() == 0
        assert await store.copies.all() == []

        turns["left"] = 3
        assert await sweep.run_once() == 3
        rows = {(c.session_id, c.location): c for c in await store.copies.all()}
        assert {k: c.state for k, c in rows.items()} == {
            (s, location): "verified" for s in ("s1", "s2", "s3") for location in (PRIMARY, REPLICA)
        }
        assert all((replica / s / "part-0001").is_dir() for s in ("s1", "s2", "s3"))

        # A month on, s2's replica was verified longest ago, then s3's primary; one turn each.
        now = datetime.now(UTC)
        for (session_id, location), copy in rows.items():
            age = {("s2", REPLICA): 50, ("s3", PRIMARY): 40}.get((session_id, location), 31)
            if session_id == "s1":
                age = 1  # s1 is not due
            then = now - age * DAY
            await store.copies.save(replace(copy, verified_at=then, checked_at=then))
        turns["left"] = 1
        assert await sweep.run_once() == 1
        after = {(c.session_id, c.location): c for c in await store.copies.all()}
        assert after[("s2", REPLICA)].verified_at > now  # checked now
        assert after[("s2", PRIMARY)].verified_at > now  # its other due copy with it
        assert after[("s3", PRIMARY)].verified_at < now
        turns["left"] = 5
        assert await sweep.run_once() == 1  # s3 only: s1 is not due
        turns["left"] = 5
        assert await sweep.run_once() == 0
        assert copies.figures.failed == 0 and copies.figures.oldest_age_s < 86400 + 60
        await copies.close()
