# shellcheck shell=bash
# Installing what bosun needs: Debian packages (only when a binary is missing) and npm packages.
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# The newest /usr/lib/postgresql/N/bin that has a server and client, or nothing.
bosun_pg_bin_dir() {
  local dir best=''
  while read -r dir; do
    if [[ -x $dir/postgres && -x $dir/initdb && -x $dir/pg_ctl && -x $dir/psql ]]; then best=$dir; fi
  done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V)
  if [[ -n $best ]]; then printf '%s\n' "$best"; fi
}

# A statically linked busybox at /bin/busybox (Debian's busybox-static); the test image needs one.
bosun_have_static_busybox() {
  [[ -x /bin/busybox ]] && ! ldd /bin/busybox >/dev/null 2>&1
}

bosun_apt_updated=0
bosun_apt_install() {
  if ! bosun_is_root; then
    bosun_die "missing Debian packages: $*. Install them with: sudo apt-get install -y $* (or run this script as root)"
  fi
  command -v apt-get >/dev/null 2>&1 || bosun_die "missing: $* and no apt-get here; install them by hand"
  bosun_log "installing with apt-get: $*"
  export DEBIAN_FRONTEND=noninteractive
  if [[ $bosun_apt_updated -eq 0 ]]; then
    apt-get update -q </dev/null >&2 || bosun_die "apt-get update failed"
    bosun_apt_updated=1
  fi
  apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" </dev/null >&2 ||
    bosun_die "apt-get install $* failed"
}

# Installs the Debian packages for the services this run will start itself. Extra arguments name
# further binaries, as BINARY or BINARY=PACKAGE (e.g. docker-compose, aws=awscli for scripts/test);
# the package is installed when the binary is missing.
bosun_ensure_packages() {
  local pkgs=() extra
  command -v node >/dev/null 2>&1 || bosun_die "node is not installed: bosun needs Node.js >= 20.19"
  command -v npm >/dev/null 2>&1 || bosun_die "npm is not installed (it comes with Node.js)"
  if ! command -v docker >/dev/null 2>&1 || { [[ -z ${DOCKER_HOST:-} ]] && ! command -v dockerd >/dev/null 2>&1; }; then
    pkgs+=(docker.io)
  fi
  if [[ -z ${DATABASE_URL:-} && -z $(bosun_pg_bin_dir) ]]; then pkgs+=(postgresql); fi
  if [[ -z ${REDIS_URL:-} ]] && ! { command -v redis-server && command -v redis-cli; } >/dev/null 2>&1; then
    pkgs+=(redis-server)
  fi
  bosun_have_static_busybox || pkgs+=(busybox-static)
  for extra in "$@"; do
    command -v "${extra%%=*}" >/dev/null 2>&1 || pkgs+=("${extra#*=}")
  done
  if [[ ${#pkgs[@]} -gt 0 ]]; then bosun_apt_install "${pkgs[@]}"; fi
  if [[ -z ${DATABASE_URL:-} && -z $(bosun_pg_bin_dir) ]]; then
    bosun_die "postgresql is installed but no /usr/lib/postgresql/*/bin/postgres was found"
  fi
  bosun_have_static_busybox || bosun_die "/bin/busybox is missing or not static (install busybox-static)"
}

# npm packages: installed when node_modules is missing or package-lock.json is newer than npm's
# record of the last install (node_modules/.package-lock.json).
#
# Install scripts are skipped (--ignore-scripts): npm 11 blocks them by default anyway, bosun needs
# none (esbuild ships its binary as an optional package; msgpackr-extract and cpu-features are
# optional speed-ups with JS fallbacks), and skipping them keeps every npm version non-interactive.
bosun_ensure_node_modules() {
  local stamp=$BOSUN_REPO_ROOT/node_modules/.package-lock.json
  local lock=$BOSUN_REPO_ROOT/package-lock.json
  local log=$BOSUN_LOG_DIR/npm.log
  local flags=(--ignore-scripts --no-audit --no-fund --loglevel=warn)
  if [[ -f $stamp && ! $lock -nt $stamp ]]; then return 0; fi
  bosun_log "installing npm packages (npm ci; log: ${log#"$BOSUN_REPO_ROOT"/})"
  if (cd "$BOSUN_REPO_ROOT" && npm ci "${flags[@]}" </dev/null >"$log" 2>&1); then
    :
  elif grep -q 'can only install packages when your package.json and package-lock.json' "$log"; then
    # npm records only the optional platform packages it could resolve when it wrote the lock (npm
    # bug npm/cli#4828 and relatives), then `npm ci` rejects that same lock. `npm install --no-save`
    # installs the locked versions without rewriting package-lock.json.
    grep -E '^npm error (Missing|Invalid)' "$log" | head -n 5 | sed 's/^/    /' >&2 || true
    bosun_warn "npm ci rejected package-lock.json (above); installing the locked versions with npm install --no-save"
    (cd "$BOSUN_REPO_ROOT" && npm install --no-save "${flags[@]}" </dev/null >>"$log" 2>&1) || {
      bosun_tail_log "$log"
      bosun_die "npm install failed"
    }
  else
    bosun_tail_log "$log"
    bosun_die "npm ci failed"
  fi
  [[ -f $stamp ]] && touch "$stamp"
  return 0
}
