# shellcheck shell=bash
# Extra Docker hosts on this machine, for multi-host tests (scripts/hosts). Source this file; do not run it.
#
# Host N (1..15) is:
#   - a bridge ${PREFIX}N with 10.${NET}.N.1/24 (ip link add … type bridge), its link alias naming
#     the hosts directory that owns it;
#   - a dockerd on unix://${RUN_DIR}/${PREFIX}N/docker.sock, exec-root ${RUN_DIR}/${PREFIX}N, data-root
#     ${HOSTS_DIR}/hN/docker, pidfile ${HOSTS_DIR}/hN/dockerd.pid, containers on that bridge. The
#     daemon never touches iptables or docker0 (hosts_dockerd_args); this file adds one ACCEPT rule
#     for the bridge (hosts_iptables_rule) and removes it with the bridge;
#   - optionally one bosun agent, pid in ${HOSTS_DIR}/hN/agent.pid, state in ${HOSTS_DIR}/hN/agent.
#
# Settings (environment), remembered in ${HOSTS_DIR}/harness.env by `up`, so later commands on the
# same directory find the same hosts:
#   BOSUN_HOSTS_DIR     .bosun/hosts        per-host state (data-roots, agent state, pid files)
#   BOSUN_HOSTS_PREFIX  bosun-h             bridge names, exec-root names, agents' BOSUN_HOSTNAME
#   BOSUN_HOSTS_NET     231                 second octet of the 10.X.0.0/16 all hosts' addresses come from;
#                                           auto: the first of 100..229 no address or route on this machine
#                                           uses, chosen by `up` (tests and benches, which run side by side
#                                           and may meet a bridge an interrupted run left behind)
#   BOSUN_HOSTS_RUN_DIR /run/bosun-hosts    parent of the exec-roots (short: unix socket paths)
#   BOSUN_HOSTS_LOG_DIR .bosun/logs/hosts   (${BOSUN_HOSTS_DIR}/logs when BOSUN_HOSTS_DIR is set)
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

BOSUN_HOSTS_MAX=15
BOSUN_HOSTS_IMAGE=bosun/busybox:latest
HOSTS_DIR=''
HOSTS_PREFIX=''
HOSTS_NET=''
HOSTS_RUN_DIR=''
HOSTS_LOG_DIR=''

