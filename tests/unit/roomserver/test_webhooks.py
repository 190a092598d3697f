"""Webhook pushes: the signature a receiver checks, the pauses between attempts, the body, the
subscriber's inputs, and the order in which events may go out."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from roomserver.errors import InvalidRequest
from roomserver.model import Event
from roomserver.pushes import Topic
from roomserver.webhooks import (
    ROTATION_GRACE,
    Webhook,
    WebhookConfig,
    backoff_s,
    check_topics,
    check_url,
    new_secret,
    push_body,
    signature,
    signature_header,
    verify,
)

AT = datetime(2026, 12, 8, 2, 30, tzinfo=UTC)
SECRET = "whsec-test-0123456789abcdef"


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body_with_the_secret() -> None:
    body = '{"seq":7,"topic":"venues","data":{"name":"沈阳第一评标室"}}'.encode()
    timestamp = 1_796_700_000
    # Computed here without the module: what a receiver in any language does.
    expected = hmac.new(
        SECRET.encode("utf-8"), b"1796700000." + body, digestmod=hashlib.sha256
    ).hexdigest()
    assert signature(SECRET, timestamp, body) == expected
    assert signature_header(SECRET, timestamp, body) == f"t=1796700000,v1={expected}"
    # A fixed vector, computed with `openssl dgst -sha256 -hmac`: a change of the scheme fails.
    assert signature(SECRET, timestamp, b'{"seq":7}') == (
        "4e0483076bc546e704fe4cc271dfafb1a5ad7de550759a0f6d0e5d0661ef6f18"
    )


def test_a_receiver_accepts_its_own_signature_and_nothing_else() -> None:
    body = b'{"seq":1}'
    now = 1_796_700_000
    header = signature_header(SECRET, now, body)
    assert verify(SECRET, header, body, now=now + 10)
    assert not verify(SECRET, header, body + b" ", now=now)  # body changed
    assert not verify("another-secret-0123456789", header, body, now=now)  # other secret
    assert not verify(SECRET, header, body, now=now + 301)  # too old: a replay
    assert not verify(SECRET, "v1=" + signature(SECRET, now, body), body, now=now)  # no t
    assert not verify(SECRET, "garbage", body, now=now)
    # Several v1 values (a secret being changed): one good one is enough.
    assert verify(SECRET, f"t={now},v1=00,v1={signature(SECRET, now, body)}", body, now=now)


def test_pauses_double_from_the_first_up_to_the_cap() -> None:
    config = WebhookConfig(retry_first_s=1.0, retry_max_s=600.0)
    pauses = [backoff_s(n, config) for n in range(1, 13)]
    assert pauses == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]
    assert backoff_s(0, config) == 0
    assert backoff_s(10_000, config) == 600  # no overflow however long a receiver is down
    quick = WebhookConfig(retry_first_s=0.05, retry_max_s=0.2)
    assert [backoff_s(n, quick) for n in (1, 2, 3, 4)] == [0.05, 0.1, 0.2, 0.2]


def test_the_configuration_refuses_pauses_that_make_no_sense() -> None:
    with pytest.raises(ValueError):
        WebhookConfig(retry_first_s=0)
    with pytest.raises(ValueError):
        WebhookConfig(retry_first_s=10, retry_max_s=5)
    with pytest.raises(ValueError):
        WebhookConfig(timeout_s=0)


def test_the_body_names_the_push_and_carries_the_event() -> None:
    pushed = Event(
        seq=42,
        session_id="s1",
        at=AT,
        kind="booking_made",
        actor="admin",
        data={"id": "b1"},
    )
    body = push_body("w1", pushed, Topic.VENUE_USAGE, {"id": "b1", "场地": "沈阳"})
    assert json.loads(body) == {
        "id": "w1:42",
        "seq": 42,
        "topic": "venue_usage",
        "kind": "booking_made",
        "at": "2026-12-08T02:30:00+00:00",
        "session_id": "s1",
        "data": {"id": "b1", "场地": "沈阳"},
    }
    assert "场地".encode() in body  # UTF-8 as it is, not \u escapes


def test_a_subscriber_names_an_http_url_and_known_topics() -> None:
    assert (
        check_url("https://ddxt.lnggzy.cn/api/hooks?x=1") == "https://ddxt.lnggzy.cn/api/hooks?x=1"
    )
    assert check_url("http://127.0.0.1:8080/in")
    for bad in (
        "ftp://example.cn/x",
        "https://",
        "/relative",
        "https://user:pw@example.cn/",
        "https://example.cn/a b",
        "https://example.cn/#frag",
        "https://example.cn/" + "a" * 2000,
    ):
        with pytest.raises(InvalidRequest):
            check_url(bad)
    assert check_topics(["draws", "venues", "draws"]) == (Topic.VENUES, Topic.DRAWS)
    with pytest.raises(InvalidRequest):
        check_topics([])
    with pytest.raises(InvalidRequest):
        check_topics(["payments"])


def test_a_generated_secret_holds_32_random_bytes() -> None:
    first, second = new_secret(), new_secret()
    assert first != second and len(first) == 43


def test_after_a_rotation_both_secrets_sign_for_the_grace_period_then_the_new_one_alone() -> None:
    rotated_at = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)
    hook = Webhook(
        id="h1",
        name="省调度系统",
        url="https://ddxt.example.cn/hooks",
        topics=(Topic.VENUES,),
        secret="new-secret-0123456789",
        enabled=True,
        cursor=0,
        failures=0,
        created_by="admin",
        created_at=rotated_at,
        previous_secret=SECRET,
        previous_until=rotated_at + ROTATION_GRACE,
    )
    during = hook.signing_secrets(rotated_at + timedelta(hours=23))
    assert during == ("new-secret-0123456789", SECRET)
    assert hook.signing_secrets(rotated_at + ROTATION_GRACE) == ("new-secret-0123456789",)
    body, now = b'{"seq":2}', 1_796_700_000
    header = signature_header(during, now, body)
    assert header.count("v1=") == 2 and header.startswith(f"t={now},v1=")
    # A receiver with either secret takes it; with neither, not.
    assert verify(SECRET, header, body, now=now)
    assert verify("new-secret-0123456789", header, body, now=now)
    assert not verify("another-secret-0123456789", header, body, now=now)
