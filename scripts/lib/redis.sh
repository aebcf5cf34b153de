# shellcheck shell=bash
# Redis: REDIS_URL as given, else redis-server on 127.0.0.1:$BOSUN_REDIS_PORT (56379), data in
# .bosun/redis, with the settings BullMQ needs (noeviction) and an append-only file. It asks for a
# password (requirepass), generated once into .bosun/redis.password (0600) and handed to redis-server
# in a 0600 config file and to redis-cli in REDISCLI_AUTH, never on a command line. A running Redis
# reused from an earlier start without one is given it (CONFIG SET requirepass).
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

BOSUN_REDIS_STATE=''  # external | reused | started
BOSUN_STARTED_REDIS=0
BOSUN_REDIS_PORT_USED=''
BOSUN_REDIS_PIDFILE=$BOSUN_DIR/redis.pid
BOSUN_REDIS_LOG=$BOSUN_LOG_DIR/redis.log
BOSUN_REDIS_PASSWORD=''
BOSUN_REDIS_PASSWORD_FILE=$BOSUN_DIR/redis.password
BOSUN_REDIS_CONF=$BOSUN_DIR/redis.conf

bosun_redis_cli() { REDISCLI_AUTH=$BOSUN_REDIS_PASSWORD redis-cli --no-auth-warning -h 127.0.0.1 -p "$BOSUN_REDIS_PORT_USED" "$@"; }
bosun_redis_ping() { [[ $(timeout 5 env REDISCLI_AUTH="$BOSUN_REDIS_PASSWORD" redis-cli --no-auth-warning -h 127.0.0.1 -p "$BOSUN_REDIS_PORT_USED" ping 2>/dev/null) == PONG ]]; }
# Answers without a password: a Redis started by an earlier version, before it had one.
bosun_redis_open() { [[ $(timeout 5 redis-cli -h 127.0.0.1 -p "$BOSUN_REDIS_PORT_USED" ping 2>/dev/null) == PONG ]]; }

bosun_ensure_redis() {
  if [[ -n ${REDIS_URL:-} ]]; then
    BOSUN_REDIS_STATE=external
    return 0
  fi
  local i policy
  BOSUN_REDIS_PORT_USED=${BOSUN_REDIS_PORT:-56379}
  BOSUN_REDIS_PASSWORD=$(bosun_secret_file "$BOSUN_REDIS_PASSWORD_FILE")
  if bosun_redis_open; then
    bosun_warn "the Redis on port $BOSUN_REDIS_PORT_USED has no password; setting the one in .bosun/redis.password"
    printf 'CONFIG SET requirepass %s\n' "$BOSUN_REDIS_PASSWORD" |
      timeout 5 redis-cli -h 127.0.0.1 -p "$BOSUN_REDIS_PORT_USED" >/dev/null
  fi
  if bosun_redis_ping; then
    BOSUN_REDIS_STATE=reused
    policy=$(bosun_redis_cli config get maxmemory-policy 2>/dev/null | tail -n 1 || true)
    if [[ $policy != noeviction ]]; then
      bosun_warn "the Redis on port $BOSUN_REDIS_PORT_USED has maxmemory-policy '$policy'; BullMQ needs noeviction"
    fi
  else
    mkdir -p "$BOSUN_DIR/redis"
    chmod 0700 "$BOSUN_DIR/redis"
    (umask 077 && printf 'requirepass %s\n' "$BOSUN_REDIS_PASSWORD" >"$BOSUN_REDIS_CONF")
    bosun_log_file "$BOSUN_REDIS_LOG"
    bosun_log "starting Redis on 127.0.0.1:$BOSUN_REDIS_PORT_USED (log: ${BOSUN_REDIS_LOG#"$BOSUN_REPO_ROOT"/})"
    redis-server "$BOSUN_REDIS_CONF" --bind 127.0.0.1 --port "$BOSUN_REDIS_PORT_USED" --dir "$BOSUN_DIR/redis" \
      --maxmemory-policy noeviction --appendonly yes --daemonize yes \
      --pidfile "$BOSUN_REDIS_PIDFILE" --logfile "$BOSUN_REDIS_LOG" </dev/null ||
      bosun_die "redis-server failed to start; see ${BOSUN_REDIS_LOG#"$BOSUN_REPO_ROOT"/}"
    BOSUN_STARTED_REDIS=1
    BOSUN_REDIS_STATE=started
    for ((i = 0; i < 60; i++)); do
      if bosun_redis_ping; then break; fi
      sleep 0.25
    done
    if ! bosun_redis_ping; then
      bosun_tail_log "$BOSUN_REDIS_LOG"
      bosun_die "Redis did not answer on port $BOSUN_REDIS_PORT_USED (taken? set BOSUN_REDIS_PORT to use another)"
    fi
  fi
  export REDIS_URL=redis://:$BOSUN_REDIS_PASSWORD@127.0.0.1:$BOSUN_REDIS_PORT_USED
}

bosun_stop_redis() {
  [[ $BOSUN_STARTED_REDIS -eq 1 ]] || return 0
  BOSUN_STARTED_REDIS=0
  local pid='' i
  if [[ -r $BOSUN_REDIS_PIDFILE ]]; then pid=$(<"$BOSUN_REDIS_PIDFILE"); fi
  bosun_log "stopping Redis"
  bosun_redis_cli shutdown >/dev/null 2>&1 || true
  for ((i = 0; i < 100; i++)); do
    bosun_redis_ping || break
    sleep 0.1
  done
  if [[ -n $pid ]]; then bosun_stop_pid "$pid" redis-server 10; fi
}

bosun_describe_redis() {
  case $BOSUN_REDIS_STATE in
    external) echo "Redis:         external, REDIS_URL=$(sed -E 's#(://[^@/]*):[^@/]*@#\1:***@#' <<<"$REDIS_URL")" ;;
    reused) echo "Redis:         reused 127.0.0.1:$BOSUN_REDIS_PORT_USED (password in .bosun/redis.password)" ;;
    started) echo "Redis:         started 127.0.0.1:$BOSUN_REDIS_PORT_USED (data .bosun/redis, log ${BOSUN_REDIS_LOG#"$BOSUN_REPO_ROOT"/}, password in .bosun/redis.password)" ;;
  esac
}