# Resolves the settings above: the environment, else what harness.env remembers, else defaults.
# Refuses a setting that differs from harness.env while a host of that directory is running.
hosts_init() {
  local dir=${BOSUN_HOSTS_DIR:-$BOSUN_DIR/hosts} key stored_var env_var
  local stored_prefix='' stored_net='' stored_run_dir='' stored_log_dir=''
  mkdir -p "$dir"
  HOSTS_DIR=$(cd "$dir" && pwd -P)
  HOSTS_PREFIX=bosun-h
  HOSTS_NET=231
  HOSTS_RUN_DIR=/run/bosun-hosts
  if [[ -n ${BOSUN_HOSTS_DIR:-} ]]; then HOSTS_LOG_DIR=$HOSTS_DIR/logs; else HOSTS_LOG_DIR=$BOSUN_LOG_DIR/hosts; fi
  if [[ -f $HOSTS_DIR/harness.env ]]; then
    # shellcheck disable=SC1091 # written by hosts_save_settings
    source "$HOSTS_DIR/harness.env"
    HOSTS_PREFIX=${stored_prefix:-$HOSTS_PREFIX}
    HOSTS_NET=${stored_net:-$HOSTS_NET}
    HOSTS_RUN_DIR=${stored_run_dir:-$HOSTS_RUN_DIR}
    HOSTS_LOG_DIR=${stored_log_dir:-$HOSTS_LOG_DIR}
  fi
  for key in PREFIX NET RUN_DIR LOG_DIR; do
    stored_var=HOSTS_$key
    env_var=BOSUN_HOSTS_$key
    [[ -n ${!env_var:-} && ${!env_var} != "${!stored_var}" ]] || continue
    # auto keeps the net `up` once chose for this directory.
    [[ $key == NET && ${!env_var} == auto && -n $stored_net ]] && continue
    if hosts_any_running; then
      bosun_die "$env_var=${!env_var}, but the running hosts in $HOSTS_DIR use ${!stored_var}; run scripts/hosts down first"
    fi
    printf -v "$stored_var" '%s' "${!env_var}"
  done
  [[ $HOSTS_PREFIX =~ ^[a-z][a-z0-9-]{0,12}$ ]] ||
    bosun_die "BOSUN_HOSTS_PREFIX=$HOSTS_PREFIX: 1 to 13 characters, a-z 0-9 -, starting with a letter (bridge names are at most 15)"
  [[ $HOSTS_NET == auto || ($HOSTS_NET =~ ^[0-9]{1,3}$ && $HOSTS_NET -le 255) ]] ||
    bosun_die "BOSUN_HOSTS_NET=$HOSTS_NET: a number 0..255 (hosts use 10.$HOSTS_NET.0.0/16), or auto"
  [[ $HOSTS_RUN_DIR == /* && ${#HOSTS_RUN_DIR} -le 40 ]] ||
    bosun_die "BOSUN_HOSTS_RUN_DIR=$HOSTS_RUN_DIR: an absolute path of at most 40 characters (unix socket paths live under it)"
  # Agent and dockerd logs: for their owner only (a directory someone else made is left as it is).
  if [[ ! -d $HOSTS_LOG_DIR ]]; then mkdir -p "$HOSTS_LOG_DIR" && chmod 0700 "$HOSTS_LOG_DIR"; fi
}

# For BOSUN_HOSTS_NET=auto: the first second octet in 100..229 that no IPv4 address or route on this
# machine is in. The machine-wide lock on fd 8 keeps two `up`s from choosing the same one before
# either has made its bridges; `up` closes it once they exist (the daemons it starts meanwhile close
# it for themselves).
hosts_resolve_net() {
  [[ $HOSTS_NET == auto ]] || return 0
  exec 8>/run/bosun-hosts-net.lock
  flock -w 300 8 || bosun_die "another scripts/hosts is choosing a net (/run/bosun-hosts-net.lock held for 300s)"
  local used x
  used=$({ ip -o -4 addr show | awk '{ print $4 }'; ip -4 route show table all | awk '{ print $1 }'; } |
    awk -F. '$1 == "10" { print $2 }' | sort -u)
  for ((x = 100; x <= 229; x++)); do
    if ! grep -qx "$x" <<<"$used"; then
      HOSTS_NET=$x
      return 0
    fi
  done
  bosun_die "BOSUN_HOSTS_NET=auto: 10.100.0.0 to 10.229.0.0 are all in use on this machine; set BOSUN_HOSTS_NET"
}

hosts_save_settings() {
  local tmp=$HOSTS_DIR/harness.env.tmp
  {
    echo '# Written by scripts/hosts: the settings of the hosts in this directory.'
    printf 'stored_prefix=%q\nstored_net=%q\nstored_run_dir=%q\nstored_log_dir=%q\n' \
      "$HOSTS_PREFIX" "$HOSTS_NET" "$HOSTS_RUN_DIR" "$HOSTS_LOG_DIR"
  } >"$tmp"
  mv -f "$tmp" "$HOSTS_DIR/harness.env"
}

# One invocation at a time per hosts directory. Fd 9 holds the lock; every process we start closes it.
hosts_lock() {
  exec 9>"$HOSTS_DIR/.lock"
  flock -w 300 9 || bosun_die "another scripts/hosts is running on $HOSTS_DIR (lock held for 300s)"
}

hosts_check_index() {
  [[ $1 =~ ^[0-9]+$ && $1 -ge 1 && $1 -le $BOSUN_HOSTS_MAX ]] || bosun_die "host number '$1': 1..$BOSUN_HOSTS_MAX"
}

# Sets the H_* variables for host N.
hosts_vars() {
  H_N=$1
  H_NAME=$HOSTS_PREFIX$H_N
  H_DIR=$HOSTS_DIR/h$H_N
  H_DATA=$H_DIR/docker
  H_CONF=$H_DIR/daemon.json
  H_SETTINGS=$H_DIR/host.env
  H_AGENT_DIR=$H_DIR/agent
  H_DOCKERD_PIDFILE=$H_DIR/dockerd.pid
  H_AGENT_PIDFILE=$H_DIR/agent.pid
  H_EXEC=$HOSTS_RUN_DIR/$H_NAME
  H_SOCK=$H_EXEC/docker.sock
  H_DOCKER_HOST=unix://$H_SOCK
  H_BRIDGE=$H_NAME
  H_ADDR=10.$HOSTS_NET.$H_N.1/24
  H_DOCKERD_LOG=$HOSTS_LOG_DIR/$H_NAME-dockerd.log
  H_AGENT_LOG=$HOSTS_LOG_DIR/$H_NAME-agent.log
}

# Host numbers that have a directory, ascending.
hosts_known() {
  local d
  for d in "$HOSTS_DIR"/h*; do
    [[ -d $d && ${d##*/h} =~ ^[0-9]+$ ]] && printf '%s\n' "${d##*/h}"
  done | sort -n
}

