# shellcheck shell=bash
# Shared helpers for scripts/up, scripts/test and scripts/build-images. Source this file; do not run it.
#
# Paths:   BOSUN_REPO_ROOT (the repo), BOSUN_DIR (= $BOSUN_REPO_ROOT/.bosun, kept between runs),
#          BOSUN_LOG_DIR (= $BOSUN_DIR/logs).

if [[ -n ${BOSUN_LIB_COMMON_LOADED:-} ]]; then return 0; fi
BOSUN_LIB_COMMON_LOADED=1

BOSUN_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
BOSUN_DIR=$BOSUN_REPO_ROOT/.bosun
BOSUN_LOG_DIR=$BOSUN_DIR/logs

bosun_log() { printf '[bosun] %s\n' "$*" >&2; }
bosun_warn() { printf '[bosun] warning: %s\n' "$*" >&2; }
bosun_die() {
  printf '[bosun] error: %s\n' "$*" >&2
  exit 1
}

bosun_is_root() { [[ $(id -u) -eq 0 ]]; }

# Prints the last lines of a log file, indented, to stderr.
bosun_tail_log() {
  local file=$1 lines=${2:-40}
  if [[ -r $file ]]; then
    printf '[bosun] --- last %s lines of %s ---\n' "$lines" "$file" >&2
    tail -n "$lines" "$file" | sed 's/^/    /' >&2
    printf '[bosun] ---\n' >&2
  fi
}

# True while the process exists and is not a zombie.
bosun_pid_alive() {
  local pid=$1 stat
  [[ -n $pid && -r /proc/$pid/stat ]] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# Stops a process: SIGTERM, waits up to TIMEOUT seconds, then SIGKILL. Reaps it if it is our child.
bosun_stop_pid() {
  local pid=$1 name=$2 timeout=${3:-10} i
  bosun_pid_alive "$pid" || {
    wait "$pid" 2>/dev/null || true
    return 0
  }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    bosun_pid_alive "$pid" || break
    sleep 0.1
  done
  if bosun_pid_alive "$pid"; then
    bosun_warn "$name (pid $pid) did not stop within ${timeout}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      bosun_pid_alive "$pid" || break
      sleep 0.1
    done
  fi
  wait "$pid" 2>/dev/null || true
}

# GET a URL; true on a 2xx answer. curl when present, else Node's fetch. An https URL is verified
# against CA (a PEM file), or not at all with CA=insecure (only to see whether anything answers).
bosun_http_ok() {
  local url=$1 ca=${2:-}
  local curl_tls=() node_env=()
  if [[ $ca == insecure ]]; then
    curl_tls=(-k)
    node_env=(NODE_TLS_REJECT_UNAUTHORIZED=0)
  elif [[ -n $ca ]]; then
    curl_tls=(--cacert "$ca")
    node_env=(NODE_EXTRA_CA_CERTS="$ca")
  fi
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -o /dev/null --max-time 2 "${curl_tls[@]}" "$url" 2>/dev/null
  else
    env "${node_env[@]}" node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) })
      .then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1));' "$url" 2>/dev/null
  fi
}

# A short stable id for this checkout (used for paths outside the repo).
bosun_repo_hash() { printf '%s' "$BOSUN_REPO_ROOT" | sha256sum | cut -c1-12; }

# .bosun and .bosun/logs. As root, .bosun is made traversable (o+x, not readable) so the postgres
# OS user can reach its data directory inside it; secrets in it are files with mode 0600. Logs are
# not world-readable (they can carry task details): .bosun/logs is 0711 — the postgres OS user may
# pass through it to its own log file, which it owns — and every log file in it 0600 or 0640.
bosun_prepare_dirs() {
  if [[ ! -d $BOSUN_DIR ]]; then
    mkdir -p "$BOSUN_DIR"
    chmod 0711 "$BOSUN_DIR"
  fi
  mkdir -p "$BOSUN_LOG_DIR"
  if bosun_is_root; then
    chmod o+x "$BOSUN_DIR"
    chmod 0711 "$BOSUN_LOG_DIR"
  else
    chmod 0700 "$BOSUN_LOG_DIR"
  fi
  # Made by earlier versions, or by tools, with the umask's mode (often 0644 / 0755).
  find "$BOSUN_LOG_DIR" -mindepth 1 -perm /o=rw -exec chmod o-rw {} + 2>/dev/null || true
}

# Creates a log file readable by its owner only (before anything appends to it); keeps an existing one.
bosun_log_file() {
  if [[ ! -e $1 ]]; then (umask 077 && : >>"$1"); fi
  chmod o-rwx "$1" 2>/dev/null || true
}

# The secret in FILE (under .bosun, mode 0600), made on first use: 48 hex characters, so it needs no
# escaping in a URL, a config file or SQL.
bosun_secret_file() {
  local file=$1 secret
  if [[ ! -s $file ]]; then
    secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    (umask 077 && printf '%s\n' "$secret" >"$file.tmp") && mv -f "$file.tmp" "$file"
  fi
  chmod 0600 "$file"
  tr -d '\n' <"$file"
}
