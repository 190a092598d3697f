"""media/ice.py against aioice: the pieces it replaces are where it expects them, and two real
in-process peers connect through what it binds and announces.

If aioice is upgraded and one of the source checks fails, media/ice.py must be adapted before
the pin moves.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
from collections.abc import Iterator

import aioice
import aioice.ice
import pytest
from aiortc import RTCPeerConnection
from aiortc.sdp import candidate_from_sdp

from media.ice import PortRange, announce_addresses, apply_host_candidate_policy, apply_port_range
from media.testing.synthetic import CounterVideoTrack


def test_aioice_version_is_the_pinned_one() -> None:
    assert aioice.__version__ == "0.13.0"


def test_gathering_asks_the_module_for_addresses_and_the_method_for_sockets() -> None:
    gather = inspect.getsource(aioice.ice.Connection.gather_candidates)
    assert "addresses = get_host_addresses(" in gather  # the module global media/ice replaces
    assert "self.get_component_candidates(component=component, addresses=addresses)" in gather


def test_aioice_binds_host_sockets_to_ephemeral_ports_and_keeps_them_as_protocols() -> None:
    source = inspect.getsource(aioice.ice.Connection.get_component_candidates)
    # Still no option for the port: the reason media/ice.py binds them itself.
    assert "local_addr=(address, 0)" in source
    assert "lambda: StunProtocol(self)" in source
    assert "protocol.local_candidate = Candidate(" in source
    assert "self._protocols += host_protocols" in source
    assert 'candidate_priority(component, "host")' in source
    # Every host protocol is paired with the remote candidates and closed with the connection.
    pair = inspect.getsource(aioice.ice.Connection._pair_remote_candidate)
    assert "for protocol in self._protocols:" in pair
    assert "protocol.local_candidate.can_pair_with(" in pair
    close = inspect.getsource(aioice.ice.Connection.close)
    assert "for protocol in self._protocols:" in close and "await protocol.close()" in close
    init = inspect.signature(aioice.ice.StunProtocol.__init__)
    assert list(init.parameters) == ["self", "receiver"]


@pytest.fixture
def loopback_in_range() -> Iterator[PortRange]:
    """aioice on 127.0.0.1 with ports from a small range; aioice's own ways afterwards."""
    lookup = aioice.ice.get_host_addresses
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        first = min(int(probe.getsockname()[1]), 65500)
    apply_host_candidate_policy(["127.0.0.1"])
    ports = apply_port_range((first, first + 7))
    assert ports is not None
    try:
        yield ports
    finally:
        apply_port_range(None)
        aioice.ice.get_host_addresses = lookup


def _candidates(sdp: str) -> list[tuple[str, int, str]]:
    found = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            c = candidate_from_sdp(line.removeprefix("a=candidate:"))
            found.append((c.ip, c.port, c.type))
    return found


async def test_two_peers_connect_on_ports_of_the_range_and_close_them(
    loopback_in_range: PortRange,
) -> None:
    ports = loopback_in_range
    sender, receiver = RTCPeerConnection(), RTCPeerConnection()
    sender.addTrack(CounterVideoTrack((200, 40, 40)))
    arrived = asyncio.Event()

    @receiver.on("track")
    def on_track(track: object) -> None:
        arrived.set()

    connected = asyncio.Event()

    @receiver.on("connectionstatechange")
    def on_state() -> None:
        if receiver.connectionState == "connected":
            connected.set()

    try:
        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(sender.localDescription)
        await receiver.setLocalDescription(await receiver.createAnswer())
        await sender.setRemoteDescription(receiver.localDescription)
        candidates = _candidates(sender.localDescription.sdp) + _candidates(
            receiver.localDescription.sdp
        )
        assert candidates and all(ip == "127.0.0.1" for ip, _, _ in candidates), candidates
        assert all(ports.first <= port <= ports.last for _, port, _ in candidates), candidates
        await asyncio.wait_for(connected.wait(), 15)
        await asyncio.wait_for(arrived.wait(), 15)
    finally:
        await sender.close()
        await receiver.close()
    # Closed connections give their ports back: every port of the range binds again.
    held = [ports.bind("127.0.0.1") for _ in range(len(ports))]
    try:
        assert sorted(s.getsockname()[1] for s in held) == list(range(ports.first, ports.last + 1))
    finally:
        for sock in held:
            sock.close()


def test_a_full_range_refuses_the_next_socket_and_passes_over_taken_ports() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        first = min(int(probe.getsockname()[1]), 65500)
    ports = PortRange(first, first + 2)
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", first + 1))
    held = []
    try:
        held = [ports.bind("127.0.0.1") for _ in range(2)]
        assert sorted(s.getsockname()[1] for s in held) == [first, first + 2]
        with pytest.raises(OSError, match="no free UDP port"):
            ports.bind("127.0.0.1")
    finally:
        taken.close()
        for sock in held:
            sock.close()


ANSWER = (
    "v=0\r\n"
    "m=audio 40002 UDP/TLS/RTP/SAVPF 96\r\n"
    "c=IN IP4 10.10.0.1\r\n"
    "a=candidate:0d3b2e1f 1 udp 2130706431 10.10.0.1 40002 typ host\r\n"
    "a=candidate:1a2b3c4d 1 udp 2130706431 fd00::1 40003 typ host\r\n"
    "a=end-of-candidates\r\n"
)


def test_announced_addresses_are_added_beside_the_host_candidates() -> None:
    sdp = announce_addresses(ANSWER, ["203.0.113.7", "2001:db8::7"])
    lines = sdp.split("\r\n")
    assert lines[:4] == ANSWER.split("\r\n")[:4]  # the host candidate stays, first
    found = _candidates(sdp)
    assert ("10.10.0.1", 40002, "host") in found and ("fd00::1", 40003, "host") in found
    assert ("203.0.113.7", 40002, "srflx") in found and ("2001:db8::7", 40003, "srflx") in found
    assert len(found) == 4  # each address beside its own IP version only
    public = candidate_from_sdp(lines[4].removeprefix("a=candidate:"))
    assert (public.relatedAddress, public.relatedPort) == ("10.10.0.1", 40002)
    host = candidate_from_sdp(lines[3].removeprefix("a=candidate:"))
    assert public.priority < host.priority  # the direct path is tried first
    assert sdp.endswith("a=end-of-candidates\r\n")
    assert announce_addresses(ANSWER, []) == ANSWER
