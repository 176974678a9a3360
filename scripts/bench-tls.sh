#!/usr/bin/env bash
# What TLS costs: two three-node release clusters on this machine, one plain and one with TLS
# on both ports and between the nodes (mutual), fsync on, each with a password; redis-benchmark
# XADD against each leader in turns, BENCH_RUNS times (default 3); the medians and TLS/plain.
#
#   ./scripts/bench-tls.sh            # needs redis-benchmark built with TLS (Debian's is)
#
# RILL_BIN_DIR=dir uses the rill-server and rill found there instead of building them.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rill-target}"
command -v redis-benchmark >/dev/null || { echo "error: redis-benchmark not found" >&2; exit 1; }
if [ -n "${RILL_BIN_DIR:-}" ]; then
  dir="$RILL_BIN_DIR"
else
  (cd "$root" && cargo build --release --locked -q -p rill-server -p rill-cli)
  dir="$CARGO_TARGET_DIR/release"
fi
base="${RILL_BENCH_PORT:-16479}"
work="$(mktemp -d)"
pids=()
cleanup() {
  kill -INT "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$dir/rill" dev certs "$work/certs" >/dev/null
tls_flags=(--tls-cert-file "$work/certs/node.pem" --tls-key-file "$work/certs/node-key.pem"
           --tls-ca-cert-file "$work/certs/ca.pem")

# start NAME PORT_BASE [FLAGS...]: three nodes on PORT_BASE+1..3 (gRPC +1000).
start() {
  local name=$1 b=$2
  shift 2
  local members=()
  for id in 1 2 3; do members+=(--member "$id=127.0.0.1:$((b + 1000 + id))/127.0.0.1:$((b + id))"); done
  for id in 1 2 3; do
    RUST_LOG=warn "$dir/rill-server" --node-id "$id" --port $((b + id)) --grpc-port $((b + 1000 + id)) \
      --dir "$work/$name$id" --requirepass bench "${members[@]}" "$@" >"$work/$name$id.log" 2>&1 &
    pids+=($!)
  done
}
# leader PORT_BASE [redis-cli TLS flags...]: the leader's Redis port.
leader() {
  local b=$1
  shift
  for _ in $(seq 1 150); do
    for id in 1 2 3; do
      if redis-cli -p $((b + id)) -a bench --no-auth-warning "$@" INFO replication 2>/dev/null \
        | grep -q '^rill_role:leader'; then echo $((b + id)); return; fi
    done
    sleep 0.1
  done
  echo "error: no leader on $b" >&2
  exit 1
}
start plain "$base"
start tls $((base + 50)) "${tls_flags[@]}"
cli_tls=(--tls --cacert "$work/certs/ca.pem")
plain=$(leader "$base")
tls=$(leader $((base + 50)) "${cli_tls[@]}")
echo "plain leader :$plain, TLS leader :$tls"

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
rate() { grep -oE '[0-9.]+ requests per second' | cut -d' ' -f1; }
runs="${BENCH_RUNS:-3}"
for pipeline in 1 16; do
  n=$(( pipeline == 1 ? 50000 : 200000 ))
  : >"$work/plain.$pipeline"; : >"$work/tls.$pipeline"
  for run in $(seq 1 "$runs"); do
    redis-benchmark -p "$plain" -a bench -n "$n" -c 50 -P "$pipeline" -q XADD bench '*' f v \
      | tr '\r' '\n' | rate | tail -1 >>"$work/plain.$pipeline"
    redis-benchmark -p "$tls" -a bench "${cli_tls[@]}" -n "$n" -c 50 -P "$pipeline" -q XADD bench '*' f v \
      | tr '\r' '\n' | rate | tail -1 >>"$work/tls.$pipeline"
    echo "run $run, -P $pipeline: plain $(tail -1 "$work/plain.$pipeline")/s, TLS $(tail -1 "$work/tls.$pipeline")/s"
  done
done
echo
echo "| redis-benchmark -c 50 XADD | plain (req/s) | TLS (req/s) | TLS/plain |"
echo "|---|---|---|---|"
for pipeline in 1 16; do
  p=$(median <"$work/plain.$pipeline"); t=$(median <"$work/tls.$pipeline")
  awk -v p="$p" -v t="$t" -v P="$pipeline" 'BEGIN { printf "| -P %s | %.0f | %.0f | %.2f |\n", P, p, t, t / p }'
done
echo "(medians of $runs runs; three nodes each, fsync on, the TLS cluster's nodes talk TLS to each other)"
