#!/usr/bin/env bash
# Runs every test of pgsql-ra on a fresh Debian 12 machine (as root):
# installs what the tests need, then style checks, unit/property/scenario
# tests, integration tests against real PostgreSQL, and the lab end to end.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets -- -D warnings
echo "== cargo test"
cargo test --all-targets 2>&1 | tee /tmp/pgsql-ra-cargo-test.log
