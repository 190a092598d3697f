"""Shapes of the answers about devices and connections (``signaling.http.health``)."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel


class HealthSession(BaseModel):
    """Which session."""

    id: str
    project_code: str
    project_name: str
    state: str
    scheduled_start: AwareDatetime


class VenueHealth(BaseModel):
    """A venue of the session (主场 or 副场), to name where a seat or an incident is."""

    id: str
    name: str
    city: str
    kind: str


class SeatHealth(BaseModel):
    """An expert seat's connection: since when, its media state and the tracks it sends
    (camera, microphone, desktop); no name."""

    key: str
    label: str
    venue_id: str
    venue_kind: str
    online: bool
    connected_at: AwareDatetime | None = None
    media_state: str | None = None
    tracks: list[str]


class CameraHealth(BaseModel):
    """A room monitoring camera: up, connecting, down or invalid, and why."""

    id: str
    label: str
    state: str
    detail: str | None = None
    codec: str | None = None
    recorded: bool | None = None


class WorkerHealth(BaseModel):
    """The media worker that serves the room, and its grid's pace."""

    index: int
    grid_fps: float | None = None
    grid_frames_skipped: int | None = None


class DeviceWarning(BaseModel):
    """An open warning of a device or a connection."""

    id: str
    kind: str
    seat: str | None = None
    label: str | None = None
    message: str
    started_at: str


class IncidentHealth(BaseModel):
    """An incident of the session (异常情况) and its handling."""

    number: int
    venue: str
    kind: str
    description: str
    handling: list[str]
    result: str | None = None


class SessionHealth(BaseModel):
    """One session's devices and connections."""

    session: HealthSession
    live: bool
    paused: bool
    worker: WorkerHealth | None = None
    venues: list[VenueHealth]
    seats: list[SeatHealth]
    cameras: list[CameraHealth]
    warnings: list[DeviceWarning]
    incidents: list[IncidentHealth]


class HealthSummary(BaseModel):
    """A session in brief."""

    session: HealthSession
    live: bool
    paused: bool
    worker: int | None = None
    seats_online: int
    seats_expected: int
    cameras_down: int
    warnings: int
    incidents_open: int


class HealthList(BaseModel):
    """The sessions running or due soon, live ones first."""

    items: list[HealthSummary]
