"""Hand the same encoded packets to many senders: encode once, send to every subscriber."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

logger = logging.getLogger(__name__)

# About two seconds of video: a subscriber further behind than this has stalled; it is reset to
# the next keyframe rather than allowed to grow memory.
MAX_PENDING_PACKETS = 30
# Packets whose wait for a sender is still to be told: beyond these, the oldest are forgotten
# (packets no subscriber took: every one dropped them).
MAX_UNTAKEN = 64


class PacketTrack(MediaStreamTrack):
    """A track whose ``recv`` returns pre-encoded ``av.Packet``s; aiortc sends them as they are."""

    def __init__(
        self,
        kind: str,
        *,
        on_overflow: Callable[[int], None] | None = None,
        on_stop: Callable[[PacketTrack], None] | None = None,
        needs_keyframe: bool = True,
        on_taken: Callable[[av.Packet], None] | None = None,
    ) -> None:
        """`on_taken`: told of each packet the sender takes."""
        super().__init__()
        self.kind = kind
        self._pending: deque[av.Packet] = deque()
        self._on_taken = on_taken
        self._ready = asyncio.Event()
        self._on_overflow = on_overflow
        self._on_stop = on_stop
        # A new viewer decodes nothing useful until a keyframe: wait for one.
        self._await_keyframe = needs_keyframe and kind == "video"
        self.packets_sent = 0

    def push(self, packet: av.Packet, keyframe: bool) -> None:
        """Queue one packet for this subscriber (called on the event loop)."""
        if self.readyState != "live":
            return
        if self._await_keyframe:
            if not keyframe:
                return
            self._await_keyframe = False
        if len(self._pending) >= MAX_PENDING_PACKETS:
            dropped = len(self._pending)
            self._pending.clear()
            self._await_keyframe = self.kind == "video"
            if self._on_overflow is not None:
                self._on_overflow(dropped)
            if self._await_keyframe and not keyframe:
                return
            self._await_keyframe = False
        self._pending.append(packet)
        self._ready.set()

    async def recv(self) -> av.Packet:
        """The next packet, waiting for one if needed."""
        while not self._pending:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        self.packets_sent += 1
        packet = self._pending.popleft()
        if self._on_taken is not None:
            self._on_taken(packet)
        return packet

    def stop(self) -> None:
        """End the track and wake a waiting ``recv``."""
        if self.readyState == "live" and self._on_stop is not None:
            self._on_stop(self)
        super().stop()
        self._ready.set()


class PacketFanout:
    """The subscribers of one encoded stream."""

    def __init__(
        self,
        kind: str,
        *,
        request_keyframe: Callable[[], None] | None = None,
        on_drop: Callable[[int], None] | None = None,
        on_taken: Callable[[float], None] | None = None,
    ) -> None:
        """`on_taken`: told how long each packet waited until the first subscriber's sender
        took it, in seconds (once a packet, however many subscribers: the figure says nothing
        of how many receive the stream)."""
        self.kind = kind
        self._subscribers: set[PacketTrack] = set()
        self._request_keyframe = request_keyframe
        self._on_drop = on_drop
        self._on_taken = on_taken
        # Packets published and not yet taken by any subscriber, with when (monotonic).
        self._untaken: OrderedDict[av.Packet, float] = OrderedDict()

    def subscribe(self) -> PacketTrack:
        """A new track fed from the next keyframe on (and one is requested)."""
        track = PacketTrack(
            self.kind,
            on_overflow=self._overflow,
            on_stop=self._unsubscribe,
            on_taken=self._taken if self._on_taken is not None else None,
        )
        self._subscribers.add(track)
        if self._request_keyframe is not None:
            self._request_keyframe()
        return track

    def publish(self, packet: av.Packet, keyframe: bool) -> None:
        """Give `packet` to every subscriber."""
        if self._on_taken is not None and self._subscribers:
            self._untaken[packet] = time.monotonic()
            while len(self._untaken) > MAX_UNTAKEN:  # those no sender took (dropped)
                self._untaken.popitem(last=False)
        for track in tuple(self._subscribers):
            track.push(packet, keyframe)

    def _taken(self, packet: av.Packet) -> None:
        published = self._untaken.pop(packet, None)
        if published is not None and self._on_taken is not None:
            self._on_taken(time.monotonic() - published)

    def __len__(self) -> int:
        return len(self._subscribers)

    def close(self) -> None:
        """Stop every subscriber track."""
        for track in tuple(self._subscribers):
            track.stop()
        self._subscribers.clear()

    def _unsubscribe(self, track: PacketTrack) -> None:
        self._subscribers.discard(track)

    def _overflow(self, dropped: int) -> None:
        if self._on_drop is not None:
            self._on_drop(dropped)
        if self._request_keyframe is not None:
            self._request_keyframe()
