"""Pushes to webhook subscribers (the provincial platform's systems, 5.5), driven by the event log.

Each enabled subscriber has a task of its own that reads the log after the subscriber's cursor,
in seq order, and POSTs the events of its topics one at a time (``roomserver.webhooks`` says what
is sent and how it is signed, ``roomserver.pushes`` which events make which push). An event is
done when the receiver answers 2xx: the attempt is logged and the cursor moved in one
transaction. Any other outcome is logged and the same event is sent again after a growing pause,
so a receiver never sees a later event before an earlier one; a subscriber whose receiver is
down holds up nobody else.

The task sleeps until ``signals.event_logged`` tells it of an event of its topics; it never
polls. Events that are not of its topics move its cursor in memory (while it sleeps, without
reading the log), and in the database when it next delivers, when it goes idle, every
``SAVE_EVERY`` events and when the server stops: after a crash, at most those are read again.
A push in flight when the server stops is not logged as delivered, and is sent again after the
restart (receivers drop it by its idempotency key if it had arrived). Events written by another
process (a command-line tool) wake nobody: they go out with the next event of the subscriber's
topics.

In a cluster one node sends: the leader (``signaling.services.cluster``). The other nodes tell
it, through Redis, of every event that makes a push and of every change to the subscribers, so
that it reads the shared log as soon as another node wrote to it. When the leader is lost, the
next one starts from the cursors in the database: the push that was in flight is sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self

from roomserver.errors import NotFound
from roomserver.model import Event, Role, new_id
from roomserver.pushes import Topic, finished_session_data, sign_in_data, topic_of
from roomserver.store import SqlStore
from roomserver.webhooks import (
    IDEMPOTENCY_HEADER,
    ROTATION_GRACE,
    SIGNATURE_HEADER,
    TOPIC_HEADER,
    Delivery,
    Webhook,
    WebhookConfig,
    backoff_s,
    check_topics,
    check_url,
    delivery_id,
    new_secret,
    push_body,
    signature_header,
    succeeded,
)
from signaling.services.events import EventLog
from signaling.services.signals import Signals

if TYPE_CHECKING:
    from signaling.services.cluster import Cluster

logger = logging.getLogger(__name__)

BATCH = 200  # events read from the log at a time
SAVE_EVERY = 1000  # skipped events after which the cursor is saved anyway
STOP_GRACE_S = 5.0
PRUNE_EVERY_S = 6 * 3600  # how often the delivery log is cut to its configured days
# What the nodes of a cluster tell the leader (Cluster.notify).
PUSHABLE = "pushable"
SUBSCRIBERS_CHANGED = "webhooks_changed"


class Sender(Protocol):
    """Where pushes leave the server (``signaling.http.outbound.HttpSender``)."""

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int | None, str | None]:
        """POST `body`: the answer's status (None when none came), and what went wrong."""

    async def close(self) -> None:
        """Send nothing more; safe to call twice."""


class _Subscriber:
    """One enabled subscriber's task and where it stands."""

    def __init__(self, webhook: Webhook) -> None:
        self.webhook = webhook
        self.cursor = webhook.cursor  # done with every event up to here
        self.saved = webhook.cursor  # the cursor as the database has it
        self.failures = webhook.failures
        self.wake = asyncio.Event()
        self.idle = False  # waiting for an event of its topics, with nothing left to read
        self.task: asyncio.Task[None] | None = None


