#!/bin/sh
# Installs an edgevisor bundle on this box and brings the stack up; waits until the supervisor
# answers and its children run, then prints the status, the dashboard URL and where the tokens are.
# Safe to run again with the same bundle.
#
# Usage: install.sh [--home DIR] [-p PROJECT] BUNDLE
#   --home DIR   install under DIR instead of /opt/edgevisor (same as EDGEVISOR_HOME); the scripts
#                in DIR/current then know their home from where they are
#   -p PROJECT   compose project name (default edgevisor; fixed after the first install)
# Env: EDGEVISOR_HOME, EDGEVISOR_COMPOSE, EDGEVISOR_WAIT (see lib.sh)
set -eu
. "$(dirname "$(readlink -f "$0")")/lib.sh"
. "$(dirname "$(readlink -f "$0")")/site.sh"
t0=$(date +%s)
need_docker

usage="usage: install.sh [--home DIR] [-p PROJECT] BUNDLE"
bundle=''
project=''
while [ $# -gt 0 ]; do
  case "$1" in
    -p) project=${2:?-p needs a project name}; shift ;;
    --home) home=${2:?--home needs a directory}; shift ;;
    -*) die "unknown option $1 ($usage)" ;;
    *) bundle=$1 ;;
  esac
  shift
done
[ -n "$bundle" ] || die "$usage"
case "$project" in
  *[!a-z0-9_-]*|[_-]*) die "project name \"$project\" is invalid: expected lowercase letters, digits, '_' or '-'" ;;
esac
mkdir -p "$home"
home=$(cd "$home" && pwd)
retry="$home/current/edgevisorctl apply"

if [ -f "$home/project" ]; then
  [ -z "$project" ] || [ "$project" = "$(cat "$home/project")" ] \
    || die "$home already runs project $(cat "$home/project"); use another --home for a second stack"
else
  echo "${project:-edgevisor}" > "$home/project"
fi

dir=$(unpack_bundle "$bundle")
version=$(cat "$dir/VERSION")
write_env "$dir"
# A first install points `current` at the release before starting it, so that after a failed
# start (a port taken...) `edgevisorctl apply` is the one command that tries again.
[ -e "$home/current" ] || ln -sfn "$dir" "$home/current"
cur=$(readlink "$home/current")
# A taken port stops the install with one line before anything is published or started.
check_ports || exit 1
accept_site "$dir"
# Installed again over another release: as an upgrade, its files go back to it if this one never starts.
publish_site_switching "$cur" "$dir"
activate "$dir" || die "compose could not start $version: fix what the lines above say, then run $retry"
rc=0
wait_stack "$dir" || rc=$?
finish "$dir" "$rc" "installed $version in $(since "$t0"); check it any time with: $home/current/edgevisorctl status"
