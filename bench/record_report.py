"""The recording benchmark's report."""

from __future__ import annotations

import sys
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


from bench.record_setup import (  # noqa: E402
    KEPT_UP,
    TARGET_RATIO,
    TARGET_VERIFY_PCT,
    TARGET_VERIFY_SM3_PCT,
    VARIANT_LABELS,
    VARIANTS,
    VERIFY_REPEATS,
    Stream,
    VariantResult,
)
from bench.record_verify import VerifyResult  # noqa: E402

# ---- report ----------------------------------------------------------------------------------


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _sum(values: dict[str, int], streams: list[Stream], kind: str) -> int:
    return sum(values.get(s.id, 0) for s in streams if s.kind == kind)


def print_variants(results: dict[str, VariantResult], n: int) -> None:
    print("\n== receiving process, per variant (same window length, one after another) ==")
    print(
        f"  {'variant':<28} {'CPU % of one core':>17} {'per stream':>10} {'loop lag max':>12} "
        f"{'RSS':>8} {'UDP drops':>9} {'senders CPU':>11}"
    )
    for variant in VARIANTS:
        r = results.get(variant)
        if r is None:
            continue
        label = VARIANT_LABELS[variant]
        if r.error:
            print(f"  {label:<28} FAILED: {r.error}")
            continue
        udp = "n/a" if r.udp_drops is None else str(r.udp_drops)
        print(
            f"  {label:<28} {r.cpu_pct:>17.1f} {r.cpu_pct / n:>10.2f} "
            f"{r.lag_max * 1000:>9.0f} ms {r.rss_mb:>5.0f} MB {udp:>9} "
            f"{r.sender_cpu_pct:>9.1f} %"
        )


def print_cpu(results: dict[str, VariantResult], n: int) -> None:
    print("\n== CPU per recorded stream (recording cost = variant minus its baseline, window) ==")
    a, b, c, d = (results.get(v) for v in VARIANTS)
    ours = mr = need = None
    if a and b and not a.error and not b.error:
        ours = (b.cpu_pct - a.cpu_pct) / n
        print(
            f"  this recorder (B - A)    {ours:6.3f} % of one core per stream   "
            f"(total {b.cpu_pct - a.cpu_pct:.2f} % = {b.cpu_pct:.2f} - {a.cpu_pct:.2f}; "
            f"its writer threads alone {b.writer_cpu_pct:.2f} % = "
            f"{b.writer_cpu_pct / n:.3f} % per stream)"
        )
        print(f"                           with receiving: {b.cpu_pct / n:.2f} % per stream")
    else:
        print("  this recorder            n/a (a run failed)")
    if c and d and not c.error and not d.error:
        mr = (d.cpu_pct - c.cpu_pct) / n
        print(
            f"  MediaRecorder (D - C)    {mr:6.3f} % of one core per stream   "
            f"(total {d.cpu_pct - c.cpu_pct:.2f} % = {d.cpu_pct:.2f} - {c.cpu_pct:.2f})"
        )
        print(
            f"                           with receiving and decoding: {d.cpu_pct / n:.2f} % "
            "per stream"
        )
        videos = [k for k in d.sent_w if k.endswith("-camera")]
        rec_w = sum(d.recorded_w[k] for k in videos)
        sent_w = sum(d.sent_w[k] for k in videos)
        if rec_w and sent_w and rec_w < KEPT_UP * sent_w:
            # Re-encoding video is nearly all of its cost (Opus is ~0.15 ms a frame).
            need = (d.cpu_pct - c.cpu_pct) * sent_w / rec_w
            print(
                f"                           it did not keep up: it encoded {rec_w} of the "
                f"{sent_w} video frames sent in the window ({rec_w * 100 / sent_w:.0f} %; "
                f"receiving core at {d.cpu_pct:.0f} %); every frame would take about "
                f"{need:.0f} % of a core ({need / n:.1f} % per stream; scaled by video frames)"
            )
    else:
        print("  MediaRecorder            n/a (a run failed)")
    if ours is not None and mr is not None:
        if ours > 0:
            ratio = mr / ours
            print(
                f"  ratio                    {ratio:6.1f}x cheaper   "
                f"[target >= {TARGET_RATIO:.0f}x: {_met(ratio >= TARGET_RATIO)}]"
            )
            if need is not None:
                print(
                    f"  ratio at full rate       {need / n / ours:6.1f}x   (MediaRecorder "
                    "scaled to every frame sent: the measured ratio above counts only the "
                    "frames it managed to take)"
                )
        else:
            print(
                f"  ratio                    n/a: B - A = {ours:.3f} % is within run-to-run noise"
            )
        if b is not None and b.writer_cpu_pct > 0:
            print(
                f"  ratio on writer threads  {mr / (b.writer_cpu_pct / n):6.1f}x   "
                "(MediaRecorder's cost against our writer threads' measured CPU alone: "
                "a cross-check that needs no subtraction; omits the push on the loop)"
            )
            if ours < b.writer_cpu_pct / n:
                print(
                    "                           B - A is below the writer threads' own CPU: "
                    "the subtraction is within run-to-run noise (about 1 % of a core in "
                    "total here), the writer-thread figure is the firmer one"
                )


