"""Seats' own camera and desktop, forwarded as they arrived (no decoding, no re-encoding).

A viewer (a supervisor's focus view) subscribes to a seat's track by seat and role. The fanout
lives as long as the room, not the seat's connection: a seat that reconnects feeds the same
subscribers again, and they resume at its next keyframe.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from fractions import Fraction

import av

from media.fanout import PacketFanout, PacketTrack
from media.tap import EncodedFrame

logger = logging.getLogger(__name__)

FORWARDED_ROLES = frozenset({"camera", "desktop", "roomcam"})


def camera_key(camera_id: str) -> str:
    """The key under which a room camera is forwarded (beside the seats' keys)."""
    return f"camera:{camera_id}"


def frame_packet(frame: EncodedFrame) -> av.Packet:
    """An encoded frame as a packet aiortc sends without encoding (``RTCRtpSender`` packs it)."""
    packet = av.Packet(frame.data)
    packet.pts = frame.rtp_timestamp
    packet.time_base = Fraction(1, frame.clock_rate)
    return packet


class _Source:
    """One seat track's subscribers, and how to ask the seat for a keyframe."""

    def __init__(self) -> None:
        self.request_keyframe: Callable[[], None] | None = None
        self.fanout = PacketFanout("video", request_keyframe=self.ask_keyframe)
        # Those who take the encoded frames themselves (a broadcast packetizes them once).
        self.listeners: list[Callable[[EncodedFrame], None]] = []

    def __len__(self) -> int:
        return len(self.fanout) + len(self.listeners)

    def ask_keyframe(self) -> None:
        if self.request_keyframe is not None:
            self.request_keyframe()


class SeatForwards:
    """The forwarded tracks of a room's seats, keyed by (seat, role)."""

    def __init__(self) -> None:
        self._sources: dict[tuple[str, str], _Source] = {}

    def _source(self, seat: str, role: str) -> _Source:
        if role not in FORWARDED_ROLES:
            raise ValueError(f"{role} tracks are not forwarded")
        source = self._sources.get((seat, role))
        if source is None:
            source = self._sources[(seat, role)] = _Source()
        return source

    def set_source(self, seat: str, role: str, request_keyframe: Callable[[], None]) -> None:
        """The seat's current connection sends this track; keyframes are asked of it."""
        source = self._source(seat, role)
        source.request_keyframe = request_keyframe
        if len(source):
            request_keyframe()

    def clear_source(self, seat: str, role: str, request_keyframe: Callable[[], None]) -> None:
        """The connection that sent this track is gone (a newer one is left alone)."""
        source = self._sources.get((seat, role))
        if source is not None and source.request_keyframe is request_keyframe:
            source.request_keyframe = None

    def publish(self, seat: str, role: str, frame: EncodedFrame) -> None:
        """A frame of the seat's track (called on the event loop for every frame)."""
        source = self._sources.get((seat, role))
        if source is None:
            return
        for listener in tuple(source.listeners):
            try:
                listener(frame)
            except Exception:
                logger.exception("a listener of %s's %s failed", seat, role)
        if len(source.fanout):
            source.fanout.publish(frame_packet(frame), frame.keyframe)

    def subscribe(self, seat: str, role: str) -> PacketTrack:
        """A new viewer of the seat's track, fed from its next keyframe on."""
        return self._source(seat, role).fanout.subscribe()

    def listen(
        self, seat: str, role: str, listener: Callable[[EncodedFrame], None]
    ) -> Callable[[], None]:
        """Give every frame of the seat's track to `listener`, until the returned function is
        called."""
        source = self._source(seat, role)
        source.listeners.append(listener)

        def stop() -> None:
            if listener in source.listeners:
                source.listeners.remove(listener)

        return stop

    def request_keyframe(self, seat: str, role: str) -> None:
        """A viewer lost pictures: ask the seat for a keyframe."""
        source = self._sources.get((seat, role))
        if source is not None:
            source.ask_keyframe()

    def viewers(self, seat: str, role: str) -> int:
        """How many viewers the seat's track has."""
        source = self._sources.get((seat, role))
        return len(source) if source is not None else 0

    def close(self) -> None:
        """End every viewer's track."""
        for source in self._sources.values():
            source.fanout.close()
        self._sources.clear()
