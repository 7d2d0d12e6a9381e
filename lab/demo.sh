#!/bin/bash
# lab/demo.sh - bring up the 2-node lab (RA=ours by default), show crm_mon, kill -9 the
# primary's postmaster, show the failover, tear everything down (also on error or Ctrl-C).
set -euo pipefail
HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
export RA=${RA:-ours} NODES="node1 node2"
lab() { timeout "${LAB_TIMEOUT:-240}" "$HERE/lab.sh" "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
trap 'step "tear down"; "$HERE/lab.sh" down' EXIT

step "bring up node1 + node2 (Pacemaker, Corosync, PostgreSQL 15, agent RA=$RA)"
lab up 2>&1 | grep -v WARNING
step "crm_mon"
lab status
step "a write through the VIP from the client namespace"
lab cli -c "insert into lab(who) values('demo') returning id, inet_server_addr(), pg_is_in_recovery()"
step "kill -9 the primary's postmaster; poll writes through the VIP until one succeeds"
lab failover >/dev/null
step "crm_mon after the failover (the old primary stays stopped: PGSQL.lock, as with the stock agent)"
lab status
step "a write through the VIP reaches the new primary"
lab cli -c "select count(*) as rows, inet_server_addr() as server, pg_is_in_recovery() from lab"
