# Shared by install.sh, upgrade.sh, rollback.sh and edgevisorctl (sourced, not run; site.sh after it). POSIX sh has
# no `local`: variables set inside functions start with _ so they never clobber the caller's.
# Only what every Linux box with Docker has is used: sh, coreutils, tar, gzip, awk, sed, grep
# (ss from iproute2 when present). No curl, jq, pv or node on the host.
#
# Layout under the home (EDGEVISOR_HOME, else the home of the release this script lives in, else
# /opt/edgevisor):
#   edgevisor.env            site settings (tokens, ports); created once from the template, then yours
#   project                  the compose project name the stack runs under (default edgevisor)
#   releases/<version>/      one unpacked bundle each: VERSION, compose.yaml, deploy/site/ (the
#                            demo site files), .env (and .env.applied: what compose last ran with)
#   site/, applied/          the plant's site files and the copy the stack runs (site.sh)
#   current, previous        symlinks to the running release and the one before it
# Env (optional): EDGEVISOR_HOME, EDGEVISOR_COMPOSE ("docker compose" or "docker-compose"),
#                 EDGEVISOR_WAIT (seconds to wait for the supervisor and its children, default 180)

# A script inside HOME/releases/<version>/ (called through `current` or any symlink to it) belongs
# to HOME; anywhere else (an unpacked bundle, the repo) there is no home to infer.
script_home() {
  _self=$(readlink -f "$0" 2>/dev/null) || _self=$0
  _rel=$(dirname "$(dirname "$_self")")
  if [ "$(basename "$_rel")" = releases ]; then dirname "$_rel"; else echo /opt/edgevisor; fi
}

home=${EDGEVISOR_HOME:-$(script_home)}
wait_s=${EDGEVISOR_WAIT:-180}
# What the technician runs once a problem is fixed (each script sets its own).
retry="$home/current/edgevisorctl apply"

me=edgevisor
die() { echo "$me: $*" >&2; exit 1; }
say() { echo "$me: $*"; }
mb() { awk -v b="$1" 'BEGIN { printf "%.0f MB", b / 1e6 }'; }
since() { echo "$(( $(date +%s) - $1 )) s"; }

# meter LABEL TOTAL_BYTES: copies stdin to stdout; every 5 s prints "LABEL: 120 MB of 384 MB
# (31%)" to stderr. Our own because pv is not on plant boxes: GNU dd counts the bytes it copies
# (status=progress, a line a second); awk turns every 5th line into ours. A dd without it
# (busybox) copies silently: the step lines before and after still give size and time.
meter() {
  if ! dd status=progress count=0 </dev/null >/dev/null 2>&1; then cat; return; fi
  { LC_ALL=C dd bs=1M status=progress 2>&1 >&3 | tr '\r' '\n' | awk -v me="$me" -v label="$1" -v total="$2" '
      / copied/ { if (++n % 5 || $1 == 0) next; pct = total > 0 ? int(100 * $1 / total) : 0; if (pct > 99) pct = 99
                  printf "%s:   %s: %.0f MB of %.0f MB (%d%%)\n", me, label, $1 / 1e6, total / 1e6, pct; fflush() }' >&2
  } 3>&1
}

# Docker must answer before anything is unpacked or stopped.
need_docker() {
  timeout 20 docker version --format '{{.Server.Version}}' >/dev/null 2>&1 \
    || die "Docker does not answer (is it running? systemctl start docker), then run this command again"
}

# Compose v2 plugin if the box has it, else v1. Both read .env from the release directory.
compose_cmd() {
  if [ -n "${EDGEVISOR_COMPOSE:-}" ]; then echo "$EDGEVISOR_COMPOSE"
  elif timeout 10 docker compose version >/dev/null 2>&1; then echo "docker compose"
  elif command -v docker-compose >/dev/null 2>&1; then echo "docker-compose"
  else die "neither 'docker compose' nor 'docker-compose' is installed"
  fi
}

project_name() {
  if [ -f "$home/project" ]; then cat "$home/project"; else echo edgevisor; fi
}

