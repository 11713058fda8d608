#!/bin/sh
# Builds the base image `edgevisor-base:local` without any container registry:
#   debootstrap (Debian minbase + the packages the apps need) + the host's node binary -> docker import.
# Containers on a plant box cannot pull; the host can reach a Debian mirror (or an apt proxy).
#
# Idempotent: exits at once when the image exists (pass --force to rebuild). The debootstrap tree is
# cached under docker/.base/ (gitignored) so a rebuild after `docker rmi` costs seconds, not minutes.
#
# Env (all optional):
#   EDGEVISOR_BASE_IMAGE   image name            (default edgevisor-base:local)
#   EDGEVISOR_DEB_MIRROR   Debian mirror         (default http://deb.debian.org/debian)
#   EDGEVISOR_DEB_SUITE    Debian suite          (default bookworm)
#   EDGEVISOR_NODE_BIN     node binary to copy   (default: `command -v node`)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
image=${EDGEVISOR_BASE_IMAGE:-edgevisor-base:local}
mirror=${EDGEVISOR_DEB_MIRROR:-http://deb.debian.org/debian}
suite=${EDGEVISOR_DEB_SUITE:-bookworm}
node_bin=${EDGEVISOR_NODE_BIN:-$(command -v node)}
force=0
[ "${1:-}" = "--force" ] && force=1

if [ "$force" = 0 ] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "build-base: $image exists (use --force to rebuild)"
  exit 0
fi

# ffmpeg: camera capture and frame extraction. tini: PID 1 that forwards SIGTERM and reaps.
# libstdc++6/libgcc-s1: node, onnxruntime-node and sharp's prebuilt binaries link against them.
# ca-certificates + tzdata: TLS to cameras/NVRs and correct local timestamps in event logs.
packages=ffmpeg,ca-certificates,tini,libstdc++6,libgcc-s1,tzdata

cache="$here/.base"
rootfs="$cache/rootfs-$suite"
stamp="$cache/rootfs-$suite.ok"
mkdir -p "$cache"

# The stamp records the package list: changing it above forces a fresh debootstrap, and a
# half-finished debootstrap (no stamp) is never reused.
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$packages" ]; then
  command -v debootstrap >/dev/null || { echo "build-base: debootstrap missing (apt-get install debootstrap)" >&2; exit 1; }
  rm -rf "$rootfs" "$stamp"
  echo "build-base: debootstrap $suite from $mirror (a few minutes, once)"
  debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror"
  # Shrink the image: apt lists, caches and docs are useless in an appliance image.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
         "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
  printf '%s' "$packages" > "$stamp"
fi

[ -x "$node_bin" ] || { echo "build-base: node binary not found (set EDGEVISOR_NODE_BIN)" >&2; exit 1; }
install -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
# Mirror the official node image: /app is the working directory and `node` is on PATH.
mkdir -p "$rootfs/app"

echo "build-base: importing $rootfs as $image"
tar -C "$rootfs" -c . | docker import \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'ENV LANG=C.UTF-8' \
  -c 'WORKDIR /app' \
  -c 'CMD ["node"]' \
  - "$image" >/dev/null
echo "build-base: $image ready ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
