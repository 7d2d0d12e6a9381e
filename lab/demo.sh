#!/bin/bash
# lab/demo.sh - bring up the 2-node lab (RA=ours by default), show crm_mon, kill -9 the
# primary's postmaster, show the failover and the old primary coming back as a standby by itself
# (crash_rejoin=rewind), then a planned switchover after which the old primary keeps streaming;
# tear everything down (also on error or Ctrl-C).
set -euo pipefail
HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
export RA=${RA:-ours} NODES="node1 node2"
lab() { timeout "${LAB_TIMEOUT:-240}" "$HERE/lab.sh" "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# wait_for SECS KEY=VALUE...: poll "lab.sh state" until every KEY has VALUE
wait_for() {
  local end=$(( $(date +%s) + $1 )) s c ok; shift
  while :; do
    s=$(lab state 2>/dev/null || true); ok=1
    for c in "$@"; do grep -qxF "$c" <<<"$s" || ok=0; done
    [ $ok = 1 ] && return 0
    [ "$(date +%s)" -ge $end ] && { echo "timed out waiting for: $*"; return 1; }
    sleep 1
  done
}
trap 'step "tear down"; "$HERE/lab.sh" down' EXIT

step "bring up node1 + node2 (Pacemaker, Corosync, PostgreSQL 15, agent RA=$RA)"
lab up 2>&1 | grep -v WARNING
step "crm_mon"
lab status
step "a write through the VIP from the client namespace"
lab cli -c "insert into lab(who) values('demo') returning id, inet_server_addr(), pg_is_in_recovery()"
if [ "$RA" = ours ]; then
  step "opt in to crash rejoin: crash_rejoin=rewind, and failure-timeout=10s so that Pacemaker calls start again"
  lab enter node1 crm_resource --resource pgsql --set-parameter crash_rejoin --parameter-value rewind
  lab enter node1 crm_resource --resource msPostgresql --meta --set-parameter failure-timeout --parameter-value 10s
fi
step "kill -9 the primary's postmaster; poll writes through the VIP until one succeeds"
lab failover >/dev/null
step "crm_mon after the failover"
lab status
step "a write through the VIP reaches the new primary"
lab cli -c "select count(*) as rows, inet_server_addr() as server, pg_is_in_recovery() from lab"
if [ "$RA" = ours ]; then
  step "the old primary node1 comes back as a standby by itself (pg_rewind if needed), no operator step"
  t=$(date +%s)
  wait_for 120 "attr.node1.pgsql-status=HS:sync" "role.node1=Unpromoted"
  echo "node1 is HS:sync again $(( $(date +%s) - t )) s after the failover"
  lab status
  step "planned switchover back to node1: crm_resource --ban --promoted on node2, then --clear"
  lab enter node2 crm_resource --resource msPostgresql --ban --promoted --node node2
  wait_for 60 "promoted=node1" "attr.node2.pgsql-status=HS:sync"
  lab enter node2 crm_resource --resource msPostgresql --clear --node node2
  step "crm_mon after the switchover: node2 kept running and streams from node1"
  lab status
  lab cli -c "select count(*) as rows, inet_server_addr() as server, pg_is_in_recovery() from lab"
fi