class WebhookService:
    """Sends the pushes of the event log to every enabled subscriber, each in its own task."""

    def __init__(
        self,
        store: SqlStore,
        events: EventLog,
        signals: Signals,
        config: WebhookConfig,
        sender: Sender,
        cluster: Cluster | None = None,
    ) -> None:
        self._store = store
        self._cluster = cluster
        self._events = events
        self._config = config
        self._sender = sender
        self._subscribers: dict[str, _Subscriber] = {}
        self._pruner: asyncio.Task[None] | None = None
        self._started = False
        self._closed = False
        self._notices: set[asyncio.Task[None]] = set()
        signals.event_logged.connect(self._logged)
        if cluster is not None and not cluster.alone:
            signals.event_logged.connect(self._tell_the_leader)
            cluster.when_notified(PUSHABLE, self._woken)
            cluster.when_notified(SUBSCRIBERS_CHANGED, self._reload)

    async def start(self) -> None:
        """Start a task for every enabled subscriber."""
        if self._started or self._closed:
            return
        self._started = True
        for webhook in await self._store.webhooks.subscribers(enabled_only=True):
            self._run(webhook)
        self._pruner = asyncio.create_task(self._prune_now_and_then(), name="webhook-log-pruner")

    async def pause(self) -> None:
        """Stop sending, saving how far each subscriber got, until ``start`` (this node no
        longer leads the cluster)."""
        if not self._started:
            return
        self._started = False
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
            self._pruner = None
        subscribers = list(self._subscribers.values())
        self._subscribers.clear()
        await asyncio.gather(*(self._stop(s) for s in subscribers))

    def _tell_the_leader(self, event: Event) -> None:
        """An event written here that the leader, if it is another node, must hear of."""
        assert self._cluster is not None
        if self._cluster.leading:
            return
        if event.kind.startswith("webhook_"):
            kind = SUBSCRIBERS_CHANGED
        elif topic_of(event.kind, event.data) is not None:
            kind = PUSHABLE
        else:
            return
        task = asyncio.create_task(self._cluster.notify(kind, {"seq": event.seq}))
        self._notices.add(task)
        task.add_done_callback(self._notices.discard)

    async def _woken(self, data: dict[str, Any]) -> None:
        for subscriber in self._subscribers.values():
            subscriber.wake.set()

    async def _reload(self, data: dict[str, Any]) -> None:
        """Subscribers added, disabled or given a new secret on another node."""
        if not self._started or self._closed:
            return
        enabled = {w.id: w for w in await self._store.webhooks.subscribers(enabled_only=True)}
        for webhook_id in set(self._subscribers) - set(enabled):
            await self._stop(self._subscribers.pop(webhook_id))
        for webhook_id, webhook in enabled.items():
            running = self._subscribers.get(webhook_id)
            if running is None:
                self._run(webhook)
            else:
                running.webhook = webhook

    async def close(self) -> None:
        """Stop every task, save how far each subscriber got; safe to call twice."""
        self._closed = True
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
        subscribers = list(self._subscribers.values())
        self._subscribers.clear()
        await asyncio.gather(*(self._stop(s) for s in subscribers))
        await self._sender.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- the administration's requests ----------------------------------------------------------

    async def subscribe(
        self, *, name: str, url: str, topics: Sequence[str], secret: str | None, by: str
    ) -> Webhook:
        """A new subscriber, told of what happens from now on; its secret is generated when
        none is given (the answer is the one place it is shown)."""
        webhook = Webhook(
            id=new_id(),
            name=name,
            url=check_url(url),
            topics=check_topics(topics),
            secret=secret or new_secret(),
            enabled=True,
            cursor=0,
            failures=0,
            created_by=by,
            created_at=datetime.now(UTC),
        )
        stored = await self._store.webhooks.add(webhook)
        await self._events.append(
            "webhook_added",
            {
                "id": stored.id,
                "name": stored.name,
                "url": stored.url,
                "topics": [str(t) for t in stored.topics],
                "from_seq": stored.cursor,
            },
            actor=by,
        )
        if self._started and not self._closed:
            self._run(stored)
        return stored

    async def disable(self, webhook_id: str, *, by: str) -> Webhook:
        """Stop pushes to a subscriber; its cursor and delivery log stay."""
        webhook = await self._store.webhooks.disable(webhook_id, by=by, at=datetime.now(UTC))
        subscriber = self._subscribers.pop(webhook_id, None)
        if subscriber is not None:
            await self._stop(subscriber)
        await self._events.append(
            "webhook_disabled", {"id": webhook.id, "name": webhook.name}, actor=by
        )
        return await self._store.webhooks.get(webhook_id)

    async def rotate(self, webhook_id: str, *, by: str) -> Webhook:
        """A new secret for a subscriber (shown once, in the answer); the former one signs
        beside it for ``ROTATION_GRACE``, so that the receiver changes over at its own pace."""
        until = datetime.now(UTC) + ROTATION_GRACE
        webhook = await self._store.webhooks.rotate(webhook_id, new_secret(), until=until)
        subscriber = self._subscribers.get(webhook_id)
        if subscriber is not None:
            subscriber.webhook = webhook
        await self._events.append(
            "webhook_secret_rotated",
            {"id": webhook.id, "name": webhook.name, "previous_until": until.isoformat()},
            actor=by,
        )
        return webhook

    async def prune(self, now: datetime | None = None) -> int:
        """Delete delivery-log entries older than the configured days; how many went."""
        before = (now or datetime.now(UTC)) - timedelta(days=self._config.log_days)
        return await self._store.webhooks.prune(before)

    async def _prune_now_and_then(self) -> None:
        while True:
            try:
                gone = await self.prune()
                if gone:
                    logger.info(
                        "webhook delivery log: %d entries older than %d days deleted",
                        gone,
                        self._config.log_days,
                    )
            except Exception:
                logger.exception("could not prune the webhook delivery log")
            await asyncio.sleep(PRUNE_EVERY_S)

    async def subscribers(self) -> list[Webhook]:
        """Every subscriber, enabled or not."""
        return await self._store.webhooks.subscribers()

    async def deliveries(self, webhook_id: str, *, after: int, limit: int) -> list[Delivery]:
        """A subscriber's delivery log after entry `after`."""
        await self._store.webhooks.get(webhook_id)  # NotFound for an unknown subscriber
        return await self._store.webhooks.deliveries(webhook_id, after=after, limit=limit)

    # -- the tasks ------------------------------------------------------------------------------

    def _logged(self, event: Event) -> None:
        topic = topic_of(event.kind, event.data)
        for subscriber in self._subscribers.values():
            if subscriber.webhook.wants(topic):
                subscriber.wake.set()
            elif subscriber.idle and event.seq == subscriber.cursor + 1:
                # Next in line and not of its topics: passed over without reading the log.
                subscriber.cursor = event.seq
                if subscriber.cursor - subscriber.saved >= SAVE_EVERY:
                    subscriber.wake.set()  # to save it

    def _run(self, webhook: Webhook) -> None:
        subscriber = _Subscriber(webhook)
        self._subscribers[webhook.id] = subscriber
        subscriber.task = asyncio.create_task(
            self._deliver_all(subscriber), name=f"webhook-{webhook.id}"
        )

    async def _stop(self, subscriber: _Subscriber) -> None:
        task, subscriber.task = subscriber.task, None
        if task is not None:
            task.cancel()
            done, _ = await asyncio.wait([task], timeout=STOP_GRACE_S)
            if not done:
                logger.warning(
                    "webhook %s did not stop within %s s", subscriber.webhook.id, STOP_GRACE_S
                )
                return
            if not task.cancelled() and task.exception() is not None:
                logger.error("webhook %s failed", subscriber.webhook.id, exc_info=task.exception())
        try:
            await self._save(subscriber)
        except Exception:
            logger.exception("could not save how far webhook %s got", subscriber.webhook.id)

    async def _save(self, subscriber: _Subscriber) -> None:
        if subscriber.cursor > subscriber.saved:
            await self._store.webhooks.advance(subscriber.webhook.id, subscriber.cursor)
            subscriber.saved = subscriber.cursor

    async def _deliver_all(self, subscriber: _Subscriber) -> None:
        while True:
            try:
                await self._step(subscriber)
            except asyncio.CancelledError:
                raise
            except Exception:
                # A store that failed, say: nothing is skipped; the same events are read again.
                logger.exception("pushes to webhook %s failed; trying again", subscriber.webhook.id)
                await asyncio.sleep(backoff_s(max(subscriber.failures, 1), self._config))

    async def _step(self, subscriber: _Subscriber) -> None:
        """Handle the events that are ready, or wait until there may be some."""
        # Cleared before reading: an event stored while the read runs wakes the next wait.
        subscriber.wake.clear()
        # Seqs become visible in their order (SqlStore.append_event): reading on from the cursor
        # misses none.
        found = await self._store.list_events(after_seq=subscriber.cursor, limit=BATCH)
        if not found:
            await self._save(subscriber)  # idle: the skipped events need not be read again
            subscriber.idle = True
            try:
                await subscriber.wake.wait()
            finally:
                subscriber.idle = False
            return
        for event in found:
            topic = topic_of(event.kind, event.data)
            if topic is not None and subscriber.webhook.wants(topic):
                await self._deliver(subscriber, event, topic)
                subscriber.saved = event.seq
            subscriber.cursor = event.seq
        if subscriber.cursor - subscriber.saved >= SAVE_EVERY:
            await self._save(subscriber)

    async def _deliver(self, subscriber: _Subscriber, event: Event, topic: Topic) -> None:
        """Send one event until the receiver takes it, pausing longer after each failure."""
        webhook = subscriber.webhook
        body = push_body(webhook.id, event, topic, await self._data(event, topic))
        while True:
            attempt = subscriber.failures + 1
            # The subscriber as it is now: a secret rotated during the retries signs the next.
            status, error = await self._post(subscriber.webhook, event, topic, body)
            await self._store.webhooks.record(
                webhook.id,
                seq=event.seq,
                topic=str(topic),
                attempt=attempt,
                status=status,
                error=error,
                at=datetime.now(UTC),
            )
            if succeeded(status):
                subscriber.failures = 0
                return
            subscriber.failures = attempt
            pause = backoff_s(attempt, self._config)
            logger.warning(
                "push %s to webhook %s failed (attempt %d: %s); again in %.3g s",
                event.seq,
                webhook.id,
                attempt,
                error,
                pause,
            )
            await asyncio.sleep(pause)

    async def _post(
        self, webhook: Webhook, event: Event, topic: Topic, body: bytes
    ) -> tuple[int | None, str | None]:
        """POST the body, signed now; the answer's status and what went wrong."""
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            SIGNATURE_HEADER: signature_header(
                webhook.signing_secrets(datetime.now(UTC)), int(time.time()), body
            ),
            IDEMPOTENCY_HEADER: delivery_id(webhook.id, event.seq),
            TOPIC_HEADER: str(topic),
        }
        return await self._sender.post(webhook.url, body, headers)

    async def _data(self, event: Event, topic: Topic) -> dict[str, Any]:
        """What a push carries: the event's data, or what is looked up for it."""
        if topic == Topic.SESSION_FINISHED and event.session_id is not None:
            return await self._finished_session(event, event.session_id)
        if topic == Topic.EXPERT_SIGN_IN:
            details = event.data.get("details")
            expert_id = details.get("expert") if isinstance(details, dict) else None
            expert = None
            if isinstance(expert_id, str):
                with contextlib.suppress(NotFound):
                    expert = await self._store.get_participant(expert_id)
            return sign_in_data(event, expert)
        return dict(event.data)

    async def _finished_session(self, event: Event, session_id: str) -> dict[str, Any]:
        store = self._store
        try:
            session = await store.get_session(session_id)
        except NotFound:
            return dict(event.data)
        venues = {}
        for venue_id in session.venue_ids():
            with contextlib.suppress(NotFound):
                venues[venue_id] = await store.get_venue(venue_id)
        people = [p for p in await store.list_participants(session_id) if p.role == Role.EXPERT]
        bookings = await store.bookings.find(session_id=session_id)
        lot = await store.projects.lot_of_session(session_id)
        return finished_session_data(event, session, venues, people, bookings, lot)
