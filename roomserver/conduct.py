"""The conduct of a bid opening (7.2.6, 8.3): the witness urging the host, muting and unmuting
speakers, pauses, notices to every bidder and incidents (异常情况) with their handling and
result. The rules are those the module docstring of ``roomserver.opening`` lists; ``apply``
there dispatches to the handlers here.
"""

from __future__ import annotations

from dataclasses import replace

from roomserver.errors import IllegalCommand
from roomserver.model import Role
from roomserver.openingstate import (
    HOST,
    HOST_OR_WITNESS,
    INCIDENT_KINDS,
    MAX_NAME,
    Command,
    Happened,
    OpeningIncident,
    OpeningState,
    Result,
    number_field,
    require_role,
    text_field,
)

__all__ = [
    "allow_public",
    "close_incident",
    "handle_incident",
    "mute",
    "notice",
    "open_incident",
    "pause",
    "resume",
    "unmute",
    "urge",
]


# -- the conduct of the opening: urging, muting, pauses, notices, incidents (7.2.6) ---------------


def urge(state: OpeningState, command: Command) -> Result:
    """The witness urges the host (见证人提醒): a notice in the record."""
    require_role(command, frozenset({Role.WITNESS}), "只有见证人可以提醒主持人")
    text = text_field(command, "text", "提醒内容")
    return state, Happened("host_urged", {"witness": command.actor, "text": text})


def mute(state: OpeningState, command: Command) -> Result:
    """Host or witness mute a speaker (a participant id), with a reason."""
    require_role(command, HOST_OR_WITNESS, "只有主持人或见证人可以禁言")
    participant = text_field(command, "participant", "被禁言的参加人", MAX_NAME)
    if participant in state.muted:
        raise IllegalCommand("该参加人已被禁言")
    reason = text_field(command, "reason", "禁言原因")
    return replace(state, muted={**state.muted, participant: reason}), Happened(
        "speaker_muted",
        {
            "participant": participant,
            "reason": reason,
            "by": command.actor,
            "role": str(command.role),
        },
    )


def unmute(state: OpeningState, command: Command) -> Result:
    """Host or witness lift a speaker's mute."""
    require_role(command, HOST_OR_WITNESS, "只有主持人或见证人可以解除禁言")
    participant = command.fields.get("participant")
    if not isinstance(participant, str) or participant not in state.muted:
        raise IllegalCommand("该参加人未被禁言")
    muted = {p: r for p, r in state.muted.items() if p != participant}
    return replace(state, muted=muted), Happened(
        "speaker_unmuted",
        {"participant": participant, "by": command.actor, "role": str(command.role)},
    )


def pause(state: OpeningState, command: Command) -> Result:
    """Host or witness pause the opening, with a reason."""
    require_role(command, HOST_OR_WITNESS, "只有主持人或见证人可以暂停开标")
    if state.paused:
        raise IllegalCommand("开标已暂停")
    reason = text_field(command, "reason", "暂停原因")
    return replace(state, paused=True, pause_reason=reason), Happened(
        "opening_paused", {"reason": reason, "phase": str(state.phase)}
    )


def resume(state: OpeningState, command: Command) -> Result:
    """The host resumes a paused opening."""
    require_role(command, HOST, "只有主持人可以恢复开标")
    if not state.paused:
        raise IllegalCommand("开标未暂停")
    return replace(state, paused=False, pause_reason=None), Happened(
        "opening_resumed", {"phase": str(state.phase)}
    )


def allow_public(state: OpeningState, command: Command) -> Result:
    """The host opens the hall's live broadcast to the public (公开直播) or closes it again,
    with a reason when closing; bidders, tenderer and supervisors watch either way."""
    require_role(command, HOST, "只有主持人可以开放或关闭公开直播")
    public = command.fields.get("public")
    if not isinstance(public, bool):
        raise IllegalCommand("请说明是否开放公开直播（public 为 true 或 false）")
    if public == state.public:
        raise IllegalCommand("公开直播已开放" if public else "公开直播未开放")
    data: dict[str, object] = {"public": public}
    if not public:
        data["reason"] = text_field(command, "reason", "关闭公开直播的原因")
    return replace(state, public=public), Happened("public_viewing_changed", data)


def notice(state: OpeningState, command: Command) -> Result:
    """The host sends a notice to every bidder."""
    require_role(command, HOST, "只有主持人可以向全体投标人发布通知")
    return state, Happened("notice", {"text": text_field(command, "text", "通知内容")})


def open_incident(state: OpeningState, command: Command) -> Result:
    """Host or witness record an abnormal event (异常情况)."""
    require_role(command, HOST_OR_WITNESS, "只有主持人或见证人可以登记异常情况")
    kind = command.fields.get("kind")
    if kind not in INCIDENT_KINDS:
        raise IllegalCommand("异常类型应为平台故障或其他")
    description = text_field(command, "description", "异常情况描述")
    incident = OpeningIncident(len(state.incidents) + 1, str(kind), description)
    return replace(state, incidents=(*state.incidents, incident)), Happened(
        "incident_opened",
        {"incident": incident.number, "kind": kind, "description": description},
    )


def _incident(state: OpeningState, command: Command, what: str) -> OpeningIncident:
    require_role(command, HOST_OR_WITNESS, f"只有主持人或见证人可以{what}")
    number = number_field(command, "incident", "异常情况编号")
    incident = next((i for i in state.incidents if i.number == number), None)
    if incident is None:
        raise IllegalCommand("没有该异常情况记录")
    if incident.result is not None:
        raise IllegalCommand("该异常情况已处理完毕")
    return incident


def _with_incident(state: OpeningState, incident: OpeningIncident) -> OpeningState:
    incidents = tuple(incident if i.number == incident.number else i for i in state.incidents)
    return replace(state, incidents=incidents)


def handle_incident(state: OpeningState, command: Command) -> Result:
    """Host or witness record how an incident is being handled."""
    incident = _incident(state, command, "记录处理情况")
    handling = text_field(command, "handling", "处理情况")
    updated = replace(incident, handling=(*incident.handling, handling))
    return _with_incident(state, updated), Happened(
        "incident_handled", {"incident": incident.number, "handling": handling}
    )


def close_incident(state: OpeningState, command: Command) -> Result:
    """Host or witness record how an incident ended."""
    incident = _incident(state, command, "记录处理结果")
    result = text_field(command, "result", "处理结果")
    return _with_incident(state, replace(incident, result=result)), Happened(
        "incident_closed", {"incident": incident.number, "result": result}
    )
