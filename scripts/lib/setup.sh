# shellcheck shell=bash
# The set-up scripts/up and scripts/test share:
#
#   bosun_setup [extra-apt-binaries...]   packages, npm modules, Docker, Postgres, Redis; exports
#                                         DATABASE_URL and REDIS_URL (and keeps DOCKER_HOST as given)
#   bosun_cleanup                         stops exactly what bosun_setup started in this run; idempotent
#   bosun_describe_services               one line per service: started / reused / external
#
# Environment it honours: DOCKER_HOST, DATABASE_URL, REDIS_URL (use those instead of starting
# anything), BOSUN_PG_PORT (55432), BOSUN_REDIS_PORT (56379).
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=scripts/lib/install.sh
source "$(dirname "${BASH_SOURCE[0]}")/install.sh"
# shellcheck source=scripts/lib/docker.sh
source "$(dirname "${BASH_SOURCE[0]}")/docker.sh"
# shellcheck source=scripts/lib/postgres.sh
source "$(dirname "${BASH_SOURCE[0]}")/postgres.sh"
# shellcheck source=scripts/lib/redis.sh
source "$(dirname "${BASH_SOURCE[0]}")/redis.sh"

bosun_setup() {
  bosun_prepare_dirs
  bosun_ensure_packages "$@"
  bosun_ensure_node_modules
  bosun_ensure_docker
  bosun_ensure_postgres
  bosun_ensure_redis
}

bosun_cleanup() {
  # Reverse order of start-up. Each stop function clears its own flag first, so a second call
  # (a signal during cleanup, then the EXIT trap) does nothing.
  bosun_stop_redis || true
  bosun_stop_postgres || true
  bosun_stop_docker || true
}

bosun_describe_services() {
  bosun_describe_docker
  bosun_describe_postgres
  bosun_describe_redis
}
