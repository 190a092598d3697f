"""Shapes of the REST bodies and answers of tenderers' and bidders' archive links (招标人、
投标人调阅链接): issued for one session, listed by party, revoked and re-issued."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from signaling.gate.projects import LinkState
from signaling.gate.schemas import Name

Party = Literal["tenderer", "bidder"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class PartyLinkRequest(_Body):
    """``POST /api/archive/sessions/{id}/party-links``: a tenderer's or bidder's link, lasting
    `ttl_days` after the session's end."""

    role: Party
    name: Name
    ttl_days: int = Field(default=30, ge=1, le=365, strict=True)


class PartyLinkRevokeRequest(_Body):
    """Why a party's links are taken back (kept in the record)."""

    reason: str = Field(min_length=1, max_length=200)


class PartyLinkReissueRequest(_Body):
    """Why a party gets a new link (its open ones end); the access window stays as it was."""

    reason: str = Field(default="重新发放", min_length=1, max_length=200)


class PartyLinkOut(BaseModel):
    """A party's link, issued: its address (shown this once) and until when it opens the
    archive; `revoked` are the party's links a re-issue ended."""

    url: str
    role: Party
    name: str
    link_id: str
    expires_at: AwareDatetime
    revoked: list[str] = Field(default_factory=list)


class PartyEntry(BaseModel):
    """A tenderer or bidder the session's archive was opened to, and their latest link."""

    role: Party
    name: str
    link: LinkState


class PartyLinkList(BaseModel):
    """The parties of a session's archive links, in the order they were first given one."""

    items: list[PartyEntry]


class RevokedLinks(BaseModel):
    """The links a revocation ended."""

    revoked: list[str]
