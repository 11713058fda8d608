#!/bin/sh
# Upgrades the running stack to BUNDLE, keeping the running release as `previous` for rollback.sh.
# If the new supervisor does not answer in time, it goes back to the previous release by itself.
#
# Usage: upgrade.sh BUNDLE
# Env: EDGEVISOR_HOME (default /opt/edgevisor), EDGEVISOR_COMPOSE, EDGEVISOR_WAIT (see lib.sh)
set -eu
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

[ $# -eq 1 ] || die "usage: upgrade.sh BUNDLE"
old=$(readlink "$home/current" 2>/dev/null) || die "nothing installed under $home: use install.sh first"

dir=$(unpack_bundle "$1")
[ "$dir" != "$old" ] || die "$(cat "$dir/VERSION") is already running; nothing to upgrade"
write_env "$dir"
say "upgrading $(cat "$old/VERSION") -> $(cat "$dir/VERSION")"
if activate "$dir" && wait_supervisor "$dir"; then
  say "upgraded to $(cat "$dir/VERSION"); roll back with: $home/current/rollback.sh"
  exit 0
fi
say "upgrade failed: going back to $(cat "$old/VERSION")" >&2
activate "$old" && wait_supervisor "$old" || die "rollback to $(cat "$old/VERSION") failed too: see edgevisorctl ps"
die "upgrade to $(cat "$dir/VERSION") failed; $(cat "$old/VERSION") runs again"
