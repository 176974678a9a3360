#!/usr/bin/env bash
# Replicated XADD throughput and latency: a three-node Rill cluster (release build, fsync on)
# next to a plain redis-server with appendfsync always, on this machine, in one run.
#
#   ./scripts/bench-cluster.sh            # needs redis-server and redis-benchmark (redis-tools)
#
# Prints stream_bench (1 and 50 clients, p50/p99) against the leader, a follower and Redis,
# and redis-benchmark XADD with and without pipelining. Data lives in a temporary directory.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
for tool in redis-server redis-benchmark; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found: apt-get install -y redis-server redis-tools" >&2; exit 1; }
done
(cd "$root" && cargo build --release --locked -q -p rill-server -p rill-cli -p rill-tests --bins --examples)
bin="$CARGO_TARGET_DIR/release/rill-server"
bench="$CARGO_TARGET_DIR/release/examples/stream_bench"
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
