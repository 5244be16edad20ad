#!/usr/bin/env bash
# Local Neo4j Community server for riskgraph, assembled from the Maven jars.
#
#   bash scripts/neo4j.sh fetch     # resolve the jars into $NEO4J_HOME/lib (cached, idempotent)
#   bash scripts/neo4j.sh start     # fetch if needed, start, wait for Bolt; prints NEO4J_* lines
#   bash scripts/neo4j.sh stop      # SIGTERM, up to 60 s, then SIGKILL (idempotent)
#   bash scripts/neo4j.sh status    # "running ..." (exit 0) or "stopped" (exit 3)
#   bash scripts/neo4j.sh uri       # bolt://127.0.0.1:7697
#   bash scripts/neo4j.sh password  # the generated password of user neo4j
#   bash scripts/neo4j.sh env       # NEO4J_URI=... lines (same as `start` prints), for eval
#   bash scripts/neo4j.sh import F  # stop, `neo4j-admin database import full neo4j` with the
#                                   # arguments in file F (one per line; REPLACES the database),
#                                   # start again. Used by `riskgraph load --store neo4j --bulk`.
#
# `start` and `env` print KEY=VALUE lines on stdout and everything else on stderr, so
#   eval "$(bash scripts/neo4j.sh start)"
# works.
#
# Environment:
#   RISKGRAPH_NEO4J_HOME            default <repo>/.neo4j (lib, conf, data, logs, run, password)
#   RISKGRAPH_NEO4J_BOLT_PORT       default 7697
#   RISKGRAPH_NEO4J_HTTP_PORT       default 7484
#   RISKGRAPH_NEO4J_START_TIMEOUT   seconds to wait for Bolt, default 120
#   RISKGRAPH_NEO4J_STOP_TIMEOUT    seconds to wait after SIGTERM, default 60
#   RISKGRAPH_NEO4J_JAVA_OPTS       extra JVM flags appended to the built-in list
#   RISKGRAPH_NEO4J_MVN_ARGS        extra Maven arguments for `fetch` (e.g. -o)
#   RISKGRAPH_NEO4J_PYTHON          python with the `neo4j` driver for the readiness query
#                                   (default <repo>/.venv/bin/python; else curl over HTTP)
#   JAVA_HOME                       used if it holds Java >= 17
#
# The Neo4j version is the <neo4j.version> property of scripts/neo4j/pom.xml.
# Exit codes: 0 ok, 1 failure, 2 missing prerequisite (java 17+ / mvn), 3 `status`: stopped.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
POM="$SCRIPT_DIR/neo4j/pom.xml"
CONF_TEMPLATE="$SCRIPT_DIR/neo4j/neo4j.conf.template"

NEO4J_HOME="${RISKGRAPH_NEO4J_HOME:-$REPO_ROOT/.neo4j}"
BOLT_PORT="${RISKGRAPH_NEO4J_BOLT_PORT:-7697}"
HTTP_PORT="${RISKGRAPH_NEO4J_HTTP_PORT:-7484}"
START_TIMEOUT="${RISKGRAPH_NEO4J_START_TIMEOUT:-120}"
STOP_TIMEOUT="${RISKGRAPH_NEO4J_STOP_TIMEOUT:-60}"
HOST=127.0.0.1
NEO4J_USER=neo4j

LIB_DIR="$NEO4J_HOME/lib"
CONF_DIR="$NEO4J_HOME/conf"
DATA_DIR="$NEO4J_HOME/data"
LOGS_DIR="$NEO4J_HOME/logs"
RUN_DIR="$NEO4J_HOME/run"
PID_FILE="$RUN_DIR/neo4j.pid"
CONSOLE_LOG="$LOGS_DIR/console.log"
PASSWORD_FILE="$NEO4J_HOME/password"
STAMP_FILE="$LIB_DIR/.riskgraph-lib.stamp"

MAIN_CLASS=org.neo4j.server.CommunityEntryPoint
ADMIN_CLASS=org.neo4j.cli.AdminTool

