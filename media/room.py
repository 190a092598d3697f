"""The media of one evaluation room: seat inputs in, room grid and mix-minus audio out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media.config import MediaConfig
from media.fanout import PacketTrack
from media.grid import GridCompositor, TileSpec
from media.mixer import AudioMixer, MixTrack

logger = logging.getLogger(__name__)

# Which incoming track kinds are decoded: the grid needs cameras, the mixer microphones.
# Desktops are only forwarded and recorded (decoding costs what nobody looks at).
DECODED_ROLES = frozenset({"camera", "microphone"})


class RoomMedia:
    """Owns a room's grid compositor, audio mixer and the tasks that feed them."""

    def __init__(self, config: MediaConfig, *, name: str) -> None:
        self.name = name
        self.grid = GridCompositor(config, name=name)
        self.mixer = AudioMixer(config, name=name)
        self._inputs: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._closed = False

    async def start(self) -> None:
        """Start composing and mixing."""
        await self.grid.start()
        await self.mixer.start()

    async def close(self) -> None:
        """Stop every input and output; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for key in list(self._inputs):
            await self._stop_input(key)
        await self.grid.close()
        await self.mixer.close()

    async def __aenter__(self) -> RoomMedia:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def set_tiles(self, tiles: Sequence[TileSpec]) -> None:
        """The room's seats in display order."""
        self.grid.set_tiles(tiles)

    async def attach(self, seat: str, role: str, track: MediaStreamTrack) -> None:
        """Consume a decoded incoming track of `seat` (camera → grid, microphone → mix)."""
        if role not in DECODED_ROLES:
            raise ValueError(f"{role} tracks are not decoded by the room")
        key = (seat, role)
        await self._stop_input(key)
        self._inputs[key] = asyncio.create_task(
            self._pump(seat, role, track), name=f"room-{self.name}-{seat}-{role}"
        )

    async def detach_seat(self, seat: str) -> None:
        """Forget `seat`'s inputs (it left or reconnected)."""
        for key in [k for k in self._inputs if k[0] == seat]:
            await self._stop_input(key)
        self.grid.clear_frame(seat)
        self.mixer.remove_source(seat)

    def grid_track(self) -> PacketTrack:
        """A new subscriber of the encoded room grid."""
        return self.grid.subscribe()

    def audio_track(self, seat: str) -> MixTrack:
        """The room's audio as heard at `seat`: everyone except `seat`."""
        return self.mixer.subscribe(seat)

    async def _stop_input(self, key: tuple[str, str]) -> None:
        task = self._inputs.pop(key, None)
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
            await asyncio.wait_for(task, timeout=2)

    async def _pump(self, seat: str, role: str, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                if role == "camera":
                    self.grid.update_frame(seat, frame)  # type: ignore[arg-type]
                else:
                    self.mixer.push(seat, frame)  # type: ignore[arg-type]
        except MediaStreamError:
            logger.info("room %s: %s of seat %s ended", self.name, role, seat)
        finally:
            if role == "camera":
                self.grid.clear_frame(seat)
            else:
                self.mixer.remove_source(seat)
            if self._inputs.get((seat, role)) is asyncio.current_task():
                del self._inputs[(seat, role)]
