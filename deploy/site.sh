# The plant's site files (sourced after lib.sh by install.sh, upgrade.sh, rollback.sh and
# edgevisorctl): tree.yaml, cameras.yaml and zones.yaml.
#
#   HOME/site/      the plant's files: seeded from the release's demo files (deploy/site/) at the
#                   first install, then edited by the technician; no release owns them, so an
#                   upgrade or a rollback keeps them
#   HOME/applied/   the copy the stack runs: mounted read-only into the supervisor, camera and
#                   inference containers (EDGEVISOR_SITE in the release's .env) and written only
#                   once every file validated, so a bad edit never reaches a container, not even
#                   one restarted later after a crash; apply compares site/ with it to know what
#                   changed
#
# Who reads the camera credentials (cameras.yaml: RTSP userinfo, usernames and passwords): only
# the camera app. So applied/cameras.yaml is root:SITE_SECRETS_GID 0640 and compose.yaml gives
# that group to the camera container alone (group_add); the supervisor (tree.yaml) and inference
# (zones.yaml) run as 10001 without it and cannot read it, nor can the host's users. The other
# files stay 0644. site/cameras.yaml is the technician's (root over ssh, mounted nowhere): 0600.
# A release whose compose.yaml gives no such group (one from before this change) gets 0644 again
# when it is published for (rollback, or an upgrade that falls back): its camera runs as 10001
# without the group and could not read a 0640 file.
#
# The files are checked with the validators of the release's own image (the supervisor's
# `validate`, the camera app's and the inference app's loaders), in a container without network
# and with a read-only root, so a box without Node checks them exactly as the apps will read them.

SITE_FILES='tree.yaml cameras.yaml zones.yaml'
# The group of applied/cameras.yaml, given to the camera container in compose.yaml (the same
# number there, `group_add`). Fixed, not looked up: the containers have no /etc/group entry for
# it. A host group with this gid would read the credentials too: keep it unused on the host.
SITE_SECRETS_GID=10002

# Creates HOME/site from release DIR's demo files when the box has none yet.
seed_site() {
  [ ! -d "$home/site" ] || return 0
  mkdir -p "$home/site"
  for _f in $SITE_FILES; do cp "$1/deploy/site/$_f" "$home/site/$_f"; done
  chmod 644 "$home/site/"*.yaml
  chmod 600 "$home/site/cameras.yaml"
  say "created $home/site with the demo tree, cameras and zones (yours to edit; then run $home/current/edgevisorctl apply)"
}

