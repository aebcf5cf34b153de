# shellcheck shell=bash
# Postgres: DATABASE_URL as given, else a project-local cluster (started, or reused when running).
#
# The cluster lives in .bosun/postgres, listens on 127.0.0.1:$BOSUN_PG_PORT (55432) only, keeps its
# Unix socket in .bosun/pg-socket and logs to .bosun/logs/postgres.log. As root it runs as the
# `postgres` OS user; when that user cannot reach the repo (a parent directory without o+x), the
# cluster goes to /var/lib/bosun/<hash of repo path>/ instead, recorded in .bosun/postgres.location.
# Databases: `bosun` (scripts/up) and `bosun_test` (scripts/test), owned by role `bosun`, which may
# create databases (the integration tests make scratch databases next to them). The role's password
# is generated once and kept in .bosun/postgres.password (0600); it is set again at every start, so a
# cluster made with an older password (the fixed `bosun` of earlier versions) is brought up to date.
# Password (scram-sha-256) over loopback TCP rather than peer auth over the socket: bosun's processes
# do not run as an OS user named like the role. Local socket connections stay peer-only.
# shellcheck source=scripts/lib/install.sh
source "$(dirname "${BASH_SOURCE[0]}")/install.sh"

BOSUN_PG_STATE=''  # external | reused | started
BOSUN_STARTED_POSTGRES=0
BOSUN_PG_BIN=''
BOSUN_PG_DATA=''
BOSUN_PG_SOCKET_DIR=''
BOSUN_PG_LOG=''
BOSUN_PG_PORT_USED=''
BOSUN_PG_ROLE=bosun
BOSUN_PG_PASSWORD=''
BOSUN_PG_PASSWORD_FILE=$BOSUN_DIR/postgres.password
# shellcheck disable=SC2034 # read by scripts/test
BOSUN_TEST_DATABASE_URL=''

