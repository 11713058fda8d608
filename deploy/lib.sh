# Shared by install.sh, upgrade.sh, rollback.sh and edgevisorctl (sourced, not run). POSIX sh has
# no `local`: variables set inside functions start with _ so they never clobber the caller's.
#
# Layout under EDGEVISOR_HOME (default /opt/edgevisor):
#   edgevisor.env            site settings (tokens, ports); created once from the template, then yours
#   project                  the compose project name the stack runs under (default edgevisor)
#   releases/<version>/      one unpacked bundle each: VERSION, compose.yaml, deploy/tree.yaml, .env
#   current, previous        symlinks to the running release and the one before it
# Env (optional): EDGEVISOR_HOME, EDGEVISOR_COMPOSE ("docker compose" or "docker-compose"),
#                 EDGEVISOR_WAIT (seconds to wait for the supervisor, default 180)

home=${EDGEVISOR_HOME:-/opt/edgevisor}
wait_s=${EDGEVISOR_WAIT:-180}

die() { echo "edgevisor: $*" >&2; exit 1; }
say() { echo "edgevisor: $*"; }

# Compose v2 plugin if the box has it, else v1. Both read .env from the release directory.
compose_cmd() {
  if [ -n "${EDGEVISOR_COMPOSE:-}" ]; then echo "$EDGEVISOR_COMPOSE"
  elif docker compose version >/dev/null 2>&1; then echo "docker compose"
  elif command -v docker-compose >/dev/null 2>&1; then echo "docker-compose"
  else die "neither 'docker compose' nor 'docker-compose' is installed"
  fi
}

project_name() {
  if [ -f "$home/project" ]; then cat "$home/project"; else echo edgevisor; fi
}

# compose_in DIR ARGS...: compose for the release in DIR, under the box's project name.
compose_in() {
  _cdir=$1; shift
  # shellcheck disable=SC2046 # the command is one or two words on purpose
  (cd "$_cdir" && $(compose_cmd) -p "$(project_name)" -f compose.yaml "$@")
}

# A random token for the env template (no openssl needed on the box).
new_token() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

# Unpacks BUNDLE into releases/<version>, loads its images; prints the release directory.
unpack_bundle() {
  _bundle=$1
  [ -f "$_bundle" ] || die "bundle $_bundle not found (expected edgevisor-<version>.tar from deploy/bundle.sh)"
  mkdir -p "$home/releases"
  _tmp=$(mktemp -d "$home/releases/.unpack.XXXXXX")
  tar -C "$_tmp" -xf "$_bundle" || { rm -rf "$_tmp"; die "$_bundle is not a readable tar file"; }
  [ -f "$_tmp/VERSION" ] && [ -f "$_tmp/compose.yaml" ] && [ -f "$_tmp/images.tar" ] \
    || { rm -rf "$_tmp"; die "$_bundle is not an edgevisor bundle (VERSION, compose.yaml or images.tar missing)"; }
  _version=$(cat "$_tmp/VERSION")
  say "loading images of $_version (this takes a minute)" >&2
  docker load -q -i "$_tmp/images.tar" >&2 || { rm -rf "$_tmp"; die "docker load failed for $_bundle"; }
  # The images now live in Docker; the release keeps only what compose needs.
  rm -f "$_tmp/images.tar"
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
  { grep -v -E '^(EDGEVISOR_IMAGE|EDGEVISOR_VERSION)=' "$home/edgevisor.env" || true
    echo "EDGEVISOR_IMAGE=$(cat "$_dir/IMAGE")"
    echo "EDGEVISOR_VERSION=$_version"
  } > "$_dir/.env"
  chmod 600 "$_dir/.env"
}

# Waits until the supervisor API answers inside its container (no curl needed on the host and
# independent of which address the API is published on).
wait_supervisor() {
  _dir=$1
  _deadline=$(( $(date +%s) + wait_s ))
  while [ "$(date +%s)" -lt "$_deadline" ]; do
    if compose_in "$_dir" exec -T supervisor node docker/healthcheck.mjs http://127.0.0.1:7070/healthz >/dev/null 2>&1; then
      return 0
    fi
    sleep 2
  done
  echo "edgevisor: the supervisor did not answer within ${wait_s}s; its last log lines:" >&2
  compose_in "$_dir" logs --tail 30 supervisor >&2 || true
  return 1
}

# Brings the stack of release DIR up and points `current` at it (the old current becomes previous).
activate() {
  _dir=$1
  # Stop the supervisor first (it stops its apps cleanly on SIGTERM). Left running while compose
  # replaces containers, it would see them die and restart the old ones, which carry the same
  # labels, and race compose for their ports. The new supervisor starts them again.
  compose_in "$_dir" stop supervisor || return 1
  compose_in "$_dir" up -d --remove-orphans || return 1
  _old=$(readlink "$home/current" 2>/dev/null || true)
  if [ -n "$_old" ] && [ "$_old" != "$_dir" ]; then ln -sfn "$_old" "$home/previous"; fi
  ln -sfn "$_dir" "$home/current"
}
