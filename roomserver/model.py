"""Domain model: trading centres, evaluation rooms, sessions, participants, events."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from roomserver.errors import InvalidRequest, InvalidVenue, NotYourRoom

# Standard Table 1: an evaluation room holds 5 to 10 expert seats (机位).
MIN_SEATS = 5
MAX_SEATS = 10


class Role(StrEnum):
    """What a participant does in a session (评标专家, 主持人, 工作人员, 见证人, 监督人员...)."""

    EXPERT = "expert"
    HOST = "host"
    STAFF = "staff"
    WITNESS = "witness"
    SUPERVISOR = "supervisor"
    ARCHIVIST = "archivist"
    ADMIN = "admin"
    DOOR = "door"  # a venue's access-control system (门禁系统), which posts entries and exits
    AUDITOR = "auditor"  # 审计、纪委监委: reads every archive, like an archivist
    TENDERER = "tenderer"  # 招标人: a session's archive, as far as the configuration allows
    BIDDER = "bidder"  # 投标人: likewise; in a bid opening, the bidder's representative
    AGENCY = "agency"  # 招标代理机构: at a bid opening, answers objections with the tenderer
    PUBLIC = "public"  # a viewer of a bid opening's broadcast (公开直播): watches, never acts
    OPS = "ops"  # 运维技术人员: device and network health, fault handling (6.4, 7.2.6-6)


class VenueKind(StrEnum):
    """Whether a venue is the session's main venue (主场) or a sub venue (副场)."""

    MAIN = "main"
    SUB = "sub"


class SessionKind(StrEnum):
    """What a session is: a lot's evaluation (评标), or its bid opening (开标) in the hall."""

    EVALUATION = "evaluation"
    OPENING = "opening"


class SessionState(StrEnum):
    """Lifecycle of an evaluation session.

    A session is live from the moment the main venue's host opens check-in (签到, 7.2.1: the
    evaluation begins with it) until it ends. Seats connecting earlier (a device check before
    the day, experts arriving early) do not make it live.
    """

    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"


ID_LAST4 = re.compile(r"[0-9]{3}[0-9X]")
# A resident ID number (GB 11643): 17 digits and a check digit (0-9 or X).
ID_NUMBER = re.compile(r"[0-9]{17}[0-9X]")


REGION_CODE = re.compile(r"[1-8][0-9]{5}")
RTSP_URL = re.compile(r"rtsps?://[^\s]{1,490}")


def id_last4(id_number: str) -> str:
    """The last four characters of a resident ID number, which is all the server keeps."""
    number = id_number.strip().upper()
    if not ID_NUMBER.fullmatch(number):
        raise InvalidRequest("身份证号应为 18 位（最后一位可为 X）")
    return number[-4:]


def new_id() -> str:
    """Return a fresh random identifier (uuid4 hex)."""
    return uuid.uuid4().hex


def _require_text(value: str, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"{what}不能为空")


@dataclass(frozen=True)
class Centre:
    """A public resource trading centre (交易中心)."""

    id: str
    name: str
    city: str
    # 行政区划代码 (six digits, e.g. 210200 for 大连), or empty when not known; its first two
    # digits are the province, the upper-level region sub venues are drawn within (3.10).
    region_code: str = ""

    def __post_init__(self) -> None:
        _require_text(self.id, "交易中心编号")
        _require_text(self.name, "交易中心名称")
        _require_text(self.city, "交易中心所在城市")
        if self.region_code and not REGION_CODE.fullmatch(self.region_code):
            raise InvalidRequest("行政区划代码应为 6 位数字")

    @property
    def province(self) -> str:
        """The province's code (the upper-level region), or empty."""
        return f"{self.region_code[:2]}0000" if self.region_code else ""


