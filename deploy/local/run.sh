#!/usr/bin/env bash
# Starts Rill locally and shows it working.
#
# Today Rill runs as one node (replication is the next milestone); this script builds the server,
# starts it on 127.0.0.1 with its data in deploy/local/data, runs a short producer/consumer-group
# demo through redis-cli when it is installed, and keeps the node running until Ctrl-C.
# Running it again reuses the data directory.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
port="${RILL_PORT:-6379}"
data="${RILL_DATA:-$here/data/node1}"

command -v cargo >/dev/null || { echo "error: cargo not found; install Rust (https://rustup.rs)" >&2; exit 1; }
if ! ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1; then
  echo "error: libclang not found; the RocksDB bindings need it: apt-get install -y libclang-dev" >&2
  exit 1
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
echo "building rill-server (release; the first build compiles RocksDB and takes ~12 minutes on 2 cores)..."
(cd "$root" && cargo build --release --locked -q -p rill-server)
bin="$CARGO_TARGET_DIR/release/rill-server"

mkdir -p "$data"
"$bin" --bind 127.0.0.1 --port "$port" --dir "$data" &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; echo "rill stopped"' EXIT INT TERM

for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

echo
echo "rill node 1: redis protocol on 127.0.0.1:$port, data in $data"
if command -v redis-cli >/dev/null; then
  cli() { echo "> $*"; redis-cli --no-raw -p "$port" "$@"; }
  cli XADD sensor_stream '*' sensor_id 3 temperature 21.5 humidity 48
  cli XADD sensor_stream '*' sensor_id 7 temperature 19.0 humidity 55
  cli XGROUP CREATE sensor_stream my_group 0 MKSTREAM || true
  cli XREADGROUP GROUP my_group consumer_1 COUNT 1 STREAMS sensor_stream '>'
  cli XPENDING sensor_stream my_group
  cli XLEN sensor_stream
else
  echo "(install redis-tools for redis-cli to try it: apt-get install -y redis-tools)"
fi
echo
echo "rill is running; try: redis-cli -p $port XINFO STREAM sensor_stream"
echo "stop it with Ctrl-C"
wait $pid
