"""The signals between the parts of the signaling process: wiring ends before anything is told."""

from __future__ import annotations

import logging

import pytest

from signaling.services.signals import AsyncSignal, Signal, Signals


def test_handlers_are_told_in_the_order_they_connected() -> None:
    told: list[tuple[str, int]] = []
    signal: Signal[[int]] = Signal("numbers")
    signal.connect(lambda n: told.append(("first", n)))
    signal.connect(lambda n: told.append(("second", n)))
    signal.freeze()
    signal(7)
    assert told == [("first", 7), ("second", 7)]


def test_a_handler_connected_after_the_server_was_built_is_refused() -> None:
    signals = Signals()
    signals.freeze()
    with pytest.raises(RuntimeError, match="roster_changed: connected after"):
        signals.roster_changed.connect(lambda room: None)


def test_nothing_is_told_before_the_server_is_built() -> None:
    signals = Signals()
    with pytest.raises(RuntimeError, match="room_changed: sent before"):
        signals.room_changed(None)


def test_a_failing_notice_handler_is_logged_and_the_others_are_still_told(
    caplog: pytest.LogCaptureFixture,
) -> None:
    told: list[str] = []
    signal: Signal[[str]] = Signal("news")

    def broken(news: str) -> None:
        raise ValueError(news)

    signal.connect(broken)
    signal.connect(told.append)
    signal.freeze()
    with caplog.at_level(logging.ERROR):
        signal("roster")
    assert told == ["roster"]
    assert "a handler of news failed" in caplog.text


async def test_an_awaited_handler_that_fails_stops_the_sender() -> None:
    told: list[str] = []
    signal: AsyncSignal[[str]] = AsyncSignal("step")

    async def broken(step: str) -> None:
        raise ValueError(step)

    async def after(step: str) -> None:
        told.append(step)

    signal.connect(broken)
    signal.connect(after)
    signal.freeze()
    with pytest.raises(ValueError, match="seal"):
        await signal("seal")
    assert told == []


def test_silent_signals_take_no_handlers_and_tell_nobody() -> None:
    signals = Signals.silent()
    signals.event_logged(object())  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        signals.event_logged.connect(lambda event: None)
