#!/usr/bin/env bash
# Local PostgreSQL server for riskgraph's state DB tests: Debian's packaged binaries, a cluster of
# our own under <repo>/.pg, listening on 127.0.0.1 only (no docker, no system service).
#
#   bash scripts/postgres.sh start    # install the Debian package if missing, initdb once, start
#   bash scripts/postgres.sh stop     # fast shutdown (idempotent)
#   bash scripts/postgres.sh status   # "running ..." (exit 0) or "stopped" (exit 3)
#   bash scripts/postgres.sh url      # postgresql+psycopg://riskgraph:...@127.0.0.1:5433/riskgraph
#   bash scripts/postgres.sh env      # RISKGRAPH_PG_URL=... (for eval)
#
# Environment:
#   RISKGRAPH_PG_HOME   default <repo>/.pg (data, run, logs, password)
#   RISKGRAPH_PG_PORT   default 5433
#
# The server refuses to run as root, so when this script runs as root the cluster belongs to the
# `postgres` system user the Debian package creates. Authentication is scram-sha-256 with a
# generated password kept in $RISKGRAPH_PG_HOME/password.
# Exit codes: 0 ok, 1 failure, 2 missing prerequisite, 3 `status`: stopped.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
PG_HOME="${RISKGRAPH_PG_HOME:-$REPO_ROOT/.pg}"
PORT="${RISKGRAPH_PG_PORT:-5433}"
HOST=127.0.0.1
DB_USER=riskgraph
DB_NAME=riskgraph
DATA_DIR="$PG_HOME/data"
RUN_DIR="$PG_HOME/run"
LOG_FILE="$PG_HOME/logs/postgres.log"
PASSWORD_FILE="$PG_HOME/password"

log() { echo "postgres.sh: $*" >&2; }

find_bindir() {
  local dir
  if command -v pg_config >/dev/null 2>&1; then
    dir="$(pg_config --bindir 2>/dev/null || true)"
    if [ -x "$dir/initdb" ]; then echo "$dir"; return 0; fi
  fi
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -V -r); do
    if [ -x "$dir/initdb" ]; then echo "$dir"; return 0; fi
  done
  return 1
}

ensure_installed() {
  if find_bindir >/dev/null; then return 0; fi
  if [ "$(id -u)" != 0 ]; then
    log "PostgreSQL is not installed; run as root: apt-get install -y postgresql"
    exit 2
  fi
  log "installing PostgreSQL from the Debian packages ..."
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 \
    || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2; }
  # the package starts a system cluster on 5432; ours is separate, so leave that one alone
  find_bindir >/dev/null || { log "PostgreSQL install failed"; exit 2; }
}

# Run a server binary as the cluster owner (the postgres user when we are root).
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

is_running() {
  local bindir
  bindir="$(find_bindir)" || return 1
  [ -f "$DATA_DIR/PG_VERSION" ] || return 1
  as_owner "$bindir/pg_ctl" -D "$DATA_DIR" status >/dev/null 2>&1
}

init_cluster() {
  local bindir="$1"
  mkdir -p "$PG_HOME/logs" "$RUN_DIR"
  if [ ! -s "$PASSWORD_FILE" ]; then
    (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$PASSWORD_FILE")
  fi
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres: "$PG_HOME"
    # the cluster owner must be able to reach the directory
    local d="$PG_HOME"
    while [ "$d" != "/" ]; do chmod o+x "$d" 2>/dev/null || true; d="$(dirname "$d")"; done
  fi
  if [ ! -f "$DATA_DIR/PG_VERSION" ]; then
    log "initdb into $DATA_DIR"
    as_owner "$bindir/initdb" -D "$DATA_DIR" -U "$DB_USER" --pwfile="$PASSWORD_FILE" \
      --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$PG_HOME/logs/initdb.log" 2>&1 \
      || { log "initdb failed, see $PG_HOME/logs/initdb.log"; exit 1; }
  fi
}

cmd_start() {
  ensure_installed
  local bindir
  bindir="$(find_bindir)"
  if is_running; then log "already running on $HOST:$PORT"; return 0; fi
  init_cluster "$bindir"
  as_owner "$bindir/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" -w -t 60 \
    -o "-c listen_addresses=$HOST -p $PORT -c unix_socket_directories=$RUN_DIR -c max_connections=200 -c fsync=off" \
    start >&2 || { log "start failed, see $LOG_FILE"; exit 1; }
  local pw
  pw="$(cat "$PASSWORD_FILE")"
  if ! PGPASSWORD="$pw" "$bindir/psql" -h "$HOST" -p "$PORT" -U "$DB_USER" -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" | grep -q 1; then
    PGPASSWORD="$pw" "$bindir/createdb" -h "$HOST" -p "$PORT" -U "$DB_USER" "$DB_NAME"
  fi
  log "running on $HOST:$PORT"
  cmd_env
}

cmd_stop() {
  local bindir
  bindir="$(find_bindir)" || return 0
  if is_running; then
    as_owner "$bindir/pg_ctl" -D "$DATA_DIR" -m fast -w stop >&2
  fi
}

cmd_status() {
  if is_running; then
    echo "running ($HOST:$PORT, data $DATA_DIR)"
  else
    echo "stopped"
    exit 3
  fi
}

cmd_url() {
  [ -s "$PASSWORD_FILE" ] || { log "no cluster yet: run 'bash scripts/postgres.sh start'"; exit 1; }
  echo "postgresql+psycopg://$DB_USER:$(cat "$PASSWORD_FILE")@$HOST:$PORT/$DB_NAME"
}

cmd_env() {
  echo "RISKGRAPH_PG_URL=$(cmd_url)"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  url) cmd_url ;;
  env) cmd_env ;;
  *) echo "usage: $0 start|stop|status|url|env" >&2; exit 1 ;;
esac
