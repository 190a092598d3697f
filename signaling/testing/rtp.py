"""Packet-level tricks of a synthetic seat: a lossy uplink, and counting what arrives without
putting frames together (a load generator that costs what the network path costs).

Both replace a private method of aiortc's ``RTCDtlsTransport`` on one peer connection's bundled
transport: ``_send_rtp`` (called with each RTP or RTCP packet before SRTP) and
``_handle_rtp_data`` (called with each packet after SRTP). They are test tools: a change of those
internals shows as a failing integration test that uses them, never in the product.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiortc import RTCPeerConnection, sdp
from aiortc.rtp import is_rtcp


@dataclass
class SendCounts:
    """RTP packets a lossy uplink left unsent, and those it sent."""

    dropped: int = 0
    sent: int = 0


def _replace(transport: object, name: str, handler: Callable[..., Awaitable[None]]) -> None:
    # An attribute of aiortc's transport, replaced on purpose (see the module's docstring).
    setattr(transport, name, handler)


def lose_sent_packets(
    pc: RTCPeerConnection, share: float, chance: random.Random, counts: SendCounts
) -> None:
    """Leave `share` of the RTP packets unsent, first sends and retransmissions alike, by the
    fixed random sequence `chance`; RTCP always goes."""
    transport = pc.getTransceivers()[0].sender.transport
    send = transport._send_rtp

    async def lossy(data: bytes) -> None:
        if not is_rtcp(data):
            if chance.random() < share:
                counts.dropped += 1
                return
            counts.sent += 1
        await send(data)

    _replace(transport, "_send_rtp", lossy)


def count_received(
    pc: RTCPeerConnection, video_frame: Callable[[], None], audio_packet: Callable[[], None]
) -> None:
    """Call `video_frame` at each RTP packet that ends a video frame (marker bit) and
    `audio_packet` at each audio packet; nothing reaches the receivers any more (no receiver
    reports, no statistics). Retransmissions (rtx) are not counted."""
    assert pc.remoteDescription is not None
    description = sdp.SessionDescription.parse(pc.remoteDescription.sdp)
    kinds = {
        codec.payloadType: media.kind
        for media in description.media
        for codec in media.rtp.codecs
        if codec.name.lower() != "rtx"
    }
    transport = pc.getTransceivers()[0].receiver.transport

    async def count(data: bytes, arrival_time_ms: int) -> None:
        if len(data) < 12:
            return
        kind = kinds.get(data[1] & 0x7F)
        if kind == "video":
            if data[1] & 0x80:
                video_frame()
        elif kind == "audio":
            audio_packet()

    _replace(transport, "_handle_rtp_data", count)
