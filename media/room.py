"""The media of one room: seat inputs in, the room's picture and mix-minus audio out.

An evaluation room's picture is the grid of its seats' cameras (``media.grid``). A bid opening
hall's (开标大厅) is its information screen (``media.infoscreen``), drawn by the server from the
opening's state; its speakers (the host, bidders, the tenderer and its agency) are the seats,
keyed by participant, whose microphones make the mix and whose cameras (the host's) are only
forwarded and recorded, never decoded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

import av

from media.analysis import RoomAnalysis
from media.config import MediaConfig
from media.decode import CameraDecoder, MicrophoneDecoder
from media.fanout import PacketTrack
from media.forward import SeatForwards
from media.grid import GridCompositor, TileSpec
from media.infoscreen import InfoScreenCompositor
from media.mixencoder import MixEncoder, MixMinusEncoder
from media.mixer import AudioMixer
from roomserver.warnings import WarningThresholds

logger = logging.getLogger(__name__)

# Which incoming track kinds are decoded: the grid needs cameras, the mixer microphones.
# Desktops are only forwarded and recorded (decoding costs what nobody looks at). Decoding is
# done where the picture or sound is used (media.decode), never by aiortc's decoder threads.
# A seat's preview (a small copy of its camera) takes the camera's place in the grid and the
# analysis: decoding a 320x240 picture costs about a third of a 640x480 one.
DECODED_ROLES = frozenset({"camera", "preview", "microphone"})
PICTURE_ROLES = ("preview", "camera")  # preferred in this order once they have sent a keyframe


class PictureStats(Protocol):
    """What a room's picture tells /metrics."""

    @property
    def fps(self) -> float:
        """Pictures encoded a second, lately."""

    @property
    def frames_skipped(self) -> int:
        """Pictures left out because the last one took too long."""


class RoomPicture(Protocol):
    """The room's picture, encoded once (VP8) for every subscriber and listener: the grid of an
    evaluation room, the information screen of a hall."""

    @property
    def stats(self) -> PictureStats:
        """Its figures."""

    @property
    def last_picture(self) -> av.VideoFrame | None:
        """The last picture encoded (evidence of what the room showed)."""

    @property
    def subscribers(self) -> int:
        """How many tracks receive it."""

    async def start(self) -> None:
        """Start making pictures."""

    async def close(self) -> None:
        """Stop; safe to call twice."""

    def subscribe(self) -> PacketTrack:
        """A new track of the encoded pictures."""

    def add_listener(self, listener: Callable[[av.Packet, bool], None]) -> None:
        """Also give every encoded packet to `listener`."""

    def remove_listener(self, listener: Callable[[av.Packet, bool], None]) -> None:
        """Stop giving packets to `listener`."""

    def request_keyframe(self) -> None:
        """Make the next picture a keyframe."""