def print_frames(results: dict[str, VariantResult], streams: list[Stream]) -> None:
    print("\n== frames: written against received ==")
    print(
        "  sent = returned by the senders' tracks; this recorder: received = encoded frames "
        "the taps gave it, written = its count, in files = packets read back with PyAV; "
        "MediaRecorder: read = decoded frames it took from aiortc (and encoded at once)"
    )
    b = results.get("recorder")
    if b is None or b.error:
        print("  this recorder: n/a")
    else:
        counts = b.final.get("counts", {})
        received = {k: v["received"] for k, v in counts.items()}
        written = {k: v["recorded"] for k, v in counts.items()}
        dropped = {k: v["dropped"] for k, v in counts.items()}
        in_files = {k: v[0] for k, v in b.files.items()}
        size = sum(v[1] for v in b.files.values())
        print(f"  this recorder ({size / 1e6:.1f} MB in {b.segment_files} WebM segments):")
        for kind in _kinds(streams):
            sw, rw = _sum(b.sent_w, streams, kind), _sum(b.received_w, streams, kind)
            ww = _sum(b.recorded_w, streams, kind)
            st, rt = _sum(b.sent, streams, kind), _sum(received, streams, kind)
            wt, ft = _sum(written, streams, kind), _sum(in_files, streams, kind)
            dt = _sum(dropped, streams, kind)
            print(
                f"    {kind}  window: sent {sw}, received {rw}, written {ww} ({_pct(ww, rw)})"
                f"   whole run: sent {st}, received {rt}, written {wt}, in files {ft} "
                f"({_pct(ft, rt)} of received), dropped {dt}"
            )
        reasons: dict[str, int] = {}
        for _, reason, _ in b.final.get("gaps", []):
            reasons[reason] = reasons.get(reason, 0) + 1
        if reasons:
            print(
                "    gaps recorded: "
                + ", ".join(f"{k} x{v}" for k, v in reasons.items())
                + "  (video starts at a keyframe: the loops have one every 2 s)"
            )
        print(
            "    (sent - received: the frames aiortc's jitter buffers still held when sending "
            "stopped, 1 per video and 4 per audio stream)"
        )
        _print_problems(b)
    d = results.get("mediarecorder")
    if d is None or d.error:
        print("  MediaRecorder: n/a")
        return
    counts = d.final.get("counts", {})
    read = {k: v["received"] for k, v in counts.items()}
    in_files = {k: v[0] for k, v in d.files.items()}
    backlog = {k: max(0, v) for k, v in d.final.get("backlog", {}).items()}
    size = sum(v[1] for v in d.files.values())
    print(f"  MediaRecorder ({size / 1e6:.1f} MB in {len(d.files)} files):")
    for kind in _kinds(streams):
        sw, rw = _sum(d.sent_w, streams, kind), _sum(d.received_w, streams, kind)
        st, rt = _sum(d.sent, streams, kind), _sum(read, streams, kind)
        ft, qt = _sum(in_files, streams, kind), _sum(backlog, streams, kind)
        print(
            f"    {kind}  window: sent {sw}, read and encoded {rw} ({_pct(rw, sw)} of sent)"
            f"   whole run: sent {st}, read {rt}, in files {ft} ({_pct(ft, rt)} of read, "
            f"{_pct(ft, st)} of sent), decoded but never read (queued at stop) {qt}"
        )
    if d.udp_drops:
        print(
            f"    ! {d.udp_drops} UDP datagrams dropped by the kernel in the window (receive "
            "buffer full: the event loop was busy encoding)"
        )
    _print_problems(d)


def _print_problems(r: VariantResult) -> None:
    f = r.final
    notes = []
    if f.get("rtp_lost"):
        notes.append(f"RTP packets lost {f['rtp_lost']}")
    if f.get("stop_s", 0) > 1:
        notes.append(f"closing the recorders took {f['stop_s']:.1f} s")
    for key in ("stop_errors", "loop_errors", "setup_failures"):
        if f.get(key):
            notes.append(f"{key.replace('_', ' ')}: {f[key][:3]}")
    if f.get("log_errors"):
        notes.append(f"{f['log_errors']} warnings logged, first: {f['log_first'][:2]}")
    if r.file_errors:
        notes.append(f"unreadable files: {r.file_errors[:3]}")
    for note in notes:
        print(f"    ! {note}")


def _kinds(streams: list[Stream]) -> list[str]:
    return [k for k in ("video", "audio") if any(s.kind == k for s in streams)]


def _pct(part: int, whole: int) -> str:
    return f"{part * 100 / whole:.1f} %" if whole else "n/a"


def verify_ratios(v: VerifyResult) -> tuple[float, float]:
    """verify's median throughput, in % of sha256sum's and of `openssl dgst -sm3`'s."""
    verify = median(v.verify_s)
    return median(v.sha256sum_s) * 100 / verify, median(v.openssl_sm3_s) * 100 / verify


