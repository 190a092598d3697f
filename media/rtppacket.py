"""RTP packets as bytes, as a broadcast shares them: made once, rewritten where a viewer needs.

The packets a broadcast makes carry no CSRC and no header extension (viewers find each stream
by the SSRC their answer announces), so their header is always ``HEADER_SIZE`` bytes.
"""

from __future__ import annotations

import struct

from aiortc.codecs.vpx import VpxPayloadDescriptor

RTP_HEADER = struct.Struct("!BBHII")
HEADER_SIZE = RTP_HEADER.size


def rtp_packet(
    payload_type: int, marker: bool, sequence: int, timestamp: int, ssrc: int, payload: bytes
) -> bytes:
    """One RTP packet (version 2, no padding, extension or CSRC)."""
    return (
        RTP_HEADER.pack(0x80, (0x80 if marker else 0) | payload_type, sequence, timestamp, ssrc)
        + payload
    )


def sequence_of(packet: bytes) -> int:
    """The RTP sequence number of `packet`."""
    return (packet[2] << 8) | packet[3]


def with_payload_type(packet: bytes, payload_type: int) -> bytes:
    """`packet` with another payload type (the marker bit kept)."""
    return bytes((packet[0], (packet[1] & 0x80) | payload_type)) + packet[2:]


def rtx_packet(packet: bytes, payload_type: int, sequence: int, ssrc: int) -> bytes:
    """`packet` sent again on an RTX stream (RFC 4588: its sequence number before the payload)."""
    return (
        bytes((packet[0], (packet[1] & 0x80) | payload_type))
        + sequence.to_bytes(2, "big")
        + packet[4:8]  # the timestamp
        + ssrc.to_bytes(4, "big")
        + packet[2:4]  # the original sequence number
        + packet[HEADER_SIZE:]
    )


def is_keyframe_start(codec: str, payload: bytes) -> bool:
    """Whether an RTP payload is the first packet of a keyframe (VP8, H.264; audio: always)."""
    if codec == "VP8":
        try:
            descriptor, data = VpxPayloadDescriptor.parse(payload)
        except ValueError:
            return False
        return (
            bool(descriptor.partition_start)
            and descriptor.partition_id == 0
            and bool(data)
            and not data[0] & 0x01
        )
    if codec == "H264":
        return bool(payload) and _h264_has_idr(payload)
    return True


def _h264_has_idr(payload: bytes) -> bool:
    nal_type = payload[0] & 0x1F
    if nal_type in (5, 7):  # IDR slice, or the SPS a keyframe starts with
        return True
    if nal_type == 24:  # STAP-A: 16-bit sizes, then NAL units
        pos = 1
        while pos + 2 < len(payload):
            size = int.from_bytes(payload[pos : pos + 2], "big")
            if payload[pos + 2] & 0x1F in (5, 7):
                return True
            pos += 2 + size
        return False
    if nal_type == 28 and len(payload) > 1:  # FU-A: the start of a fragmented IDR slice
        return bool(payload[1] & 0x80) and payload[1] & 0x1F == 5
    return False
