"""Audio benchmark: what a room's audio costs a 20 ms tick, by how many seats speak.

    python bench/mix.py [--seats 10] [--seconds 4] [--speakers 1,3,10] [--complexities 10,6]

Every 20 ms the room mixes its seats' decoded microphones (``media.mixer.AudioMixer``) into one
mix-minus per seat and the whole mix, and encodes each of them to Opus
(``media.mixencoder.opus_encoder``): a room of ten encodes eleven streams, 550 frames a second.
Here the seats that speak say a voiced sound (``media.synthetic.voice_samples``, each at its own
pitch and syllable rate); the others send a quiet hiss, as an open headset microphone does. The
benchmark times the mixing and the encoding of every tick on this thread's CPU clock, at each
libopus complexity asked for, and prints the CPU a tick costs and the share of one core it takes
at 50 ticks a second. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import sys
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import numpy as np  # noqa: E402

from media import mixencoder  # noqa: E402
from media.config import MediaConfig  # noqa: E402
from media.mixer import FULL_MIX, AudioMixer  # noqa: E402
from media.testing.synthetic import voice_samples  # noqa: E402

RATE = mixencoder.OPUS_RATE
TICK = RATE // 50  # 20 ms
HISS = 30  # peak of an open microphone's noise, about -61 dBFS


def _frame(samples: np.ndarray, pts: int) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = RATE
    frame.pts = pts
    frame.time_base = Fraction(1, RATE)
    return frame


def seat_audio(seats: int, speakers: int, seconds: float) -> list[np.ndarray]:
    """What each seat's microphone sends: a voice for the first `speakers`, hiss for the rest."""
    rng = np.random.default_rng(7)
    audio = []
    for seat in range(seats):
        if seat < speakers:
            audio.append(voice_samples(110 + 17 * seat, seconds, beat_hz=2.5 + 0.3 * seat))
        else:
            hiss = rng.integers(-HISS, HISS + 1, round(seconds * RATE))
            audio.append(hiss.astype(np.int16))
    return audio


def run(seats: int, speakers: int, seconds: float, complexity: int) -> tuple[float, float]:
    """CPU milliseconds a tick spends mixing and encoding."""
    mixencoder.OPUS_COMPLEXITY = complexity
    audio = seat_audio(seats, speakers, seconds)
    keys = [f"seat-{i}" for i in range(seats)]
    mixer = AudioMixer(MediaConfig())
    for key in [*keys, FULL_MIX]:
        mixer.want_samples(key, True)
    encoders = {key: mixencoder.opus_encoder() for key in [*keys, FULL_MIX]}
    mixing = encoding = 0.0
    ticks = 0
    for start in range(0, len(audio[0]) - TICK + 1, TICK):
        for key, samples in zip(keys, audio, strict=True):
            mixer.push(key, _frame(samples[start : start + TICK], start))
        began = time.thread_time()
        mixes = mixer.mix_once()
        mixed = time.thread_time()
        for key, samples in mixes.items():
            list(encoders[key].encode(_frame(samples, start)))
        encoding += time.thread_time() - mixed
        mixing += mixed - began
        ticks += 1
    return mixing / ticks * 1000, encoding / ticks * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seats", type=int, default=10, help="seats in the room")
    parser.add_argument("--seconds", type=float, default=4.0, help="audio per run")
    parser.add_argument("--speakers", default="1,3,10", help="comma list: seats that speak")
    parser.add_argument(
        "--complexities",
        default=f"10,{mixencoder.OPUS_COMPLEXITY}",
        help="comma list of libopus complexities (0..10)",
    )
    args = parser.parse_args(argv)
    speakers = [min(int(s), args.seats) for s in args.speakers.split(",")]
    complexities = [int(c) for c in args.complexities.split(",")]
    in_use = mixencoder.OPUS_COMPLEXITY
    print(
        f"== room audio of {args.seats} seats: {args.seats + 1} Opus streams (mono, "
        f"{mixencoder.OPUS_BITRATE // 1000} kbit/s, 20 ms); CPU time on one thread =="
    )
    print("  speakers  complexity   mix ms a tick   encode ms a tick   % of one core")
    for count in speakers:
        for complexity in complexities:
            mixing, encoding = run(args.seats, count, args.seconds, complexity)
            share = (mixing + encoding) * 50 / 10
            mark = "  (in use)" if complexity == in_use else ""
            print(
                f"  {count:>8}  {complexity:>10}   {mixing:>13.3f}   {encoding:>16.3f}"
                f"   {share:>13.1f}{mark}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
