"""Webhook subscribers and their delivery log in the database.

A subscriber's cursor and its count of failed attempts are rows of ``webhooks``; each attempt
is a row of ``webhook_deliveries``, written in the same transaction that moves the cursor, so
that what the log says and where the cursor stands never disagree, whenever the server stops.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from roomserver.errors import InvalidRequest, NotFound
from roomserver.pushes import Topic
from roomserver.tables import (
    EventRow,
    WebhookDeliveryRow,
    WebhookRow,
    findable,
    refuse_unstorable_row,
)
from roomserver.webhooks import Delivery, Webhook, succeeded

MAX_ERROR = 500


def _webhook(row: WebhookRow) -> Webhook:
    return Webhook(
        id=row.id,
        name=row.name,
        url=row.url,
        topics=tuple(Topic(t) for t in row.topics),
        secret=row.secret,
        enabled=row.enabled,
        cursor=row.cursor_seq,
        failures=row.failures,
        created_by=row.created_by,
        created_at=row.created_at,
        disabled_by=row.disabled_by,
        disabled_at=row.disabled_at,
        previous_secret=row.previous_secret,
        previous_until=row.previous_until,
    )


def _delivery(row: WebhookDeliveryRow) -> Delivery:
    return Delivery(
        id=row.id,
        webhook_id=row.webhook_id,
        seq=row.seq,
        topic=row.topic,
        attempt=row.attempt,
        status=row.status,
        error=row.error,
        at=row.at,
    )


class WebhookStore:
    """Subscribers, their cursors and the delivery log."""

    def __init__(self, db: Callable[[], AsyncSession]) -> None:
        self._db = db

    async def add(self, webhook: Webhook) -> Webhook:
        """Store a new subscriber, its cursor at the newest event: it is told what happens from
        now on. The subscriber as stored is returned."""
        async with self._db() as db:
            newest = await db.scalar(select(func.max(EventRow.seq))) or 0
            row = WebhookRow(
                id=webhook.id,
                name=webhook.name,
                url=webhook.url,
                topics=[str(t) for t in webhook.topics],
                secret=webhook.secret,
                enabled=True,
                cursor_seq=newest,
                failures=0,
                created_by=webhook.created_by,
                created_at=webhook.created_at,
            )
            refuse_unstorable_row(row)
            db.add(row)
            await db.commit()
            return _webhook(row)

    async def get(self, webhook_id: str) -> Webhook:
        """One subscriber; NotFound if there is none."""
        async with self._db() as db:
            row = await db.get(WebhookRow, webhook_id) if findable(webhook_id) else None
        if row is None:
            raise NotFound("未找到该推送订阅")
        return _webhook(row)

    async def subscribers(self, *, enabled_only: bool = False) -> list[Webhook]:
        """Every subscriber, oldest first."""
        query = select(WebhookRow).order_by(WebhookRow.created_at, WebhookRow.id)
        if enabled_only:
            query = query.where(WebhookRow.enabled.is_(True))
        async with self._db() as db:
            return [_webhook(r) for r in await db.scalars(query)]

    async def disable(self, webhook_id: str, *, by: str, at: datetime) -> Webhook:
        """Stop pushes to a subscriber (its cursor and log are kept); InvalidRequest if it was
        disabled already."""
        if not findable(webhook_id):
            raise NotFound("未找到该推送订阅")
        async with self._db() as db:
            done = await db.execute(
                update(WebhookRow)
                .where(WebhookRow.id == webhook_id, WebhookRow.enabled.is_(True))
                .values(enabled=False, disabled_by=by, disabled_at=at)
            )
            await db.commit()
        if done.rowcount != 1:  # type: ignore[attr-defined]  # a CursorResult
            await self.get(webhook_id)  # NotFound for an unknown subscriber
            raise InvalidRequest("该推送订阅已停用")
        return await self.get(webhook_id)

    async def rotate(self, webhook_id: str, secret: str, *, until: datetime) -> Webhook:
        """Give a subscriber a new secret; its current one signs beside it until `until`."""
        if not findable(webhook_id):
            raise NotFound("未找到该推送订阅")
        async with self._db() as db:
            row = await db.get(WebhookRow, webhook_id)
            if row is None:
                raise NotFound("未找到该推送订阅")
            row.previous_secret, row.previous_until = row.secret, until
            row.secret = secret
            refuse_unstorable_row(row)
            await db.commit()
            return _webhook(row)

    async def prune(self, before: datetime) -> int:
        """Delete the delivery log's entries older than `before`; how many went. The cursors
        and the event log are untouched: what was pushed stays in the record."""
        async with self._db() as db:
            done = await db.execute(
                delete(WebhookDeliveryRow).where(WebhookDeliveryRow.at < before)
            )
            await db.commit()
        return int(done.rowcount or 0)  # type: ignore[attr-defined]  # a CursorResult

    async def record(
        self,
        webhook_id: str,
        *,
        seq: int,
        topic: str,
        attempt: int,
        status: int | None,
        error: str | None,
        at: datetime,
    ) -> Delivery:
        """Log one attempt; a delivered one moves the cursor to `seq` and clears the failures,
        a failed one counts as the `attempt`-th failure. One transaction."""
        row = WebhookDeliveryRow(
            webhook_id=webhook_id,
            seq=seq,
            topic=topic,
            attempt=attempt,
            status=status,
            # What an exception said: no NUL (PostgreSQL's text holds none), at most 500.
            error=error.replace("\x00", "")[:MAX_ERROR] if error is not None else None,
            at=at,
        )
        async with self._db() as db:
            db.add(row)
            if succeeded(status):
                await db.execute(
                    update(WebhookRow)
                    .where(WebhookRow.id == webhook_id, WebhookRow.cursor_seq < seq)
                    .values(cursor_seq=seq, failures=0)
                )
            else:
                await db.execute(
                    update(WebhookRow).where(WebhookRow.id == webhook_id).values(failures=attempt)
                )
            await db.commit()
            return _delivery(row)

    async def advance(self, webhook_id: str, cursor: int) -> None:
        """Move the cursor past events that are not of the subscriber's topics."""
        async with self._db() as db:
            await db.execute(
                update(WebhookRow)
                .where(WebhookRow.id == webhook_id, WebhookRow.cursor_seq < cursor)
                .values(cursor_seq=cursor, failures=0)
            )
            await db.commit()

    async def deliveries(
        self, webhook_id: str, *, after: int = 0, limit: int = 100
    ) -> list[Delivery]:
        """A subscriber's delivery log after entry `after`, oldest first."""
        async with self._db() as db:
            rows = await db.scalars(
                select(WebhookDeliveryRow)
                .where(WebhookDeliveryRow.webhook_id == webhook_id, WebhookDeliveryRow.id > after)
                .order_by(WebhookDeliveryRow.id)
                .limit(max(limit, 0))
            )
            return [_delivery(r) for r in rows]