def _spread(times: list[float], mb: float) -> str:
    return (
        f"median {median(times):.2f} s, {min(times):.2f}-{max(times):.2f} s over {len(times)} "
        f"runs; {mb / max(times):.0f}-{mb / min(times):.0f} MB/s"
    )


def print_verify(v: VerifyResult, n: int) -> None:
    print(
        f"\n== archive verify throughput: verify, sha256sum and openssl dgst -sm3 over the same "
        f"files, in turns, {VERIFY_REPEATS} times each after a warm-up round (page cache warm); "
        "medians =="
    )
    if v.error:
        print(f"  FAILED: {v.error}")
        return
    mb = v.bytes / 1e6
    print(
        f"  archive     {mb:.1f} MB in {v.files} files ({v.segments} WebM segments), 1 part: "
        f"the same {n} streams as a {v.media_seconds / 60:.1f} min session, the pre-encoded "
        f"loops pushed through SessionArchive/TrackRecorder without the network "
        f"({v.frames} frames, {v.frames_dropped} dropped), sealed 'ended'; built in "
        f"{v.build_s:.1f} s"
    )
    state = "ok" if v.ok else "DIFFERENCES: " + "; ".join(v.differences)
    agree = {True: "agrees with SHA256SUMS", False: "DISAGREES with SHA256SUMS", None: ""}
    sm3 = {True: "agrees with the manifests' SM3", False: "DISAGREES with the manifests' SM3"}
    for name, times, what in (
        (
            "verify_archive",
            v.verify_s,
            "SHA-256 and SM3 of every file, Ed25519 and SM2 signatures, chains, Merkle; " + state,
        ),
        ("sha256sum", v.sha256sum_s, agree[v.sums_agree]),
        ("openssl -sm3", v.openssl_sm3_s, sm3.get(v.sm3_agree, "")),
    ):
        rate = mb / median(times)
        print(f"  {name:<15} {rate:6.0f} MB/s  ({_spread(times, mb)}; {what})")
    to_sha, to_sm3 = verify_ratios(v)
    print(
        f"  verify / sha256sum          {to_sha:5.0f} %   [target >= {TARGET_VERIFY_PCT:.0f} %: "
        f"{_met(to_sha >= TARGET_VERIFY_PCT)}]"
    )
    print(
        f"  verify / openssl dgst -sm3  {to_sm3:5.0f} %   [target >= "
        f"{TARGET_VERIFY_SM3_PCT:.0f} % of the slower digest it computes: "
        f"{_met(to_sm3 >= TARGET_VERIFY_SM3_PCT)}]"
    )
    print(
        f"  breakdown       Python hashlib, same files, warm: SHA-256 alone "
        f"{mb / v.hashlib_sha256_s:.0f} MB/s, SM3 alone {mb / v.hashlib_sm3_s:.0f} MB/s "
        f"(verify computes both at once from one read: at best "
        f"{mb / max(v.hashlib_sha256_s, v.hashlib_sm3_s):.0f} MB/s with a core free)"
    )


def print_summary(results: dict[str, VariantResult], v: VerifyResult | None, n: int) -> None:
    print("\n== summary ==")
    a, b, c, d = (results.get(v) for v in VARIANTS)
    if all(x is not None and not x.error for x in (a, b, c, d)):
        assert a and b and c and d
        ours, mr = (b.cpu_pct - a.cpu_pct) / n, (d.cpu_pct - c.cpu_pct) / n
        ratio = f"{mr / ours:.1f}x" if ours > 0 else "n/a (noise)"
        print(
            f"  CPU per recorded stream   this recorder {ours:.3f} %, MediaRecorder {mr:.2f} %"
            f", ratio {ratio}   [target >= {TARGET_RATIO:.0f}x]"
        )
        for variant, name, got in ((b, "this recorder", "received"), (d, "MediaRecorder", "read")):
            counts = variant.final.get("counts", {})
            rt = sum(x["received"] for x in counts.values())
            ft = sum(x[0] for x in variant.files.values())
            st = sum(variant.sent.values())
            print(
                f"  frames in files ({name}): {ft} = {_pct(ft, rt)} of {rt} {got}, "
                f"{_pct(ft, st)} of {st} sent"
            )
    if v is not None and not v.error and v.verify_s and v.sha256sum_s and v.openssl_sm3_s:
        to_sha, to_sm3 = verify_ratios(v)
        print(
            f"  verify_archive / sha256sum   {to_sha:.0f} %   [target >= "
            f"{TARGET_VERIFY_PCT:.0f} %: {_met(to_sha >= TARGET_VERIFY_PCT)}]"
        )
        print(
            f"  verify_archive / openssl dgst -sm3   {to_sm3:.0f} %   [target >= "
            f"{TARGET_VERIFY_SM3_PCT:.0f} %: {_met(to_sm3 >= TARGET_VERIFY_SM3_PCT)}]"
        )
