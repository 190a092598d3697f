"""The signaling-worker protocol over a real socket pair."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest

from roomserver.errors import SeatOutOfRange
from signaling.wire import (
    MAX_FRAME_BYTES,
    Channel,
    ConnectionLost,
    WireError,
    encode_frame,
    read_frame,
)


async def stream_pair() -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    a, b = socket.socketpair()
    return await asyncio.open_connection(sock=a), await asyncio.open_connection(sock=b)


@pytest.fixture
async def channels() -> AsyncIterator[tuple[Channel, Channel, list[tuple[str, dict]]]]:
    (ra, wa), (rb, wb) = await stream_pair()
    events: list[tuple[str, dict]] = []

    async def handle(method: str, params: dict[str, Any]) -> Any:
        if method == "echo":
            return {"echo": params}
        if method == "refuse":
            raise SeatOutOfRange()
        if method == "crash":
            raise RuntimeError("boom")
        if method == "slow":
            await asyncio.sleep(params["s"])
            return "done"
        raise WireError("unknown_method", method)

    signaling = Channel(ra, wa, name="signaling")
    worker = Channel(
        rb,
        wb,
        name="worker",
        on_request=handle,
        on_event=lambda name, params: events.append((name, params)),
    )
    await signaling.start()
    await worker.start()
    yield signaling, worker, events
    await signaling.close()
    await worker.close()


async def test_requests_answer_in_any_order(channels) -> None:
    signaling, _worker, _ = channels
    slow = asyncio.create_task(signaling.request("slow", {"s": 0.2}))
    fast = await signaling.request("echo", {"sdp": "v=0\r\n", "中文": "机位"})
    assert fast == {"echo": {"sdp": "v=0\r\n", "中文": "机位"}}
    assert await slow == "done"


async def test_domain_errors_cross_with_their_code_and_unexpected_ones_as_internal(
    channels,
) -> None:
    signaling, _worker, _ = channels
    with pytest.raises(WireError) as refused:
        await signaling.request("refuse", {})
    assert refused.value.code == "seat_out_of_range" and "机位" in refused.value.message
    with pytest.raises(WireError) as crashed:
        await signaling.request("crash", {})
    assert crashed.value.code == "internal"
    # The channel survives both.
    assert await signaling.request("echo", {"n": 1}) == {"echo": {"n": 1}}


async def test_events_arrive_in_order(channels) -> None:
    signaling, _worker, events = channels
    for i in range(20):
        await signaling.event("tick", {"i": i})
    await signaling.request("echo", {})  # a round trip: every earlier event has been read
    assert [p["i"] for _, p in events] == list(range(20))


async def test_a_dead_peer_fails_pending_requests() -> None:
    (ra, wa), (rb, wb) = await stream_pair()

    async def never(method: str, params: dict[str, Any]) -> Any:
        await asyncio.Event().wait()

    signaling = Channel(ra, wa, name="signaling")
    worker = Channel(rb, wb, name="worker", on_request=never)
    await signaling.start()
    await worker.start()
    pending = asyncio.create_task(signaling.request("negotiate", {}))
    await asyncio.sleep(0)  # the request is on its way
    await worker.close()  # the worker process dies
    with pytest.raises(ConnectionLost):
        await asyncio.wait_for(pending, 5)
    await asyncio.wait_for(signaling.wait_closed(), 5)
    with pytest.raises(ConnectionLost):
        await signaling.request("echo", {})
    await signaling.close()


async def test_frames_over_the_limit_or_of_another_version_are_refused() -> None:
    (ra, wa), (_rb, wb) = await stream_pair()
    with pytest.raises(ValueError):
        encode_frame({"kind": "event", "name": "x", "params": {"blob": "x" * MAX_FRAME_BYTES}})
    wb.write(struct.pack(">I", MAX_FRAME_BYTES + 1))
    await wb.drain()
    with pytest.raises(ValueError):
        await read_frame(ra)
    (ra2, wa2), (_rb2, wb2) = await stream_pair()
    body = json.dumps({"v": 99, "kind": "event"}).encode()
    wb2.write(struct.pack(">I", len(body)) + body)
    await wb2.drain()
    with pytest.raises(ValueError, match="version"):
        await read_frame(ra2)
    for w in (wa, wb, wa2, wb2):
        w.close()
