#!/usr/bin/env bash
# Installs what the test suite needs on a Debian machine (idempotent): Docker engine + compose v1,
# ffmpeg, Chromium, GStreamer's RTSP server, debootstrap, iproute2, a C compiler. Starts dockerd when none answers.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v chromium >/dev/null || need+=(chromium)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v ip >/dev/null || need+=(iproute2)
# curl: the ONVIF discovery tests talk to services inside network namespaces through it.
command -v curl >/dev/null || need+=(curl)
# The C compiler for the frame ring's mmap helper (scripts/build-native.mjs, run by npm ci).
command -v cc >/dev/null || need+=(gcc libc6-dev)
# Real pedestrian footage for the detector tests and the demo cameras (vtest.avi, ~96 MB package).
[ -e /usr/share/doc/opencv-doc/examples/data/vtest.avi ] || need+=(opencv-doc)
[ -e /usr/lib/x86_64-linux-gnu/girepository-1.0/GstRtspServer-1.0.typelib ] || need+=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav)
if [ ${#need[@]} -gt 0 ]; then
  echo "provision: installing ${need[*]}"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}" fonts-dejavu-core
fi
if ! docker info >/dev/null 2>&1; then
  echo "provision: starting dockerd"
  mkdir -p /var/log
  (nohup dockerd >/var/log/dockerd.log 2>&1 &)
  for i in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "provision: dockerd did not answer; see /var/log/dockerd.log" >&2; tail -20 /var/log/dockerd.log >&2; exit 1; }
fi
echo "provision: docker $(docker version --format '{{.Server.Version}}')"
