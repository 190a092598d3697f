"""Reading the event table's chain back (roomserver.eventchain): the check at the server's start."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from roomserver.eventchain import ChainCheck
from roomserver.tables import EventChainRow, EventRow

CHAIN_HEAD = 1  # the id of the event chain's one head row
BATCH = 2000  # rows read at a time: a long table is walked without holding it in memory


class EventChainStore:
    """The event chain as the database holds it."""

    def __init__(self, db: Callable[[], AsyncSession]) -> None:
        self._db = db

    async def check(self) -> ChainCheck:
        """Walk the event table in seq order and check each row's digests, then the head."""
        check = ChainCheck()
        after = 0
        while True:
            async with self._db() as db:
                rows = list(
                    await db.scalars(
                        select(EventRow)
                        .where(EventRow.seq > after)
                        .order_by(EventRow.seq)
                        .limit(BATCH)
                    )
                )
            for r in rows:
                check.row(
                    seq=r.seq,
                    session_id=r.session_id,
                    at=r.at,
                    kind=r.kind,
                    actor=r.actor,
                    data=r.data,
                    digests=(r.hash, r.sm3),
                )
            if len(rows) < BATCH:
                break
            after = rows[-1].seq
        async with self._db() as db:
            head = await db.get(EventChainRow, CHAIN_HEAD)
        if head is None:
            check.head(-1, ("", ""))
        else:
            check.head(head.seq, (head.hash, head.sm3))
        return check
