"""The media of one evaluation room: seat inputs in, room grid and mix-minus audio out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media.analysis import RoomAnalysis
from media.config import MediaConfig
from media.fanout import PacketTrack
from media.forward import SeatForwards
from media.grid import GridCompositor, TileSpec
from media.mixencoder import MixEncoder, MixMinusEncoder
from media.mixer import AudioMixer
from roomserver.warnings import WarningThresholds

logger = logging.getLogger(__name__)

# Which incoming track kinds are decoded: the grid needs cameras, the mixer microphones.
# Desktops are only forwarded and recorded (decoding costs what nobody looks at).
DECODED_ROLES = frozenset({"camera", "microphone"})


class RoomMedia:
    """Owns a room's grid compositor, audio mixer, camera analysis and the tasks feeding them."""

    def __init__(
        self, config: MediaConfig, *, name: str, warnings: WarningThresholds | None = None
    ) -> None:
        self.name = name
        self.grid = GridCompositor(config, name=name)
        self.analysis: RoomAnalysis | None = None
        if config.analysis_interval_s > 0:
            self.analysis = RoomAnalysis(
                name=name,
                thresholds=warnings or WarningThresholds(),
                interval_s=config.analysis_interval_s,
                width=config.analysis_width,
                max_share=config.analysis_max_share,
            )
        self.mixer = AudioMixer(config, name=name)
        self.mix = MixEncoder(self.mixer, name=name)
        self.mix_minus = MixMinusEncoder(self.mixer, name=name)
        self.forwards = SeatForwards()
        self._inputs: dict[tuple[str, str], tuple[MediaStreamTrack, asyncio.Task[None]]] = {}
        self._closed = False

    async def start(self) -> None:
        """Start composing and mixing."""
        await self.grid.start()
        await self.mix_minus.start()
        await self.mixer.start()
        await self.mix.start()
        if self.analysis is not None:
            await self.analysis.start()

    async def close(self) -> None:
        """Stop every input and output; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for key in list(self._inputs):
            await self._stop_input(key)
        if self.analysis is not None:
            await self.analysis.close()
        self.forwards.close()
        await self.mix.close()
        await self.grid.close()
        await self.mixer.close()
        await self.mix_minus.close()

    async def __aenter__(self) -> RoomMedia:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def set_tiles(self, tiles: Sequence[TileSpec]) -> None:
        """The room's seats in display order."""
        self.grid.set_tiles(tiles)

    def set_online(self, seats: set[str]) -> None:
        """The seats connected now."""
        self.grid.set_online(seats)

    async def attach(self, seat: str, role: str, track: MediaStreamTrack) -> None:
        """Consume a decoded incoming track of `seat` (camera → grid, microphone → mix)."""
        if role not in DECODED_ROLES:
            raise ValueError(f"{role} tracks are not decoded by the room")
        key = (seat, role)
        await self._stop_input(key)
        task = asyncio.create_task(
            self._pump(seat, role, track), name=f"room-{self.name}-{seat}-{role}"
        )
        self._inputs[key] = (track, task)

    async def detach(self, seat: str, role: str, track: MediaStreamTrack) -> None:
        """Stop consuming `track`; a newer track of the same seat and role is left alone."""
        entry = self._inputs.get((seat, role))
        if entry is not None and entry[0] is track:
            await self._stop_input((seat, role))

    def inputs(self) -> list[tuple[str, str]]:
        """The (seat, role) pairs being consumed now."""
        return list(self._inputs)

    def grid_track(self) -> PacketTrack:
        """A new subscriber of the encoded room grid."""
        return self.grid.subscribe()

    def audio_track(self, seat: str) -> PacketTrack:
        """The room's audio as heard at `seat`: everyone except `seat` (Opus, encoded here)."""
        return self.mix_minus.subscribe(seat)

    def full_mix_track(self) -> PacketTrack:
        """A new listener of the whole room's sound, encoded once for all such listeners."""
        return self.mix.subscribe()

    async def _stop_input(self, key: tuple[str, str]) -> None:
        entry = self._inputs.pop(key, None)
        if entry is None:
            return
        task = entry[1]
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
            await asyncio.wait_for(task, timeout=2)

    async def _pump(self, seat: str, role: str, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                if role == "camera":
                    self.grid.update_frame(seat, frame)  # type: ignore[arg-type]
                    if self.analysis is not None:
                        self.analysis.update_frame(seat, frame)  # type: ignore[arg-type]
                else:
                    self.mixer.push(seat, frame)  # type: ignore[arg-type]
        except MediaStreamError:
            logger.info("room %s: %s of seat %s ended", self.name, role, seat)
        finally:
            entry = self._inputs.get((seat, role))
            mine = entry is None or entry[1] is asyncio.current_task()
            if mine:
                # Only the current input of the seat clears its picture or sound.
                if role == "camera":
                    self.grid.clear_frame(seat)
                    if self.analysis is not None:
                        await self.analysis.camera_ended(seat)
                else:
                    self.mixer.remove_source(seat)
            if entry is not None and entry[1] is asyncio.current_task():
                del self._inputs[(seat, role)]
