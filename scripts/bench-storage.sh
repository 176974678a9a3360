#!/usr/bin/env bash
# What history costs one Rill node (issue 13): memory and disk per entry, the time to serve again
# after kill -9 and after a clean stop, and disk use after a trim. For each N given:
#
#   ./scripts/bench-storage.sh [N...]        # default 1000000; needs redis-cli and redis-benchmark
#   ./scripts/bench-storage.sh 1000000 10000000
#
# a fresh node (one-node cluster, fsync on) loads N entries with `redis-benchmark -P 64 -c 8 XADD
# big '*' sensor_id 7 temperature 21.5 humidity 48`, then prints: RSS after the load and after
# 30 s idle; `du -sb` of the data directory and bytes per entry; the time from (re)start until
# `XLEN big` answers the full count (polled every 20 ms) after kill -9 and after SIGINT, and RSS
# then; the time of `XTRIM big MAXLEN 1000` and disk use right after it and 30 s and 60 s later
# (RocksDB compacts in the background).
#
# RILL_BENCH_TRIM=0 skips the trim (on a slow store it can take far longer than the rest).
# RILL_BIN_DIR=dir uses the rill-server found there instead of building it. RILL_BENCH_PORT
# (default 17379) is the Redis-protocol port; the gRPC port is 1000 above it. Everything lives in
# a temporary directory, removed on exit with the node stopped.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
for tool in redis-cli redis-benchmark; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found: apt-get install -y redis-tools" >&2; exit 1; }
done
if [ -n "${RILL_BIN_DIR:-}" ]; then
  bin="$RILL_BIN_DIR/rill-server"
else
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
  # The same build as bench-cluster.sh: building rill-server alone would unify features
  # differently and rebuild RocksDB.
  (cd "$root" && cargo build --release --locked -q -p rill-server -p rill-cli -p rill-tests --bins --examples)
  bin="$CARGO_TARGET_DIR/release/rill-server"
fi
[ -x "$bin" ] || { echo "error: $bin not found or not executable" >&2; exit 1; }
[ $# -gt 0 ] || set -- 1000000
for n in "$@"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [entries...]" >&2; exit 2; }
done

port="${RILL_BENCH_PORT:-17379}"
grpc_port=$((port + 1000))
# Bounds on every wait, in seconds.
leader_wait_s=30
serve_wait_s=900
stop_wait_s=120
command_wait_s=900
# The node takes its settings from flags only, not from RILL_* variables of this shell.
unset_rill=()
for var in $(compgen -e | grep '^RILL_' || true); do unset_rill+=(-u "$var"); done

work="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then stop_node || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now_ms() { date +%s%3N; }
cli() { timeout "$command_wait_s" redis-cli -p "$port" "$@"; }
rss() { awk '/^VmRSS:/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$pid/status"; }
disk() { du -sb "$data" | cut -f1; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

start_node() {
  env "${unset_rill[@]}" RUST_LOG=warn "$bin" --node-id 1 --port "$port" --grpc-port "$grpc_port" \
    --dir "$data" >>"$work/node.log" 2>&1 &
  pid=$!
}

# Fails with the node's log when it died.
check_alive() {
  kill -0 "$pid" 2>/dev/null && return 0
  echo "error: the node exited; its log:" >&2
  tail -20 "$work/node.log" >&2
  exit 1
}

# Polls every 20 ms until `redis-cli $*` prints $1 (the rest is the command); sets waited_ms.
wait_for() {
  local expect=$1 started deadline
  shift
  started=$(now_ms)
  deadline=$((started + serve_wait_s * 1000))
  until [ "$(timeout 5 redis-cli -p "$port" "$@" 2>/dev/null | tr -d '\r')" = "$expect" ]; do
    check_alive
    [ "$(now_ms)" -lt "$deadline" ] || { echo "error: no '$expect' from $* within $serve_wait_s s" >&2; exit 1; }
    sleep 0.02
  done
  waited_ms=$(($(now_ms) - started))
}

wait_leader() {
  local deadline=$(($(now_ms) + leader_wait_s * 1000))
  until redis-cli -p "$port" INFO replication 2>/dev/null | grep -q '^rill_role:leader'; do
    check_alive
    [ "$(now_ms)" -lt "$deadline" ] || { echo "error: no leader within $leader_wait_s s" >&2; exit 1; }
    sleep 0.1
  done
}

# SIGINT, then SIGKILL if the node is still there after stop_wait_s; sets stopped_ms.
stop_node() {
  local started deadline
  started=$(now_ms)
  deadline=$((started + stop_wait_s * 1000))
  kill -INT "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && [ "$(now_ms)" -lt "$deadline" ]; do sleep 0.05; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "warning: the node ignored SIGINT for $stop_wait_s s; killed" >&2
    kill -9 "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  pid=""
  stopped_ms=$(($(now_ms) - started))
}

load() {
  local n=$1 started
  started=$(now_ms)
  timeout $((600 + n / 5000)) redis-benchmark -p "$port" -P 64 -c 8 -n "$n" -q \
    XADD big '*' sensor_id 7 temperature 21.5 humidity 48 | tr '\r' '\n' | grep -v '^$' | tail -1
  len=$(cli XLEN big | tr -d '\r')
  echo "loaded:                     $len entries in $(awk -v ms=$(($(now_ms) - started)) 'BEGIN { printf "%.1f", ms / 1000 }') s"
  [ "$len" = "$n" ] || echo "note: XLEN is $len, not the $n requested"
}

restart_after() {
  local how=$1
  start_node
  wait_for "$len" XLEN big
  printf '%-27s %s ms until XLEN answers %s; RSS then %s\n' "restart after $how:" "$waited_ms" "$len" "$(rss)"
}

trim() {
  local started trimmed
  started=$(now_ms)
  trimmed=$(cli XTRIM big MAXLEN 1000 | tr -d '\r')
  echo "XTRIM big MAXLEN 1000:      $trimmed trimmed in $(($(now_ms) - started)) ms"
  echo "disk right after the trim:  $(mib "$(disk)")"
  sleep 30
  echo "disk 30 s after the trim:   $(mib "$(disk)")"
  sleep 30
  echo "disk 60 s after the trim:   $(mib "$(disk)")"
}

run() {
  local n=$1 bytes
  data="$work/data-$n"
  echo "== $n entries ($bin)"
  start_node
  wait_leader
  load "$n"
  echo "RSS after the load:         $(rss)"
  sleep 30
  echo "RSS after 30 s idle:        $(rss)"
  bytes=$(disk)
  echo "disk:                       $(mib "$bytes"), $((bytes / len)) bytes/entry"
  kill -9 "$pid"
  wait "$pid" 2>/dev/null || true
  restart_after "kill -9"
  stop_node
  echo "clean stop (SIGINT):        $stopped_ms ms"
  restart_after "a clean stop"
  if [ "${RILL_BENCH_TRIM:-1}" != 0 ]; then trim; fi
  stop_node
  echo "clean stop (SIGINT):        $stopped_ms ms"
  rm -rf "$data"
}

for n in "$@"; do run "$n"; done
