#!/usr/bin/env bash
# Replicated XADD throughput and latency: a three-node Rill cluster (release build, fsync on)
# next to a plain redis-server with appendfsync always, on this machine, in one run.
#
#   ./scripts/bench-cluster.sh                       # needs redis-server and redis-benchmark (redis-tools)
#   ./scripts/bench-cluster.sh workqueue [rounds] [batch] [seconds_max]
#   ./scripts/bench-cluster.sh history [entries]
#
# With no argument: stream_bench (XADD from 1 and 50 clients, then XREADGROUP COUNT 10 + XACK
# from as many consumers) and redis-benchmark XADD with and without pipelining, each against the
# leader, a follower and Redis, each run ending with XRANGE reads of what its XADDs wrote,
# BENCH_RUNS times (default 3); then a table of the medians with Rill/Redis ratios, and what the
# three nodes did while the leader served each workload (stream_bench's producing and consuming
# phases apart): core-µs per applied command summed over the nodes (CPU time from /proc),
# commands per log entry and fsyncs per second per node (INFO persistence counters), and thread
# switches per log entry summed over the nodes (/proc). `workqueue` and `history` run that
# mode of stream_bench (issue 13: does the store slow down with history?) against the leader and
# Redis only, and end with one line comparing the two. Data lives in a temporary directory.
#
# RILL_BIN_DIR=dir uses the rill-server and stream_bench found there instead of building them.
# Each node runs with a third of the machine's cores as worker threads (at least one), as three
# nodes sharing a machine should; RILL_BENCH_WORKER_THREADS=N sets another count, 0 tokio's
# default of one per core.
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
# Anything else running skews every row (a stray redis-benchmark once held a core through a
# whole set of runs): one second of /proc/stat before the cluster starts says how busy the
# machine already is, and names the busiest processes when that is more than a tenth.
cpu_times() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat; }
read -r busy_before idle_before <<<"$(cpu_times)"
sleep 1
read -r busy_after idle_after <<<"$(cpu_times)"
busy_pct=$(( 100 * (busy_after - busy_before) / (busy_after - busy_before + idle_after - idle_before + 1) ))
echo "machine: ${busy_pct}% busy in the second before the benchmark"
if [ "$busy_pct" -gt 10 ]; then
  echo "warning: the machine is ${busy_pct}% busy before the benchmark; the ratios will be skewed" >&2
  ps -eo pcpu,pid,comm --sort=-pcpu | head -6 >&2
fi
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
workers="${RILL_BENCH_WORKER_THREADS:-$(( $(nproc) / 3 > 1 ? $(nproc) / 3 : 1 ))}"
threads=()
[ "$workers" = 0 ] || threads=(--worker-threads "$workers")
echo "nodes: ${threads[*]:-worker threads: one per core (tokio default)}"
for id in 1 2 3; do
  env -u RILL_PORT -u RILL_WORKER_THREADS RUST_LOG=warn "$bin" --node-id "$id" --port $((base + id)) \
    --grpc-port $((base + 1000 + id)) --dir "$work/n$id" "${members[@]}" "${threads[@]}" >"$work/n$id.log" 2>&1 &
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

runs="${BENCH_RUNS:-3}"
results="$work/results"
mkdir -p "$results"
hz=$(getconf CLK_TCK)
# Node counters, one line: CPU ticks of the three nodes, the leader's applied index and applied
# commands, each node's fsynced writes (INFO persistence), and the thread switches (voluntary
# and not) of every thread of the three nodes.
field() { redis-cli -p "$1" INFO persistence | tr -d '\r' | sed -n "s/^$2://p"; }
readings() {
  local ticks=0 pid
  for pid in "${pids[@]}"; do ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); done
  echo "$(date +%s.%N) $ticks $(field "$lport" rill_applied_index) $(field "$lport" rill_applied_commands)" \
    "$(for id in 1 2 3; do field $((base + id)) rill_synced_writes; done | paste -sd' ')" \
    "$(for pid in "${pids[@]}"; do cat /proc/"$pid"/task/*/status; done | awk '/ctxt_switches/ {s += $2} END {print s}')"
}
# What the nodes did between two readings: core-µs per applied command (three nodes summed),
# commands per log entry, fsyncs per second on each node, thread switches per log entry (three
# nodes summed). Appends each to $results/<row>.<stat>.
node_stats() {
  local row="$1" line
  line=$(awk -v hz="$hz" -v a="$2" -v b="$3" 'BEGIN {
    split(a, x, " "); split(b, y, " "); s = y[1] - x[1]; c = y[4] - x[4]; e = y[3] - x[3];
    if (c <= 0 || e <= 0 || s <= 0) { print "none"; exit }
    printf "%.1f %.1f %.0f %.0f %.0f %.1f", (y[2] - x[2]) * 1e6 / hz / c, c / e, (y[5] - x[5]) / s, (y[6] - x[6]) / s, (y[7] - x[7]) / s, (y[8] - x[8]) / e }')
  [ "$line" = none ] && return 0
  read -r us per f1 f2 f3 sw <<<"$line"
  echo "   nodes: $us core-µs per command (3 nodes summed), $per commands per log entry, fsyncs/s per node $f1/$f2/$f3, $sw thread switches per log entry"
  echo "$us" >>"$results/$row.core_us"; echo "$per" >>"$results/$row.per_entry"; echo "$sw" >>"$results/$row.switches"
  echo "$f1" >>"$results/$row.fsync1"; echo "$f2" >>"$results/$row.fsync2"; echo "$f3" >>"$results/$row.fsync3"
}
record() { echo "$3" >>"$results/$1.$2"; }
rate_of() { grep -m1 "$1" | grep -oE "[0-9.]+ $2" | cut -d' ' -f1; }
targets=("leader:$lport" "follower:$fport" "redis:$rport")

