#!/usr/bin/env bash
# Replicated XADD throughput and latency: a three-node Rill cluster (release build, fsync on)
# next to a plain redis-server with appendfsync always, on this machine, in one run.
#
#   ./scripts/bench-cluster.sh                       # needs redis-server and redis-benchmark (redis-tools)
#   ./scripts/bench-cluster.sh workqueue [rounds] [batch] [seconds_max]
#   ./scripts/bench-cluster.sh history [entries]
#
# With no argument: stream_bench (1 and 50 clients, p50/p99) against the leader, a follower and
# Redis, and redis-benchmark XADD with and without pipelining. `workqueue` and `history` run that
# mode of stream_bench (issue 13: does the store slow down with history?) against the leader and
# Redis only, and end with one line comparing the two. Data lives in a temporary directory.
#
# RILL_BIN_DIR=dir uses the rill-server and stream_bench found there instead of building them.
# RILL_BENCH_PORT (default 16379) is the first of the ports used.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mode="${1:-throughput}"
case "$mode" in
  throughput|workqueue|history) ;;
  *) echo "usage: $0 [workqueue [rounds] [batch] [seconds_max] | history [entries]]" >&2; exit 2 ;;
esac
mode_args=("${@:2}")
for tool in redis-server redis-benchmark; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found: apt-get install -y redis-server redis-tools" >&2; exit 1; }
done
if [ -n "${RILL_BIN_DIR:-}" ]; then
  bin="$RILL_BIN_DIR/rill-server"
  bench="$RILL_BIN_DIR/stream_bench"
else
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
  (cd "$root" && cargo build --release --locked -q -p rill-server -p rill-cli -p rill-tests --bins --examples)
  bin="$CARGO_TARGET_DIR/release/rill-server"
  bench="$CARGO_TARGET_DIR/release/examples/stream_bench"
fi
for exe in "$bin" "$bench"; do
  [ -x "$exe" ] || { echo "error: $exe not found or not executable" >&2; exit 1; }
done
base="${RILL_BENCH_PORT:-16379}"
work="$(mktemp -d)"
pids=()
cleanup() {
  kill -INT "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  redis-cli -p $((base + 100)) shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

members=()
for id in 1 2 3; do members+=(--member "$id=127.0.0.1:$((base + 1000 + id))/127.0.0.1:$((base + id))"); done
for id in 1 2 3; do
  env -u RILL_PORT RUST_LOG=warn "$bin" --node-id "$id" --port $((base + id)) --grpc-port $((base + 1000 + id)) \
    --dir "$work/n$id" "${members[@]}" >"$work/n$id.log" 2>&1 &
  pids+=($!)
done
redis-server --port $((base + 100)) --save '' --appendonly yes --appendfsync always \
  --dir "$work" --daemonize yes >/dev/null

leader=""
for _ in $(seq 1 150); do
  for id in 1 2 3; do
    if redis-cli -p $((base + id)) INFO replication 2>/dev/null | grep -q '^rill_role:leader'; then leader=$id; break 2; fi
  done
  sleep 0.1
done
[ -n "$leader" ] || { echo "error: no leader" >&2; exit 1; }
follower=$(( leader % 3 + 1 ))
lport=$((base + leader)); fport=$((base + follower)); rport=$((base + 100))
echo "cluster: leader node $leader (:$lport), follower node $follower (:$fport); redis :$rport"

# One stream_bench mode against the leader, then Redis, and their `summary` lines side by side.
# Each summary holds one headline `ratio N`: a server unaffected by history stays near 1.
run_mode() {
  local out="$work/$mode" headline
  headline=$([ "$mode" = workqueue ] && echo "round time last/first" || echo "XRANGE after/before trim")
  echo "== stream_bench $mode${mode_args[*]:+ ${mode_args[*]}}: rill leader"
  "$bench" "127.0.0.1:$lport" "$mode" "${mode_args[@]}" | tee "$out.rill"
  echo "== stream_bench $mode${mode_args[*]:+ ${mode_args[*]}}: redis"
  "$bench" "127.0.0.1:$rport" "$mode" "${mode_args[@]}" | tee "$out.redis"
  echo "== $mode"
  echo "rill:  $(summary "$out.rill")"
  echo "redis: $(summary "$out.redis")"
  echo "$mode $headline ratio: rill $(headline_ratio "$out.rill"), redis $(headline_ratio "$out.redis")"
}
summary() { grep -m1 "^summary $mode: " "$1" | sed "s/^summary $mode: //"; }
headline_ratio() { summary "$1" | grep -oE 'ratio [0-9.]+' | head -1 | cut -d' ' -f2; }

if [ "$mode" != throughput ]; then
  run_mode
  exit 0
fi

for clients in 1 50; do
  entries=$(( clients == 1 ? 5000 : 50000 ))
  echo "== stream_bench, $clients client(s)"
  echo -n "rill leader:   "; "$bench" "127.0.0.1:$lport" "$clients" "$entries"
  echo -n "rill follower: "; "$bench" "127.0.0.1:$fport" "$clients" "$entries"
  echo -n "redis:         "; "$bench" "127.0.0.1:$rport" "$clients" "$entries"
done
for pipeline in 1 16; do
  n=$(( pipeline == 1 ? 50000 : 200000 ))
  echo "== redis-benchmark XADD, 50 clients, pipeline $pipeline"
  for target in "rill-leader:$lport" "rill-follower:$fport" "redis:$rport"; do
    name=${target%%:*}; port=${target##*:}
    echo -n "$name: "
    redis-benchmark -p "$port" -n "$n" -c 50 -P "$pipeline" -q XADD bench '*' sensor_id 7 temperature 21.5 | tr '\r' '\n' | grep -v '^$' | tail -1
  done
done
