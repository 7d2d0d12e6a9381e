#!/bin/bash
# bench/rejoin_sync.sh - issues 10 and 11: what an operator sees around a switchover, a crash and a
# lost sync standby, for pgsql-ra (ours) and the stock ocf:heartbeat:pgsql in ONE run on the lab
# (2 nodes, rep_mode=sync, the seed's intervals: 3 s Promoted / 4 s Unpromoted monitors).
#
#   bench/rejoin_sync.sh            ROUNDS=10 switchovers and crash rejoins, STALL_ROUNDS=5 link cuts,
#                                   for AGENTS="ours stock"; prints a table (also bench/out/<run>/rejoin_sync.md)
#   bench/rejoin_sync.sh --quick    CI: 1 round of each for ours only; checks that every path runs
#                                   (exit 1 if a step failed), asserts no figure
#   KINDS="switchover crash stall"  the measures to run (default all three)
#   STOCK_ROUNDS=N                  the stock agent's switchover and crash rounds (default ROUNDS;
#                                   each of its rounds ends with the seed's manual rebuild, ~2 min)
#
# Measures, each with a writer through the VIP (lab/writer.sh: one INSERT about every 100 ms):
#  switchover   crm_resource --ban --promoted on the primary, then --clear: write unavailability
#               (longest gap between two acknowledged writes), and the seconds until the old
#               primary is HS:sync again ("never" when it is not within WAIT_SYNC seconds: the stock
#               agent stops it and keeps PGSQL.lock)
#  crash        kill -9 of the primary's postmaster (crash_rejoin=rewind and failure-timeout for
#               ours; the seed's configuration for stock): seconds from the kill until the old
#               primary is HS:sync again ("never" within WAIT_SYNC)
#  stall        the sync standby's service link cut (ip link set eth0 down in its namespace; no TCP
#               reset; corosync stays up on eth1), wal_sender_timeout at the seed's default 60 s:
#               seconds from the cut to the first write acknowledged after it
# Acknowledged writes lost are counted in every round (must be 0).
set -uo pipefail
HERE=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
REPO=$(dirname "$HERE")
LABSH=$REPO/lab/lab.sh
QUICK=0; [ "${1:-}" = --quick ] && QUICK=1
if [ $QUICK = 1 ]; then ROUNDS=${ROUNDS:-1}; STALL_ROUNDS=${STALL_ROUNDS:-1}; AGENTS=${AGENTS:-ours}
else ROUNDS=${ROUNDS:-10}; STALL_ROUNDS=${STALL_ROUNDS:-5}; AGENTS=${AGENTS:-"ours stock"}; fi
KINDS=${KINDS:-"switchover crash stall"}; STOCK_ROUNDS=${STOCK_ROUNDS:-$ROUNDS}
has_kind() { case " $KINDS " in *" $1 "*) return 0;; esac; return 1; }
WAIT_SYNC=${WAIT_SYNC:-90}
RUN_ID=${RUN_ID:-$(date +%Y%m%d-%H%M%S)$([ $QUICK = 1 ] && echo -quick)}
OUT=$HERE/out/rejoin-sync-$RUN_ID
export OUTDIR=$OUT/lab NODES="node1 node2" REP_MODE=sync WAL_SENDER_TIMEOUT=60s
mkdir -p "$OUTDIR"
RES=$OUT/results.txt; : > "$RES"; FAILS=0
log() { echo "[$(date +%T)] $*" >&2; }
fail() { log "FAILED: $*"; FAILS=$((FAILS+1)); }
lab() { timeout "${LAB_TIMEOUT:-300}" "$LABSH" "$@"; }
writer() { OUTDIR=$OUTDIR "$REPO/lab/writer.sh" "$@"; }
kv() { sed -n "s/^$1=//p" <<<"$2" | head -1; }
state() { lab state 2>/dev/null || true; }
# until_kv SECS KEY=VALUE...: poll until every KEY has VALUE; prints the seconds waited or "never"
until_kv() {
  local secs=$1 t0 s c ok; shift; t0=$(date +%s.%N)
  while :; do
    s=$(state); ok=1
    for c in "$@"; do [ "$(kv "${c%%=*}" "$s")" = "${c#*=}" ] || ok=0; done
    [ $ok = 1 ] && { printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)"; return 0; }
    [ "$(echo "$(date +%s.%N) - $t0 > $secs" | bc)" = 1 ] && { echo never; return 1; }
    sleep 0.5
  done
}
other() { [ "$1" = node1 ] && echo node2 || echo node1; }
record() { echo "$*" >> "$RES"; log "$*"; }

