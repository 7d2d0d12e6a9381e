#!/usr/bin/env bash
# Runs every test of pgsql-ra on a fresh Debian 12 machine (as root): installs
# what the tests need, then style checks, the purity check of the core,
# unit/property/scenario tests, integration tests against real PostgreSQL
# servers, the Pacemaker lab end to end, and a smoke run of the benchmark.
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

step "cargo test (unit, property, scenario, real PostgreSQL integration)"
RUST_TEST_THREADS=2 cargo test --all-targets

step "release build of the agent"
cargo build --release -p pgsql-ra-ocf
export PGSQL_RA_BIN=$ROOT/target/release/pgsql-ra

step "end to end on a real Pacemaker + Corosync cluster (lab/e2e.sh)"
RA=ours bash lab/e2e.sh

step "benchmark smoke run (bench/run.sh --quick)"
CARGO_TARGET_DIR=$ROOT/target BUILD=0 bash bench/run.sh --quick
