"""A local RTSP camera for tests: GStreamer's RTSP server with a live VP8 test picture.

Run with the system Python, which has GStreamer's bindings (Debian: python3-gi,
gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good):

    /usr/bin/python3 tests/tools/rtsp_source.py PORT [PICTURE.jpg]

It serves ``rtsp://127.0.0.1:PORT/cam`` (640x480, 15 fps VP8, a keyframe a second): a moving
test pattern, or the picture given, prints ``ready`` once it listens, and runs until killed.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

SOURCE = "videotestsrc is-live=true pattern=ball"
PICTURE = "filesrc location={} ! jpegdec ! imagefreeze is-live=true ! videoconvert ! videoscale"
ENCODE = (
    " ! video/x-raw,width=640,height=480,framerate=15/1"
    " ! vp8enc deadline=1 keyframe-max-dist=15 ! rtpvp8pay name=pay0 pt=96"
)


def main() -> None:
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(sys.argv[1])
    factory = GstRtspServer.RTSPMediaFactory()
    source = PICTURE.format(sys.argv[2]) if len(sys.argv) > 2 else SOURCE
    factory.set_launch(f"( {source}{ENCODE} )")
    factory.set_shared(True)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on port {sys.argv[1]}")
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
