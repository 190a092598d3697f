"""The shape of a page's ICE servers (``signaling.http.iceservers``)."""

from __future__ import annotations

from pydantic import BaseModel


class IceServerEntry(BaseModel):
    """One RTCIceServer as the browser takes it; a TURN server's credentials are the page's own."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None


class IceServers(BaseModel):
    """The page's STUN and TURN servers, when their credentials expire (Unix seconds) and in
    how many seconds to ask again; both null when nothing expires."""

    ice_servers: list[IceServerEntry]
    ice_expires_at: int | None = None
    ice_renew_in_s: int | None = None
