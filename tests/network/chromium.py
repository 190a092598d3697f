"""Chromium seats on hosts of a test's network (namespaces), trusting the test's certificates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS, MediaFiles
from tests.network.netns import Namespaces

# The peer connections of a page, within the test's reach.
KEEP_PEERS = """
window.__peers = [];
const Native = window.RTCPeerConnection;
window.RTCPeerConnection = function (...args) {
  const pc = new Native(...args);
  window.__peers.push(pc);
  return pc;
};
window.RTCPeerConnection.prototype = Native.prototype;
"""


def launch_on(
    browser_type: Any,
    ns: Namespaces,
    host: str,
    folder: Path,
    media: MediaFiles,
    names: dict[str, str],
    trusted: str,
) -> Any:
    """A Chromium running on `host`, its fake camera and microphone playing `media`.

    `names` is what the host's DNS would answer (name -> address); `trusted` lists the keys of
    the test's certificates (``--ignore-certificate-errors-spki-list``: those, nothing else).
    """
    rules = ", ".join(f"MAP {name} {address}" for name, address in names.items())
    flags = [
        *CHROMIUM_FLAGS,
        f"--use-file-for-fake-video-capture={media.video}",
        f"--use-file-for-fake-audio-capture={media.audio}",
        f"--host-resolver-rules={rules}",
        f"--ignore-certificate-errors-spki-list={trusted}",
    ]
    wrapper = ns.wrapper(host, CHROMIUM, folder)
    return browser_type.launch(executable_path=str(wrapper), headless=True, args=flags)
