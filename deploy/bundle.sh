#!/bin/sh
# Writes one tarball for a plant box without internet: the application image (docker save), the
# compose file, the supervision tree, the env template, VERSION and the install/upgrade/rollback
# scripts. Run it on a build machine from the repo.
#
# Usage: deploy/bundle.sh [--version V] [--image IMAGE] [--out DIR]
#   --version V    bundle version, also the image tag (default: git describe)
#   --image IMAGE  ship this existing image (tagged edgevisor-app:V) instead of building one
#   --out DIR      where the tarball goes (default deploy/out); prints its path last
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
version=''
image=''
out="$root/deploy/out"
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version=${2:?--version needs a value}; shift ;;
    --image) image=${2:?--image needs a value}; shift ;;
    --out) out=${2:?--out needs a value}; shift ;;
    *) echo "bundle: unknown argument $1 (accepted: --version V, --image IMAGE, --out DIR)" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$version" ] || version=$(git -C "$root" describe --tags --always --dirty 2>/dev/null || date -u +%Y%m%d%H%M%S)
# The version names a Docker tag and a directory on the box.
case "$version" in
  *[!A-Za-z0-9._-]*|[.-]*|'') echo "bundle: version \"$version\" is invalid: expected letters, digits, '.', '_' or '-' (not first)" >&2; exit 2 ;;
esac
tag="edgevisor-app:$version"

if [ -n "$image" ]; then
  docker image inspect "$image" >/dev/null 2>&1 || { echo "bundle: image $image not found" >&2; exit 1; }
  docker tag "$image" "$tag"
else
  "$root/docker/build-images.sh" --tag "$version"
fi

mkdir -p "$out"
stage=$(mktemp -d "$out/.stage.XXXXXX")
chmod 755 "$stage"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/deploy"
cp "$root/compose.yaml" "$stage/"
cp "$root/deploy/tree.yaml" "$stage/deploy/"
cp "$root/deploy/edgevisor.env.example" "$root/deploy/README.md" \
   "$root/deploy/install.sh" "$root/deploy/upgrade.sh" "$root/deploy/rollback.sh" \
   "$root/deploy/lib.sh" "$root/deploy/edgevisorctl" "$stage/"
echo "$version" > "$stage/VERSION"
echo "$tag" > "$stage/IMAGE"
echo "bundle: saving $tag" >&2
docker save -o "$stage/images.tar" "$tag"
tarball="$out/edgevisor-$version.tar"
tar -C "$stage" -cf "$tarball.part" .
mv "$tarball.part" "$tarball"
echo "bundle: wrote $tarball ($(du -h "$tarball" | cut -f1))" >&2
echo "$tarball"
