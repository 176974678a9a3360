#!/usr/bin/env bash
# Starts a three-node Rill cluster on this machine and shows it working.
#
# Builds rill-server and the rill CLI (release), starts nodes 1-3 on 127.0.0.1 (Redis protocol
# on 6379-6381, gRPC on 7379-7381, data in deploy/local/data/nodeN, logs in
# deploy/local/data/nodeN.log), waits until all three hold the membership and name one leader,
# runs a short producer/consumer-group demo through redis-cli when it is installed, shows
# `rill cluster status`, and keeps the cluster running until Ctrl-C, which stops all three.
# Running it again reuses the data. RILL_BASE_PORT moves the Redis ports (gRPC: +1000),
# RILL_DATA_DIR the data; RILL_BIN_DIR names a directory holding rill-server and rill already
# built, and skips the build (the tests run the script so).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
base="${RILL_BASE_PORT:-6379}"
data="${RILL_DATA_DIR:-$here/data}"

if [ -n "${RILL_BIN_DIR:-}" ]; then
  bin="$RILL_BIN_DIR/rill-server"
  rill="$RILL_BIN_DIR/rill"
else
  command -v cargo >/dev/null || { echo "error: cargo not found; install Rust (https://rustup.rs)" >&2; exit 1; }
  if ! compgen -G '/usr/lib/llvm-*/lib/libclang.so*' >/dev/null && ! ldconfig -p 2>/dev/null | grep -Eq 'libclang(-[0-9.]+)?\.so'; then
    echo "error: libclang not found; the RocksDB bindings need it: apt-get install -y libclang-dev" >&2
    exit 1
  fi
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
  echo "building rill-server and rill (release; the first build compiles RocksDB and takes ~14 minutes on 2 cores)..."
  # The same build as scripts/bench-cluster.sh: one set of features, so one RocksDB build serves both.
  (cd "$root" && cargo build --release --locked -q -p rill-server -p rill-cli -p rill-tests --bins --examples)
  bin="$CARGO_TARGET_DIR/release/rill-server"
  rill="$CARGO_TARGET_DIR/release/rill"
fi

redis_port() { echo $((base + $1 - 1)); }
grpc_port() { echo $((base + 1000 + $1 - 1)); }
members=()
for id in 1 2 3; do
  members+=(--member "$id=127.0.0.1:$(grpc_port "$id")/127.0.0.1:$(redis_port "$id")")
done

mkdir -p "$data"
pids=()
stop() {
  trap - EXIT INT TERM
  kill -INT "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  echo "rill stopped (all three nodes)"
}
trap stop EXIT INT TERM
# Three nodes share this machine: each runs its tasks on a third of the cores (at least one),
# as a thread handoff costs a context switch.
workers=$(( $(nproc) / 3 > 1 ? $(nproc) / 3 : 1 ))
for id in 1 2 3; do
  # Only the environment this script means: flags decide every setting.
  env -u RILL_PORT -u RILL_DIR RUST_LOG="${RUST_LOG:-warn}" "$bin" \
    --node-id "$id" --bind 127.0.0.1 --worker-threads "$workers" \
    --port "$(redis_port "$id")" --grpc-port "$(grpc_port "$id")" \
    --dir "$data/node$id" "${members[@]}" \
    >"$data/node$id.log" 2>&1 &
  pids+=($!)
done

# `INFO replication` over a bare TCP connection (no redis-cli needed).
info() {
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  printf 'INFO replication\r\nQUIT\r\n' >&3
  timeout 2 cat <&3 | tr -d '\r'
  exec 3>&-
}
# `role leader-id` of node $1, as its INFO says ("down" when it does not answer).
view() {
  local text
  text=$(info "$(redis_port "$1")" 2>/dev/null) || { echo down; return; }
  echo "$(sed -n 's/^rill_role://p' <<<"$text") $(sed -n 's/^rill_leader_id://p' <<<"$text")"
}
# Ready once every node holds the membership (leader or follower, not a learner still waiting
# for its first entries) and all three name the same leader.
leader=""
for _ in $(seq 1 300); do
  views=()
  for id in 1 2 3; do views+=("$(view "$id")"); done
  named=${views[0]#* }
  ready=1
  for v in "${views[@]}"; do
    case "$v" in
      "leader $named" | "follower $named") ;;
      *) ready=0 ;;
    esac
  done
  if [ "$ready" = 1 ] && [ -n "$named" ]; then
    leader=$named
    break
  fi
  sleep 0.1
done
if [ -z "$leader" ]; then
  echo "error: the cluster did not form within 30 s (node 1: ${views[0]}, node 2: ${views[1]}, node 3: ${views[2]}); see $data/node*.log" >&2
  exit 1
fi

echo
for id in 1 2 3; do
  role=follower
  [ "$id" = "$leader" ] && role=leader
  echo "node $id ($role): redis 127.0.0.1:$(redis_port "$id"), grpc 127.0.0.1:$(grpc_port "$id"), data ${RILL_DATA_DIR:-deploy/local/data}/node$id"
done
if command -v redis-cli >/dev/null; then
  follower=$(( leader % 3 + 1 ))
  cli() { local port=$1; shift; echo "[node $(( port - base + 1 ))]> $*"; redis-cli --no-raw -p "$port" "$@"; }
  echo
  echo "writes go to any node (followers forward to the leader):"
  cli "$(redis_port "$leader")" XADD sensor_stream '*' sensor_id 3 temperature 21.5 humidity 48
  cli "$(redis_port "$follower")" XADD sensor_stream '*' sensor_id 7 temperature 19.0 humidity 55
  cli "$(redis_port "$follower")" XGROUP CREATE sensor_stream my_group 0 MKSTREAM || true
  cli "$(redis_port "$follower")" XREADGROUP GROUP my_group consumer_1 COUNT 1 STREAMS sensor_stream '>'
  cli "$(redis_port "$leader")" XPENDING sensor_stream my_group
  for id in 1 2 3; do
    cli "$(redis_port "$id")" XLEN sensor_stream
  done
else
  echo "(install redis-tools for redis-cli to try it: apt-get install -y redis-tools)"
fi
nodes="127.0.0.1:$(grpc_port 1),127.0.0.1:$(grpc_port 2),127.0.0.1:$(grpc_port 3)"
echo
echo "\$ rill cluster status"
"$rill" --nodes "$nodes" cluster status
echo
echo "rill is running; try (the rill binary is $rill):"
echo "  rill produce --count 1000     # the sensor producer, through the Rust client"
echo "  rill consume --consumers 2    # a consumer group of two; kill a node meanwhile"
echo "  redis-cli -p $(redis_port 2) INFO replication"
echo "stop all three nodes with Ctrl-C"
wait "${pids[@]}"