# --- processes ------------------------------------------------------------------------------------

# The pid in FILE when that process is alive and its command line contains MARK (guards against a
# reused pid). Prints nothing otherwise.
hosts_pid_from() {
  local file=$1 mark=$2 pid
  [[ -r $file ]] || return 0
  pid=$(<"$file")
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  bosun_pid_alive "$pid" || return 0
  tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$mark" || return 0
  printf '%s' "$pid"
}

hosts_dockerd_pid() { hosts_pid_from "$H_DOCKERD_PIDFILE" "$H_SOCK"; }

# The agent's command line names nothing of its own, so it is recognised by its environment.
hosts_agent_pid() {
  local pid
  pid=$(hosts_pid_from "$H_AGENT_PIDFILE" apps/agent/src/main.ts)
  [[ -n $pid ]] || return 0
  tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" | grep -qxF "BOSUN_AGENT_STATE_DIR=$H_AGENT_DIR" || return 0
  printf '%s' "$pid"
}

hosts_docker() { DOCKER_HOST=$H_DOCKER_HOST docker "$@"; }
hosts_daemon_answers() { [[ -S $H_SOCK ]] && DOCKER_HOST=$H_DOCKER_HOST timeout 10 docker info --format '{{.ID}}' >/dev/null 2>&1; }
hosts_daemon_up() { [[ -n $(hosts_dockerd_pid) ]] && hosts_daemon_answers; }

hosts_any_running() {
  local n
  for n in $(hosts_known); do
    hosts_vars "$n"
    if [[ -n $(hosts_dockerd_pid) || -n $(hosts_agent_pid) ]]; then return 0; fi
  done
  return 1
}

# Pids of Docker's own processes (dockerd, containerd, shims, docker-proxy) whose command line
# contains DIR/: a containerd left behind by a killed dockerd.
hosts_pids_under() {
  local prefix=$1/ p argv0 cmdline
  for p in /proc/[0-9]*; do
    cmdline=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
    argv0=${cmdline%% *}
    case ${argv0##*/} in
      dockerd | containerd | containerd-shim* | docker-proxy) ;;
      *) continue ;;
    esac
    if [[ $cmdline == *"$prefix"* ]]; then printf '%s\n' "${p#/proc/}"; fi
  done
}

# Unmounts everything at or below DIR (deepest first): what a killed dockerd leaves in its roots.
hosts_unmount_under() {
  local dir=$1 mp
  [[ -d $dir ]] || return 0
  dir=$(cd "$dir" && pwd -P)
  awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r mp; do
      mp=$(printf '%b' "$mp") # mountinfo escapes spaces as \040
      umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || bosun_warn "could not unmount $mp"
    done
}

# --- the bridge -----------------------------------------------------------------------------------

hosts_bridge_alias() { printf 'bosun-hosts:%s' "$HOSTS_DIR"; }