# What Neo4j 5.26's own launcher passes (its default neo4j.conf server.jvm.additional
# entries plus -Dfile.encoding=UTF-8 added by the bootloader). Heap comes from neo4j.conf.
JVM_FLAGS=(
  -XX:+UseG1GC
  -XX:-OmitStackTraceInFastThrow
  -XX:+AlwaysPreTouch
  -XX:+UnlockExperimentalVMOptions
  -XX:+TrustFinalNonStaticFields
  -XX:+DisableExplicitGC
  -XX:+ExitOnOutOfMemoryError
  -Djdk.nio.maxCachedBufferSize=1024
  -Dio.netty.tryReflectionSetAccessible=true
  -Djdk.tls.ephemeralDHKeySize=2048
  -Djdk.tls.rejectClientInitiatedRenegotiation=true
  -XX:FlightRecorderOptions=stackdepth=256
  -XX:+UnlockDiagnosticVMOptions
  -XX:+DebugNonSafepoints
  --add-opens=java.base/java.nio=ALL-UNNAMED
  --add-opens=java.base/java.io=ALL-UNNAMED
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
  --enable-native-access=ALL-UNNAMED
  -Dlog4j2.disable.jmx=true
  -Dlog4j.layout.jsonTemplate.maxStringLength=32768
  -Dfile.encoding=UTF-8
)