# compose_in DIR ARGS...: compose for the release in DIR, under the box's project name. No time
# limit: what a technician runs by hand (events --follow, logs) ends when they say so.
compose_in() {
  _cdir=$1; shift
  # shellcheck disable=SC2046 # the command is one or two words on purpose
  (cd "$_cdir" && $(compose_cmd) -p "$(project_name)" -f compose.yaml "$@")
}

# compose_within SECONDS DIR ARGS...: the same, killed after SECONDS (what the scripts run
# themselves, so a hung engine or exec never hangs an install).
compose_within() {
  _secs=$1 _cdir=$2; shift 2
  # shellcheck disable=SC2046
  (cd "$_cdir" && timeout "$_secs" $(compose_cmd) -p "$(project_name)" -f compose.yaml "$@")
}

# The supervisor's own CLI inside its container (its environment carries the technician token).
ctl_in() {
  _cdir=$1; shift
  compose_in "$_cdir" exec -T supervisor node bin/edgevisor.mjs "$@"
}
ctl_within() {
  _csecs=$1 _cdir=$2; shift 2
  compose_within "$_csecs" "$_cdir" exec -T supervisor node bin/edgevisor.mjs "$@"
}

# A random token for the env template (no openssl needed on the box).
new_token() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

# env_get NAME DEFAULT: a value of the site file.
env_get() {
  _v=$(grep -E "^$1=" "$home/edgevisor.env" 2>/dev/null | tail -n 1 | cut -d= -f2-)
  echo "${_v:-$2}"
}

# Unpacks BUNDLE into releases/<version> and loads its images straight from the bundle (no copy
# of them on disk); prints the release directory. Bundles carry images.tar.gz (older ones images.tar).
unpack_bundle() {
  _bundle=$1
  [ -f "$_bundle" ] || die "bundle $_bundle not found (expected edgevisor-<version>.tar from deploy/bundle.sh)"
  _members=$(tar -tf "$_bundle" 2>/dev/null) || die "$_bundle is not a readable tar file"
  _img=$(echo "$_members" | grep -E '^(\./)?images\.tar(\.gz)?$' | head -n 1)
  mkdir -p "$home/releases"
  _tmp=$(mktemp -d "$home/releases/.unpack.XXXXXX")
  tar -C "$_tmp" -xf "$_bundle" --exclude images.tar.gz --exclude images.tar || { rm -rf "$_tmp"; die "$_bundle is not a readable tar file"; }
  [ -f "$_tmp/VERSION" ] && [ -f "$_tmp/compose.yaml" ] && [ -n "$_img" ] \
    || { rm -rf "$_tmp"; die "$_bundle is not an edgevisor bundle (VERSION, compose.yaml or images.tar.gz missing)"; }
  _version=$(cat "$_tmp/VERSION")
  _size=$(tar -tvf "$_bundle" "$_img" | awk '{ print $3; exit }')
  _t0=$(date +%s)
  say "loading the images of $_version ($(mb "$_size"))" >&2
  tar -xOf "$_bundle" "$_img" | meter loading "$_size" | timeout 1800 docker load -q >&2 \
    || { rm -rf "$_tmp"; die "docker load failed for $_bundle (a damaged copy? compare its size with the original)"; }
  say "loaded the images of $_version in $(since "$_t0")" >&2
  if [ -d "$home/releases/$_version" ]; then
    # Same version again: keep the unpacked release (it may be the running one; its tree file is
    # bind-mounted into the supervisor) and only reload the images, done above.
    rm -rf "$_tmp"
  else
    mv "$_tmp" "$home/releases/$_version"
  fi
  echo "$home/releases/$_version"
}

