"""The API describes itself: an OpenAPI 3.1 document read off the routes as registered, whose
body models are the ones the server applies before any handler runs."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
from openapi_spec_validator import validate

from signaling.gate.guard import ENDPOINTS
from tests.integration.conftest import RunningServer


async def _document(server: RunningServer) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.base_url}/api/openapi.json") as r:
            assert r.status == 200
            document: dict[str, Any] = await r.json()
    return document


async def test_the_document_is_valid_openapi_and_names_every_api_route(
    room_server: RunningServer,
) -> None:
    document = await _document(room_server)
    validate(document)  # raises on anything the OpenAPI 3.1 schema refuses
    assert document["openapi"] == "3.1.0"
    registered = {
        (method.lower(), path)
        for method, path in room_server.app[ENDPOINTS]
        if path.startswith("/api/") or path in ("/healthz", "/livez", "/readyz")
    }
    documented = {
        (method, path) for path, methods in document["paths"].items() for method in methods
    }
    assert registered == documented
    operations = [op for methods in document["paths"].values() for op in methods.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids)), "operation ids are unique"
    for op in operations:
        assert op["tags"] and re.search(r"[\u4e00-\u9fff]", op["summary"]), op["operationId"]
        assert {"action", "roles", "reach"} <= set(op["x-policy"]), op["operationId"]


async def test_bodies_and_queries_are_described_by_the_models_the_server_applies(
    room_server: RunningServer,
) -> None:
    document = await _document(room_server)
    schemas = document["components"]["schemas"]
    end = document["paths"]["/api/sessions/{session_id}/end"]["post"]
    ref = end["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/EndRequest"
    assert "reason" in schemas["EndRequest"]["properties"]
    activity = document["paths"]["/api/sessions/{session_id}/activity"]["get"]
    assert {p["name"] for p in activity["parameters"]} >= {"session_id", "after"}
    session_param = next(p for p in activity["parameters"] if p["name"] == "session_id")
    assert session_param["in"] == "path" and session_param["schema"]["pattern"]
    # Who may call is the policy table's row.
    assert end["x-policy"] == {
        "action": "session_end",
        "roles": ["admin", "host"],
        "reach": "session",
    }
    assert document["paths"]["/api/openapi.json"]["get"]["security"] == []


async def test_a_body_of_the_wrong_shape_is_refused_before_the_handler(
    room_server: RunningServer,
) -> None:
    session_id = room_server.demo.session.id
    admin = {"Authorization": f"Bearer {room_server.tokens.issue_admin()}"}
    before = await room_server.services.store.list_events(session_id=session_id)
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{room_server.base_url}/api/sessions/{session_id}/end",
            json={"reason": 42, "extra": True},
            headers=admin,
        ) as r:
            assert r.status == 400
            assert r.content_type == "application/problem+json"
            problem = await r.json()
    assert problem["code"] == "invalid_request"
    after = await room_server.services.store.list_events(session_id=session_id)
    assert [e.kind for e in after] == [e.kind for e in before], "nothing happened"
    session = await room_server.services.store.get_session(session_id)
    assert session.state != "ended"


async def test_the_api_page_is_served(room_server: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{room_server.base_url}/api/docs") as r:
            assert r.status == 200
            assert r.content_type == "text/html"
            assert "接口说明" in await r.text()
