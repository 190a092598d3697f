"""Automated warnings (standard 4.2, 8.4, 10): what counts as abnormal at a seat, and when.

Pure rules over observations with timestamps: what a seat's camera shows (faces, brightness,
change; measured elsewhere about once a second) and how the seat is connected. A condition
raises a warning once it has held for its threshold, and the warning ends when the condition
no longer holds; a warning starts at the moment the condition began, which is what the record
should say ("nobody at the seat since 10:02:03"), not when the threshold ran out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from roomserver.model import Event, Participant, Role


class WarningKind(StrEnum):
    """Kinds of automated warnings."""

    SEAT_EMPTY = "seat_empty"
    EXTRA_FACE = "extra_face"
    CAMERA_DARK = "camera_dark"
    CAMERA_FROZEN = "camera_frozen"
    CAMERA_LOST = "camera_lost"
    MICROPHONE_LOST = "microphone_lost"
    DESKTOP_STOPPED = "desktop_stopped"
    DESKTOP_MISSING = "desktop_missing"
    SEAT_DISCONNECTED = "seat_disconnected"
    LATE = "late"
    ROOM_CAMERA_DOWN = "room_camera_down"
    ROOM_CAMERA_PERSON = "room_camera_person"


WARNING_LABELS: dict[WarningKind, str] = {
    WarningKind.SEAT_EMPTY: "擅离职守：机位无人",
    WarningKind.EXTRA_FACE: "机位出现多人",
    WarningKind.CAMERA_DARK: "摄像头画面过暗或被遮挡",
    WarningKind.CAMERA_FROZEN: "摄像头画面静止不动",
    WarningKind.CAMERA_LOST: "摄像头信号中断",
    WarningKind.MICROPHONE_LOST: "麦克风信号中断",
    WarningKind.DESKTOP_STOPPED: "桌面共享已停止",
    WarningKind.DESKTOP_MISSING: "桌面未共享：机位连接后一直没有共享桌面",
    WarningKind.SEAT_DISCONNECTED: "机位断线",
    WarningKind.LATE: "迟到：开始后仍未到场",
    WarningKind.ROOM_CAMERA_DOWN: "监控摄像头离线",
    WarningKind.ROOM_CAMERA_PERSON: "监控画面中出现专家和工作人员以外的人员",
}

# Warnings drawn from a seat's camera pictures (the rest come from its connection).
CAMERA_KINDS = frozenset(
    {
        WarningKind.SEAT_EMPTY,
        WarningKind.EXTRA_FACE,
        WarningKind.CAMERA_DARK,
        WarningKind.CAMERA_FROZEN,
        WarningKind.ROOM_CAMERA_PERSON,
    }
)


@dataclass(frozen=True)
class WarningThresholds:
    """How long a condition must hold before it is a warning, and what the pictures must show.

    Times in seconds. Luma is 0..255 (BT.601 Y of the sampled camera picture).
    """

    seat_empty_s: float = 30.0
    extra_face_s: float = 2.0
    dark_s: float = 5.0
    frozen_s: float = 10.0
    track_lost_s: float = 8.0
    # Sharing the desktop takes the expert a click and a choice in the browser's dialog.
    desktop_missing_s: float = 60.0
    disconnected_s: float = 5.0
    camera_down_s: float = 10.0  # a room camera unreachable or silent this long
    late_after_s: float = 15 * 60.0  # 8.4-7-4: 15 minutes after the scheduled start
    dark_luma: float = 30.0
    covered_contrast: float = 6.0  # luma standard deviation of a lens under a hand or paper
    frozen_change: float = 0.3  # mean absolute luma change between samples of a frozen picture

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(f"warning threshold {name} must be a number >= 0, not {value!r}")


@dataclass(frozen=True)
class CameraObservation:
    """What one sampled camera picture showed."""

    at: float  # wall clock, seconds since the epoch
    faces: int
    luma_mean: float
    luma_std: float
    change: float | None  # mean absolute luma difference to the previous sample, if any
    # The person seen at the seat moved since the previous sample (where faces were last seen).
    moved: bool = False


@dataclass(frozen=True)
class Transition:
    """A warning of `kind` starts (at the moment its condition began) or ends."""

    kind: WarningKind
    starts: bool
    at: float


class Condition:
    """A boolean that becomes a warning after holding for `hold_s`, and ends when it stops."""

    def __init__(self, kind: WarningKind, hold_s: float) -> None:
        self.kind = kind
        self.hold_s = hold_s
        self.since: float | None = None
        self.raised = False

    def update(self, active: bool, at: float, *, began: float | None = None) -> Transition | None:
        """The condition's state at `at`; `began` backdates a condition known to hold earlier."""
        if active:
            if self.since is None:
                self.since = began if began is not None else at
            if not self.raised and at - self.since >= self.hold_s:
                self.raised = True
                return Transition(self.kind, True, self.since)
            return None
        self.since = None
        if self.raised:
            self.raised = False
            return Transition(self.kind, False, at)
        return None


