#!/bin/sh
# Goes back to the previous release (the one running before the last upgrade). Running it twice
# goes forward again: current and previous swap. Ends with the status, the dashboard URL and
# where the tokens are.
#
# Usage: rollback.sh
# Env: EDGEVISOR_HOME (default: the home this script is installed in), EDGEVISOR_COMPOSE,
#      EDGEVISOR_WAIT (see lib.sh)
set -eu
. "$(dirname "$(readlink -f "$0")")/lib.sh"
. "$(dirname "$(readlink -f "$0")")/site.sh"
t0=$(date +%s)
need_docker

prev=$(readlink "$home/previous" 2>/dev/null) || die "no previous release under $home to roll back to"
[ -d "$prev" ] || die "previous release $prev is missing"
cur=$(readlink "$home/current" 2>/dev/null) || die "nothing installed under $home: use install.sh first"
retry="$home/current/rollback.sh"
# The release's .env is rewritten so site settings edited since then (tokens, ports) still apply.
write_env "$prev"
# A taken port refuses the rollback before anything changes (the running release keeps running).
check_ports || exit 1
accept_site "$prev"
# Published for the previous release; for the running one again if the script ends before the switch.
publish_site_switching "$cur" "$prev"
say "rolling back to $(cat "$prev/VERSION")"
activate "$prev" || die "compose could not start $(cat "$prev/VERSION"): fix what the lines above say, then run $retry"
rc=0
wait_stack "$prev" || rc=$?
finish "$prev" "$rc" "running $(cat "$prev/VERSION") again after $(since "$t0"); go forward again with: $home/current/rollback.sh"