# Writes DIR/.env: the site settings plus this release's image and version (the release pins
# its image, so a rollback runs exactly the old image again).
write_env() {
  _dir=$1
  _version=$(cat "$_dir/VERSION")
  if [ ! -f "$home/edgevisor.env" ]; then
    sed -e "s/^EDGEVISOR_VIEWER_TOKEN=.*/EDGEVISOR_VIEWER_TOKEN=$(new_token)/" \
        -e "s/^EDGEVISOR_TECHNICIAN_TOKEN=.*/EDGEVISOR_TECHNICIAN_TOKEN=$(new_token)/" \
        "$_dir/edgevisor.env.example" > "$home/edgevisor.env"
    chmod 600 "$home/edgevisor.env"
    say "created $home/edgevisor.env with new API tokens"
  fi
  { grep -v -E '^(EDGEVISOR_IMAGE|EDGEVISOR_VERSION|EDGEVISOR_SITE|EDGEVISOR_DOCKER_GID)=' "$home/edgevisor.env" || true
    echo "EDGEVISOR_IMAGE=$(cat "$_dir/IMAGE")"
    echo "EDGEVISOR_VERSION=$_version"
    # The site files the containers mount (site.sh): the applied copy, never the one being edited.
    echo "EDGEVISOR_SITE=$home/applied"
    # The supervisor (uid 10001) reaches the Docker socket through its group (compose.yaml).
    echo "EDGEVISOR_DOCKER_GID=$(stat -c %g /var/run/docker.sock 2>/dev/null || echo 0)"
  } > "$_dir/.env"
  chmod 600 "$_dir/.env"
}

# The host ports of the site file, one NAME=PORT a line (defaults as in compose.yaml).
site_ports() {
  echo "EDGEVISOR_API_PORT=$(env_get EDGEVISOR_API_PORT 7070)"
  echo "EDGEVISOR_WEB_PORT=$(env_get EDGEVISOR_WEB_PORT 8080)"
  echo "EDGEVISOR_CAMERA_PORT=$(env_get EDGEVISOR_CAMERA_PORT 8081)"
  echo "EDGEVISOR_ONVIF_PORT=$(env_get EDGEVISOR_ONVIF_PORT 8082)"
  echo "EDGEVISOR_INFERENCE_PORT=$(env_get EDGEVISOR_INFERENCE_PORT 8083)"
  echo "EDGEVISOR_VACUUM_PORT=$(env_get EDGEVISOR_VACUUM_PORT 8084)"
}

# The one line that says what to do about a taken PORT (WHO: "another program (node, pid 12)"),
# on stderr; returns 1, so activate can still restart the supervisor before it gives up.
port_taken() {
  _var=$(site_ports | grep -E "=$1\$" | head -n 1 | cut -d= -f1)
  echo "$me: port $1 is taken by $2: set ${_var:-its EDGEVISOR_*_PORT} in $home/edgevisor.env to a free port and run $retry" >&2
  return 1
}

