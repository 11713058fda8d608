#!/bin/sh
# Installs an edgevisor bundle on this box and brings the stack up; waits until the supervisor
# API answers. Safe to run again with the same bundle.
#
# Usage: install.sh BUNDLE [-p PROJECT]
#   -p PROJECT   compose project name (default edgevisor; fixed after the first install)
# Env: EDGEVISOR_HOME (default /opt/edgevisor), EDGEVISOR_COMPOSE, EDGEVISOR_WAIT (see lib.sh)
set -eu
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

bundle=''
project=''
while [ $# -gt 0 ]; do
  case "$1" in
    -p) project=${2:?-p needs a project name}; shift ;;
    -*) die "unknown option $1 (usage: install.sh BUNDLE [-p PROJECT])" ;;
    *) bundle=$1 ;;
  esac
  shift
done
[ -n "$bundle" ] || die "usage: install.sh BUNDLE [-p PROJECT]"
case "$project" in
  *[!a-z0-9_-]*|[_-]*) die "project name \"$project\" is invalid: expected lowercase letters, digits, '_' or '-'" ;;
esac

mkdir -p "$home"
if [ -f "$home/project" ]; then
  [ -z "$project" ] || [ "$project" = "$(cat "$home/project")" ] \
    || die "$home already runs project $(cat "$home/project"); use another EDGEVISOR_HOME for a second stack"
else
  echo "${project:-edgevisor}" > "$home/project"
fi

dir=$(unpack_bundle "$bundle")
write_env "$dir"
say "starting $(cat "$dir/VERSION") as compose project $(project_name)"
activate "$dir" || die "compose could not start the stack of $(cat "$dir/VERSION")"
wait_supervisor "$dir" || die "the stack is up but the supervisor does not answer"
say "installed $(cat "$dir/VERSION"); check it with: $home/current/edgevisorctl status"