# service_env CONFIG SERVICE VAR...: `-e VAR=value` for each VAR that SERVICE has in CONFIG, the
# output of `compose config` (so both compose versions and the release's .env are taken into account).
service_env() {
  _cfg=$1 _svc=$2; shift 2
  for _var in "$@"; do
    _val=$(echo "$_cfg" | awk -v svc="  $_svc:" -v var="$_var" '
      $0 == svc { s = 1; next }
      s && /^  [^ ]/ { s = 0 }
      s && $0 ~ "^      " var ": " { sub("^ *" var ": *", ""); gsub(/^["\047]|["\047]$/, ""); print; exit }')
    [ -z "$_val" ] || printf -- '-e %s=%s\n' "$_var" "$_val"
  done
}

# check_site DIR: validates HOME/site with the image of release DIR. Silent when every file is
# valid; otherwise prints each problem as `edgevisor: HOME/site/FILE:LINE field: what is wrong`
# on stderr and returns 1.
check_site() {
  _cdir=$1
  for _f in $SITE_FILES; do
    [ -f "$home/site/$_f" ] || { echo "edgevisor: $home/site/$_f is missing (a copy of the demo one is in $_cdir/deploy/site/$_f)" >&2; return 1; }
  done
  # The model and classes of inference, the onvif service of camera: what the apps check against.
  _cfg=$(compose_within 60 "$_cdir" config 2>/dev/null || true)
  _envs="$(service_env "$_cfg" inference MODEL CLASSES) $(service_env "$_cfg" camera ONVIF_URL ONVIF_ADOPT)"
  _err=$(mktemp)
  # As root with only CAP_DAC_READ_SEARCH: it reads the files whatever their owner and mode
  # (site/cameras.yaml is 0600, maybe not root's); the apps read the applied copy (publish_site).
  # shellcheck disable=SC2086 # one -e VAR=value per word
  timeout 120 docker run --rm --network none --read-only --tmpfs /tmp --user 0:0 --cap-drop ALL --cap-add DAC_READ_SEARCH \
    --security-opt no-new-privileges -v "$home/site:/site:ro" $_envs \
    "$(cat "$_cdir/IMAGE")" sh -c '
      rc=0
      node dist/edgevisor.mjs validate /site/tree.yaml >/dev/null || rc=1
      ids=$(node dist/check-cameras.mjs /site/cameras.yaml) || rc=1
      ids=${ids##*: }
      node dist/check-zones.mjs ${ids:+--cameras "$ids"} /site/zones.yaml >/dev/null || rc=1
      exit $rc' >/dev/null 2>"$_err"
  _rc=$?
  if [ "$_rc" -ne 0 ]; then
    # Problems name their file (`cameras.yaml:14 ...`): give the technician the file to edit.
    awk -v site="$home/site/" '/^(tree|cameras|zones)\.yaml[: ]/ { print "edgevisor: " site $0; next } NF { print "edgevisor: " $0 }' "$_err" >&2
    [ -s "$_err" ] || echo "edgevisor: the site files could not be checked (docker run exited $_rc)" >&2
  fi
  rm -f "$_err"
  return "$_rc"
}

# The site files that differ from the applied copy, one name a line.
site_changes() {
  for _f in $SITE_FILES; do cmp -s "$home/site/$_f" "$home/applied/$_f" || echo "$_f"; done
}

# site_secrets_granted DIR: returns 0 when release DIR's compose.yaml gives SITE_SECRETS_GID to
# the camera service (`group_add`), 1 when it does not (releases from before it: their camera
# reads cameras.yaml only if it is 0644), 2 (said on stderr) when it cannot tell. Read from the
# file with awk, not from `compose config`: that needs compose on every publish (a second or more
# for v1 on a small box) and prints other YAML for v1 and v2. Block (`- "10002"`) and flow
# (`["10002"]`) lists are read; what could hide the group (an item that is not a number, a flow
# list over lines, a group_add outside a service's own keys, such as in an x- anchor that camera
# merges) is refused, never taken as "no group" (that would publish the credentials 0644).
site_secrets_granted() {
  _sg=$(awk -v gid="$SITE_SECRETS_GID" '
    function bare(v) { sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v); if (v ~ /^".*"$/ || v ~ /^\047.*\047$/) v = substr(v, 2, length(v) - 2); return v }
    function item(v) { v = bare(v); if (v !~ /^[0-9]+$/) { bad = bad "line " NR ": group_add item " v " is not a number; "; return } if (v == gid) found = 1 }
    { line = $0; sub(/[ \t]+#.*$/, "", line); if (line ~ /^[ \t]*(#|$)/) next; ind = match(line, /[^ ]/) - 1 }
    list && ind > 4 && line ~ /^ *- / { if (cam) { sub(/^ *- */, "", line); item(line) } next }
    list && ind == 4 && line ~ /^ *- / { if (cam) { sub(/^ *- */, "", line); item(line) } next }
    { list = 0 }
    ind == 0 { top = line; cam = 0 }
    ind == 2 && top ~ /^services:/ { cam = (line ~ /^  camera:/) }
    line ~ /^ *group_add:/ {
      if (ind != 4 || top !~ /^services:/) { bad = bad "line " NR ": a group_add outside a service of services:; "; next }
      v = line; sub(/^ *group_add: */, "", v)
      if (v == "") { list = 1; next }
      if (!cam) next
      if (v !~ /^\[.*\]$/) { bad = bad "line " NR ": group_add is neither a block nor a one-line flow list; "; next }
      v = substr(v, 2, length(v) - 2); n = split(v, items, ","); for (i = 1; i <= n; i++) if (bare(items[i]) != "") item(items[i])
    }
    END { if (bad != "") { sub(/; $/, "", bad); print "unreadable: " bad } else print (found ? "yes" : "no") }' "$1/compose.yaml" 2>&1) || _sg="unreadable: $_sg"
  case "$_sg" in
    yes) return 0 ;;
    no) return 1 ;;
  esac
  echo "$me: $1/compose.yaml: cannot tell whether the camera service has group $SITE_SECRETS_GID (${_sg#unreadable: }); expected group_add: as a list of numbers, - \"$SITE_SECRETS_GID\" lines or [\"$SITE_SECRETS_GID\"]" >&2
  return 2
}

# site_mode DIR FILE: the mode and group FILE gets in applied/ for release DIR (`stat -c '%a %g'`);
# returns 2 (said on stderr) when release DIR's compose.yaml cannot tell (site_secrets_granted).
site_mode() {
  [ "$2" = cameras.yaml ] || { echo "644 0"; return 0; }
  _smg=0
  site_secrets_granted "$1" || _smg=$?
  case "$_smg" in
    0) echo "640 $SITE_SECRETS_GID" ;;
    1) echo "644 0" ;;
    *) return 2 ;;
  esac
}