# Who holds host PORT, other than this stack: a container of another project, a program, or nobody.
port_owner() {
  # Host ports from the mappings ("127.0.0.1:8080->8080/tcp"): `docker ps --filter publish=`
  # matches the container's port, not the host's.
  _c=$(timeout 20 docker ps --format '{{.Names}}|{{.Label "com.docker.compose.project"}}|{{.Ports}}' 2>/dev/null \
    | grep -E ":$1->" | head -n 1 | cut -d'|' -f1,2)
  if [ -n "$_c" ]; then
    [ "${_c#*|}" = "$(project_name)" ] || echo "container ${_c%%|*}, not of this stack"
    return 0
  fi
  command -v ss >/dev/null 2>&1 || return 0
  _bind=$(env_get EDGEVISOR_BIND 127.0.0.1)
  ss -Hltnp "sport = :$1" 2>/dev/null | awk -v bind="$_bind" '
    { addr = $4; sub(/:[0-9]+$/, "", addr); gsub(/[][]/, "", addr)
      if (bind != "0.0.0.0" && addr != bind && addr != "0.0.0.0" && addr != "*" && addr != "::") next
      who = "another program"
      if (match($0, /users:\(\("[^"]*",pid=[0-9]+/)) { split(substr($0, RSTART + 9, RLENGTH - 9), u, /",pid=/); who = who " (" u[1] ", pid " u[2] ")" }
      print who; exit }'
}

# Returns 1 (having said which and what to do) when a port of the site file is taken by anything
# but this stack.
check_ports() {
  for _p in $(site_ports | cut -d= -f2); do
    _who=$(port_owner "$_p")
    [ -z "$_who" ] || { port_taken "$_p" "$_who"; return 1; }
  done
}

# The port of a compose/engine "taken" error in a log ("Bind for 127.0.0.1:8080 failed: port is
# already allocated", "listen tcp4 0.0.0.0:8080: bind: address already in use"), else nothing.
port_in_error() {
  grep -oE ':[0-9]+(: bind: address already in use| failed: port is already allocated)' | head -n 1 | grep -oE '[0-9]+' | head -n 1
}

# Brings the stack of release DIR up and points `current` at it (the old current becomes previous).
# Returns 1 when it cannot (what went wrong said on stderr); it never exits the script, so a
# caller can go back (upgrade.sh), and it never leaves the box without a running supervisor once
# it stopped one: `restart: always` does not bring back a container compose stopped.
activate() {
  _dir=$1
  _t0=$(date +%s)
  check_ports || return 1
  # Asked before anything stops: a failure here leaves the running stack as it was.
  _apps=$(compose_within 60 "$_dir" config --services | grep -vx supervisor) || return 1
  say "starting $(cat "$_dir/VERSION") as compose project $(project_name)"
  # Stop the supervisor first (its apps keep running: a new supervisor adopts them). Left running while compose
  # replaces containers, it would see them die and restart the old ones, which carry the same
  # labels, and race compose for their ports. The new supervisor starts them again.
  if ! compose_within 120 "$_dir" stop supervisor; then
    # Perhaps stopped anyway: started again as it was (no recreate), so it still supervises.
    compose_within 60 "$_dir" start supervisor >/dev/null 2>&1 || true
    echo "$me: could not stop the supervisor of the running stack: nothing was changed" >&2
    return 1
  fi
  # Then the apps, then the supervisor: started together, the new supervisor may come up while
  # compose is still replacing an app's container, find the old one (stopped, renamed, the same
  # labels) and start it, which takes the new one's ports (seen in a rollback that recreated only
  # the camera: "port is already allocated").
  _log=$(mktemp)
  _rc=0
  # shellcheck disable=SC2086 # one service a word
  compose_within 600 "$_dir" up -d --remove-orphans $_apps >"$_log" 2>&1 || _rc=1
  if [ "$_rc" -ne 0 ]; then
    cat "$_log" >&2
    # A program that took the port after check_ports, or one ss could not see.
    _port=$(port_in_error <"$_log")
    [ -z "$_port" ] || port_taken "$_port" "another program" || true
    echo "$me: the apps of $(cat "$_dir/VERSION") did not all start; starting its supervisor anyway (it restarts what it can)" >&2
  fi
  if ! compose_within 300 "$_dir" up -d --no-deps supervisor >"$_log" 2>&1; then
    cat "$_log" >&2
    _port=$(port_in_error <"$_log")
    [ -z "$_port" ] || port_taken "$_port" "another program" || true
    echo "$me: the supervisor of $(cat "$_dir/VERSION") did not start: nothing supervises the apps until it does" >&2
    _rc=1
  fi
  rm -f "$_log"
  [ "$_rc" -eq 0 ] || return 1
  # What compose now runs with: apply compares the next .env with it.
  cp "$_dir/.env" "$_dir/.env.applied"
  _old=$(readlink "$home/current" 2>/dev/null || true)
  if [ -n "$_old" ] && [ "$_old" != "$_dir" ]; then ln -sfn "$_old" "$home/previous"; fi
  ln -sfn "$_dir" "$home/current"
  say "containers of $(cat "$_dir/VERSION") started in $(since "$_t0")"
}

# The stack of release DIR is up: the supervisor runs and every service has a container. The
# apps' containers may be down for a moment (the supervisor restarts them): that is its business.
stack_up() {
  _want=$(compose_within 60 "$1" config --services 2>/dev/null | wc -l)
  _have=$(timeout 30 docker ps -aq --filter "label=com.docker.compose.project=$(project_name)" 2>/dev/null | wc -l)
  _sup=$(timeout 30 docker ps -q --filter "label=com.docker.compose.project=$(project_name)" --filter label=com.docker.compose.service=supervisor 2>/dev/null)
  [ "$_want" -gt 0 ] && [ "$_have" -ge "$_want" ] && [ -n "$_sup" ]
}

# Waits until the supervisor answers inside its container (no curl needed on the host, whatever
# address the API is published on), then until its children run, saying what it waits for.
# Returns 1 when the supervisor never answers, 2 when it does but a child is not running in time.
wait_stack() {
  _dir=$1
  _t0=$(date +%s)
  _deadline=$(( _t0 + wait_s ))
  say "waiting for the supervisor to answer (up to ${wait_s} s)"
  _shown=$_t0
  until compose_within 30 "$_dir" exec -T supervisor node docker/healthcheck.mjs http://127.0.0.1:7070/healthz >/dev/null 2>&1; do
    if [ $(( $(date +%s) - _shown )) -ge 10 ]; then
      _shown=$(date +%s)
      say "  waiting for: the supervisor's API (container $(timeout 20 docker inspect -f '{{.State.Status}}' "$(compose_within 20 "$_dir" ps -q supervisor 2>/dev/null)" 2>/dev/null || echo missing)) [$(since "$_t0")]"
    fi
    if [ "$(date +%s)" -ge "$_deadline" ]; then
      echo "edgevisor: the supervisor did not answer within ${wait_s} s; its last log lines:" >&2
      compose_within 30 "$_dir" logs --tail 30 supervisor >&2 || true
      return 1
    fi
    sleep 2
  done
  say "the supervisor answers (after $(since "$_t0")); waiting for its children"
  _last=''
  _shown=0
  while :; do
    # Rows of `status`: a header, the root, then ID STATE ...; a manual stop ("stopped (manual)")
    # is not waited for, a child that failed for good (restart: temporary) cannot be.
    if _table=$(ctl_within 30 "$_dir" status 2>/dev/null); then
      _waiting=$(echo "$_table" | awk 'NR > 2 && $2 != "running" && $2 != "failed" && $3 != "(manual)" { printf "%s%s (%s)", sep, $1, $2; sep = ", " }')
      if echo "$_table" | awk 'NR == 2 && $2 == "gave_up" { found = 1 } END { exit !found }'; then
        echo "edgevisor: the supervision tree gave up (too many restarts). See why with: $home/current/edgevisorctl events" >&2
        return 2
      fi
    else
      _waiting='the status command'
    fi
    [ -n "$_waiting" ] || { say "every child is running (after $(since "$_t0"))"; return 0; }
    if [ "$_waiting" != "$_last" ] || [ $(( $(date +%s) - _shown )) -ge 10 ]; then
      say "  waiting for: $_waiting [$(since "$_t0")]"
      _last=$_waiting
      _shown=$(date +%s)
    fi
    if [ "$(date +%s)" -ge "$_deadline" ]; then
      _first=${_waiting%% *}
      echo "edgevisor: not running after ${wait_s} s: $_waiting. See why with: $home/current/edgevisorctl logs $_first (and: edgevisorctl events)" >&2
      return 2
    fi
    sleep 2
  done
}

# What a technician needs after every command: the status table, the dashboard, the tokens.
summary() {
  _dir=$1
  ctl_within 30 "$_dir" status || true
  _bind=$(env_get EDGEVISOR_BIND 127.0.0.1)
  _web=$(env_get EDGEVISOR_WEB_PORT 8080)
  case "$_bind" in
    0.0.0.0) _host=$(hostname -I 2>/dev/null | awk '{ print $1 }'); _where="from the plant network" ;;
    127.*) _host=$_bind; _where="on this box only; EDGEVISOR_BIND opens it to the network" ;;
    *) _host=$_bind; _where="from the plant network" ;;
  esac
  say "dashboard: http://${_host:-THIS-BOX}:$_web/ ($_where)"
  say "tokens: EDGEVISOR_VIEWER_TOKEN (read-only) and EDGEVISOR_TECHNICIAN_TOKEN (restart, stop, start) in $home/edgevisor.env"
}

# finish DIR RC DONE: the end of install, upgrade, rollback and apply once compose has run, from
# wait_stack's RC: the summary, then DONE ("installed 1.4.0 in 41 s") as the last line.
finish() {
  [ "$2" -ne 1 ] || die "the containers are up but the supervisor does not answer: see $home/current/edgevisorctl docker-logs supervisor, then run $retry"
  summary "$1"
  if [ "$2" -eq 2 ]; then say "$3, but not every child is running yet (see above)"; else say "$3"; fi
}
