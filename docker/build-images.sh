#!/bin/sh
# Builds the application image (edgevisor-app) on this machine, without any registry:
# node_modules come from the host (`npm ci` here, if missing), the base is the official node image
# when it is already present locally, else the offline base from docker/build-base.sh.
#
# Usage: docker/build-images.sh [--if-stale] [--tag TAG]
#   --if-stale     do nothing when edgevisor-app:TAG was built from the same sources (what tests
#                  use: the image carries a hash of everything it copies as a label)
#   --tag TAG      image tag (default: local); bundles use their VERSION
# Env (optional): EDGEVISOR_BASE   base image to build on (skips the detection above)
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
tag=local
if_stale=0
while [ $# -gt 0 ]; do
  case "$1" in
    --if-stale) if_stale=1 ;;
    --tag) tag=${2:?--tag needs a value}; shift ;;
    *) echo "build-images: unknown argument $1 (accepted: --if-stale, --tag TAG)" >&2; exit 2 ;;
  esac
  shift
done
image="edgevisor-app:$tag"

# A hash of what the Dockerfile copies (tests excluded, as in .dockerignore). Cheap next to a
# build: the legacy builder sends the whole context (~200 MB) even when every layer is cached.
cd "$root"
source_hash=$( { find bin supervisor apps models -type f ! -name '*.test.ts' -print; \
  echo package.json package-lock.json .npmrc tsconfig.json scripts/build-native.mjs scripts/build-models.mjs scripts/build-dist.mjs deploy/site/tree.yaml deploy/site/cameras.yaml deploy/site/zones.yaml docker/Dockerfile docker/healthcheck.mjs docker/prune-node-modules.mjs .dockerignore | tr ' ' '\n'; } \
  | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)
if [ "$if_stale" = 1 ] && [ "$(docker image inspect -f '{{index .Config.Labels "edgevisor.source-hash"}}' "$image" 2>/dev/null)" = "$source_hash" ]; then
  echo "build-images: $image is up to date ($source_hash)"
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

# The image carries the host's node_modules (native addons built for node 20 on glibc/bookworm,
# which both bases are), dev dependencies included: its build stage bundles dist/ with esbuild,
# then drops them (docker/prune-node-modules.mjs). Only install when missing.
if [ ! -d node_modules/esbuild ]; then
  echo "build-images: npm ci on the host"
  npm ci
fi

# A git worktree may share another checkout's packages through a node_modules symlink, which a
# build context does not follow (COPY fails with "stat node_modules: file does not exist"): build
# from a staging copy of the context with node_modules hard-linked in (same filesystem: no copy).
ctx=.
if [ -L node_modules ]; then
  mkdir -p .tmp
  ctx=$(mktemp -d "$root/.tmp/context.XXXXXX")
  trap 'rm -rf "$ctx"' EXIT
  tar -C "$root" --exclude=./node_modules --exclude=./.git --exclude=./.tmp --exclude=./var --exclude=./dist \
    --exclude=./docker/.base --exclude=./deploy/out --exclude=./test -cf - . | tar -C "$ctx" -xf -
  cp -al "$(readlink -f node_modules)" "$ctx/node_modules" 2>/dev/null || cp -a "$(readlink -f node_modules)" "$ctx/node_modules"
fi

version=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
echo "build-images: building $image on $base ($version)"
docker build -q -f "$ctx/docker/Dockerfile" \
  --build-arg BASE="$base" \
  --label org.opencontainers.image.title=edgevisor-app \
  --label org.opencontainers.image.revision="$version" \
  --label edgevisor.source-hash="$source_hash" \
  -t "$image" "$ctx" >/dev/null
echo "build-images: $image ready"
