#!/usr/bin/env bash
# Runs Rill's checks and tests: format, lints, then every test in the workspace.
# Needs: a Rust toolchain, libclang (Debian: libclang-dev) for the RocksDB bindings, and
# cargo-nextest (falls back to `cargo test`). redis-server (Debian: redis-server) enables the
# differential tests against real Redis; set RILL_REQUIRE_REDIS=1 to make its absence an error.
# Python 3 with redis-py and walrus (pip install redis walrus) runs the seed articles' client code
# against a node; set RILL_REQUIRE_PYTHON=1 to make their absence an error.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null; then
  echo "error: cargo not found; install Rust (https://rustup.rs)" >&2
  exit 1
fi
if ! compgen -G '/usr/lib/llvm-*/lib/libclang.so*' >/dev/null && ! ldconfig -p 2>/dev/null | grep -Eq 'libclang(-[0-9.]+)?\.so'; then
  echo "error: libclang not found; the RocksDB bindings need it: apt-get install -y libclang-dev" >&2
  exit 1
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi

# The seed articles' redis-py and walrus code against a real node.
if python3 -c 'import redis, walrus' 2>/dev/null; then
  # The binary the tests above built (rill-server's own tests build it). Building it alone
  # (`cargo build -p rill-server`) would unify features differently and rebuild RocksDB.
  python3 tests/python/seeds.py "$CARGO_TARGET_DIR/debug/rill-server"
  python3 tests/python/transactions.py "$CARGO_TARGET_DIR/debug/rill-server"
  python3 tests/python/redis8.py "$CARGO_TARGET_DIR/debug/rill-server"
  # Every stream method through RedisCluster, each node and Sentinel; COMMAND against Redis.
  python3 tests/python/cluster_client.py "$CARGO_TARGET_DIR/debug/rill-server"
  # Sentinel and RedisCluster clients through SIGKILLs of the leader, timed.
  python3 tests/python/failover.py "$CARGO_TARGET_DIR/debug/rill-server"
  # The README's first command on a fresh data directory (with these binaries, no build).
  python3 tests/python/first_run.py "$CARGO_TARGET_DIR/debug"
elif [ "${RILL_REQUIRE_PYTHON:-0}" = 1 ]; then
  echo "error: python3 with redis and walrus is required: pip install redis walrus" >&2
  exit 1
else
  echo "SKIPPED: seed client tests (python3 with redis and walrus not found; pip install redis walrus)"
fi
