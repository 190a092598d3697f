"""A live room on another node of the cluster, as a supervision wall on this node reaches it.

A wall stays connected to the node it reached and lists every node's rooms
(``signaling.sockets.wall``). What it asks of a room on another node goes there as a call
through Redis (``Cluster.call``): the viewer's offer and ICE candidates, its close, a warning for
the seats. That node's media worker answers the offer with its own addresses, so the pictures
flow straight from the node hosting the room to the wall's browser; only the signalling passes
through the wall's node. The hosting node answers for rooms of its own only, and only these
requests: the wall's node has already checked the policy for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from roomserver.errors import InvalidRequest, NotFound
from signaling.services.cluster import Cluster
from signaling.services.rooms import RoomManager, SentWarning

if TYPE_CHECKING:
    from signaling.sockets.seat import SeatNamespace

# The media requests a wall makes of a room's worker.
WALL_MEDIA = frozenset({"open_viewer", "close_viewer", "viewer_candidate"})


class RemoteRoom:
    """A room live on node `node_id`: the wall's media requests and warnings go there."""

    def __init__(self, cluster: Cluster, node_id: str, session_id: str) -> None:
        self.cluster = cluster
        self.node_id = node_id
        self.id = session_id
        self.ended = False

    async def media_request(self, method: str, **params: Any) -> Any:
        """A request of the room's media worker, made by its node."""
        return await self.cluster.call(
            self.node_id,
            "room_media",
            {"session_id": self.id, "method": method, "params": params},
        )

    async def deliver_warning(self, warning: SentWarning) -> int:
        """Show a supervisor's warning at the room's seats; how many seats got it."""
        return int(
            await self.cluster.call(
                self.node_id,
                "room_warning",
                {
                    "session_id": self.id,
                    "id": warning.id,
                    "text": warning.text,
                    "seat": warning.seat,
                },
            )
        )


class RoomsServed:
    """This node's answers to other nodes' walls about the rooms it hosts."""

    def __init__(self, cluster: Cluster, rooms: RoomManager, seats: SeatNamespace) -> None:
        self._rooms = rooms
        self._seats = seats
        cluster.serve("room_media", self.media)
        cluster.serve("room_warning", self.warning)

    def _room(self, params: dict[str, Any]) -> Any:
        room = self._rooms.find(str(params.get("session_id")))
        if room is None or room.ended:
            raise NotFound("该评标室尚无机位上线，暂无画面")
        return room

    async def media(self, params: dict[str, Any]) -> Any:
        """A wall's request of a room's media worker."""
        room = self._room(params)
        method = str(params.get("method"))
        if method not in WALL_MEDIA:
            raise InvalidRequest(f"不能转发的媒体请求：{method}")
        request = dict(params.get("params") or {})
        camera = request.get("camera")
        if method == "open_viewer" and camera is not None and camera not in room.cameras:
            raise NotFound("该评标室没有这个监控摄像头")
        return await room.media_request(method, **request)

    async def warning(self, params: dict[str, Any]) -> int:
        """A supervisor's warning for the room's seats."""
        room = self._room(params)
        seat = params.get("seat")
        warning = SentWarning(
            id=str(params.get("id")),
            text=str(params.get("text")),
            seat=str(seat) if seat is not None else None,
        )
        return await self._seats.deliver_warning(room, warning)