class RoomMedia:
    """Owns a room's picture (grid or information screen), audio mixer, camera analysis and
    their seat inputs."""

    def __init__(
        self,
        config: MediaConfig,
        *,
        name: str,
        warnings: WarningThresholds | None = None,
        hall: bool = False,
    ) -> None:
        """A room of an evaluation, or with `hall` the hall of a bid opening (its picture the
        information screen, no analysis, cameras not decoded)."""
        self.name = name
        # The grid of an evaluation room, the information screen of a hall: one of the two.
        self.screen: InfoScreenCompositor | None = None
        self._grid: GridCompositor | None = None
        self.grid: RoomPicture
        if hall:
            self.grid = self.screen = InfoScreenCompositor(config, name=name)
        else:
            self.grid = self._grid = GridCompositor(config, name=name)
        self.analysis: RoomAnalysis | None = None
        if config.analysis_interval_s > 0 and not hall:
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
        self._inputs: dict[tuple[str, str], CameraDecoder | MicrophoneDecoder] = {}
        self._voice_stage: Callable[[str, float], None] | None = None
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
        for (seat, role), source in list(self._inputs.items()):
            await self.detach(seat, role, source)
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
        """The room's seats in display order (a hall's screen shows no tiles)."""
        if self._grid is not None:
            self._grid.set_tiles(tiles)

    def set_online(self, seats: set[str]) -> None:
        """The seats connected now."""
        if self._grid is not None:
            self._grid.set_online(seats)

    def set_muted(self, seats: set[str] | frozenset[str]) -> None:
        """The seats (a hall's speakers) nobody hears in the mix."""
        self.mixer.set_muted(seats)

    def tell_voice_stages(self, on_stage: Callable[[str, float], None] | None) -> None:
        """Tell `on_stage` how long the voice spends in each stage, in seconds (event loop):
        "ingress" (a microphone frame from its sender's clock to its arrival), "buffer", "mix"
        (``AudioMixer.on_stage``), "encode" and "send" (``MixMinusEncoder.on_stage``)."""
        self._voice_stage = on_stage
        self.mixer.on_stage = on_stage
        self.mix_minus.on_stage = on_stage
        for source in self._inputs.values():
            if isinstance(source, MicrophoneDecoder):
                source.on_ingress = self._ingress if on_stage is not None else None

    def _ingress(self, seconds: float) -> None:
        if self._voice_stage is not None:
            self._voice_stage("ingress", seconds)

    def attach_camera(
        self,
        seat: str,
        *,
        request_keyframe: Callable[[], None],
        on_drop: Callable[[int], None] | None = None,
        role: str = "camera",
    ) -> CameraDecoder:
        """A new camera input of `seat` (role "camera", or its "preview"): feed it the encoded
        frames. The grid decodes those of the preview once it has sent a keyframe, else the
        camera's."""
        if role not in PICTURE_ROLES:
            raise ValueError(f"{role} is not a camera input")
        camera = CameraDecoder(request_keyframe=request_keyframe, on_drop=on_drop)
        self._inputs[(seat, role)] = camera

        def started() -> None:
            if self._inputs.get((seat, role)) is camera:
                self._show(seat)

        camera.on_start = started
        self._show(seat)
        return camera

    def _cameras(self, seat: str) -> dict[str, CameraDecoder]:
        found = {}
        for role in PICTURE_ROLES:
            source = self._inputs.get((seat, role))
            if isinstance(source, CameraDecoder):
                found[role] = source
        return found

    def _show(self, seat: str) -> bool:
        """Give the grid and the analysis the seat's preview, else its camera; False if none.

        A preview that has not sent a keyframe yet is not taken over a camera.
        """
        cameras = self._cameras(seat)
        if not cameras:
            return False
        if self._grid is None:
            # A hall's cameras are forwarded and recorded as they come; nothing shows them here.
            for camera in cameras.values():
                camera.set_decoding(False)
            return True
        started = [camera for camera in cameras.values() if camera.started]
        shown = started[0] if started else cameras.get("camera", next(iter(cameras.values())))
        self._grid.set_source(seat, shown)
        if self.analysis is not None:
            full = cameras.get("camera")
            self.analysis.watch(seat, shown, full=full if full is not shown else None)
        for camera in cameras.values():
            camera.set_decoding(camera is shown)
        return True

    def attach_microphone(self, seat: str) -> MicrophoneDecoder:
        """A new microphone input of `seat`: feed it the encoded frames; they reach the mixer."""
        microphone = MicrophoneDecoder(lambda frame: self.mixer.push(seat, frame))
        if self._voice_stage is not None:
            microphone.on_ingress = self._ingress
        self._inputs[(seat, "microphone")] = microphone
        return microphone

    async def detach(self, seat: str, role: str, source: CameraDecoder | MicrophoneDecoder) -> None:
        """`source` of `seat` ended; a newer input of the same seat and role is left alone."""
        if self._inputs.get((seat, role)) is not source:
            return
        del self._inputs[(seat, role)]
        if role in PICTURE_ROLES:
            if not self._show(seat) and self._grid is not None:
                self._grid.clear_frame(seat)
                if self.analysis is not None:
                    await self.analysis.camera_ended(seat)
        else:
            self.mixer.remove_source(seat)
        logger.info("room %s: %s of seat %s ended", self.name, role, seat)

    def inputs(self) -> list[tuple[str, str]]:
        """The (seat, role) pairs being consumed now."""
        return list(self._inputs)

    def grid_track(self) -> PacketTrack:
        """A new subscriber of the encoded room picture (the grid, or a hall's screen)."""
        return self.grid.subscribe()

    def audio_track(self, seat: str) -> PacketTrack:
        """The room's audio as heard at `seat`: everyone except `seat` (Opus, encoded here)."""
        return self.mix_minus.subscribe(seat)

    def full_mix_track(self) -> PacketTrack:
        """A new listener of the whole room's sound, encoded once for all such listeners."""
        return self.mix.subscribe()
