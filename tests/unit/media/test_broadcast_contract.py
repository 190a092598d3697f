"""The private aiortc and aioice pieces media/broadcastviewer.py relies on are where it expects.

If aiortc or aioice is upgraded and one of these fails, the broadcast's viewers must be adapted
before the pins in pyproject.toml move.
"""

from __future__ import annotations

import inspect

import aioice
import aiortc
from aioice import ice
from aiortc import (
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
    rtcdtlstransport,
    rtcicetransport,
    rtcpeerconnection,
)

from media.broadcastviewer import (
    ICE_CONNECTION_ATTR,
    NOMINATED_ATTR,
    REGISTER_SENDER_ATTR,
    RTX_SSRC_ATTR,
    SEND_ATTR,
    SEND_RTP_ATTR,
    SSRC_ATTR,
    STREAM_ID_ATTR,
    TX_SRTP_ATTR,
    UNREGISTER_SENDER_ATTR,
)


def test_the_versions_are_the_pinned_ones() -> None:
    assert aiortc.__version__ == "1.16.0"
    assert aioice.__version__ == "0.13.0"


def test_the_answer_announces_the_senders_ssrc_rtx_ssrc_and_stream_id() -> None:
    source = inspect.getsource(rtcpeerconnection.create_media_description_for_transceiver)
    assert f"transceiver.sender.{SSRC_ATTR}" in source
    assert f"transceiver.sender.{RTX_SSRC_ATTR}" in source
    assert f"transceiver.sender.{STREAM_ID_ATTR}" in source


async def test_an_ssrc_and_stream_id_set_before_the_answer_are_in_it() -> None:
    viewer, server = RTCPeerConnection(), RTCPeerConnection()
    try:
        viewer.addTransceiver("video", direction="recvonly")
        await viewer.setLocalDescription(await viewer.createOffer())
        sender = server.addTransceiver("video", direction="sendonly").sender
        setattr(sender, SSRC_ATTR, 0x1234ABCD)
        setattr(sender, STREAM_ID_ATTR, "hall-main")
        await server.setRemoteDescription(viewer.localDescription)
        await server.setLocalDescription(await server.createAnswer())
        answer = server.localDescription.sdp
        assert f"a=ssrc:{0x1234ABCD} cname:" in answer
        assert f"a=ssrc-group:FID {0x1234ABCD} {getattr(sender, RTX_SSRC_ATTR)}" in answer
        assert "a=msid:hall-main " in answer
        await viewer.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    finally:
        await viewer.close()
        await server.close()


def test_senders_are_started_through_send_once_dtls_is_connected() -> None:
    connect = inspect.getsource(rtcpeerconnection.RTCPeerConnection._RTCPeerConnection__connect)
    started = connect.index("await dtlsTransport.start(")
    connected = connect.index('if dtlsTransport.state == "connected":')
    sent = connect.index(f"await transceiver.sender.{SEND_ATTR}(self.__localRtp(transceiver))")
    assert started < connected < sent
    # A sender that was never started does nothing when the connection closes.
    stop = inspect.getsource(RTCRtpSender.stop)
    assert "if self.__started:" in stop


def test_rtcp_reaches_a_registered_sender_by_its_ssrc() -> None:
    register = inspect.getsource(getattr(rtcdtlstransport.RTCDtlsTransport, REGISTER_SENDER_ATTR))
    assert "register_sender(sender, ssrc=sender._ssrc)" in register
    assert callable(getattr(rtcdtlstransport.RTCDtlsTransport, UNREGISTER_SENDER_ATTR))
    route = inspect.getsource(rtcdtlstransport.RtpRouter.route_rtcp)
    assert "self.senders.get(report.ssrc)" in route  # receiver reports
    assert "self.senders.get(packet.media_ssrc)" in route  # NACK, PLI, FIR
    handle = inspect.getsource(rtcdtlstransport.RTCDtlsTransport._handle_rtcp_data)
    assert "await recipient._handle_rtcp_packet(packet)" in handle


def test_the_transport_keeps_its_srtp_session_and_sends_rtcp_protected() -> None:
    setup = inspect.getsource(rtcdtlstransport.RTCDtlsTransport._setup_srtp)
    assert f"self.{TX_SRTP_ATTR} = Session(tx_policy)" in setup
    assert "tx_policy.allow_repeat_tx = True" in setup  # a packet may be sent again (NACK)
    send = inspect.getsource(getattr(rtcdtlstransport.RTCDtlsTransport, SEND_RTP_ATTR))
    assert "self._tx_srtp.protect_rtcp(data)" in send


def test_the_selected_pair_is_where_aioice_writes_to() -> None:
    init = inspect.getsource(rtcicetransport.RTCIceTransport.__init__)
    assert f"self.{ICE_CONNECTION_ATTR} = gatherer._connection" in init
    sendto = inspect.getsource(ice.Connection.sendto)
    assert f"self.{NOMINATED_ATTR}.get(component)" in sendto
    assert "active_pair.protocol.send_data(data, active_pair.remote_addr)" in sendto
    send_data = inspect.getsource(ice.StunProtocol.send_data)
    assert "self.transport.sendto(data, addr)" in send_data
    made = inspect.getsource(ice.StunProtocol.connection_made)
    assert "self.transport = " in made
