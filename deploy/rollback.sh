#!/bin/sh
# Goes back to the previous release (the one running before the last upgrade). Running it twice
# goes forward again: current and previous swap.
#
# Usage: rollback.sh
# Env: EDGEVISOR_HOME (default /opt/edgevisor), EDGEVISOR_COMPOSE, EDGEVISOR_WAIT (see lib.sh)
set -eu
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

prev=$(readlink "$home/previous" 2>/dev/null) || die "no previous release under $home to roll back to"
[ -d "$prev" ] || die "previous release $prev is missing"
# The release's .env is rewritten so site settings edited since then (tokens, ports) still apply.
write_env "$prev"
say "rolling back to $(cat "$prev/VERSION")"
activate "$prev" || die "compose could not start $(cat "$prev/VERSION")"
wait_supervisor "$prev" || die "the stack is up but the supervisor does not answer"
say "running $(cat "$prev/VERSION") again"
