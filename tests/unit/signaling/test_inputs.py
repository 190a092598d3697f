"""The first check of every input: strict JSON, clean values, path parameters by pattern."""

from __future__ import annotations

import pytest

from roomserver.canonical import canonical_json
from roomserver.errors import InvalidRequest
from signaling.gate.inputs import INVALID_EVENT, SocketJson, clean, loads, path_params
from signaling.wire import WireError, encode_frame


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": "\\ud800"}',
        b'{"\\udfff": 1}',
        b'{"a": NaN}',
        b"[Infinity]",
        b"[-Infinity]",
        b'{"a": "\\u0000"}',
        b"[" * 50 + b"]" * 50,
        b"[" * 100_000 + b"]" * 100_000,
        b"\xff",
        b"{",
        b"1" * 5000,  # Python refuses integers of over 4,300 digits
        b'{"n": 9007199254740992}',  # beyond a double's exact integers: no RFC 8785 form
        b'{"n": [-9007199254740992]}',
    ],
)
def test_what_the_archive_could_not_write_is_refused(raw: bytes) -> None:
    with pytest.raises(InvalidRequest):
        loads(raw)


def test_what_passes_can_always_be_hashed_and_framed() -> None:
    value = loads('{"text": "评标 ✓", "n": [1, 2.5, null, true], "deep": [[[[1]]]]}'.encode())
    assert canonical_json(value)
    assert encode_frame({"kind": "event", "params": value})


def test_python_values_are_checked_as_well() -> None:
    for bad in (float("nan"), {"a": float("inf")}, ["\ud800"], {1: "x"}, {"a": object()}):
        with pytest.raises(InvalidRequest):
            clean(bad)
    clean({"a": [1, "x", None, True, 1.5]})


def test_the_worker_framing_refuses_a_value_as_a_request_not_a_dead_channel() -> None:
    for bad in ({"x": "\ud800"}, {"x": float("nan")}):
        with pytest.raises(WireError) as caught:
            encode_frame({"kind": "request", "params": bad})
        assert caught.value.code == "invalid_request"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("session_id", "a" * 3000),
        ("session_id", "../x"),
        ("session_id", "a/b"),
        ("session_id", "\ud800"),
        ("part", "1e3"),
        ("path", "part-0001/../../secrets/token.key"),
        ("path", "/etc/passwd"),
        ("nonexistent", "x"),
    ],
)
def test_path_parameters_follow_their_patterns(name: str, value: str) -> None:
    with pytest.raises(InvalidRequest):
        path_params({name: value})


def test_good_path_parameters_pass() -> None:
    path_params(
        {
            "session_id": "519be86609bb4e7a85dd0f3717efd697",
            "path": "part-0001/media/v1-2-camera/000001.webm",
            "part": "1",
        }
    )


def test_socket_payloads_that_are_not_clean_or_name_a_reserved_event_become_invalid() -> None:
    assert SocketJson.loads('["offer", {"sdp": NaN}]') == [INVALID_EVENT]
    assert SocketJson.loads('["connect", {}]') == [INVALID_EVENT]
    assert SocketJson.loads('["offer", {"type": "offer"}]') == ["offer", {"type": "offer"}]
    assert SocketJson.loads('{"token": "x"}') == {"token": "x"}
