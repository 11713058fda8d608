#!/bin/sh
# Writes one tarball for a plant box without internet: the application image (docker save, gzip:
# `docker load` reads it as it is, and gzip is on every box), the compose file, the demo site
# files (deploy/site/: tree, cameras, zones), the env template, VERSION and the scripts. Run it on
# a build machine from the repo. Each step prints its size and how long it took; saving and writing print
# bytes done of the total every 5 s (lib.sh's meter).
#
# Usage: deploy/bundle.sh [--version V] [--image IMAGE] [--out DIR] [--fast]
#   --version V    bundle version, also the image tag (default: git describe)
#   --image IMAGE  ship this existing image (tagged edgevisor-app:V) instead of building one
#   --out DIR      where the tarball goes (default deploy/out); prints its path last
#   --fast         gzip -1 instead of -6: about twice as fast, about 10% bigger (measured here:
#                  247 MB in 19 s against 226 MB in 48 s for the 591 MB image)
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
version=''
image=''
out="$root/deploy/out"
level=6
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version=${2:?--version needs a value}; shift ;;
    --image) image=${2:?--image needs a value}; shift ;;
    --out) out=${2:?--out needs a value}; shift ;;
    --fast) level=1 ;;
    *) echo "bundle: unknown argument $1 (accepted: --version V, --image IMAGE, --out DIR, --fast)" >&2; exit 2 ;;
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
  timeout 20 docker image inspect "$image" >/dev/null 2>&1 || { echo "bundle: image $image not found" >&2; exit 1; }
  timeout 20 docker tag "$image" "$tag"
else
  "$root/docker/build-images.sh" --tag "$version"
fi

mkdir -p "$out"
stage=$(mktemp -d "$out/.stage.XXXXXX")
chmod 755 "$stage"
trap 'rm -rf "$stage" "${tarball:-$stage}.part"' EXIT
mkdir -p "$stage/deploy/site"
cp "$root/compose.yaml" "$stage/"
# The demo site files: the first install seeds the box's site folder with them.
cp "$root/deploy/site/tree.yaml" "$root/deploy/site/cameras.yaml" "$root/deploy/site/zones.yaml" "$stage/deploy/site/"
cp "$root/deploy/edgevisor.env.example" "$root/deploy/README.md" \
   "$root/deploy/install.sh" "$root/deploy/upgrade.sh" "$root/deploy/rollback.sh" \
   "$root/deploy/lib.sh" "$root/deploy/site.sh" "$root/deploy/edgevisorctl" "$stage/"
echo "$version" > "$stage/VERSION"
echo "$tag" > "$stage/IMAGE"

# The same meter and step lines as install.sh prints on the box.
. "$root/deploy/lib.sh"
me=bundle
size=$(timeout 20 docker image inspect -f '{{.Size}}' "$tag")
t0=$(date +%s)
echo "bundle: saving $tag ($(mb "$size") uncompressed, gzip -$level)" >&2
# No pipefail in POSIX sh: a failed save leaves a mark instead of a short, valid-looking gzip.
{ timeout 1800 docker save "$tag" || touch "$stage/.save-failed"; } | meter saving "$size" | gzip "-$level" > "$stage/images.tar.gz"
[ ! -e "$stage/.save-failed" ] || { echo "bundle: docker save $tag failed" >&2; exit 1; }
zsize=$(wc -c < "$stage/images.tar.gz")
echo "bundle: saved $tag: $(mb "$zsize") compressed from $(mb "$size") in $(since "$t0")" >&2

t1=$(date +%s)
tarball="$out/edgevisor-$version.tar"
# The small files first, the images last; names without ./ so install.sh can name the member.
members=$(cd "$stage" && ls -A | grep -v -x images.tar.gz)
# shellcheck disable=SC2086 # one word per file name, none has spaces
tar -C "$stage" -cf - $members images.tar.gz | meter writing "$zsize" > "$tarball.part"
mv "$tarball.part" "$tarball"
echo "bundle: wrote $tarball ($(mb "$(wc -c < "$tarball")")) in $(since "$t1"); $(since "$t0") in all" >&2
echo "$tarball"
