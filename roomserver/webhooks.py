"""Signed outbound webhooks (推送订阅): who is told what (``roomserver.pushes``), and how.

A subscriber (the provincial scheduling system, the payment platform…) names a URL and the
topics it wants. Every subscriber has a cursor, the ``seq`` of the last event of the log it is
done with; the events after it are sent one at a time, in the log's order, as a JSON POST:

``{"id": "<webhook_id>:<seq>", "seq", "topic", "kind", "at", "session_id", "data"}``

with these headers:

- ``X-Roomserver-Signature: t=<unix seconds>,v1=<hex>``: HMAC-SHA256, keyed with the UTF-8 of
  the subscriber's secret, of ``"<t>." + body`` (the raw bytes as sent); for a day after the
  secret is rotated a second ``v1`` is made with the former secret, and a receiver takes a push
  when any ``v1`` is right;
- ``Idempotency-Key: <webhook_id>:<seq>`` (the body's ``id``): delivery is at least once, so a
  receiver drops a key it has seen;
- ``X-Roomserver-Topic``.

A 2xx answer moves the cursor past the event. Anything else (another status, a timeout, a
connection that fails) is written to the delivery log and the same event is sent again after a
pause that doubles from ``retry_first_s`` up to ``retry_max_s``: a subscriber never skips ahead,
so its receiver sees the events of its topics in order. Everything here is pure; the sending is
``signaling.services.webhooks``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from roomserver.errors import InvalidRequest
from roomserver.model import Event
from roomserver.pushes import Topic

SIGNATURE_HEADER = "X-Roomserver-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
TOPIC_HEADER = "X-Roomserver-Topic"
SECRET_BYTES = 32
MAX_URL = 2000
# How old a signature's timestamp a receiver should still take (the README's advice).
TOLERANCE_S = 300
# After a rotation the former secret signs beside the new one this long, so that a receiver
# can change its secret at its own pace without refusing a push.
ROTATION_GRACE = timedelta(hours=24)


@dataclass(frozen=True)
class WebhookConfig:
    """How pushes are sent: the answer's timeout and the pauses between attempts, seconds; and
    how many days the delivery log keeps."""

    timeout_s: float = 10.0
    retry_first_s: float = 1.0
    retry_max_s: float = 600.0
    log_days: int = 90  # the delivery log keeps this many days

    def __post_init__(self) -> None:
        if not 0 < self.timeout_s <= 300:
            raise ValueError("webhook timeout must be more than 0 and at most 300 seconds")
        if not 0 < self.retry_first_s <= self.retry_max_s <= 24 * 3600:
            raise ValueError("webhook retry pauses must be 0 < first <= max <= one day")
        if not 1 <= self.log_days <= 3650:
            raise ValueError("webhook_log_days must be between 1 and 3650")


@dataclass(frozen=True)
class Webhook:
    """A subscriber: where to, which topics, its secret, and how far it has been told."""

    id: str
    name: str
    url: str
    topics: tuple[Topic, ...]
    secret: str
    enabled: bool
    cursor: int  # the seq of the last event it is done with
    failures: int  # failed attempts at the event after the cursor
    created_by: str
    created_at: datetime
    disabled_by: str | None = None
    disabled_at: datetime | None = None
    # After a rotation, the former secret signs too until this time (ROTATION_GRACE).
    previous_secret: str | None = None
    previous_until: datetime | None = None

    def signing_secrets(self, now: datetime) -> tuple[str, ...]:
        """The secrets a push is signed with at `now`: the current one, and the former one
        during the grace period after a rotation."""
        if self.previous_secret and self.previous_until is not None and now < self.previous_until:
            return (self.secret, self.previous_secret)
        return (self.secret,)

    def wants(self, topic: Topic | None) -> bool:
        """Whether a push of `topic` goes to this subscriber."""
        return topic is not None and topic in self.topics


@dataclass(frozen=True)
class Delivery:
    """One attempt to send one event to one subscriber (the delivery log)."""

    id: int
    webhook_id: str
    seq: int
    topic: str
    attempt: int
    status: int | None  # the HTTP status, or None when no answer came
    error: str | None
    at: datetime

    @property
    def delivered(self) -> bool:
        """Whether the receiver took it (a 2xx answer)."""
        return succeeded(self.status)


def succeeded(status: int | None) -> bool:
    """Whether an HTTP status means the receiver took the push."""
    return status is not None and 200 <= status < 300


def new_secret() -> str:
    """A fresh secret: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def check_url(url: str) -> str:
    """The URL, if it is an absolute http or https URL with a host; InvalidRequest otherwise."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise InvalidRequest("推送地址格式不正确") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequest("推送地址必须是 http 或 https 地址")
    if len(url) > MAX_URL or any(c.isspace() for c in url) or parts.fragment:
        raise InvalidRequest("推送地址格式不正确")
    if parts.username is not None or parts.password is not None:
        raise InvalidRequest("推送地址不能含有用户名或密码，请用签名密钥验证")
    return url


def check_topics(topics: Iterable[str]) -> tuple[Topic, ...]:
    """Known topics, each once, in the table's order; InvalidRequest for none or an unknown one."""
    asked = set()
    for topic in topics:
        try:
            asked.add(Topic(topic))
        except ValueError as exc:
            raise InvalidRequest(f"未知的推送主题：{str(topic)[:40]}") from exc
    if not asked:
        raise InvalidRequest("请至少选择一个推送主题")
    return tuple(t for t in Topic if t in asked)


def delivery_id(webhook_id: str, seq: int) -> str:
    """The push's id and idempotency key: the same for every attempt of one event."""
    return f"{webhook_id}:{seq}"


def push_body(webhook_id: str, event: Event, topic: Topic, data: Mapping[str, Any]) -> bytes:
    """The JSON body of a push (UTF-8, compact, keys sorted)."""
    body = {
        "id": delivery_id(webhook_id, event.seq),
        "seq": event.seq,
        "topic": str(topic),
        "kind": event.kind,
        "at": event.at.isoformat(),
        "session_id": event.session_id,
        "data": dict(data),
    }
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return text.encode("utf-8")


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 of ``"<timestamp>." + body`` keyed with the secret's UTF-8, hex."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secrets: str | Iterable[str], timestamp: int, body: bytes) -> str:
    """The value of ``X-Roomserver-Signature``: ``t=<timestamp>,v1=<signature>``, one ``v1``
    for each of `secrets` (the new secret first, during a rotation's grace period)."""
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    return ",".join([f"t={timestamp}", *(f"v1={signature(k, timestamp, body)}" for k in keys)])


def verify(
    secret: str, header: str, body: bytes, *, now: float, tolerance_s: float = TOLERANCE_S
) -> bool:
    """What a receiver checks: a ``v1`` of the header is the body's signature, and its
    timestamp is within `tolerance_s` of `now`."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or abs(now - timestamp) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, c) for c in candidates)


def backoff_s(failures: int, config: WebhookConfig) -> float:
    """The pause after the `failures`-th failed attempt at one event: the first pause, doubled
    for each failure before, at most the cap."""
    if failures < 1:
        return 0.0
    # 2**40 seconds is far past any cap; the exponent stays small.
    return min(config.retry_first_s * 2.0 ** min(failures - 1, 40), config.retry_max_s)
