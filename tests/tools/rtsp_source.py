"""A local RTSP camera for tests: GStreamer's RTSP server with a live VP8 test picture.

Run with the system Python, which has GStreamer's bindings (Debian: python3-gi,
gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good):

    /usr/bin/python3 tests/tools/rtsp_source.py PORT [PICTURE.jpg] [--h264]

It serves ``rtsp://127.0.0.1:PORT/cam`` (640x480, 15 fps, a keyframe a second; VP8, or H.264
as most IP cameras send, with x264 from gstreamer1.0-plugins-ugly): a moving test pattern, or
the picture given, prints ``ready`` once it listens, and runs until killed.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

SOURCE = "videotestsrc is-live=true pattern=ball"
PICTURE = "filesrc location={} ! jpegdec ! imagefreeze is-live=true ! videoconvert ! videoscale"
RAW = " ! video/x-raw,width=640,height=480,framerate=15/1"
VP8 = " ! vp8enc deadline=1 keyframe-max-dist=15 ! rtpvp8pay name=pay0 pt=96"
H264 = (
    " ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15"
    " ! video/x-h264,profile=constrained-baseline ! rtph264pay name=pay0 pt=96"
)


def main() -> None:
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(sys.argv[1])
    factory = GstRtspServer.RTSPMediaFactory()
    args = [a for a in sys.argv[2:] if a != "--h264"]
    source = PICTURE.format(args[0]) if args else SOURCE
    encode = H264 if "--h264" in sys.argv else VP8
    factory.set_launch(f"( {source}{RAW}{encode} )")
    factory.set_shared(True)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on port {sys.argv[1]}")
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