class SeatCameraRules:
    """Warnings from a seat's camera samples: empty seat, extra face, dark, frozen."""

    def __init__(self, thresholds: WarningThresholds) -> None:
        self._t = thresholds
        self._empty = Condition(WarningKind.SEAT_EMPTY, thresholds.seat_empty_s)
        self._extra = Condition(WarningKind.EXTRA_FACE, thresholds.extra_face_s)
        self._dark = Condition(WarningKind.CAMERA_DARK, thresholds.dark_s)
        self._frozen = Condition(WarningKind.CAMERA_FROZEN, thresholds.frozen_s)

    def observe(self, obs: CameraObservation) -> list[Transition]:
        """The warnings that start or end with this sample."""
        t = self._t
        dark = obs.luma_mean < t.dark_luma or obs.luma_std < t.covered_contrast
        frozen = obs.change is not None and obs.change < t.frozen_change
        updates = [
            self._dark.update(dark, obs.at),
            # A dark or covered picture says nothing about who is at the seat; a person bent
            # over papers shows no face, but moves.
            self._empty.update(obs.faces == 0 and not obs.moved and not dark, obs.at),
            self._extra.update(obs.faces >= 2 and not dark, obs.at),
            self._frozen.update(frozen and not dark, obs.at),
        ]
        return [u for u in updates if u is not None]

    def stop(self, at: float) -> list[Transition]:
        """The camera track ended: what it showed no longer applies."""
        conditions = (self._empty, self._extra, self._dark, self._frozen)
        return [u for c in conditions if (u := c.update(False, at)) is not None]


# Besides the experts at their seats, the people who belong in an evaluation room: the
# venue's staff (工作人员), its witness (见证人) and, in the main venue, the host (主持人).
ATTENDANT_ROLES = frozenset({Role.HOST, Role.STAFF, Role.WITNESS})


def venue_attendants(participants: Iterable[Participant], venue_id: str) -> int:
    """How many of a session's staff, witnesses and hosts belong in the venue `venue_id`."""
    return sum(1 for p in participants if p.role in ATTENDANT_ROLES and p.venue_id == venue_id)


class RoomCameraRules:
    """Warnings from a room camera's pictures: more people in view than belong in the room.

    The room camera overlooks a venue; while its seats are taken, the people who belong there
    are the experts at the seats and the venue's attendants (``venue_attendants``: its staff,
    witness and host). A face beyond those is somebody who came in.
    """

    def __init__(self, thresholds: WarningThresholds) -> None:
        self._person = Condition(WarningKind.ROOM_CAMERA_PERSON, thresholds.extra_face_s)

    def observe(
        self, at: float, *, faces: int, seated: int, attendants: int = 0
    ) -> list[Transition]:
        """A sampled picture with `faces` faces while `seated` experts are at the venue's seats
        and `attendants` staff, witnesses and host belong in the venue."""
        update = self._person.update(seated > 0 and faces > seated + attendants, at)
        return [update] if update is not None else []

    def stop(self, at: float) -> list[Transition]:
        """The camera stopped sending: what it showed no longer applies."""
        update = self._person.update(False, at)
        return [update] if update is not None else []


# Events of a session's log that show an expert came to their seat (the seat page connected
# or joined), besides the check-in that staff confirm.
ARRIVAL_EVENTS = frozenset({"seat_connected", "seat_joined"})


def arrived_experts(events: Iterable[Event]) -> frozenset[str]:
    """The experts (participant ids) whom a session's log shows at their seat at least once."""
    arrived: set[str] = set()
    for event in events:
        if event.kind in ARRIVAL_EVENTS and event.actor is not None:
            arrived.add(event.actor)
        elif event.kind == "workflow" and event.data.get("happened") == "expert_checked_in":
            expert = (event.data.get("details") or {}).get("expert")
            if isinstance(expert, str):
                arrived.add(expert)
    return frozenset(arrived)


class SeatPresenceRules:
    """Warnings from a seat's connection: disconnected, tracks lost, desktop never shared or
    stopped, late.

    Lateness is about an expert's first arrival: one who arrived before these rules began
    watching (``arrived``: the log shows it, as after a server restart) is never late, and
    counts as having been online.
    """

    def __init__(
        self, thresholds: WarningThresholds, scheduled_start: datetime, *, arrived: bool = False
    ) -> None:
        self._t = thresholds
        self._late_at = scheduled_start.timestamp() + thresholds.late_after_s
        self._ever_online = arrived
        self._had_desktop = False
        self._disconnected = Condition(WarningKind.SEAT_DISCONNECTED, thresholds.disconnected_s)
        self._camera = Condition(WarningKind.CAMERA_LOST, thresholds.track_lost_s)
        self._microphone = Condition(WarningKind.MICROPHONE_LOST, thresholds.track_lost_s)
        self._desktop = Condition(WarningKind.DESKTOP_STOPPED, thresholds.track_lost_s)
        self._no_desktop = Condition(WarningKind.DESKTOP_MISSING, thresholds.desktop_missing_s)
        self._late = Condition(WarningKind.LATE, 0.0)

    def update(self, at: float, *, online: bool, tracks: frozenset[str]) -> list[Transition]:
        """The seat's state at `at`: whether it is connected and which tracks arrive."""
        self._ever_online = self._ever_online or online
        if online and "desktop" in tracks:
            self._had_desktop = True
        late = not self._ever_online and at >= self._late_at
        without_desktop = online and "desktop" not in tracks
        updates = [
            self._late.update(late, at, began=self._late_at),
            self._disconnected.update(self._ever_online and not online, at),
            # Negotiating takes a moment after connecting: the threshold covers it.
            self._camera.update(online and "camera" not in tracks, at),
            self._microphone.update(online and "microphone" not in tracks, at),
            # Never shared since the seat connected, or shared and then stopped.
            self._no_desktop.update(without_desktop and not self._had_desktop, at),
            self._desktop.update(without_desktop and self._had_desktop, at),
        ]
        return [u for u in updates if u is not None]

    def stop(self, at: float) -> list[Transition]:
        """The session ended or the room closed: every open warning of the seat ends."""
        conditions = (
            self._late,
            self._disconnected,
            self._camera,
            self._microphone,
            self._no_desktop,
            self._desktop,
        )
        return [u for c in conditions if (u := c.update(False, at)) is not None]
