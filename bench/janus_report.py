"""bench/janus.py's report: each system's figures, what each includes, and the ratios."""

from __future__ import annotations

import argparse
from typing import Any

TARGET_INGEST = 3.0
ROLES = ("camera", "preview", "microphone", "desktop")
# The threads of this server's media worker that do other work than taking streams in.
NOT_INGEST = ("grid", "mixminus", "analysis")
# A subscriber that decoded fewer frames a second than this did not get the camera's 15 fps.
MIN_SUBSCRIBER_FPS = 10.0


def _flowed(window: dict[str, Any], received: str) -> str:
    """What the seats sent and the subscribers got in a window, and whether media flowed."""
    sent = ", ".join(f"{r} {fps:.0f}" for r, fps in window["sent_fps"].items())
    text = f"seats sent frames/s: {sent}; {received}"
    if window["sub_fps"]:
        fps = window["sub_fps"]
        text += f"; subscribers decoded {', '.join(f'{f:.1f}' for f in fps)} frames/s"
    return text


def _share(window: dict[str, Any]) -> float:
    """This server's ingest share in a window: the whole less the threads of NOT_INGEST."""
    return float(window["cpu"]) - sum(window["threads"].get(r, 0.0) for r in NOT_INGEST)


def _forward(
    label: str, forward: dict[str, Any], ingest: tuple[float, float], now: float, k: int, got: str
) -> float:
    """Print the forward window; the increase per forwarded camera (nan: subscribers starved,
    or an increase no larger than the two ingest windows' difference, the machine's drift)."""
    fps = forward["sub_fps"]
    base, drift = sum(ingest) / 2, abs(ingest[0] - ingest[1])
    extra = (now - base) / max(1, k)
    note = ""
    if not fps or min(fps) < MIN_SUBSCRIBER_FPS:
        note = "  (NOT VALID: a subscriber got too few frames)"
    elif now - base <= drift:
        note = f"  (NOT VALID: within the drift between the ingest windows, {drift:.1f} %)"
    print(f"  forward window: {_flowed(forward, got)}")
    print(
        f"  forward: {label} {now:.1f} % with {k} subscribers, {extra:+.3f} % per forwarded "
        f"camera (over the ingest windows' mean){note}"
    )
    return float("nan") if note else extra


def report_janus(result: dict[str, Any], args: argparse.Namespace) -> tuple[float, float] | None:
    """Print Janus's figures; (ingest, forward) % of one core per stream, None if unusable."""
    print(f"\n== Janus {result.get('version', '')} VideoRoom ==")
    if "error" in result:
        print(f"  FAILED: {result['error']}\n    " + "\n    ".join(result.get("log", [])))
        return None
    streams = 4 * args.seats
    ingest, forward, after = result["ingest"], result["forward"], result["ingest_after"]
    first, last = ingest["counters"]
    span = ingest["s"]
    packets = {k: (last.get(k, 0) - first.get(k, 0)) / span for k in last if k != "in streams"}
    received = last.get("in streams", 0)
    flowing = received >= streams
    print(
        "  ingest window: "
        + _flowed(
            ingest,
            f"Janus received packets/s: video {packets.get('in video', 0):.0f}, audio "
            f"{packets.get('in audio', 0):.0f}, on {received} of {streams} streams (admin API)",
        )
    )
    files, size = result["recordings"]
    print(
        f"  recording: {files} raw .mjr files (RTP packets as received, one per stream, the "
        f"preview too; no container), {size / 1e6:.1f} MB in the run"
    )
    cpu = (ingest["cpu"] + after["cpu"]) / 2
    print(
        f"  ingest: {cpu:.1f} % of one core (the janus process: ICE, DTLS-SRTP, RTCP, "
        f"recording, the HTTP API's long polls; before / after the subscribers "
        f"{ingest['cpu']:.1f} / {after['cpu']:.1f} %) = {cpu / streams:.3f} % per received "
        "stream" + ("" if flowing else "  (NOT VALID: not every stream arrived)")
    )
    before, now = forward["counters"]
    sent = (now.get("out video", 0) - before.get("out video", 0)) / forward["s"]
    extra = _forward(
        "janus process",
        forward,
        (ingest["cpu"], after["cpu"]),
        forward["cpu"],
        args.subscribers,
        f"Janus sent {sent:.0f} video packets/s",
    )
    print(f"  load generator: {ingest['load_cpu']:.1f} % / {forward['load_cpu']:.1f} % of one core")
    return (cpu / streams if flowing else float("nan"), extra)


