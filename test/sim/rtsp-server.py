#!/usr/bin/python3
"""Simulated RTSP camera: a GStreamer RTSP server serving a videotestsrc H.264 stream.

Usage: /usr/bin/python3 test/sim/rtsp-server.py --port PORT [--width 1280 --height 720 --fps 10] [--file VIDEO]
--file plays a video file (e.g. OpenCV's vtest.avi) instead of the test pattern, at its own pace.
Serves rtsp://127.0.0.1:PORT/test (loopback only; clients use TCP interleaved transport).
Prints "READY rtsp://127.0.0.1:PORT/test" on stdout once listening. Exits on SIGTERM/SIGINT.
"""
import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--fps", type=int, default=10)
    p.add_argument("--address", default="127.0.0.1")  # another address: inside a test's network namespace
    p.add_argument("--file", default=None)
    a = p.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(a.address)
    server.set_service(str(a.port))
    factory = GstRtspServer.RTSPMediaFactory()
    # is-live keeps the source at real time; key-int = fps gives a keyframe every second so a
    # reconnecting client decodes quickly. ultrafast/zerolatency keep the sim cheap on 2 cores.
    # A file is decoded and re-encoded like a camera would send it; the RTSP server paces it at the
    # file's frame rate (its sink syncs to the clock), so it behaves like a live camera.
    src = (
        f"filesrc location={a.file} ! decodebin ! videoconvert ! videoscale ! videorate ! video/x-raw,width={a.width},height={a.height},framerate={a.fps}/1 "
        if a.file
        else f"videotestsrc is-live=true pattern=ball ! video/x-raw,width={a.width},height={a.height},framerate={a.fps}/1 "
    )
    launch = (
        f"( {src}"
        f"! videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={a.fps} bitrate=1000 "
        f"! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )
    factory.set_launch(launch)
    # One pipeline per client, not a shared one: with shared media this gst-rtsp-server (Debian
    # 12's 1.22) aborts the whole server now and then when two clients start or stop together
    # (`gst_rtsp_media_get_rates: assertion failed`, SIGABRT: every later client gets
    # "connection refused"). Seen in CI and reproduced here with two ffmpeg clients at once; not
    # seen in 80 rounds without sharing. The cost is one x264 encode per client (ultrafast).
    factory.set_shared(False)
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
    server.get_mount_points().add_factory("/test", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on {a.address}:{a.port}", file=sys.stderr)
        sys.exit(2)

    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print(f"READY rtsp://{a.address}:{a.port}/test", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
