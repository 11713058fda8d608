#!/bin/sh
# Builds the application image (edgevisor-app) on this machine, without any registry:
# node_modules come from the host (`npm ci` here, if missing), the base is the official node image
# when it is already present locally, else the offline base from docker/build-base.sh.
#
# Usage: docker/build-images.sh [--if-missing] [--tag TAG]
#   --if-missing   do nothing when edgevisor-app:TAG exists (what tests use)
#   --tag TAG      image tag (default: local); bundles use their VERSION
# Env (optional): EDGEVISOR_BASE   base image to build on (skips the detection above)
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
tag=local
if_missing=0
while [ $# -gt 0 ]; do
  case "$1" in
    --if-missing) if_missing=1 ;;
    --tag) tag=${2:?--tag needs a value}; shift ;;
    *) echo "build-images: unknown argument $1 (accepted: --if-missing, --tag TAG)" >&2; exit 2 ;;
  esac
  shift
done
image="edgevisor-app:$tag"

if [ "$if_missing" = 1 ] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "build-images: $image exists"
  exit 0
fi

base=${EDGEVISOR_BASE:-}
if [ -z "$base" ]; then
  if docker image inspect node:20-bookworm-slim >/dev/null 2>&1; then
    base=node:20-bookworm-slim
  else
    "$root/docker/build-base.sh"
    base=edgevisor-base:local
  fi
fi

cd "$root"
# The image carries the host's node_modules (native addons built for node 20 on glibc/bookworm,
# which both bases are). Only install when missing: a dev checkout's modules are used as they are.
if [ ! -d node_modules/tsx ]; then
  echo "build-images: npm ci on the host"
  npm ci
fi

version=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
echo "build-images: building $image on $base ($version)"
docker build -q -f docker/Dockerfile \
  --build-arg BASE="$base" \
  --label org.opencontainers.image.title=edgevisor-app \
  --label org.opencontainers.image.revision="$version" \
  -t "$image" . >/dev/null
echo "build-images: $image ready"
