"""Headless Chromium as a seat computer, for the browser tests and the benchmarks."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")

# Fake camera and microphone granted without asking, loopback candidates allowed (and not hidden
# behind mDNS names), the room's audio played without a click as a kiosk plays it.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--auto-accept-this-tab-capture",
    "--autoplay-policy=no-user-gesture-required",
]