def report_ours(
    result: dict[str, Any], args: argparse.Namespace
) -> tuple[float, float, float] | None:
    """Print this server's figures; (whole, ingest share, forward) per stream, None if unusable."""
    analysis = "analysis off" if args.analysis_off else "analysis on"
    print(
        f"\n== this server (one media worker, {analysis}; records camera, microphone and "
        "desktop into hash-chained WebM segments, not the preview) =="
    )
    if "error" in result:
        print(f"  FAILED: {result['error']}\n    " + "\n    ".join(result.get("log", [])))
        return None
    streams = 4 * args.seats
    ingest, forward, after = result["ingest"], result["forward"], result["ingest_after"]
    got = ingest["received_fps"]
    flowing = all(got[r] >= 0.9 * ingest["sent_fps"][r] > 0 for r in ROLES)
    print(
        "  ingest window: "
        + _flowed(
            ingest, "server took in frames/s: " + ", ".join(f"{r} {got[r]:.0f}" for r in ROLES)
        )
    )
    threads = {
        r: (ingest["threads"].get(r, 0.0) + after["threads"].get(r, 0.0)) / 2
        for r in ingest["threads"]
    }
    print(
        "  media worker by thread: "
        + ", ".join(f"{r} {p:.1f}" for r, p in sorted(threads.items(), key=lambda i: -i[1]))
        + " % of one core"
    )
    whole = (ingest["cpu"] + after["cpu"]) / 2
    share = (_share(ingest) + _share(after)) / 2
    valid = "" if flowing else "  (NOT VALID: frames missing at the server)"
    print(
        f"  whole: {whole:.1f} % of one core (the server process tree: signalling process and "
        f"media worker; taking in, recording, grid, mix-minus, analysis, sending the grid and "
        f"the mix to every seat; before / after the subscribers {ingest['cpu']:.1f} / "
        f"{after['cpu']:.1f} %) = {whole / streams:.3f} % per received stream{valid}"
    )
    print(
        f"  ingest share: {share:.1f} % (the whole less the {', '.join(NOT_INGEST)} threads; "
        f"still holds sending the grid and mix to the seats and Opus decoding on the event "
        f"loop; before / after {_share(ingest):.1f} / {_share(after):.1f} %) = "
        f"{share / streams:.3f} % per received stream{valid}"
    )
    print(
        f"  forward, whole: {forward['cpu']:.1f} % with {args.subscribers} subscribers, "
        f"{(forward['cpu'] - whole) / max(1, args.subscribers):+.3f} % per forwarded camera "
        "(the grid's and the analysis's own swings are in it)"
    )
    extra = _forward(
        "ingest share",
        forward,
        (_share(ingest), _share(after)),
        _share(forward),
        args.subscribers,
        "focus views asking for the camera only",
    )
    print(f"  load generator: {ingest['load_cpu']:.1f} % / {forward['load_cpu']:.1f} % of one core")
    nan = float("nan")
    return (whole / streams if flowing else nan, share / streams if flowing else nan, extra)


def compare(janus: tuple[float, float], ours: tuple[float, float, float]) -> None:
    """The ratios, each beside its target."""
    print("\n== this server / Janus, per stream ==")

    def ratio(a: float, b: float) -> str:
        return "n/a (no valid figure)" if a != a or b != b or b <= 0 else f"{a / b:.1f}x"

    share = ratio(ours[1], janus[0])
    met = "n/a" if "n/a" in share else "met" if ours[1] / janus[0] <= TARGET_INGEST else "NOT met"
    print(f"  ingest share:  {share:<24} target <= {TARGET_INGEST:.0f}x  {met}")
    print(f"  whole:         {ratio(ours[0], janus[0]):<24} (no target: grid, mix, analysis in)")
    print(f"  forward:       {ratio(ours[2], janus[1]):<24} (no target)")