hosts_bridge_exists() { ip link show dev "$1" >/dev/null 2>&1; }

hosts_bridge_ours() {
  [[ $(cat "/sys/class/net/$1/ifalias" 2>/dev/null) == "$(hosts_bridge_alias)" ]]
}

# Traffic bridged between two ports of a bridge goes through iptables' FORWARD chain here
# (br_netfilter, bridge-nf-call-iptables=1), where the main daemon's policy is DROP. One ACCEPT for
# our bridge to itself (in DOCKER-USER, the chain Docker leaves to users, else FORWARD) lets two
# containers on the same host talk, as on a real host; nothing else changes.
hosts_iptables_rule() {
  local action=$1 chain=FORWARD
  command -v iptables >/dev/null 2>&1 || return 0
  [[ -r /proc/sys/net/bridge/bridge-nf-call-iptables ]] || return 0
  if iptables -w 10 -n -L DOCKER-USER >/dev/null 2>&1; then chain=DOCKER-USER; fi
  local rule=(-i "$H_BRIDGE" -o "$H_BRIDGE" -m comment --comment "bosun-hosts $H_BRIDGE" -j ACCEPT)
  case $action in
    add)
      iptables -w 10 -C "$chain" "${rule[@]}" 2>/dev/null || iptables -w 10 -I "$chain" 1 "${rule[@]}" ||
        bosun_warn "could not add an iptables rule for $H_BRIDGE; containers on one host may not reach each other"
      ;;
    del)
      for chain in DOCKER-USER FORWARD; do
        while iptables -w 10 -D "$chain" "${rule[@]}" 2>/dev/null; do :; done
      done
      ;;
  esac
}

