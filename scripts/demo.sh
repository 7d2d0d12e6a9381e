#!/usr/bin/env bash
# The demo: builds the agent, brings up a 2-node Pacemaker lab with a
# PostgreSQL primary and standby managed by pgsql-ra, kills the primary,
# shows the failover, and tears the lab down.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release -p pgsql-ra-ocf
exec bash lab/demo.sh