up() {   # up RA
  export RA=$1
  local extra=""
  if ! lab up > "$OUTDIR/up-$RA.log" 2>&1; then fail "$RA: lab up"; return 1; fi
  if [ "$RA" = ours ]; then
    lab enter node1 crm_resource --resource pgsql --set-parameter crash_rejoin --parameter-value rewind >/dev/null 2>&1 || fail "$RA: set crash_rejoin"
    lab enter node1 crm_resource --resource msPostgresql --meta --set-parameter failure-timeout --parameter-value 10s >/dev/null 2>&1 || fail "$RA: set failure-timeout"
  fi
  local p=""
  for _ in $(seq 60); do p=$(kv promoted "$(state)"); [ -n "$p" ] && break; sleep 1; done
  until_kv 60 "attr.$(other "$p").pgsql-status=HS:sync" >/dev/null || fail "$RA: no sync standby after up"
}

switchover_round() {   # switchover_round RA I
  local ra=$1 i=$2 p s tsync out
  p=$(kv promoted "$(state)"); s=$(other "$p")
  writer start "sw-$ra-$i"; sleep 2
  lab enter "$p" crm_resource --resource msPostgresql --ban --promoted --node "$p" >/dev/null 2>&1 || fail "$ra: ban"
  until_kv 60 "promoted=$s" "vip=$s" >/dev/null || fail "$ra: switchover $i: $s not Promoted"
  tsync=$(until_kv "$WAIT_SYNC" "attr.$p.pgsql-status=HS:sync")
  lab enter "$p" crm_resource --resource msPostgresql --clear --node "$p" >/dev/null 2>&1 || fail "$ra: clear"
  sleep 2; writer stop "sw-$ra-$i"; out=$(writer check "sw-$ra-$i")
  record "switchover $ra $i gap=$(kv max_gap "$(tr ' ' '\n' <<<"$out")") hs_sync=$tsync lost=$(kv lost "$(tr ' ' '\n' <<<"$out")")"
  [ "$tsync" = never ] && [ "$ra" = stock ] && { lab rebuild "$p" >/dev/null 2>&1 || fail "$ra: rebuild $p"; }
  [ "$ra" = ours ] && [ "$tsync" = never ] && fail "ours: switchover $i: $p not HS:sync within $WAIT_SYNC s"
  lab wait 120 >/dev/null 2>&1 || fail "$ra: not healthy after switchover $i"
}

crash_round() {   # crash_round RA I
  local ra=$1 i=$2 p t0 tsync out
  p=$(kv promoted "$(state)")
  writer start "cr-$ra-$i"; sleep 2
  lab failover > "$OUTDIR/failover-$ra-$i.log" 2>&1 || fail "$ra: crash $i: no failover"
  t0=$(date +%s.%N)
  tsync=$(until_kv "$WAIT_SYNC" "attr.$p.pgsql-status=HS:sync")
  [ "$tsync" != never ] && tsync=$(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)")
  sleep 2; writer stop "cr-$ra-$i"; out=$(writer check "cr-$ra-$i")
  record "crash $ra $i write=$(kv WRITE "$(cat "$OUTDIR/failover.env" 2>/dev/null)") hs_sync=$tsync lost=$(kv lost "$(tr ' ' '\n' <<<"$out")")"
  [ "$tsync" = never ] && { lab rebuild "$p" >/dev/null 2>&1 || fail "$ra: rebuild $p"; }
  [ "$ra" = ours ] && [ "$tsync" = never ] && fail "ours: crash $i: $p not HS:sync within $WAIT_SYNC s"
  lab wait 120 >/dev/null 2>&1 || fail "$ra: not healthy after crash $i"
}

