"""The committee's workflow through the real app's REST API, with each person's own token: a whole
session from check-in to the end instruction, refusals logged, and the state rebuilt from the
session's log as a restarted server would."""

from __future__ import annotations

from typing import Any

import aiohttp

from roomserver.model import Participant, Role, SessionState
from signaling.workflow import WorkflowService
from tests.integration.conftest import RunningServer

REPORT = "c" * 64


async def call(
    http: aiohttp.ClientSession,
    server: RunningServer,
    who: Participant,
    kind: str,
    **fields: Any,
) -> tuple[int, dict[str, Any]]:
    url = f"{server.base_url}/api/sessions/{server.demo.session.id}/workflow"
    headers = {"Authorization": f"Bearer {server.token(who)}"}
    async with http.post(url, json={"kind": kind, "fields": fields}, headers=headers) as answer:
        return answer.status, await answer.json()


async def test_a_whole_session_from_check_in_to_the_end_instruction(
    room_server: RunningServer,
) -> None:
    server = room_server
    session_id = server.demo.session.id
    host = server.participant(Role.HOST)
    supervisor = server.participant(Role.SUPERVISOR)
    experts = server.experts
    async with aiohttp.ClientSession() as http:
        status, body = await call(http, server, experts[0], "open_check_in")
        assert status == 403 and body["code"] == "role_not_allowed"
        assert (await call(http, server, host, "open_check_in"))[0] == 200
        for expert in experts:
            status, body = await call(http, server, host, "check_in", expert=expert.id)
            assert status == 200, body
        status, body = await call(http, server, host, "check_in", expert=experts[0].id)
        assert status == 409 and body["code"] == "illegal_command"
        assert (await call(http, server, host, "start_election"))[0] == 200
        status, body = await call(http, server, host, "leader_elected", expert=experts[1].id)
        assert body["state"]["leader"] == experts[1].id
        status, body = await call(http, server, experts[1], "start_signing", report_sha256=REPORT)
        assert status == 200 and body["state"]["phase"] == "signing"

        # An incident: a supervisor stops the evaluation at once, the host resumes it.
        status, body = await call(http, server, supervisor, "pause", reason="副场网络中断")
        assert status == 200 and body["state"]["paused"] is True
        status, body = await call(http, server, experts[0], "sign", report_sha256=REPORT)
        assert status == 409 and "暂停" in body["detail"]
        assert (await call(http, server, host, "resume"))[0] == 200

        for expert in experts[:-1]:
            status, body = await call(http, server, expert, "sign", report_sha256=REPORT)
            assert status == 200, body
        status, body = await call(http, server, experts[0], "sign", report_sha256=REPORT)
        assert status == 409  # once each
        status, body = await call(http, server, host, "end")
        assert status == 409 and "1 名专家未签署" in body["detail"]
        assert (await call(http, server, experts[-1], "sign", report_sha256=REPORT))[0] == 200
        status, body = await call(http, server, host, "end")
        assert status == 200 and body["state"]["phase"] == "ended"

    store = server.services.store
    assert (await store.get_session(session_id)).state == SessionState.ENDED
    events = await store.list_events(session_id)
    kinds = [e.data["happened"] for e in events if e.kind == "workflow"]
    assert kinds[0] == "check_in_opened" and kinds[-1] == "end_instruction"
    assert kinds.count("report_signed") == len(experts)
    refused = [e.data["event"] for e in events if e.kind == "request_refused"]
    assert refused.count("workflow:sign") == 2 and "workflow:open_check_in" in refused
    assert any(e.kind == "session_ended" for e in events)

    # A restarted server knows where the session stands: the log is the state.
    rebuilt = await WorkflowService(store, server.services.events).state(session_id)
    assert rebuilt == await server.services.workflow.state(session_id)


async def test_a_token_of_another_session_or_a_malformed_command_is_refused(
    room_server: RunningServer,
) -> None:
    server = room_server
    host = server.participant(Role.HOST)
    url = f"{server.base_url}/api/sessions/not-this-session/workflow"
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {server.token(host)}"}
        async with http.post(url, json={"kind": "open_check_in"}, headers=headers) as answer:
            assert answer.status == 403
        own = f"{server.base_url}/api/sessions/{server.demo.session.id}/workflow"
        async with http.post(own, data=b"not json", headers=headers) as answer:
            assert answer.status == 400
        async with http.post(own, json={"kind": "fly"}, headers=headers) as answer:
            assert answer.status == 409 and "未知" in (await answer.json())["detail"]
        async with http.get(own, headers=headers) as answer:
            assert answer.status == 200 and (await answer.json())["phase"] == "scheduled"
