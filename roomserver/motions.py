"""Discussion and open votes on motions (表决, 7.2.3-2): opened by the leader or the host, voted
openly by each expert (or abstained), closed when all have voted, or earlier by the leader or
the host with the votes cast so far, or cancelled with a reason and no result."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from roomserver.committee import (
    MAX_OPTIONS,
    Command,
    Happened,
    Motion,
    Phase,
    Result,
    WorkflowState,
    own_expert,
    require_leader_or_host,
    require_phase,
    text_field,
)
from roomserver.errors import IllegalCommand


def open_motion(state: WorkflowState, command: Command) -> Result:
    """The leader or host puts a question to the vote."""
    require_leader_or_host(state, command, "发起表决")
    require_phase(state, Phase.EVALUATION)
    if state.open_motion() is not None:
        raise IllegalCommand("上一项表决尚未结束")
    title = text_field(command, "title", "表决事项")
    options = command.fields.get("options")
    if (
        not isinstance(options, list)
        or not 2 <= len(options) <= MAX_OPTIONS
        or not all(isinstance(o, str) and o.strip() and len(o) <= 50 for o in options)
        or len({o.strip() for o in options}) != len(options)
    ):
        raise IllegalCommand(f"表决选项应为 2 至 {MAX_OPTIONS} 个互不相同的选项")
    motion = Motion(
        number=len(state.motions) + 1, title=title, options=tuple(o.strip() for o in options)
    )
    return replace(state, motions=(*state.motions, motion)), Happened(
        "motion_opened",
        {"motion": motion.number, "title": title, "options": list(motion.options)},
    )


def the_open_motion(state: WorkflowState, command: Command) -> Motion:
    """The open motion, which must be the one the command names."""
    motion = state.open_motion()
    if motion is None or command.fields.get("motion") != motion.number:
        raise IllegalCommand("该表决已结束或不存在")
    return motion


def with_motion(state: WorkflowState, motion: Motion) -> WorkflowState:
    """The state with `motion` in place of the one of its number."""
    return replace(
        state, motions=tuple(motion if m.number == motion.number else m for m in state.motions)
    )


def motion_result(motion: Motion) -> dict[str, Any]:
    """A closed motion's published result: votes per option and abstentions."""
    return {"result": motion.counts(), "abstained": motion.abstained()}


def vote(state: WorkflowState, command: Command) -> Result:
    """An expert's open vote on the open motion, or an abstention."""
    expert = own_expert(state, command, "表决")
    require_phase(state, Phase.EVALUATION)
    motion = the_open_motion(state, command)
    if expert in motion.voters():
        raise IllegalCommand("已对该事项表决")
    data: dict[str, Any] = {"motion": motion.number, "expert": expert}
    if command.fields.get("abstain") is True:
        if command.fields.get("option") is not None:
            raise IllegalCommand("弃权时不能再选择选项")
        option, data["abstain"] = None, True
    else:
        option = command.fields.get("option")
        if option not in motion.options:
            raise IllegalCommand("所选选项不在表决选项中")
        data["option"] = option
    updated = replace(motion, votes=(*motion.votes, (expert, option)))
    if state.seated <= updated.voters():
        updated = replace(updated, closed=True)
        data.update(motion_result(updated))
    return with_motion(state, updated), Happened(
        "motion_closed" if updated.closed else "motion_vote", data
    )


def close_motion(state: WorkflowState, command: Command) -> Result:
    """The leader or host closes a motion with the votes cast so far; the result is published."""
    require_leader_or_host(state, command, "结束表决")
    require_phase(state, Phase.EVALUATION)
    motion = replace(the_open_motion(state, command), closed=True)
    missing = sorted(state.seated - motion.voters())
    return with_motion(state, motion), Happened(
        "motion_closed", {"motion": motion.number, **motion_result(motion), "not_voted": missing}
    )


def cancel_motion(state: WorkflowState, command: Command) -> Result:
    """The leader or host withdraws a motion: it ends without a result."""
    require_leader_or_host(state, command, "撤销表决")
    require_phase(state, Phase.EVALUATION)
    motion = the_open_motion(state, command)
    reason = text_field(command, "reason", "撤销原因")
    cancelled = replace(motion, closed=True, cancelled=reason)
    return with_motion(state, cancelled), Happened(
        "motion_cancelled", {"motion": motion.number, "reason": reason}
    )
