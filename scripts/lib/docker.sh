# shellcheck shell=bash
# Docker: DOCKER_HOST as given, else the running daemon, else a dockerd started (and later stopped) by us.
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

BOSUN_DOCKER_STATE=''  # external | reused | started
BOSUN_DOCKERD_PID=''
BOSUN_STARTED_DOCKER=0
BOSUN_DOCKERD_PIDFILE=$BOSUN_DIR/dockerd.pid
BOSUN_DOCKERD_LOG=$BOSUN_LOG_DIR/dockerd.log

bosun_docker_ok() { timeout 20 docker info >/dev/null 2>&1; }

bosun_ensure_docker() {
  local i
  if [[ -n ${DOCKER_HOST:-} ]]; then
    bosun_docker_ok || bosun_die "DOCKER_HOST=$DOCKER_HOST is set but 'docker info' fails there"
    BOSUN_DOCKER_STATE=external
    return 0
  fi
  if bosun_docker_ok; then
    BOSUN_DOCKER_STATE=reused
    return 0
  fi
  bosun_is_root || bosun_die "Docker is not running and only root can start dockerd; start Docker or set DOCKER_HOST"
  bosun_log "starting dockerd (log: ${BOSUN_DOCKERD_LOG#"$BOSUN_REPO_ROOT"/})"
  # Its own session, so a Ctrl-C in the terminal reaches only the script, which stops it in order.
  bosun_log_file "$BOSUN_DOCKERD_LOG"
  setsid dockerd --pidfile "$BOSUN_DOCKERD_PIDFILE" </dev/null >>"$BOSUN_DOCKERD_LOG" 2>&1 &
  BOSUN_DOCKERD_PID=$!
  BOSUN_STARTED_DOCKER=1
  BOSUN_DOCKER_STATE=started
  for ((i = 0; i < 120; i++)); do
    if bosun_docker_ok; then return 0; fi
    if ! bosun_pid_alive "$BOSUN_DOCKERD_PID"; then
      wait "$BOSUN_DOCKERD_PID" 2>/dev/null || true
      BOSUN_STARTED_DOCKER=0
      bosun_tail_log "$BOSUN_DOCKERD_LOG"
      bosun_die "dockerd exited during start-up"
    fi
    sleep 0.5
  done
  bosun_tail_log "$BOSUN_DOCKERD_LOG"
  bosun_die "dockerd did not answer 'docker info' within 60s"
}

bosun_stop_docker() {
  [[ $BOSUN_STARTED_DOCKER -eq 1 ]] || return 0
  BOSUN_STARTED_DOCKER=0
  local pid=$BOSUN_DOCKERD_PID
  if [[ -z $pid && -r $BOSUN_DOCKERD_PIDFILE ]]; then pid=$(<"$BOSUN_DOCKERD_PIDFILE"); fi
  [[ -n $pid ]] || return 0
  bosun_log "stopping dockerd (pid $pid)"
  # dockerd gives running containers up to 15s to stop on shutdown.
  bosun_stop_pid "$pid" dockerd 30
  rm -f "$BOSUN_DOCKERD_PIDFILE"
}

bosun_describe_docker() {
  case $BOSUN_DOCKER_STATE in
    external) echo "Docker:        external, DOCKER_HOST=$DOCKER_HOST" ;;
    reused) echo "Docker:        reused the running daemon ($(docker context inspect --format '{{.Endpoints.docker.Host}}' 2>/dev/null || echo unix:///var/run/docker.sock))" ;;
    started) echo "Docker:        started dockerd (pid $BOSUN_DOCKERD_PID, log ${BOSUN_DOCKERD_LOG#"$BOSUN_REPO_ROOT"/})" ;;
  esac
}
