"""Voice benchmark: a word spoken at one seat, heard at the others through the mix-minus.

    python bench/voice.py [--duration 30] [--load N] [--chromium]

A fresh server (loopback, ICE on 127.0.0.1, one media worker, pinned to one CPU when the
machine has two or more) and a load session of ``3 + --load`` experts. One synthetic seat (this
process) speaks: silence with a 100 ms tone every second (``media.testing.synthetic
BurstAudioTrack``), each burst's start noted when aiortc takes its first frame to encode and
send. Two synthetic seats (this process) listen for the burst's tone in their mix (a Goertzel
filter at its frequency: the other seats' steady tones are lower) and note when it begins. The
other ``--load`` seats (bench/room.py's, one process: camera with preview, desktop, a steady
tone) make the room a full one, and so make the mix work for its place in the worker's loop.

Mouth to ear is from a burst's start to its onset at a listener (same machine, same clock);
target p95 <= 80 ms on loopback. One listener hears through aiortc's receiver (its jitter buffer
holds four 20 ms frames before it gives one out; a browser's adapts, and is usually shorter on
loopback), the other takes the mix's frames as they arrive and decodes them at once: the
server's and the network's share alone. The server's stages are read from its
``roomserver_voice_stage_seconds`` histogram over the window (every seat's voice, means and p95
bounds): from the seat's clock (its sender reports) to the frame's arrival, its wait in the
mixer's buffer for the tick that takes it, the tick's mixing, the encoding of the seats' mixes,
each packet's wait for a seat's sender. The server's share is bounded by what it holds on purpose:
the jitter buffer before the mix (``audio_prefill_ms``, 40 ms by default) and the wait for the
mix's 20 ms tick; the rest is the two Opus coders, the listener's jitter buffer and the event
loops in between. With ``--chromium`` a seat page in headless Chromium listens as well, through
an analyser on the room's audio as the page plays it; on a 2-CPU machine it shares the client
CPU with the synthetic seats, whose timing it then disturbs (their figures grew from about 75 to
about 200 ms here, and the page's analyser missed onsets), so it is not in the default run.
The page's own statistics are printed too (its jitter buffer's and playout's mean delay over
the samples it played, ``inbound-rtp`` and ``media-playout``): what a browser adds to the
median at the listener's interface, without depending on its analyser.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import statistics
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    cli,
    cpu_split,
    free_port,
    get,
    machine,
    start_server,
    stop_processes,
    wait_healthy,
)
from bench.join import Chromium, load_seats, percentile, wait_for  # noqa: E402
from bench.metrics import Metrics, histogram_window, parse_metrics  # noqa: E402
from media.config import MediaConfig  # noqa: E402
from media.tap import EncodedFrame  # noqa: E402
from media.testing.synthetic import BurstAudioTrack, CounterVideoTrack, ToneAudioTrack  # noqa: E402
from signaling.metrics import VOICE_STAGES  # noqa: E402
from signaling.testing.seat import SyntheticSeat  # noqa: E402
from tests.network.chromium import KEEP_PEERS  # noqa: E402

TARGET_S = 0.080
# The server's histogram of the voice's stages (VOICE_STAGES), as a worker's.
STAGES_METRIC = "roomserver_worker_voice_stage_seconds"
# In the Chromium listener's seat page: the room's audio as the page plays it (after the
# browser's jitter buffer and decoder), through an analyser; a rise of the burst's frequency
# bin above LOUD_DB after a quieter look is an onset, on the machine's clock (ms).
CHROMIUM_EAR = """
window.__ear = {onsets: [], listening: false};
setInterval(() => {
  const ear = window.__ear;
  const audio = document.querySelector('audio[data-role=room-audio]');
  if (ear.listening || !audio || !audio.srcObject) return;
  ear.listening = true;
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 256;
  analyser.smoothingTimeConstant = 0;
  context.createMediaStreamSource(audio.srcObject).connect(analyser);
  const bins = new Float32Array(analyser.frequencyBinCount);
  const bin = Math.round(%(hz)f * analyser.fftSize / context.sampleRate);
  let loud = false;
  setInterval(() => {
    analyser.getFloatFrequencyData(bins);
    const now = bins[bin] > %(db)f;
    if (now && !loud) ear.onsets.push(performance.timeOrigin + performance.now());
    loud = now;
  }, 2);
}, 50);
"""
# The page's own account of the room's audio (its statistics, summed over its connections): how
# long the samples it played waited in its jitter buffer, and in playout (where reported).
CHROMIUM_BUFFERS = """async () => {
  const out = {buffered: 0, emitted: 0, playout: 0, played: 0};
  for (const pc of window.__peers) {
    for (const s of (await pc.getStats()).values()) {
      if (s.type === "inbound-rtp" && s.kind === "audio") {
        out.buffered += s.jitterBufferDelay || 0;
        out.emitted += s.jitterBufferEmittedCount || 0;
      } else if (s.type === "media-playout") {
        out.playout += s.totalPlayoutDelay || 0;
        out.played += s.totalSamplesCount || 0;
      }
    }
  }
  return out;
}"""
LOUD_DB = -45.0
BURST_HZ = 1000.0
# The Goertzel power of a tone of amplitude A is about A*A/4: the burst (0.3) gives 0.02, a frame
# half in the burst a quarter of that.
ONSET_POWER = 0.002
# A burst heard later than this after it was spoken is taken for a lost one, not a delay.
MATCH_WITHIN_S = 0.5


class Ear:
    """Hears the bursts' tone in a listener's mix (the other seats' steady tones are lower):
    the Goertzel power at the burst's frequency, an onset where it rises above the threshold
    after a frame below it."""

    def __init__(self, freq_hz: float = BURST_HZ) -> None:
        self.freq_hz = freq_hz
        self.onsets: list[float] = []
        self._loud = False

    def __call__(self, mono: np.ndarray, rate: int, at: float) -> None:
        if not mono.size:
            return
        n = mono.size
        wave = np.exp(-2j * np.pi * self.freq_hz * np.arange(n) / rate)
        power = float(abs(np.dot(mono.astype(np.float64), wave)) ** 2) / (n * n)
        loud = power > ONSET_POWER
        if loud and not self._loud:
            self.onsets.append(at)
        self._loud = loud


class EncodedEar(Ear):
    """The same ear on the mix's Opus frames as they arrive, decoded here (before any jitter
    buffer): what the server and the network take, without the listener's share."""

    def __init__(self) -> None:
        super().__init__()
        self._decoder = av.CodecContext.create("opus", "r")

    def frame(self, frame: EncodedFrame, at: float) -> None:
        for decoded in self._decoder.decode(av.Packet(frame.data)):
            samples = decoded.to_ndarray().astype(np.float32)
            mono = samples.mean(axis=0) if samples.shape[0] > 1 else samples.reshape(-1)
            if np.issubdtype(decoded.to_ndarray().dtype, np.integer):
                mono /= 32768.0
            self(mono, decoded.sample_rate, at)