# site_modes_ok DIR: every applied file has the mode and group site_mode gives it for DIR.
site_modes_ok() {
  for _f in $SITE_FILES; do
    [ "$(stat -c '%a %g' "$home/applied/$_f" 2>/dev/null)" = "$(site_mode "$1" "$_f")" ] || return 1
  done
}

# publish_site DIR: copies HOME/site to HOME/applied for release DIR, each file replaced by a
# rename (a container reading it sees the old file or the new one, never half of one; the
# folder, not the file, is mounted, so a restarted container sees the new one), its mode and
# group set before the rename (site_mode), so no reader ever sees the credentials with a wider
# mode. Also takes group and others' access off site/cameras.yaml (boxes seeded before it was 0600).
publish_site() {
  # Decided before anything is written: a release whose compose.yaml cannot tell publishes nothing.
  site_mode "$1" cameras.yaml >/dev/null || die "the site files were not published for $(cat "$1/VERSION" 2>/dev/null || echo "$1") (see the line above)"
  mkdir -p "$home/applied"
  chmod 755 "$home/applied"
  chmod go= "$home/site/cameras.yaml"
  for _f in $SITE_FILES; do
    _m=$(site_mode "$1" "$_f")
    rm -f "$home/applied/.$_f.tmp"
    # Created empty with its final mode, then filled: the credentials are never in a 0644 file.
    (umask 077 && : > "$home/applied/.$_f.tmp")
    chgrp "${_m#* }" "$home/applied/.$_f.tmp"
    chmod "${_m% *}" "$home/applied/.$_f.tmp"
    cat "$home/site/$_f" > "$home/applied/.$_f.tmp"
    mv -f "$home/applied/.$_f.tmp" "$home/applied/$_f"
  done
}

# accept_site DIR: seeds HOME/site if needed and checks it with release DIR's validators; exits
# the script when a file is refused (nothing published, nothing changed).
accept_site() {
  seed_site "$1"
  check_site "$1" || die "the site files in $home/site are refused (see the lines above): nothing was changed; fix them, then run $retry"
}

# publish_site_switching OLD NEW: publish_site NEW for a switch from the running release OLD
# (upgrade, rollback), and, until `current` points at NEW, any way out of the script (a failure,
# Ctrl-C) publishes it again for OLD: published for NEW, cameras.yaml may be 0640, which OLD's
# camera (a release without the site group) could not read at its next restart. Sets the
# script's EXIT trap.
publish_site_switching() {
  _sw_old=$1 _sw_new=$2
  trap '_trc=$?; [ "$(readlink "$home/current" 2>/dev/null)" = "$_sw_new" ] || publish_site "$_sw_old" || true; exit $_trc' EXIT
  trap 'exit 130' INT TERM HUP
  publish_site "$_sw_new"
}

# restart_for_site DIR CHANGED: after publish_site, restarts what the changed files need, through
# the supervisor (so each restart is an event with its reason): tree.yaml the supervisor itself
# (SIGTERM leaves the apps running; the new one adopts them and runs the new tree), cameras.yaml
# camera (and what its strategy restarts with it: inference, rest_for_one), zones.yaml inference
# unless it already restarted. Says what it restarted.
restart_for_site() {
  _rdir=$1 _changed=$2
  if echo "$_changed" | grep -qx tree.yaml; then
    say "tree.yaml changed: restarting the supervisor (the apps keep running; it takes them over)"
    compose_within 120 "$_rdir" restart supervisor >/dev/null 2>&1 || return 1
    # The restarted supervisor must answer before it is asked to restart anything.
    wait_stack "$_rdir" >/dev/null || return $?
  fi
  _done=''
  if echo "$_changed" | grep -qx cameras.yaml; then
    _said=$(ctl_within 60 "$_rdir" restart camera) || return 1
    say "cameras.yaml changed: $_said"
    _done=$_said
  fi
  if echo "$_changed" | grep -qx zones.yaml; then
    if echo "$_done" | grep -qw inference; then
      say "zones.yaml changed: inference restarts with the camera (above)"
    else
      _said=$(ctl_within 60 "$_rdir" restart inference) || return 1
      say "zones.yaml changed: $_said"
    fi
  fi
}
