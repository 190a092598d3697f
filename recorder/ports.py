"""What the recorder needs from the rest of the server, as structural types."""

from __future__ import annotations

from typing import Protocol


class EncodedFrame(Protocol):
    """One whole encoded frame (VP8 picture or Opus packet) as it was received or encoded."""

    @property
    def kind(self) -> str:
        """``audio`` or ``video``."""

    @property
    def codec(self) -> str:
        """``VP8`` or ``opus``."""

    @property
    def data(self) -> bytes:
        """The encoded bytes."""

    @property
    def rtp_timestamp(self) -> int:
        """Media timestamp in units of ``clock_rate`` (32-bit RTP clock, may wrap)."""

    @property
    def clock_rate(self) -> int:
        """Ticks per second of ``rtp_timestamp`` (90000 video, 48000 Opus)."""

    @property
    def keyframe(self) -> bool:
        """Whether a decoder can start here (always true for audio)."""

    @property
    def wall_time(self) -> float:
        """Wall clock of the frame, seconds since the epoch.

        For received media the sender's capture clock (through RTCP sender reports) where the
        sender reports it, else the arrival time.
        """
