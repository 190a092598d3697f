"""/metrics of the signaling process shows each media worker's figures with its label."""

from __future__ import annotations

import threading
import time
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from signaling.metrics import Metrics, RoomSample, ThreadCpuCollector, is_loopback, thread_role


def _samples(metrics: Metrics) -> dict[str, list[Any]]:
    """Samples of the rendered text by sample name."""
    out: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(sample)
    return out


def test_a_workers_gauges_counters_and_loop_delays_carry_its_label() -> None:
    worker = Metrics()
    worker.frame_received("v1:1", "camera", 1200)
    worker.frame_received("v1:1", "camera", 800)
    for delay in (0.002, 0.003, 0.7):  # two samples of a loop keeping up, one stall
        worker.loop_delay.observe(delay)
    signaling = Metrics(media=False)
    signaling.set_worker_reports(
        [
            {
                "index": 1,
                "cpu_percent": 55.0,
                "rss_bytes": 1.5e8,
                "loop_lag_s": 0.7,
                "rooms": [{"session_id": "s1", "seats": 10}],
                "metrics": worker.render().decode(),
            }
        ]
    )
    samples = _samples(signaling)

    def value(name: str, **labels: str) -> float:
        found = [s.value for s in samples[name] if labels.items() <= s.labels.items()]
        assert len(found) == 1, (name, labels, samples.get(name))
        return float(found[0])

    assert value("roomserver_worker_cpu_percent", worker="1") == 55.0
    assert value("roomserver_worker_event_loop_lag_seconds", worker="1") == 0.7
    assert value("roomserver_worker_seats", worker="1") == 10
    frames = value("roomserver_inbound_frames_total", worker="1", seat="v1:1", kind="camera")
    assert frames == 2
    assert value("roomserver_inbound_bytes_total", worker="1", kind="camera") == 2000
    delay = "roomserver_worker_event_loop_delay_seconds"
    assert value(f"{delay}_bucket", worker="1", le="0.005") == 2
    assert value(f"{delay}_bucket", worker="1", le="0.5") == 2
    assert value(f"{delay}_bucket", worker="1", le="1.0") == 3
    assert value(f"{delay}_count", worker="1") == 3
    assert abs(value(f"{delay}_sum", worker="1") - 0.705) < 1e-9
    # The signaling process's own loop is measured under the unprefixed name, unlabelled.
    assert "roomserver_event_loop_delay_seconds_count" in samples


def test_a_worker_without_seats_does_not_take_the_labels_of_anothers_frames() -> None:
    idle, busy = Metrics(), Metrics()
    busy.frame_received("v1:1", "camera", 1200)
    signaling = Metrics(media=False)
    signaling.set_worker_reports(
        [
            {"index": i, "rooms": [], "metrics": worker.render().decode()}
            for i, worker in enumerate((idle, busy))
        ]
    )
    frames = _samples(signaling)["roomserver_inbound_frames_total"]
    assert [(s.labels, s.value) for s in frames] == [
        ({"seat": "v1:1", "kind": "camera", "worker": "1"}, 1.0)
    ]


def test_rooms_are_shown_by_worker_without_their_sessions() -> None:
    """Nothing a scraper reads names a session; a room's figures are its worker's."""
    metrics = Metrics(media=False)
    rooms = [
        RoomSample(
            worker=0,
            seats_online=10,
            grid_fps=15.0,
            grid_frames_skipped=2,
            analysis_interval_s=1.0,
            analysis_samples=100,
        ),
        RoomSample(
            worker=0,
            seats_online=4,
            grid_fps=12.5,
            grid_frames_skipped=3,
            analysis_interval_s=2.5,
            analysis_samples=50,
        ),
        RoomSample(worker=1, seats_online=6, grid_fps=15.0, grid_frames_skipped=0),
    ]
    metrics.add_room_source(lambda: rooms)
    samples = _samples(metrics)

    def values(name: str) -> dict[str, float]:
        return {s.labels.get("worker", ""): s.value for s in samples[name]}

    assert values("roomserver_rooms") == {"": 3}
    assert values("roomserver_seats_online") == {"": 20}
    assert values("roomserver_grid_fps") == {"0": 12.5, "1": 15.0}  # each worker's slowest
    assert values("roomserver_grid_frames_skipped") == {"0": 5, "1": 0}
    assert values("roomserver_analysis_interval_seconds") == {"0": 2.5}
    assert values("roomserver_analysis_samples_total") == {"0": 150}
    labels = {k for found in samples.values() for s in found for k in s.labels}
    assert labels <= {"worker", "code", "le"}, labels


def test_only_this_machine_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.8.9.1") and is_loopback("::1")
    assert is_loopback("::ffff:127.0.0.1")
    assert not is_loopback("10.1.2.3") and not is_loopback("::ffff:10.1.2.3")
    assert not is_loopback(None) and not is_loopback("") and not is_loopback("unix")


def test_thread_roles_are_the_first_word_of_a_threads_name() -> None:
    assert thread_role("MainThread") == "main"
    assert thread_role("grid-2b7c0e1f-0c4d_0") == "grid"
    assert thread_role("recorder-2b7c0e1f-3-camera") == "recorder"
    assert thread_role("asyncio_3") == "asyncio"
    assert thread_role("_x") == "other"


def test_thread_cpu_is_summed_by_role_and_kept_when_a_thread_ends() -> None:
    collector = ThreadCpuCollector()
    busy, release = threading.Event(), threading.Event()

    def work() -> None:
        started = time.thread_time()
        while time.thread_time() - started < 0.2:
            sum(range(1000))
        busy.set()
        release.wait()

    thread = threading.Thread(target=work, name="mixminus-test_0")
    thread.start()
    assert busy.wait(10)
    while_alive = collector.totals()
    release.set()
    thread.join()
    after = collector.totals()
    assert while_alive["mixminus"] >= 0.15
    assert after["mixminus"] >= while_alive["mixminus"]  # a counter: the ended thread stays
    assert after["main"] > 0
    worker = Metrics()
    samples = _samples(worker)["roomserver_thread_cpu_seconds_total"]
    assert {s.labels["thread"] for s in samples} >= {"main"}


def test_a_closed_rooms_seats_leave_the_series_and_others_stay() -> None:
    worker = Metrics()
    for seat in ("v1:1", "v1:2", "v2:1"):
        worker.frame_received(seat, "camera", 1000)
        worker.frame_received(seat, "microphone", 100)
    worker.forget_seats({"v1:1", "v1:2"})
    seats = {s.labels["seat"] for s in _samples(worker)["roomserver_inbound_frames_total"]}
    assert seats == {"v2:1"}
    worker.frame_received("v1:1", "camera", 1000)  # the seat of a later session counts anew
    again = [
        s for s in _samples(worker)["roomserver_inbound_frames_total"] if s.labels["seat"] == "v1:1"
    ]
    assert [s.value for s in again] == [1.0]