for run in $(seq 1 "$runs"); do
  echo "== run $run of $runs"
  for clients in 1 50; do
    entries=$(( clients == 1 ? 5000 : 50000 ))
    for target in "${targets[@]}"; do
      name=${target%%:*}; port=${target##*:}
      if [ "$name" = leader ]; then
        # Node counters at the start, between the phases (stream_bench prints its XADD line
        # as the producers finish and the consumers start) and at the end. The script blocks
        # on a FIFO for that line: a loop polling a file forked up to a hundred processes a
        # second beside the nodes, which cost Rill's one-client row about 8% of its XADDs per
        # second and more than doubled its p99 (Redis, not watched, paid nothing).
        before=$(readings)
        rm -f "$work/stream_bench.fifo"
        mkfifo "$work/stream_bench.fifo"
        "$bench" "127.0.0.1:$port" "$clients" "$entries" >"$work/stream_bench.fifo" &
        sb=$!
        exec 3<"$work/stream_bench.fifo"
        out=""
        while IFS= read -r line <&3; do
          out+="$line"$'\n'
          [[ "$line" == XADD* ]] && break
        done
        between=$(readings)
        out+=$(cat <&3)
        exec 3<&-
        wait "$sb"
        after=$(readings)
      else
        out=$("$bench" "127.0.0.1:$port" "$clients" "$entries")
      fi
      echo "stream_bench $clients client(s), $name: $(echo "$out" | tr '\n' ';' | sed 's/;$//; s/;/; /')"
      record "xadd$clients" "$name" "$(echo "$out" | rate_of '^XADD' 'ops/s')"
      record "group$clients" "$name" "$(echo "$out" | rate_of '^XREADGROUP' 'entries/s')"
      if [ "$name" = leader ]; then
        node_stats "stream$clients" "$before" "$between"
        node_stats "group$clients" "$between" "$after"
      fi
    done
  done
  for pipeline in 1 16; do
    n=$(( pipeline == 1 ? 50000 : 200000 ))
    for target in "${targets[@]}"; do
      name=${target%%:*}; port=${target##*:}
      [ "$name" = redis ] || before=$(readings)
      out=$(redis-benchmark -p "$port" -n "$n" -c 50 -P "$pipeline" -q XADD bench '*' sensor_id 7 temperature 21.5 \
        | tr '\r' '\n' | grep -v '^$' | tail -1)
      echo "redis-benchmark -c 50 -P $pipeline XADD, $name: ${out#*: }"
      record "rb$pipeline" "$name" "$(echo "$out" | rate_of 'requests per second' 'requests')"
      [ "$name" = leader ] && node_stats "rb$pipeline" "$before" "$(readings)"
    done
  done
  # Linearizable reads: on the leader's lease (a follower forwards them to the leader).
  for target in "${targets[@]}"; do
    name=${target%%:*}; port=${target##*:}
    out=$(redis-benchmark -p "$port" -n 100000 -c 50 -q XRANGE bench - + COUNT 10 \
      | tr '\r' '\n' | grep -v '^$' | tail -1)
    echo "redis-benchmark -c 50 XRANGE COUNT 10, $name: ${out#*: }"
    record "range" "$name" "$(echo "$out" | rate_of 'requests per second' 'requests')"
  done
done

median() { sort -g "$1" | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
cell() { [ -s "$results/$1.$2" ] && median "$results/$1.$2" || echo -; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }
echo
echo "== medians of $runs runs; ratios are Rill over Redis (appendfsync always) in the same run"
printf '%-46s %12s %12s %12s %8s %8s\n' "workload" "rill leader" "follower" "redis" "leader" "follower"
for row in "xadd1|stream_bench XADD, 1 client (ops/s)" \
           "xadd50|stream_bench XADD, 50 clients (ops/s)" \
           "rb1|redis-benchmark -c 50 XADD (req/s)" \
           "rb16|redis-benchmark -c 50 -P 16 XADD (req/s)" \
           "group1|XREADGROUP COUNT 10 + XACK, 1 (entries/s)" \
           "group50|XREADGROUP COUNT 10 + XACK, 50 (entries/s)" \
           "range|redis-benchmark -c 50 XRANGE COUNT 10 (req/s)"; do
  key=${row%%|*}; label=${row#*|}
  l=$(cell "$key" leader); f=$(cell "$key" follower); r=$(cell "$key" redis)
  printf '%-46s %12.0f %12.0f %12.0f %8s %8s\n' "$label" "$l" "$f" "$r" "$(ratio "$l" "$r")" "$(ratio "$f" "$r")"
done
echo
echo "== the three Rill nodes while the leader served each workload (medians)"
printf '%-34s %16s %15s %22s %16s\n' "workload" "core-µs/command" "commands/entry" "fsyncs/s (n1/n2/n3)" "switches/entry"
for row in "stream1|stream_bench XADD, 1 client" "stream50|stream_bench XADD, 50 clients" \
           "group1|XREADGROUP + XACK, 1 consumer" "group50|XREADGROUP + XACK, 50 consumers" \
           "rb1|redis-benchmark -c 50 XADD" "rb16|redis-benchmark -c 50 -P 16 XADD"; do
  key=${row%%|*}; label=${row#*|}
  printf '%-34s %16s %15s %22s %16s\n' "$label" "$(cell "$key" core_us)" "$(cell "$key" per_entry)" \
    "$(cell "$key" fsync1)/$(cell "$key" fsync2)/$(cell "$key" fsync3)" "$(cell "$key" switches)"
done
echo "(core-µs per XADD, three nodes summed: the redis-benchmark -c 50 XADD row)"
