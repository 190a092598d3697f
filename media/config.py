"""Configuration of the media package."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MediaConfig:
    """How the server composes, mixes and encodes the media it sends to seats."""

    grid_width: int = 960
    grid_height: int = 720
    grid_fps: int = 15
    grid_bitrate: int = 1_200_000
    # libvpx's realtime speed for the grid, fixed (0 slowest, 16 fastest). A positive cpu-used
    # would let libvpx choose a speed that fills a share of the frame interval: it spent
    # 8.8 ms a 960x720 frame. Speed 6 takes 5.3 ms for 1.2 dB less PSNR at the same bitrate
    # (bench/grid.py prints the figures for every speed).
    grid_encoder_speed: int = 6
    # A keyframe at least this often, so that a viewer or a recorder that starts mid-stream
    # and misses a keyframe request still gets a picture within this many seconds.
    grid_keyframe_interval_s: float = 4.0
    label_font: str | None = None
    # The opening hall's information screen (media/infoscreen.py). Its picture changes on the
    # second at most, and its pictures are made on the wall clock's half seconds: two a second
    # show every change when it happens (more would only repeat them: 4 fps cost 3.4 to 3.8 %
    # of a core against 1.8 to 2.5 %, bench/infoscreen.py). A keyframe this often for a viewer
    # or a recorder that joins; a table's pages turn every infoscreen_page_s.
    infoscreen_width: int = 1280
    infoscreen_height: int = 720
    infoscreen_fps: int = 2
    infoscreen_bitrate: int = 600_000
    infoscreen_keyframe_interval_s: float = 2.0
    infoscreen_page_s: float = 6.0
    audio_sample_rate: int = 48_000
    audio_frame_ms: int = 20
    # Audio kept per source before the mixer starts taking from it (absorbs network jitter).
    audio_prefill_ms: int = 40
    audio_max_buffer_ms: int = 200
    # Seat camera analysis (faces, dark, frozen): a sample of each seat this often; 0: off.
    analysis_interval_s: float = 1.0
    analysis_width: int = 240
    # The share of one core a room's analysis may take before it samples less often.
    analysis_max_share: float = 0.25
    # How a broadcast's viewers are sent its packets: "lean" (packetized once, each viewer only
    # SRTP and a socket write: media.broadcast) or "aiortc" (an aiortc sender per viewer and
    # stream, the reference bench/broadcast.py measures against; no relays to other workers).
    broadcast_sender: str = "lean"