@dataclass(frozen=True)
class Venue:
    """An evaluation room (评标室) at a trading centre, with its number of expert seats."""

    id: str
    centre_id: str
    name: str
    city: str
    seat_count: int
    # Whether it may be a session's main venue, and a sub venue (drawn, 3.10).
    main_capable: bool = True
    sub_capable: bool = True
    # Its room monitoring cameras (5.4.5): RTSP URLs of IP cameras or NVR channels.
    camera_urls: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "camera_urls", tuple(self.camera_urls))
        for url in self.camera_urls:
            if not RTSP_URL.fullmatch(url):
                raise InvalidVenue("监控摄像头地址应为 rtsp:// 或 rtsps:// 开头的地址")
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidVenue("评标室名称不能为空")
        if not isinstance(self.city, str) or not self.city.strip():
            raise InvalidVenue("评标室所在城市不能为空")
        # bool is an int subclass; True seats is a bug, not a room.
        if (
            not isinstance(self.seat_count, int)
            or isinstance(self.seat_count, bool)
            or not MIN_SEATS <= self.seat_count <= MAX_SEATS
        ):
            raise InvalidVenue(
                f"评标室机位数应为{MIN_SEATS}至{MAX_SEATS}个，当前为{self.seat_count}"
            )


@dataclass(frozen=True)
class Session:
    """One session of a project's lot: its evaluation, on a main venue plus zero or more sub
    venues, or its bid opening (``kind``)."""

    id: str
    project_code: str
    project_name: str
    main_venue_id: str
    sub_venue_ids: tuple[str, ...]
    scheduled_start: datetime
    state: SessionState = SessionState.SCHEDULED
    review_of: str | None = None  # the ended session a re-review (复议) re-convenes
    # An opening's main venue is where its host sits; it has no sub venues.
    kind: SessionKind = SessionKind.EVALUATION

    def __post_init__(self) -> None:
        _require_text(self.project_code, "项目编号")
        object.__setattr__(self, "kind", SessionKind(self.kind))
        if self.kind == SessionKind.OPENING and self.sub_venue_ids:
            raise InvalidRequest("开标场次没有副场")
        _require_text(self.project_name, "项目名称")
        # Normalise rather than reject: callers often build these from lists and plain strings.
        subs = tuple(self.sub_venue_ids)
        object.__setattr__(self, "sub_venue_ids", subs)
        object.__setattr__(self, "state", SessionState(self.state))
        if self.main_venue_id in subs or len(set(subs)) != len(subs):
            raise InvalidRequest("同一评标室不能在一场评标中重复出现")
        start = self.scheduled_start
        if start.tzinfo is None or start.utcoffset() is None:
            raise InvalidRequest("开始时间必须带时区")
        object.__setattr__(self, "scheduled_start", start.astimezone(UTC))

    def venue_ids(self) -> tuple[str, ...]:
        """Return the session's venues: main first, then sub venues in order."""
        return (self.main_venue_id, *self.sub_venue_ids)

    def venue_kind(self, venue_id: str) -> VenueKind:
        """Return whether `venue_id` is the main or a sub venue; NotYourRoom if neither."""
        if venue_id == self.main_venue_id:
            return VenueKind.MAIN
        if venue_id in self.sub_venue_ids:
            return VenueKind.SUB
        raise NotYourRoom("该评标室不属于本场评标")


@dataclass(frozen=True)
class Participant:
    """A person taking part in a session; experts have a venue and a seat number."""

    id: str
    session_id: str
    role: Role
    name: str
    venue_id: str | None = None
    seat_no: int | None = None
    id_last4: str | None = None  # the last four characters of the ID number, nothing more
    replaced_by: str | None = None  # the expert drawn in this one's place

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", Role(self.role))
        _require_text(self.name, "姓名")
        if self.id_last4 is not None and not ID_LAST4.fullmatch(self.id_last4):
            raise InvalidRequest("身份证号后四位格式不正确")
        # A seat number only means something inside a venue.
        if self.seat_no is not None and self.venue_id is None:
            raise InvalidRequest("指定机位时必须同时指定评标室")


@dataclass(frozen=True)
class Event:
    """One entry of the append-only activity log (活动记录)."""

    seq: int
    session_id: str | None
    at: datetime
    kind: str
    actor: str | None
    data: dict[str, Any]


def seat_label(venue: Venue, kind: VenueKind, seat_no: int) -> str:
    """Return the label users see for a seat, e.g. "沈阳主场 · 2号机位"."""
    place = "主场" if kind is VenueKind.MAIN else "副场"
    return f"{venue.city}{place} · {seat_no}号机位"
