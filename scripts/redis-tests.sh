#!/usr/bin/env bash
# Runs Redis's own stream tests against one Rill node: Redis's test runner (`runtest`) drives
# tests/unit/type/stream.tcl and stream-cgroups.tcl of the Redis checkout given, with the node
# as an external server. Nothing of Redis is built or copied into this repository.
#
#   scripts/redis-tests.sh /path/to/redis [path/to/rill-server]
#
# The checkout needs `runtest` and `tests/` (Tcl 8.5 or newer runs them). rill-server defaults
# to the debug build that `scripts/test.sh` makes. Prints the runner's report, then the counts.
#
# Left out by tag: needs:debug (DEBUG, AOF reloads), needs:repl (a Redis replica), and
# external:skip (tests that start their own servers). Left out by name: the tests in SKIPPED,
# each with why. The runner abandons a whole file at the first command a server refuses
# outside an assertion, so every such test has to be named here.
set -euo pipefail
cd "$(dirname "$0")/.."

redis_dir=${1:?usage: scripts/redis-tests.sh /path/to/redis [path/to/rill-server]}
bin=${2:-${CARGO_TARGET_DIR:-$PWD/target}/debug/rill-server}
[ -x "$redis_dir/runtest" ] || { echo "error: no runtest in $redis_dir" >&2; exit 1; }
[ -x "$bin" ] || { echo "error: no rill-server at $bin (build it, or pass its path)" >&2; exit 1; }

SKIPPED=(
  # CONFIG SET stream-node-max-entries: Rill has no radix-tree nodes; '~' trims in steps of 100.
  "XADD with MAXLEN option and the '~' argument"
  "XADD with LIMIT consecutive calls"
  "XTRIM with ~ is limited"
  "XTRIM without ~ is not limited"
  "XTRIM without ~ and with LIMIT"
  "XTRIM with LIMIT delete entries no more than limit"
  "XCLAIM with trimming"
  # Other data types (LPUSH, BLPOP, SET, SADD): Rill serves streams only.
  "XREAD: XADD + DEL + LPUSH should not awake client"
  "Blocking XREAD: key type changed with SET"
  "Blocking XREADGROUP: key type changed with SET"
  "Blocking XREADGROUP: key type changed with transaction"
  "Blocking XREADGROUP for stream key that has clients blocked on list"
  # RENAME: not served.
  "RENAME can unblock XREADGROUP with data"
  "RENAME can unblock XREADGROUP with -NOGROUP"
  # DUMP and RESTORE of Redis's RDB encoding: Rill stores streams in RocksDB.
  "Consumer seen-time and active-time"
  "Loading from legacy (Redis <= v6.2.x, rdb_ver < 10) persistence"
  "Loading from legacy (Redis <= v7.0.x, rdb_ver < 11) persistence"
  # INFO's rdb_changes_since_last_save, CONFIG RESETSTAT and error stats: no RDB, no stats.
  "XREADGROUP of multiple entries changes dirty by one"
  "XREADGROUP from PEL does not change dirty"
  "XGROUP DESTROY should unblock XREADGROUP with -NOGROUP"
)

work=$(mktemp -d)
node=
cleanup() {
  if [ -n "$node" ]; then kill "$node" 2>/dev/null || true; wait "$node" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$bin" --node-id 1 --bind 127.0.0.1 --port 0 --grpc-port 0 --dir "$work/node" --no-fsync \
  >"$work/out" 2>"$work/log" &
node=$!
port=
for _ in $(seq 1 300); do
  port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$work/out" | head -1)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "error: rill-server did not start" >&2; cat "$work/log" >&2; exit 1; }
printf '%s\n' "${SKIPPED[@]}" >"$work/skip"

(
  cd "$redis_dir"
  ./runtest --host 127.0.0.1 --port "$port" --singledb --clients 1 --timeout 300 \
    --single unit/type/stream --single unit/type/stream-cgroups \
    --tags -needs:debug --tags -needs:repl --tags -external:skip --skipfile "$work/skip"
) 2>&1 | tee "$work/report" || true

plain=$(sed 's/\x1b\[[0-9;]*m//g' "$work/report")
count() { grep -c "^\[$1\]" <<<"$plain" || true; }
echo
echo "Redis's stream tests against Rill: $(count ok) passed, $(count err) failed," \
  "$(count exception) aborted a file, $(count skip) skipped by name, $(count ignore) left out by tag"
[ "$(count err)" = 0 ] && [ "$(count exception)" = 0 ]
