"""The server's log lines: key=value text for a person, one JSON object a line for a collector."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from signaling.logs import setup_logging


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_json_lines_carry_time_level_logger_message_and_the_worker(
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_logging("INFO", "json", worker=4242)
    logging.getLogger("signaling.services.rooms").warning("会场 %s 已迁移", "沈阳第一评标室")
    logging.getLogger("aioice.ice").info("not shown: a library's chatter")
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert line["level"] == "WARNING"
    assert line["logger"] == "signaling.services.rooms"
    assert line["message"] == "会场 沈阳第一评标室 已迁移"
    assert line["worker"] == 4242
    assert line["time"]


def test_text_lines_are_key_value(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO")
    logging.getLogger("signaling.app").info("server started")
    err = capsys.readouterr().err
    assert "level=INFO logger=signaling.app server started" in err
