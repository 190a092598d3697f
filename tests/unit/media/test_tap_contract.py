"""The private aiortc attributes that media/tap.py and media/recovery.py rely on are still where
they expect them.

If aiortc is upgraded and one of these fails, the tap must be adapted before the pin moves.
"""

from __future__ import annotations

import inspect
import queue

import aiortc
from aiortc import (
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    jitterbuffer,
    rtcdtlstransport,
    rtcpeerconnection,
    rtcrtpreceiver,
)
from aiortc.rtp import RtpPacket

from media.recovery import JITTER_BUFFER_ATTR, ArrivalOrder, WholeFrames
from media.tap import (
    DECODER_QUEUE_ATTR,
    DECODER_THREAD_ATTR,
    ESTIMATOR_ATTR,
    KEYFRAME_HOOK_ATTR,
    ROUTER_ATTR,
    RTCP_HANDLER_ATTR,
    RTX_SSRC_ATTR,
    TIMESTAMP_MAPPER_ATTR,
    install_tap,
)


def test_aiortc_version_is_the_pinned_one() -> None:
    assert aiortc.__version__ == "1.16.0"


def test_jitter_buffer_hands_whole_frames_to_the_decoder_queue() -> None:
    source = inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    assert "self.__decoder_queue.put((codec, encoded_frame))" in source
    receive = inspect.getsource(RTCRtpReceiver.receive)
    assert "self.__decoder_queue" in receive  # the thread gets the queue object at start
    worker = inspect.getsource(rtcrtpreceiver.decoder_worker)
    assert "input_q.get()" in worker


def test_frames_leave_the_jitter_buffer_with_rebased_timestamps() -> None:
    source = inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    assert "self.__timestamp_mapper.map(" in source
    mapper = inspect.getsource(rtcrtpreceiver.TimestampMapper.map)
    assert "return timestamp - self._origin" in mapper


def test_the_router_finds_receivers_by_ssrc_table_and_learns_no_rtx_ssrc() -> None:
    route = inspect.getsource(rtcdtlstransport.RtpRouter.route_rtp)
    assert "self.ssrc_table.get(packet.ssrc)" in route
    register = inspect.getsource(rtcdtlstransport.RTCDtlsTransport._register_rtp_receiver)
    assert f"self.{ROUTER_ATTR}.register_receiver(" in register
    assert "encoding.rtx" not in register  # else the tap's RTX routing can go
    # The receiver is started through its own attribute, which the tap wraps.
    connect = inspect.getsource(rtcpeerconnection.RTCPeerConnection._RTCPeerConnection__connect)
    assert "transceiver.receiver.receive(" in connect


def test_each_video_receiver_estimates_and_sends_remb_with_its_own_estimator() -> None:
    source = inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    assert "self.__remote_bitrate_estimator.add(" in source
    assert "fci=pack_remb_fci(*remb)" in source
    # The tap finds a receiver's connection by its transport in the track event: by then the
    # bundled receivers have been moved to the one transport they share.
    remote = inspect.getsource(RTCPeerConnection.setRemoteDescription)
    bundled = remote.index("transceiver.receiver.setTransport(primaryTransport)")
    assert bundled < remote.index('self.emit("track"')


def test_sender_keyframe_requests_go_through_the_hook() -> None:
    source = inspect.getsource(RTCRtpSender._handle_rtcp_packet)
    assert f"self.{KEYFRAME_HOOK_ATTR}()" in source


async def test_tap_replaces_the_queue_of_a_fresh_receiver() -> None:
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video", direction="recvonly")
        receiver = transceiver.receiver
        assert isinstance(getattr(receiver, DECODER_QUEUE_ATTR), queue.Queue)
        assert getattr(receiver, DECODER_THREAD_ATTR) is None
        tap = install_tap(receiver)
        assert getattr(receiver, DECODER_QUEUE_ATTR) is tap
        # Wall time from sender reports needs the timestamp origin and the RTCP handler.
        assert hasattr(getattr(receiver, TIMESTAMP_MAPPER_ATTR), "_origin")
        assert isinstance(getattr(receiver, RTX_SSRC_ATTR), dict)
        assert getattr(receiver, RTCP_HANDLER_ATTR).__name__ == "handle_rtcp"
        assert receiver.receive.__name__ == "receive_and_route"
    finally:
        await pc.close()


async def test_video_receivers_of_one_connection_share_one_bandwidth_estimator() -> None:
    pc, other = RTCPeerConnection(), RTCPeerConnection()
    try:
        videos = [pc.addTransceiver("video", direction="recvonly").receiver for _ in range(3)]
        audio = pc.addTransceiver("audio", direction="recvonly").receiver
        elsewhere = other.addTransceiver("video", direction="recvonly").receiver
        own = {id(getattr(r, ESTIMATOR_ATTR)) for r in videos}
        assert len(own) == 3  # aiortc's own: one per receiver
        for receiver in [*videos, audio, elsewhere]:
            install_tap(receiver)
        shared = {id(getattr(r, ESTIMATOR_ATTR)) for r in videos}
        assert len(shared) == 1
        assert getattr(audio, ESTIMATOR_ATTR) is None
        assert getattr(elsewhere, ESTIMATOR_ATTR) is not getattr(videos[0], ESTIMATOR_ATTR)
    finally:
        await pc.close()
        await other.close()


def test_the_jitter_buffers_are_where_media_recovery_replaces_and_empties_them() -> None:
    init = inspect.getsource(RTCRtpReceiver.__init__)
    assert "self.__jitter_buffer = JitterBuffer(capacity=16, prefetch=4)" in init  # audio
    assert "self.__jitter_buffer = JitterBuffer(capacity=512, is_video=True)" in init
    handle = inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    assert "pli_flag, encoded_frame = self.__jitter_buffer.add(packet)" in handle
    assert "self.__nack_generator.add(packet)" in handle
    # A missing packet holds back every frame after it: the stall media.recovery ends.
    remove_frame = inspect.getsource(jitterbuffer.JitterBuffer._remove_frame)
    assert "if packet is None:\n                break" in remove_frame
    empty = jitterbuffer.JitterBuffer(capacity=512, is_video=True)
    assert empty._origin is None and empty.capacity == 512
    assert list(inspect.signature(jitterbuffer.JitterBuffer.remove).parameters) == [
        "self",
        "count",
    ]
    assert list(inspect.signature(RTCRtpReceiver._send_rtcp_nack).parameters) == [
        "self",
        "media_ssrc",
        "lost",
    ]
    generator = inspect.getsource(rtcrtpreceiver.NackGenerator.add)
    assert "self.missing.discard(packet.sequence_number)" in generator
    # WholeFrames looks into the buffer's slots and decides in _remove_frame, after each add.
    add = inspect.getsource(jitterbuffer.JitterBuffer.add)
    assert "self._packets[pos] = packet" in add
    assert "return pli_flag, self._remove_frame(packet.sequence_number)" in add
    assert empty._packets == [None] * 512 and empty._capacity == 512
    assert RtpPacket(marker=1).marker == 1


async def test_the_tap_gives_audio_receivers_frames_in_arrival_order() -> None:
    pc = RTCPeerConnection()
    try:
        audio = pc.addTransceiver("audio", direction="recvonly").receiver
        video = pc.addTransceiver("video", direction="recvonly").receiver
        install_tap(audio)
        install_tap(video)
        assert isinstance(getattr(audio, JITTER_BUFFER_ATTR), ArrivalOrder)
        assert isinstance(getattr(video, JITTER_BUFFER_ATTR), WholeFrames)
    finally:
        await pc.close()