stall_round() {   # stall_round RA I
  local ra=$1 i=$2 p s tcut tack out
  p=$(kv promoted "$(state)"); s=$(other "$p")
  writer start "st-$ra-$i"; sleep 3
  tcut=$(date +%s.%N)
  lab enter "$s" ip link set eth0 down
  sleep "${STALL_OBSERVE:-75}"
  writer stop "st-$ra-$i"; out=$(writer check "st-$ra-$i")
  tack=$(awk -v c="$tcut" '$3 > c { print $2; exit }' "$OUTDIR/writer-st-$ra-$i.acks")   # began after the cut
  record "stall $ra $i stall=$([ -n "$tack" ] && printf '%.1f' "$(echo "$tack - $tcut" | bc)" || echo never) lost=$(kv lost "$(tr ' ' '\n' <<<"$out")")"
  lab enter "$s" ip link set eth0 up
  until_kv 120 "attr.$s.pgsql-status=HS:sync" >/dev/null || { lab rebuild "$s" >/dev/null 2>&1 || fail "$ra: rebuild $s"; }
  lab wait 120 >/dev/null 2>&1 || fail "$ra: not healthy after stall $i"
}

for ra in $AGENTS; do
  log "===== $ra"
  up "$ra" || continue
  n=$ROUNDS; [ "$ra" = stock ] && n=$STOCK_ROUNDS
  has_kind switchover && for i in $(seq "$n"); do switchover_round "$ra" "$i"; done
  has_kind crash && for i in $(seq "$n"); do crash_round "$ra" "$i"; done
  [ $QUICK = 1 ] && STALL_OBSERVE=${STALL_OBSERVE:-20}
  has_kind stall && for i in $(seq "$STALL_ROUNDS"); do stall_round "$ra" "$i"; done
  lab logs > "$OUTDIR/logs-$ra.txt" 2>&1 || true
  lab down >/dev/null 2>&1
done

# ------------------------------------------------------------------ table
python3 - "$RES" "$ROUNDS" "$STALL_ROUNDS" > "$OUT/rejoin_sync.md" <<'PY'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
def vals(kind, ra, key):
    out = []
    for r in rows:
        if r[0] == kind and r[1] == ra:
            d = dict(x.split("=", 1) for x in r[3:])
            out.append(d.get(key, "?"))
    return out
def med(xs):
    nums = [float(x) for x in xs if x not in ("never", "?", "")]
    if not xs:
        return "-"
    if len(nums) < len(xs):
        return "never (%d of %d rounds)" % (len(xs) - len(nums), len(xs)) if not nums else "%.1f s (%d never)" % (statistics.median(nums), len(xs) - len(nums))
    return "%.1f s (max %.1f)" % (statistics.median(nums), max(nums))
agents = sorted({r[1] for r in rows}, key=lambda a: a != "ours")
print("| measure (median over rounds) | " + " | ".join(agents) + " |")
print("|---|" + "---|" * len(agents))
for label, kind, key in [
    ("planned switchover: write unavailability", "switchover", "gap"),
    ("planned switchover: old primary HS:sync again after", "switchover", "hs_sync"),
    ("kill -9 of the primary: first write through the VIP", "crash", "write"),
    ("kill -9 of the primary: old primary HS:sync again after", "crash", "hs_sync"),
    ("sync standby's link cut: write stall", "stall", "stall"),
]:
    print("| %s | %s |" % (label, " | ".join(med(vals(kind, a, key)) for a in agents)))
lost = sum(int(dict(x.split("=", 1) for x in r[3:]).get("lost", "0") or 0) for r in rows)
print()
counts = {}
for r in rows:
    counts[(r[1], r[0])] = counts.get((r[1], r[0]), 0) + 1
print("Rounds: " + "; ".join("%s %s" % (ra, ", ".join("%d %s" % (counts[(ra, k)], k) for k in ("switchover", "crash", "stall") if (ra, k) in counts)) for ra in sorted({r[1] for r in rows})) + "; acknowledged writes lost in all rounds: %d." % lost)
PY
cat "$OUT/rejoin_sync.md"
grep -q 'lost=[1-9]' "$RES" && fail "acknowledged writes lost (see $RES)"
[ "$FAILS" = 0 ] || { log "$FAILS step(s) failed"; exit 1; }
log "all steps ran"
