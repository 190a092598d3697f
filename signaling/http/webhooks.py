"""Webhook subscribers over REST: who is pushed what of the event log (5.5), and how it went.

Subscribing and disabling are events of the log (``webhook_added``, ``webhook_disabled``; never
with the secret). The secret is in the answer to the subscription only; the list never shows it.
The pushes themselves are ``signaling.services.webhooks``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from roomserver.policy import Action
from roomserver.webhooks import Delivery, Webhook
from signaling.gate.guard import body_of, grants_of, query_of, route
from signaling.gate.webhooks import (
    DeliveryList,
    DeliveryOut,
    DeliveryQuery,
    WebhookCreated,
    WebhookList,
    WebhookOut,
    WebhookRequest,
)
from signaling.http.api import SERVICES


def webhook_json(webhook: Webhook) -> dict[str, Any]:
    """A subscriber as the API lists it (no secret)."""
    return WebhookOut(
        id=webhook.id,
        name=webhook.name,
        url=webhook.url,
        topics=list(webhook.topics),
        enabled=webhook.enabled,
        cursor=webhook.cursor,
        failures=webhook.failures,
        created_by=webhook.created_by,
        created_at=webhook.created_at,
        disabled_by=webhook.disabled_by,
        disabled_at=webhook.disabled_at,
        previous_until=webhook.previous_until,
    ).model_dump(mode="json")


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    """One entry of the delivery log."""
    return DeliveryOut(
        id=delivery.id,
        seq=delivery.seq,
        topic=delivery.topic,
        attempt=delivery.attempt,
        status=delivery.status,
        error=delivery.error,
        delivered=delivery.delivered,
        at=delivery.at,
    ).model_dump(mode="json")


async def list_webhooks(request: web.Request) -> web.Response:
    """``GET /api/webhooks``: every subscriber, without secrets."""
    found = await request.app[SERVICES].webhooks.subscribers()
    return web.json_response({"items": [webhook_json(w) for w in found]})


async def add_webhook(request: web.Request) -> web.Response:
    """``POST /api/webhooks``: a subscriber; the answer shows its secret, once."""
    body = body_of(request, WebhookRequest)
    webhook = await request.app[SERVICES].webhooks.subscribe(
        name=body.name,
        url=body.url,
        topics=[str(t) for t in body.topics],
        secret=body.secret,
        by=grants_of(request).participant_id,
    )
    answer = WebhookCreated.model_validate({**webhook_json(webhook), "secret": webhook.secret})
    return web.json_response(answer.model_dump(mode="json"), status=201)


async def disable_webhook(request: web.Request) -> web.Response:
    """``POST /api/webhooks/{webhook_id}/disable``: no more pushes to this subscriber."""
    webhook = await request.app[SERVICES].webhooks.disable(
        request.match_info["webhook_id"], by=grants_of(request).participant_id
    )
    return web.json_response(webhook_json(webhook))


async def rotate_secret(request: web.Request) -> web.Response:
    """``POST /api/webhooks/{webhook_id}/secret``: a new signing secret, shown once in the
    answer; the former one signs beside it for a day."""
    webhook = await request.app[SERVICES].webhooks.rotate(
        request.match_info["webhook_id"], by=grants_of(request).participant_id
    )
    answer = WebhookCreated.model_validate({**webhook_json(webhook), "secret": webhook.secret})
    return web.json_response(answer.model_dump(mode="json"))


async def list_deliveries(request: web.Request) -> web.Response:
    """``GET /api/webhooks/{webhook_id}/deliveries?after=&limit=``: the delivery log."""
    query = query_of(request, DeliveryQuery)
    found = await request.app[SERVICES].webhooks.deliveries(
        request.match_info["webhook_id"], after=query.after, limit=query.limit
    )
    return web.json_response({"items": [delivery_json(d) for d in found]})


def add_webhook_routes(app: web.Application) -> None:
    """Register the webhook routes."""
    read, manage = Action.WEBHOOKS_READ, Action.WEBHOOKS_MANAGE
    route(
        app,
        "GET",
        "/api/webhooks",
        list_webhooks,
        read,
        answer=WebhookList,
        summary="推送订阅列表（不显示密钥）",
    )
    route(
        app,
        "POST",
        "/api/webhooks",
        add_webhook,
        manage,
        body=WebhookRequest,
        answer=WebhookCreated,
        summary="新增推送订阅（签名密钥仅在此应答中显示一次）",
    )
    route(
        app,
        "POST",
        "/api/webhooks/{webhook_id}/disable",
        disable_webhook,
        manage,
        answer=WebhookOut,
        summary="停用推送订阅",
    )
    route(
        app,
        "POST",
        "/api/webhooks/{webhook_id}/secret",
        rotate_secret,
        manage,
        answer=WebhookCreated,
        summary="轮换签名密钥（新密钥仅在此应答中显示一次，原密钥继续签名一天）",
    )
    route(
        app,
        "GET",
        "/api/webhooks/{webhook_id}/deliveries",
        list_deliveries,
        read,
        query=DeliveryQuery,
        answer=DeliveryList,
        summary="推送订阅的投递记录",
    )