hosts_ensure_bridge() {
  local addr=${H_ADDR%/*} other
  if hosts_bridge_exists "$H_BRIDGE"; then
    hosts_bridge_ours "$H_BRIDGE" ||
      bosun_die "a network device $H_BRIDGE exists and is not one of ours ($HOSTS_DIR); set BOSUN_HOSTS_PREFIX"
  else
    other=$(ip -o -4 addr show | awk -v a="$addr" 'index($4, a "/") == 1 { print $2 }')
    [[ -z $other ]] || bosun_die "$addr is already on $other; pick another BOSUN_HOSTS_NET"
    ip link add "$H_BRIDGE" type bridge || bosun_die "ip link add $H_BRIDGE type bridge failed"
    ip link set dev "$H_BRIDGE" alias "$(hosts_bridge_alias)"
  fi
  if ! ip -o -4 addr show dev "$H_BRIDGE" | grep -qF " $H_ADDR "; then
    ip addr add "$H_ADDR" dev "$H_BRIDGE" || bosun_die "ip addr add $H_ADDR dev $H_BRIDGE failed"
  fi
  ip link set dev "$H_BRIDGE" up
  hosts_iptables_rule add
}

hosts_remove_bridge() {
  hosts_iptables_rule del
  if hosts_bridge_exists "$H_BRIDGE" && hosts_bridge_ours "$H_BRIDGE"; then
    ip link del dev "$H_BRIDGE" || bosun_warn "could not delete the bridge $H_BRIDGE"
  fi
}

# --- dockerd --------------------------------------------------------------------------------------

HOSTS_STORAGE_DRIVER=''
# The main daemon's storage driver (BOSUN_HOSTS_STORAGE_DRIVER overrides; overlay2 when it is unknown).
hosts_storage_driver() {
  if [[ -z $HOSTS_STORAGE_DRIVER ]]; then
    HOSTS_STORAGE_DRIVER=${BOSUN_HOSTS_STORAGE_DRIVER:-$(timeout 10 docker info --format '{{.Driver}}' 2>/dev/null || true)}
    HOSTS_STORAGE_DRIVER=${HOSTS_STORAGE_DRIVER:-overlay2}
  fi
  printf '%s' "$HOSTS_STORAGE_DRIVER"
}

# --iptables=false: a dockerd with iptables on deletes and re-creates the DOCKER chains at start-up,
# which would wipe the main daemon's rules. Published ports still work: docker-proxy (the userland
# proxy) listens on the host address and forwards to the container. --ip-forward=false: leave the
# sysctl alone. The containerd namespaces keep daemons apart should they share a system containerd.
# Never --bridge none, nor --default-address-pool (or default-address-pools in daemon.json): with
# either, Docker 20.10 deletes the interface docker0 (the main daemon's!) when it starts on a
# data-root that already has a bridge network. Networks created on these daemons therefore come
# from Docker's built-in pools, skipping subnets already routed on this machine.
hosts_dockerd_args() {
  H_ARGS=(
    --config-file "$H_CONF"
    --host "$H_DOCKER_HOST"
    --data-root "$H_DATA"
    --exec-root "$H_EXEC"
    --pidfile "$H_DOCKERD_PIDFILE"
    --bridge "$H_BRIDGE"
    --iptables=false
    --ip-masq=false
    --ip-forward=false
    --userland-proxy=true
    --containerd-namespace "$H_NAME"
    --containerd-plugins-namespace "$H_NAME-plugins"
    --storage-driver "$(hosts_storage_driver)"
  )
}

# Its own daemon.json, so /etc/docker/daemon.json does not apply. Before Docker 23 the engine ID
# (`docker info` ID) comes from a trust key, /etc/docker/key.json unless the config names another:
# give each host its own so the IDs differ. Docker 23+ keeps the ID in the data-root.
hosts_write_daemon_config() {
  local version
  version=$(dockerd --version 2>/dev/null | sed -n 's/^Docker version \([0-9]*\)\..*/\1/p')
  if [[ -n $version && $version -lt 23 ]]; then
    printf '{ "deprecated-key-path": "%s" }\n' "$H_DIR/key.json" >"$H_CONF"
  else
    echo '{}' >"$H_CONF"
  fi
}

# Starts host N's dockerd in the background (its own session); the caller waits with hosts_wait_daemon.
hosts_launch_daemon() {
  local stale
  hosts_ensure_bridge
  mkdir -p "$H_DIR" "$H_DATA" "$H_EXEC"
  chmod 0711 "$H_DIR"
  hosts_write_daemon_config
  # A leftover pidfile (a killed dockerd) makes dockerd refuse to start when its pid is reused.
  if [[ -f $H_DOCKERD_PIDFILE && -z $(hosts_dockerd_pid) ]]; then rm -f "$H_DOCKERD_PIDFILE"; fi
  for stale in $(hosts_pids_under "$H_EXEC"); do
    bosun_warn "$H_NAME: stopping pid $stale left over under $H_EXEC"
    bosun_stop_pid "$stale" "leftover process" 10
  done
  rm -f "$H_SOCK"
  hosts_dockerd_args
  printf '\n--- %s scripts/hosts: dockerd %s\n' "$(date -Is)" "${H_ARGS[*]}" >>"$H_DOCKERD_LOG"
  setsid dockerd "${H_ARGS[@]}" </dev/null >>"$H_DOCKERD_LOG" 2>&1 8>&- 9>&- &
  H_LAUNCHED_PID=$!
}

# docker0 belongs to the main daemon. hosts_docker0_mark before starting daemons, hosts_docker0_check
# after: a daemon that removed it (see hosts_dockerd_args) is reported at once, not at the next `docker run`.
HOSTS_DOCKER0=''
hosts_docker0_mark() { HOSTS_DOCKER0=$(cat /sys/class/net/docker0/ifindex 2>/dev/null || true); }
hosts_docker0_check() {
  [[ -n $HOSTS_DOCKER0 ]] || return 0
  [[ $(cat /sys/class/net/docker0/ifindex 2>/dev/null || true) == "$HOSTS_DOCKER0" ]] ||
    bosun_die "docker0 (the main daemon's bridge) disappeared while starting hosts; check ${HOSTS_LOG_DIR}"
}

# Waits for host N's daemon (launched as PID) to answer; dies with its log when it does not.
hosts_wait_daemon() {
  local pid=$1 deadline=$((SECONDS + 60))
  while ((SECONDS < deadline)); do
    if hosts_daemon_answers; then return 0; fi
    if ! bosun_pid_alive "$pid"; then
      wait "$pid" 2>/dev/null || true
      bosun_tail_log "$H_DOCKERD_LOG" 30
      bosun_die "$H_NAME: dockerd exited during start-up"
    fi
    sleep 0.2
  done
  bosun_tail_log "$H_DOCKERD_LOG" 30
  bosun_die "$H_NAME: dockerd did not answer on $H_DOCKER_HOST within 60s"
}

# The images tasks need (bosun/busybox:latest and IMAGES), copied from the main daemon when missing.
hosts_ensure_images() {
  local image
  for image in "$BOSUN_HOSTS_IMAGE" "$@"; do
    hosts_docker image inspect "$image" >/dev/null 2>&1 && continue
    if timeout 10 docker image inspect "$image" >/dev/null 2>&1; then
      docker save "$image" | hosts_docker load -q >/dev/null ||
        bosun_die "$H_NAME: could not copy $image from the main daemon"
    elif [[ $image == "$BOSUN_HOSTS_IMAGE" ]]; then
      DOCKER_HOST=$H_DOCKER_HOST "$BOSUN_REPO_ROOT/scripts/build-images" 9>&- ||
        bosun_die "$H_NAME: scripts/build-images failed"
    else
      bosun_die "$H_NAME: $image is not on the main daemon, so it cannot be copied"
    fi
  done
}

hosts_stop_daemon() {
  local pid p
  pid=$(hosts_dockerd_pid)
  if [[ -n $pid ]]; then
    # dockerd stops running containers (up to 15s each, in parallel), then its containerd.
    bosun_stop_pid "$pid" "$H_NAME dockerd" 40
  fi
  rm -f "$H_DOCKERD_PIDFILE"
  for p in $(hosts_pids_under "$H_EXEC"); do
    bosun_stop_pid "$p" "$H_NAME leftover process" 10
  done
  rm -f "$H_SOCK"
}

# --- the agent ------------------------------------------------------------------------------------

HOSTS_TOKEN=''
hosts_control_plane_url() { printf '%s' "${BOSUN_CONTROL_PLANE_URL:-https://127.0.0.1:7700}"; }

hosts_join_token() {
  local cluster=$1 env_file=${BOSUN_HOSTS_ENV_FILE:-$BOSUN_DIR/env} args log=$HOSTS_LOG_DIR/join-token.log
  # A token of our own per host: join tokens are single use. A given BOSUN_JOIN_TOKEN serves every
  # host, so it needs as many uses (scripts/bosun join-token --uses N).
  if [[ -n ${BOSUN_JOIN_TOKEN:-} ]]; then
    HOSTS_TOKEN=$BOSUN_JOIN_TOKEN
    return 0
  fi
  [[ -r $env_file ]] || bosun_die "no BOSUN_JOIN_TOKEN and no $env_file to make one with (start the control plane: scripts/up)"
  args=(join-token --env "$env_file")
  if [[ -n $cluster ]]; then args+=(--cluster "$cluster"); fi
  HOSTS_TOKEN=$("$BOSUN_REPO_ROOT/scripts/bosun" "${args[@]}" 2>>"$log" 9>&-) || {
    bosun_tail_log "$log" 10
    if tail -n 3 "$log" | grep -q ClusterNotFound; then
      bosun_die "cluster '$cluster' does not exist: source .bosun/env && aws ecs create-cluster --cluster-name $cluster"
    fi
    bosun_die "could not create a join token (scripts/bosun ${args[*]})"
  }
}

# Starts host N's agent in the background with the settings in $H_SETTINGS.
hosts_launch_agent() {
  local token='' url host_agent='' host_zone='' host_attributes='' host_ip='' host_cluster=''
  url=$(hosts_control_plane_url)
  # shellcheck disable=SC1090 # written by hosts_save_host
  source "$H_SETTINGS"
  mkdir -p "$H_AGENT_DIR"
  if [[ ! -f $H_AGENT_DIR/agent.json ]]; then
    hosts_join_token "$host_cluster"
    token=$HOSTS_TOKEN
  fi
  printf '\n--- %s scripts/hosts: agent for %s (%s)\n' "$(date -Is)" "$H_NAME" "$H_DOCKER_HOST" >>"$H_AGENT_LOG"
  (
    cd "$BOSUN_REPO_ROOT" || exit 1
    export BOSUN_CONTROL_PLANE_URL=$url BOSUN_AGENT_STATE_DIR=$H_AGENT_DIR BOSUN_JOIN_TOKEN=$token \
      BOSUN_HOST_IP=$host_ip BOSUN_ZONE=$host_zone BOSUN_ATTRIBUTES=$host_attributes BOSUN_HOSTNAME=$H_NAME \
      DOCKER_HOST=$H_DOCKER_HOST
    exec setsid node --import tsx apps/agent/src/main.ts </dev/null >>"$H_AGENT_LOG" 2>&1 9>&-
  ) &
  H_LAUNCHED_PID=$!
  printf '%s\n' "$H_LAUNCHED_PID" >"$H_AGENT_PIDFILE"
}

# Waits until the agent (PID) has registered (agent.json) and is still running a moment later.
hosts_wait_agent() {
  local pid=$1 deadline=$((SECONDS + 60))
  while ((SECONDS < deadline)); do
    if ! bosun_pid_alive "$pid"; then
      wait "$pid" 2>/dev/null || true
      rm -f "$H_AGENT_PIDFILE"
      bosun_tail_log "$H_AGENT_LOG" 30
      bosun_die "$H_NAME: the agent exited during start-up"
    fi
    if [[ -f $H_AGENT_DIR/agent.json ]]; then return 0; fi
    sleep 0.2
  done
  bosun_tail_log "$H_AGENT_LOG" 30
  bosun_die "$H_NAME: the agent did not register within 60s"
}

hosts_stop_agent() {
  local pid
  pid=$(hosts_agent_pid)
  if [[ -n $pid ]]; then bosun_stop_pid "$pid" "$H_NAME agent" 15; fi
  rm -f "$H_AGENT_PIDFILE"
}

# Per-host settings, kept so start-host brings a host back as it was.
hosts_save_host() {
  local agent=$1 zone=$2 attributes=$3 host_ip=$4 cluster=$5
  mkdir -p "$H_DIR"
  printf 'host_agent=%q\nhost_zone=%q\nhost_attributes=%q\nhost_ip=%q\nhost_cluster=%q\n' \
    "$agent" "$zone" "$attributes" "$host_ip" "$cluster" >"$H_SETTINGS"
}

hosts_setting() {
  # shellcheck disable=SC2034 # read through ${!var}
  local host_agent='' host_zone='' host_attributes='' host_ip='' host_cluster=''
  # shellcheck disable=SC1090
  [[ -r $H_SETTINGS ]] && source "$H_SETTINGS"
  local var=host_$1
  printf '%s' "${!var}"
}

hosts_agent_instance() {
  [[ -r $H_AGENT_DIR/agent.json ]] || return 0
  sed -n 's/.*"containerInstanceId" *: *"\([^"]*\)".*/\1/p' "$H_AGENT_DIR/agent.json" | head -n 1
}

# One line for a host: name, DOCKER_HOST, pids, zone, host ip, bridge.
hosts_describe() {
  local dpid apid state
  dpid=$(hosts_dockerd_pid)
  apid=$(hosts_agent_pid)
  if [[ -n $dpid ]] && hosts_daemon_answers; then state=up; elif [[ -n $dpid ]]; then state=starting; else state=down; fi
  printf 'h%s %s DOCKER_HOST=%s dockerd_pid=%s agent_pid=%s zone=%s host_ip=%s bridge=%s/%s\n' \
    "$H_N" "$state" "$H_DOCKER_HOST" "${dpid:--}" "${apid:--}" "$(hosts_setting zone)" \
    "$(hosts_setting ip)" "$H_BRIDGE" "$H_ADDR"
}