log() { printf 'neo4j.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

neo4j_version() {
  sed -n 's:.*<neo4j.version>\(.*\)</neo4j.version>.*:\1:p' "$POM" | head -n1
}
NEO4J_VERSION="$(neo4j_version)"
[[ -n "$NEO4J_VERSION" ]] || die "cannot read <neo4j.version> from $POM"

# ---------------------------------------------------------------- prerequisites

java_major() { # $1 = java binary -> prints the feature version (8 for 1.8)
  local v
  v="$("$1" -version 2>&1 | sed -n 's/.* version "\([^"]*\)".*/\1/p' | head -n1)" || true
  [[ -n "$v" ]] || { echo 0; return; }
  case "$v" in 1.*) v="${v#1.}" ;; esac
  echo "${v%%[.+-]*}"
}

JAVA=""
find_java() { # JAVA_HOME (>=17), else the JDK 17 package, else java on PATH (>=17)
  [[ -n "$JAVA" ]] && return 0
  local c cands=()
  [[ -n "${JAVA_HOME:-}" && -x "${JAVA_HOME}/bin/java" ]] && cands+=("${JAVA_HOME}/bin/java")
  [[ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java ]] && cands+=(/usr/lib/jvm/java-17-openjdk-amd64/bin/java)
  c="$(command -v java || true)"
  [[ -n "$c" ]] && cands+=("$c")
  for c in "${cands[@]}"; do
    if (( $(java_major "$c") >= 17 )); then
      JAVA="$c"
      (( $(java_major "$c") <= 21 )) || log "warning: $c is newer than Java 21; Neo4j 5.26 supports 17 and 21"
      return 0
    fi
  done
  log "Java 17 or newer is required (Neo4j $NEO4J_VERSION) and none was found."
  log "Install it (Debian: apt-get install -y openjdk-17-jdk-headless) or set JAVA_HOME."
  exit 2
}

java_home_of() { dirname "$(dirname "$(readlink -f "$1")")"; }

require_mvn() {
  command -v mvn >/dev/null 2>&1 && return 0
  log "Maven (mvn) is required to fetch the Neo4j jars and was not found."
  log "Install it (Debian: apt-get install -y maven)."
  exit 2
}

# ---------------------------------------------------------------- fetch

expected_stamp() {
  local sum
  sum="$(sha256sum "$POM" | cut -d' ' -f1)"
  echo "neo4j=$NEO4J_VERSION pom-sha256=$sum"
}

lib_complete() {
  [[ -f "$STAMP_FILE" ]] || return 1
  local want have jars
  want="$(expected_stamp)"
  have="$(head -n1 "$STAMP_FILE")"
  [[ "$have" == "$want" ]] || return 1
  jars="$(sed -n 's/^jars=//p' "$STAMP_FILE")"
  [[ -n "$jars" ]] || return 1
  [[ "$(find "$LIB_DIR" -maxdepth 1 -name '*.jar' | wc -l)" -eq "$jars" ]] || return 1
  [[ -f "$LIB_DIR/neo4j-$NEO4J_VERSION.jar" ]]
}

cmd_fetch() {
  if lib_complete; then
    log "Neo4j $NEO4J_VERSION jars already in $LIB_DIR"
    return 0
  fi
  find_java
  require_mvn
  mkdir -p "$NEO4J_HOME"
  local tmp="$NEO4J_HOME/lib.tmp.$$"
  rm -rf "$tmp"
  log "resolving Neo4j $NEO4J_VERSION jars with Maven into $LIB_DIR ..."
  local extra=()
  # shellcheck disable=SC2206  # intentional word splitting of user-supplied args
  [[ -n "${RISKGRAPH_NEO4J_MVN_ARGS:-}" ]] && extra=(${RISKGRAPH_NEO4J_MVN_ARGS})
  # (sed drops the bare colour resets Maven 3.8 prints even in quiet batch mode)
  if ! JAVA_HOME="$(java_home_of "$JAVA")" mvn -q -B -Dstyle.color=never -f "$POM" "${extra[@]}" \
        dependency:copy-dependencies -DoutputDirectory="$tmp" 2>&1 \
        | sed -e 's/\x1b\[0m//g' -e '/^$/d' >&2; then
    rm -rf "$tmp"
    die "maven failed to resolve the Neo4j jars (see output above)"
  fi
  [[ -f "$tmp/neo4j-$NEO4J_VERSION.jar" ]] || { rm -rf "$tmp"; die "neo4j-$NEO4J_VERSION.jar missing after maven run"; }
  { expected_stamp; echo "jars=$(find "$tmp" -maxdepth 1 -name '*.jar' | wc -l)"; } > "$tmp/.riskgraph-lib.stamp"
  rm -rf "$LIB_DIR"
  mv "$tmp" "$LIB_DIR"
  log "fetched $(sed -n 's/^jars=//p' "$STAMP_FILE") jars ($(du -sh "$LIB_DIR" | cut -f1)) into $LIB_DIR"
}

# ---------------------------------------------------------------- conf + password

sed_escape() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }

render_conf() {
  [[ "$BOLT_PORT" =~ ^[0-9]+$ && "$HTTP_PORT" =~ ^[0-9]+$ ]] || die "ports must be numeric"
  mkdir -p "$CONF_DIR" "$DATA_DIR" "$LOGS_DIR" "$RUN_DIR" "$NEO4J_HOME/import" \
           "$NEO4J_HOME/plugins" "$NEO4J_HOME/licenses"
  local home tmp="$CONF_DIR/neo4j.conf.tmp.$$"
  home="$(sed_escape "$NEO4J_HOME")"
  sed -e "s|@NEO4J_HOME@|$home|g" -e "s|@BOLT_PORT@|$BOLT_PORT|g" -e "s|@HTTP_PORT@|$HTTP_PORT|g" \
    "$CONF_TEMPLATE" > "$tmp"
  mv "$tmp" "$CONF_DIR/neo4j.conf"
}

conf_get() { # last value of a setting in the rendered conf
  sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" "$CONF_DIR/neo4j.conf" | tail -n1 | tr -d '[:space:]'
}

db_initialised() { [[ -d "$DATA_DIR/databases/system" ]]; }

ensure_password() {
  if [[ ! -s "$PASSWORD_FILE" ]]; then
    if db_initialised; then
      die "$PASSWORD_FILE is missing but $DATA_DIR already holds a database with an unknown password; remove $DATA_DIR to start afresh"
    fi
    mkdir -p "$NEO4J_HOME"
    (umask 077; od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > "$PASSWORD_FILE")
    log "generated a password for user $NEO4J_USER in $PASSWORD_FILE"
  fi
  chmod 600 "$PASSWORD_FILE"
  if ! db_initialised; then
    # neo4j-admin dbms set-initial-password, via the admin tool's main class.
    local out
    if ! out="$(cd "$NEO4J_HOME" && NEO4J_HOME="$NEO4J_HOME" NEO4J_CONF="$CONF_DIR" \
                "$JAVA" -Xmx256m -cp "$LIB_DIR/*" "$ADMIN_CLASS" \
                dbms set-initial-password "$(cat "$PASSWORD_FILE")" 2>&1)"; then
      printf '%s\n' "$out" >&2
      die "setting the initial password failed"
    fi
  fi
}

# ---------------------------------------------------------------- process helpers

is_our_server() { # $1 pid: alive and a CommunityEntryPoint of this home?
  local pid="$1"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 0   # no procfs: trust kill -0
  grep -qzxF -- "--home-dir=$NEO4J_HOME" "/proc/$pid/cmdline" \
    && grep -qzxF -- "$MAIN_CLASS" "/proc/$pid/cmdline"
}

find_pid() { # prints the pid of our running server, or nothing; clears a stale pid file
  local pid=""
  if [[ -f "$PID_FILE" ]]; then
    pid="$(tr -d '[:space:]' < "$PID_FILE")"
    if is_our_server "$pid"; then echo "$pid"; return 0; fi
    rm -f "$PID_FILE"
  fi
  # pid file lost? look for a server of this home (one grep over all cmdlines)
  [[ -d /proc/self ]] || return 0
  local f p
  while IFS= read -r f; do
    p="${f#/proc/}"; p="${p%/cmdline}"
    [[ "$p" != "$BASHPID" && "$p" != "$$" ]] || continue
    if grep -qzxF -- "$MAIN_CLASS" "$f" 2>/dev/null; then
      mkdir -p "$RUN_DIR"; echo "$p" > "$PID_FILE"; echo "$p"; return 0
    fi
  done < <(grep -lzxF -- "--home-dir=$NEO4J_HOME" /proc/[0-9]*/cmdline 2>/dev/null || true)
  return 0
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

PYTHON=""
pick_python() {
  local c
  for c in "${RISKGRAPH_NEO4J_PYTHON:-}" "$REPO_ROOT/.venv/bin/python"; do
    [[ -n "$c" && -x "$c" ]] || continue
    if "$c" -c 'import neo4j' >/dev/null 2>&1; then PYTHON="$c"; return 0; fi
  done
  return 0
}

# 0 = a real query worked, 1 = not yet, 4 = authentication failed (fatal)
query_ok() {
  local pw
  pw="$(cat "$PASSWORD_FILE")"
  if [[ -n "$PYTHON" ]]; then
    RG_URI="bolt://$HOST:$BOLT_PORT" RG_USER="$NEO4J_USER" RG_PW="$pw" "$PYTHON" - <<'PY' 2>/dev/null
import os, sys
from neo4j import GraphDatabase
from neo4j.exceptions import AuthError
try:
    with GraphDatabase.driver(os.environ["RG_URI"], auth=(os.environ["RG_USER"], os.environ["RG_PW"]),
                              connection_timeout=5) as d:
        rec = d.execute_query("RETURN 1 AS ok").records
        sys.exit(0 if rec and rec[0]["ok"] == 1 else 1)
except AuthError:
    sys.exit(4)
except Exception:
    sys.exit(1)
PY
    return $?
  elif command -v curl >/dev/null 2>&1; then
    local body code
    body="$(printf 'user = "%s:%s"\n' "$NEO4J_USER" "$pw" | curl -s -m 5 -K - -w '\n%{http_code}' \
              -H 'Content-Type: application/json' -H 'Accept: application/json' \
              -d '{"statements":[{"statement":"RETURN 1 AS ok"}]}' \
              "http://$HOST:$HTTP_PORT/db/neo4j/tx/commit" 2>/dev/null)" || return 1
    code="${body##*$'\n'}"
    [[ "$code" == 401 ]] && return 4
    [[ "$code" == 200 && "$body" == *'"errors":[]'* ]] && return 0
    return 1
  else
    grep -q ' INFO  Started\.' "$LOGS_DIR/neo4j.log" 2>/dev/null && return 0
    return 1
  fi
}

print_env() {
  echo "NEO4J_URI=bolt://$HOST:$BOLT_PORT"
  echo "NEO4J_HTTP_URI=http://$HOST:$HTTP_PORT"
  echo "NEO4J_USER=$NEO4J_USER"
  [[ -s "$PASSWORD_FILE" ]] && echo "NEO4J_PASSWORD=$(cat "$PASSWORD_FILE")"
  echo "NEO4J_PASSWORD_FILE=$PASSWORD_FILE"
}

show_log_tail() {
  log "---- last 40 lines of $CONSOLE_LOG ----"
  tail -n 40 "$CONSOLE_LOG" >&2 2>/dev/null || true
  if [[ -f "$LOGS_DIR/neo4j.log" ]] && ! grep -q . "$CONSOLE_LOG" 2>/dev/null; then
    log "---- last 40 lines of $LOGS_DIR/neo4j.log ----"
    tail -n 40 "$LOGS_DIR/neo4j.log" >&2 || true
  fi
}

LOCK_FD=""
take_lock() { # serialise start/stop/fetch on one home (e.g. parallel test workers)
  [[ -n "${LOCK_FD:-}" ]] && return 0  # already held by this process (import = stop + start)
  command -v flock >/dev/null 2>&1 || return 0
  mkdir -p "$NEO4J_HOME"
  exec {LOCK_FD}>"$NEO4J_HOME/.lock"
  flock -w 600 "$LOCK_FD" || die "could not lock $NEO4J_HOME/.lock"
}

# ---------------------------------------------------------------- commands

wait_ready() { # $1 pid
  local pid="$1" deadline=$((SECONDS + START_TIMEOUT)) rc
  pick_python
  while (( SECONDS < deadline )); do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE"
      log "Neo4j exited during start-up"
      show_log_tail
      exit 1
    fi
    if port_open "$BOLT_PORT"; then
      rc=0; query_ok || rc=$?
      if (( rc == 0 )); then return 0; fi
      if (( rc == 4 )); then
        die "Bolt is up but user $NEO4J_USER was refused with the password in $PASSWORD_FILE (data dir initialised with another password? remove $DATA_DIR to start afresh)"
      fi
    fi
    sleep 0.5
  done
  log "Neo4j did not answer on bolt://$HOST:$BOLT_PORT within ${START_TIMEOUT}s"
  show_log_tail
  exit 1
}

cmd_start() {
  take_lock
  local pid
  pid="$(find_pid)"
  if [[ -n "$pid" ]]; then
    [[ -s "$CONF_DIR/neo4j.conf" ]] || die "server running (pid $pid) but $CONF_DIR/neo4j.conf is missing"
    wait_ready "$pid"
    log "Neo4j already running (pid $pid)"
    print_env
    return 0
  fi
  cmd_fetch
  find_java
  render_conf
  ensure_password
  local p
  for p in "$BOLT_PORT" "$HTTP_PORT"; do
    port_open "$p" && die "port $HOST:$p is already in use by another process (set RISKGRAPH_NEO4J_BOLT_PORT / RISKGRAPH_NEO4J_HTTP_PORT)"
  done

  local heap_init heap_max extra=()
  heap_init="$(conf_get server.memory.heap.initial_size)"
  heap_max="$(conf_get server.memory.heap.max_size)"
  # shellcheck disable=SC2206  # intentional word splitting of user-supplied flags
  [[ -n "${RISKGRAPH_NEO4J_JAVA_OPTS:-}" ]] && extra=(${RISKGRAPH_NEO4J_JAVA_OPTS})
  local cmd=("$JAVA" "${JVM_FLAGS[@]}")
  [[ -n "$heap_init" ]] && cmd+=("-Xms$heap_init")
  [[ -n "$heap_max" ]] && cmd+=("-Xmx$heap_max")
  cmd+=("${extra[@]}" -cp "$LIB_DIR/*" "$MAIN_CLASS"
        "--home-dir=$NEO4J_HOME" "--config-dir=$CONF_DIR" --console-mode)

  [[ -f "$CONSOLE_LOG" ]] && mv -f "$CONSOLE_LOG" "$CONSOLE_LOG.1"
  log "starting Neo4j $NEO4J_VERSION (home $NEO4J_HOME, log $CONSOLE_LOG)"
  local setsid=()
  command -v setsid >/dev/null 2>&1 && setsid=(setsid)
  # The child writes its own pid (exec keeps it), detaches from our session/terminal and
  # does not inherit the lock fd.
  (
    cd "$NEO4J_HOME"
    if [[ -n "$LOCK_FD" ]]; then exec {LOCK_FD}>&-; fi
    nohup "${setsid[@]}" bash -c 'echo $$ > "$1"; shift; exec "$@"' _ "$PID_FILE" "${cmd[@]}" \
      > "$CONSOLE_LOG" 2>&1 < /dev/null &
  )
  local i
  for i in $(seq 1 50); do [[ -s "$PID_FILE" ]] && break; sleep 0.1; done
  pid="$(tr -d '[:space:]' < "$PID_FILE" 2>/dev/null || true)"
  [[ -n "$pid" ]] || { show_log_tail; die "Neo4j did not start (no pid)"; }
  wait_ready "$pid"
  log "Neo4j is up (pid $pid) after ${SECONDS}s"
  print_env
}

cmd_stop() {
  take_lock
  local pid
  pid="$(find_pid)"
  if [[ -z "$pid" ]]; then
    rm -f "$PID_FILE"
    log "Neo4j is not running"
    return 0
  fi
  log "stopping Neo4j (pid $pid) ..."
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    log "still running after ${STOP_TIMEOUT}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_import() { # $1: file with one `neo4j-admin database import full` argument per line
  local args_file="${1:-}" args=()
  [[ -f "$args_file" ]] || die "import: argument file '${args_file}' not found"
  take_lock
  cmd_fetch
  find_java
  render_conf
  ensure_password
  mapfile -t args < "$args_file"
  cmd_stop
  mkdir -p "$LOGS_DIR"
  log "importing into database neo4j, replacing it (log $LOGS_DIR/import.log) ..."
  if ! (cd "$NEO4J_HOME" && NEO4J_HOME="$NEO4J_HOME" NEO4J_CONF="$CONF_DIR" \
        "$JAVA" "-Xmx${RISKGRAPH_NEO4J_IMPORT_HEAP:-2g}" -cp "$LIB_DIR/*" "$ADMIN_CLASS" \
        database import full neo4j --overwrite-destination=true "${args[@]}" \
        > "$LOGS_DIR/import.log" 2>&1); then
    tail -n 30 "$LOGS_DIR/import.log" >&2
    die "neo4j-admin database import failed (database left stopped; full log $LOGS_DIR/import.log)"
  fi
  grep -E "^(IMPORT DONE|  [0-9]+ (nodes|relationships|properties))" "$LOGS_DIR/import.log" >&2 || true
  cmd_start
}

cmd_status() {
  local pid
  pid="$(find_pid)"
  if [[ -n "$pid" ]]; then
    if port_open "$BOLT_PORT"; then
      echo "running (pid $pid, bolt://$HOST:$BOLT_PORT)"
    else
      echo "running (pid $pid, bolt://$HOST:$BOLT_PORT not answering yet)"
    fi
    return 0
  fi
  echo "stopped"
  return 3
}

cmd_password() {
  [[ -s "$PASSWORD_FILE" ]] || die "no password yet ($PASSWORD_FILE); run: bash scripts/neo4j.sh start"
  cat "$PASSWORD_FILE"; echo
}

usage() {
  sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" >&2
}

case "${1:-}" in
  fetch)    take_lock; cmd_fetch; render_conf ;;
  start)    cmd_start ;;
  stop)     cmd_stop ;;
  status)   cmd_status ;;
  import)   cmd_import "${2:-}" ;;
  uri)      echo "bolt://$HOST:$BOLT_PORT" ;;
  password) cmd_password ;;
  env)      print_env ;;
  -h|--help|help) usage ;;
  *)        usage; exit 64 ;;
esac