# Runs a command as the cluster's owner: the postgres OS user when we are root, else ourselves.
bosun_pg_run() {
  if bosun_is_root; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# The first directory on the way to $1 that the postgres OS user cannot search.
bosun_pg_blocked_dir() {
  local cur='' part
  local -a parts
  IFS=/ read -ra parts <<<"${1#/}"
  for part in "${parts[@]}"; do
    [[ -n $part ]] || continue
    cur+=/$part
    if ! (cd / && runuser -u postgres -- test -x "$cur"); then
      printf '%s' "$cur"
      return 0
    fi
  done
}

# Chooses data, socket and log paths (see the top of this file).
bosun_pg_locate() {
  local home hash
  hash=$(bosun_repo_hash)
  if bosun_is_root; then
    id postgres >/dev/null 2>&1 || bosun_die "there is no 'postgres' OS user (is the postgresql package installed?)"
  fi
  if [[ -f $BOSUN_DIR/postgres.location ]]; then
    home=$(dirname "$(<"$BOSUN_DIR/postgres.location")")
  elif ! bosun_is_root || (cd / && runuser -u postgres -- test -x "$BOSUN_DIR"); then
    home=''
  else
    home=/var/lib/bosun/$hash
    bosun_warn "the postgres OS user cannot reach $BOSUN_DIR (no search permission on $(bosun_pg_blocked_dir "$BOSUN_DIR"));" \
      "keeping the Postgres cluster in $home/postgres instead"
    printf '%s\n' "$home/postgres" >"$BOSUN_DIR/postgres.location"
  fi
  if [[ -z $home ]]; then
    BOSUN_PG_DATA=$BOSUN_DIR/postgres
    BOSUN_PG_SOCKET_DIR=$BOSUN_DIR/pg-socket
    BOSUN_PG_LOG=$BOSUN_LOG_DIR/postgres.log
  else
    mkdir -p "$home"
    if bosun_is_root; then chown postgres:postgres "$home" && chmod 0700 "$home"; fi
    BOSUN_PG_DATA=$home/postgres
    BOSUN_PG_SOCKET_DIR=$home/socket
    BOSUN_PG_LOG=$home/postgres.log
  fi
  # Unix socket paths are limited to 107 bytes; a deep checkout would exceed it.
  if ((${#BOSUN_PG_SOCKET_DIR} > 80)); then BOSUN_PG_SOCKET_DIR=/tmp/bosun-pg-$hash; fi
}

# Creates a directory (or file) owned by the cluster owner.
bosun_pg_own_dir() {
  mkdir -p "$1"
  chmod "$2" "$1"
  if bosun_is_root; then chown postgres:postgres "$1"; fi
}

# Reads line N of postmaster.pid (4 = port, 5 = socket directory).
bosun_pg_pidfile_line() { sed -n "${1}p" "$BOSUN_PG_DATA/postmaster.pid" 2>/dev/null || true; }

bosun_pg_status() { bosun_pg_run "$BOSUN_PG_BIN/pg_ctl" status -D "$BOSUN_PG_DATA" >/dev/null 2>&1; }

bosun_ensure_postgres() {
  if [[ -n ${DATABASE_URL:-} ]]; then
    BOSUN_PG_STATE=external
    return 0
  fi
  local port=${BOSUN_PG_PORT:-55432} i
  BOSUN_PG_BIN=$(bosun_pg_bin_dir)
  [[ -n $BOSUN_PG_BIN ]] || bosun_die "no Postgres server found under /usr/lib/postgresql/*/bin"
  bosun_pg_locate

  if [[ -f $BOSUN_PG_DATA/PG_VERSION ]] && bosun_pg_status; then
    BOSUN_PG_STATE=reused
  else
    bosun_log_file "$BOSUN_PG_LOG"
    if bosun_is_root; then chown postgres:postgres "$BOSUN_PG_LOG"; fi
    bosun_pg_own_dir "$BOSUN_PG_SOCKET_DIR" 0755
    if [[ ! -f $BOSUN_PG_DATA/PG_VERSION ]]; then
      bosun_pg_own_dir "$BOSUN_PG_DATA" 0700
      bosun_log "creating the Postgres cluster in ${BOSUN_PG_DATA#"$BOSUN_REPO_ROOT"/}"
      bosun_pg_run "$BOSUN_PG_BIN/initdb" -D "$BOSUN_PG_DATA" -E UTF8 --no-locale \
        --auth-local=peer --auth-host=scram-sha-256 >>"$BOSUN_PG_LOG" 2>&1 || {
        bosun_tail_log "$BOSUN_PG_LOG"
        bosun_die "initdb failed"
      }
    fi
    bosun_log "starting Postgres on 127.0.0.1:$port (log: ${BOSUN_PG_LOG#"$BOSUN_REPO_ROOT"/})"
    # setsid: its own session, so a Ctrl-C in the terminal does not reach the postmaster directly.
    if ! bosun_pg_run setsid -w "$BOSUN_PG_BIN/pg_ctl" start -D "$BOSUN_PG_DATA" -l "$BOSUN_PG_LOG" -w -t 60 -s \
      -o "-p $port -k '$BOSUN_PG_SOCKET_DIR' -c listen_addresses=127.0.0.1"; then
      bosun_tail_log "$BOSUN_PG_LOG"
      bosun_die "Postgres did not start (port $port taken? set BOSUN_PG_PORT to use another)"
    fi
    BOSUN_STARTED_POSTGRES=1
    BOSUN_PG_STATE=started
  fi

  # A reused cluster may run on another port/socket than asked (e.g. BOSUN_PG_PORT changed since).
  BOSUN_PG_PORT_USED=$(bosun_pg_pidfile_line 4)
  BOSUN_PG_SOCKET_DIR=$(bosun_pg_pidfile_line 5)
  [[ $BOSUN_PG_PORT_USED =~ ^[0-9]+$ ]] || bosun_die "cannot read the port from $BOSUN_PG_DATA/postmaster.pid"
  if [[ $BOSUN_PG_PORT_USED != "$port" ]]; then
    bosun_warn "the running Postgres cluster listens on port $BOSUN_PG_PORT_USED, not $port; using it"
  fi
  for ((i = 0; i < 60; i++)); do
    if bosun_pg_run "$BOSUN_PG_BIN/pg_isready" -q -h "$BOSUN_PG_SOCKET_DIR" -p "$BOSUN_PG_PORT_USED"; then break; fi
    sleep 0.5
  done

  # Role and databases, created once; CREATEDB so the tests can make scratch databases. The password
  # goes through psql's stdin, never a command line.
  BOSUN_PG_PASSWORD=$(bosun_secret_file "$BOSUN_PG_PASSWORD_FILE")
  bosun_log_file "$BOSUN_LOG_DIR/postgres-setup.log"
  bosun_pg_run "$BOSUN_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$BOSUN_PG_SOCKET_DIR" -p "$BOSUN_PG_PORT_USED" \
    -d postgres >/dev/null 2>>"$BOSUN_LOG_DIR/postgres-setup.log" <<SQL || {
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', '$BOSUN_PG_ROLE', '$BOSUN_PG_PASSWORD')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$BOSUN_PG_ROLE') \gexec
ALTER ROLE $BOSUN_PG_ROLE WITH LOGIN CREATEDB PASSWORD '$BOSUN_PG_PASSWORD';
SELECT 'CREATE DATABASE bosun OWNER $BOSUN_PG_ROLE'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'bosun') \gexec
SELECT 'CREATE DATABASE bosun_test OWNER $BOSUN_PG_ROLE'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'bosun_test') \gexec
SQL
    bosun_tail_log "$BOSUN_LOG_DIR/postgres-setup.log" 10
    bosun_die "could not create the bosun role and databases"
  }

  local base="postgres://$BOSUN_PG_ROLE:$BOSUN_PG_PASSWORD@127.0.0.1:$BOSUN_PG_PORT_USED"
  export DATABASE_URL=$base/bosun
  # shellcheck disable=SC2034
  BOSUN_TEST_DATABASE_URL=$base/bosun_test
}

bosun_stop_postgres() {
  [[ $BOSUN_STARTED_POSTGRES -eq 1 ]] || return 0
  BOSUN_STARTED_POSTGRES=0
  bosun_log "stopping Postgres"
  bosun_pg_run "$BOSUN_PG_BIN/pg_ctl" stop -D "$BOSUN_PG_DATA" -m fast -w -t 60 -s ||
    bosun_warn "pg_ctl stop failed; see ${BOSUN_PG_LOG#"$BOSUN_REPO_ROOT"/}"
}

bosun_describe_postgres() {
  local data=${BOSUN_PG_DATA#"$BOSUN_REPO_ROOT"/} log=${BOSUN_PG_LOG#"$BOSUN_REPO_ROOT"/}
  case $BOSUN_PG_STATE in
    external) echo "Postgres:      external, DATABASE_URL=$(bosun_redact_url "$DATABASE_URL")" ;;
    reused) echo "Postgres:      reused 127.0.0.1:$BOSUN_PG_PORT_USED (data $data, log $log)" ;;
    started) echo "Postgres:      started 127.0.0.1:$BOSUN_PG_PORT_USED (data $data, log $log)" ;;
  esac
}

# postgres://user:secret@host/db -> postgres://user:***@host/db (also redis://:secret@host)
bosun_redact_url() { sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#' <<<"$1"; }
