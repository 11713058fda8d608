#!/bin/sh
# Upgrades the running stack to BUNDLE, keeping the running release as `previous` for rollback.sh.
# If the new supervisor does not answer in time, it goes back to the previous release by itself.
# Ends with the status, the dashboard URL and where the tokens are.
#
# Usage: upgrade.sh BUNDLE
# Env: EDGEVISOR_HOME (default: the home this script is installed in), EDGEVISOR_COMPOSE,
#      EDGEVISOR_WAIT (see lib.sh)
set -eu
. "$(dirname "$(readlink -f "$0")")/lib.sh"
. "$(dirname "$(readlink -f "$0")")/site.sh"
t0=$(date +%s)
need_docker

[ $# -eq 1 ] || die "usage: upgrade.sh BUNDLE"
old=$(readlink "$home/current" 2>/dev/null) || die "nothing installed under $home: use install.sh first"
retry="$home/current/upgrade.sh $1"

dir=$(unpack_bundle "$1")
[ "$dir" != "$old" ] || die "$(cat "$dir/VERSION") is already running; nothing to upgrade"
write_env "$dir"
# A taken port refuses the upgrade before anything changes (the old release keeps running).
check_ports || exit 1
# The plant's site files, checked by the new release's validators before anything stops.
accept_site "$dir"
# Published for the new release; for the old one again if the script ends before the switch.
publish_site_switching "$old" "$dir"
say "upgrading $(cat "$old/VERSION") -> $(cat "$dir/VERSION")"
rc=0
activate "$dir" || rc=1
[ "$rc" -ne 0 ] || wait_stack "$dir" || rc=$?
if [ "$rc" -ne 1 ]; then
  finish "$dir" "$rc" "upgraded to $(cat "$dir/VERSION") in $(since "$t0"); roll back with: $home/current/rollback.sh"
  exit 0
fi
say "upgrade failed: going back to $(cat "$old/VERSION")" >&2
back=0
# The old release's modes (one from before the site group reads cameras.yaml only if it is 0644).
publish_site "$old"
activate "$old" || back=1
[ "$back" -ne 0 ] || wait_stack "$old" || back=$?
[ "$back" -ne 1 ] || die "going back to $(cat "$old/VERSION") failed too: see $home/current/edgevisorctl ps"
summary "$old"
die "upgrade to $(cat "$dir/VERSION") failed (see the lines above); $(cat "$old/VERSION") runs again"