def delays(spoken: list[float], heard: list[float]) -> list[float]:
    """Each onset heard, from the latest burst spoken before it (within MATCH_WITHIN_S)."""
    found = []
    for at in heard:
        index = bisect.bisect_right(spoken, at) - 1
        if index >= 0 and at - spoken[index] <= MATCH_WITHIN_S:
            found.append(at - spoken[index])
    return found


async def measure(
    base_url: str, tokens: list[str], duration: float
) -> tuple[list[float], list[float], list[float], tuple[Metrics, Metrics]]:
    """The speaker and two listeners for `duration` s: the delays heard through aiortc's
    receiver (jitter buffer and decoder), the same as the mix arrived, when each burst was
    spoken, and the server's metrics at the window's start and end."""
    voice = BurstAudioTrack(BURST_HZ)
    seats = [
        SyntheticSeat(
            base_url,
            token,
            name=f"voice-{index}",
            camera=CounterVideoTrack((60 * index, 120, 80)),
            microphone=voice if index == 0 else ToneAudioTrack(440, amplitude=0.0),
            decode_grid=False,
            # The second listener takes the mix's frames as they arrive.
            decode=index != 2,
        )
        for index, token in enumerate(tokens)
    ]
    ear, arrived = Ear(), EncodedEar()
    seats[1].on_audio = ear
    seats[2].on_audio_frame = arrived.frame
    try:
        for seat in seats:
            await seat.start()
        await asyncio.sleep(2.0)  # the listeners' jitter buffers settle; nothing to wait on
        scrape = f"{base_url}/metrics"
        metrics0 = parse_metrics(await asyncio.to_thread(get, scrape))
        first = len(voice.bursts)
        await asyncio.sleep(duration)
        spoken = voice.bursts[first:]
        metrics1 = parse_metrics(await asyncio.to_thread(get, scrape))
        heard = delays(spoken, [t for t in ear.onsets if t >= spoken[0]])
        come = delays(spoken, [t for t in arrived.onsets if t >= spoken[0]])
        return heard, come, spoken, (metrics0, metrics1)
    finally:
        for seat in seats:
            await seat.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument(
        "--load", type=int, help="more seats in the room (default: as many as make it 10)"
    )
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument(
        "--chromium",
        action="store_true",
        help="a Chromium seat page listens too (it shares the client CPU with the seats)",
    )
    args = parser.parse_args(argv)
    if args.load is None:
        args.load = 10 - 3 - (1 if args.chromium else 0)
    where = machine()
    server_cpus, client_cpus = cpu_split(not args.no_pin)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="bench-voice-") as tmp:
        common = ["--data-dir", str(Path(tmp) / "data"), "--bind", f"127.0.0.1:{port}"]
        seats = 3 + args.load + (1 if args.chromium else 0)
        links = json.loads(cli("load-session", "--seats", str(seats), *common))
        experts = [x for x in links if x.get("role") == "expert"]
        server = start_server(common, Path(tmp) / "server.log", workers=1, cpus=server_cpus)
        load = None
        chromium: Chromium | None = None
        page = None
        buffers0: dict[str, float] = {}
        buffers: dict[str, float] = {}
        try:
            wait_healthy(base_url, server)
            if args.load:
                load = load_seats(base_url, experts[3 : 3 + args.load], client_cpus)
            if args.chromium:
                chromium = Chromium(client_cpus)
                context, page, _ = chromium.page(
                    str(experts[-1]["url"]),
                    KEEP_PEERS,
                    CHROMIUM_EAR % {"hz": BURST_HZ, "db": LOUD_DB},
                )
                wait_for(page, "window.__ear.listening")
                buffers0 = page.evaluate(CHROMIUM_BUFFERS)
            if client_cpus:
                os.sched_setaffinity(0, client_cpus)
            # Playwright's synchronous API keeps an event loop in this thread: the synthetic
            # seats run in a thread of their own.
            with ThreadPoolExecutor(1) as pool:
                found, come, bursts, scrapes = pool.submit(
                    asyncio.run,
                    measure(base_url, [str(x["token"]) for x in experts[:3]], args.duration),
                ).result()
            spoken = len(bursts)
            played: list[float] = []
            if page is not None:
                buffers = page.evaluate(CHROMIUM_BUFFERS)
                onsets = page.evaluate("() => window.__ear.onsets")
                played = delays(bursts, [t / 1000 for t in onsets if t / 1000 >= bursts[0]])
        finally:
            if chromium is not None:
                chromium.close()
            if load is not None:
                load[1].send("stop")
                load[0].join(30)
            stop_processes([], [], server)
    prefill = MediaConfig().audio_prefill_ms
    print(f"voice benchmark on {where}; server on CPUs {server_cpus or 'any'}")
    print(
        f"a room of {seats} seats; one speaks a 100 ms tone each second, "
        f"{seats - 1 - args.load} listen ({spoken} bursts over {args.duration:.0f} s)"
    )
    for name, values in (
        *([("mouth to ear, a Chromium seat page (as the page plays it)", played)] if page else []),
        ("mouth to ear, an aiortc listener (its jitter buffer and decoder)", found),
        ("mouth to the listener's network interface (server and network only)", come),
    ):
        if not values:
            print(f"  {name}: nothing heard")
            continue
        p95 = percentile(values, 95)
        print(
            f"  {name}: p50 {statistics.median(values) * 1000:.0f} ms, "
            f"p95 {p95 * 1000:.0f} ms, max {max(values) * 1000:.0f} ms "
            f"(target p95 <= {TARGET_S * 1000:.0f} ms: {'met' if p95 <= TARGET_S else 'NOT met'})"
        )
    print(
        f"  held on purpose by the server: a {prefill} ms jitter buffer before the mix and up to "
        "20 ms for the mix's tick"
    )
    print_budget(histogram_window(*scrapes, STAGES_METRIC, "stage"), found, come)
    if page is not None:
        print_page_buffers(buffers0, buffers, come)
    return 0


def print_page_buffers(first: dict[str, float], last: dict[str, float], come: list[float]) -> None:
    """What the Chromium page says its jitter buffer and playout held the room's audio (mean
    over the samples it played in the run), and the mouth to ear it makes with the median as
    the mix arrives."""

    def mean(total: str, count: str) -> float | None:
        n = last[count] - first[count]
        return (last[total] - first[total]) / n if n > 0 else None

    buffered = mean("buffered", "emitted")
    playout = mean("playout", "played")
    if buffered is None:
        print("  the Chromium page's jitter buffer: no audio played")
        return
    held = buffered + (playout or 0.0)
    line = f"  the Chromium page's own statistics: jitter buffer {buffered * 1000:.0f} ms"
    line += ", playout not reported" if playout is None else f", playout {playout * 1000:.0f} ms"
    if come:
        line += (
            f"; with the median to its interface, mouth to ear about "
            f"{(statistics.median(come) + held) * 1000:.0f} ms (its decoding not counted)"
        )
    print(line)


def print_budget(
    stages: dict[str, tuple[float, float, float]], found: list[float], come: list[float]
) -> None:
    """The voice's delay stage by stage: the server's (its histograms over the window, every
    seat's voice), then what the medians leave to the network and the listener."""
    known = [s for s in VOICE_STAGES if s in stages]
    if not known:
        print("  voice stages (server): none reported")
        return
    print(
        "  voice stages (server, every seat, window): "
        + "  ".join(
            f"{s} {stages[s][1] * 1000:.1f} ms (p95 <= {stages[s][2] * 1000:.0f} ms)" for s in known
        )
        + "  (means)"
    )
    server = sum(stages[s][1] for s in known)
    if come:
        rest = statistics.median(come) - server
        print(
            f"  the server's stages {server * 1000:.0f} ms; the rest of the median to the "
            f"listener's interface {rest * 1000:.0f} ms (the speaker's encoder before its clock "
            "stamps a frame, the network to the listener, its receiving loop, an onset's place "
            "in its frame)"
        )
    if come and found:
        extra = statistics.median(found) - statistics.median(come)
        print(f"  the aiortc listener's jitter buffer and decoder: {extra * 1000:.0f} ms (medians)")


if __name__ == "__main__":
    sys.exit(main())
