#!/bin/bash
# lab/migrate.sh - the in-place migration of docs/migration.md, end to end on the namespace lab
# (2 nodes), asserting on crm_mon XML (lab.sh state), postmaster.pid and the controller's log.
#
#   lab/migrate.sh          (needs ocf:pgsql-ra:pgsql: the installed package, or PGSQL_RA_BIN,
#                            default <repo>/target/release/pgsql-ra, copied for the run only)
#
# 1 the cluster up with the stock agent (RA=stock lab.sh up), a writer through the VIP
# 2 migrate in place to ocf:pgsql-ra:pgsql with docs/migration.md's commands: no PostgreSQL
#   restart (postmaster start time and PID unchanged on both nodes), no start/stop/promote/
#   demote in the controller's log, the cluster healthy and managed by ours
# 3 one failover with ours (lab.sh failover), the old primary rebuilt (lab.sh rebuild)
# 4 roll back in place to ocf:heartbeat:pgsql the same way: no restart, no start/stop, the stock
#   agent's monitors return ok, the cluster healthy
# 5 no acknowledged write lost over the whole run (lab/writer.sh check)
# Every assertion prints what it expected and what it saw.  Last line "N passed, M failed";
# exit 1 when M > 0.  KEEP=1 leaves the lab up.
set -uo pipefail

HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
REPO=$(dirname "$HERE")
export NODES="node1 node2" OUTDIR=${OUTDIR:-$HERE/out} REP_MODE=sync
LAB_SH=$HERE/lab.sh
LAB=${LAB:-/var/lib/pgsql-ra-lab}
PGDATA=/var/lib/pgsql/data
RA_DIR=/usr/lib/ocf/resource.d/pgsql-ra
PASS=0 FAIL=0 S="" T0=$(date +%s)
mkdir -p "$OUTDIR"

say() { echo "[migrate $(date +%T) +$(( $(date +%s) - T0 ))s] $*"; }
ok() { PASS=$((PASS+1)); echo "  PASS  $1: expected '$2', saw '$3'"; }
ko() { FAIL=$((FAIL+1)); echo "  FAIL  $1: expected '$2', saw '$3'"; }
check() { if [ "$3" = "$2" ]; then ok "$1" "$2" "$3"; else ko "$1" "$2" "$3"; fi; }   # check DESC WANT SAW
# RA selects lab.sh's view (healthy, crm_attribute wrapper); the CIB is what the script changes.
lab() { timeout "${LAB_TIMEOUT:-240}" env RA="$CUR_RA" "$LAB_SH" "$@"; }
snap() { S=$(timeout 30 "$LAB_SH" state 2>/dev/null || true); }
get() { sed -n "s/^$1=//p" <<<"$S" | head -1; }
# run one of docs/migration.md's commands on node1, as the operator would on any node
on1() { timeout "${CMD_TIMEOUT:-120}" "$LAB_SH" enter node1 "$@"; }
# "start-time pid" of the running postmaster of NODE (postmaster.pid lines 3 and 1)
pm() { local f=$LAB/$1$PGDATA/postmaster.pid; [ -f "$f" ] && echo "$(sed -n 3p "$f") $(sed -n 1p "$f")"; }
# the first pgsql start/stop/promote/demote in any node's controller log at/after epoch $1 (empty: none)
ops_since() {
  cat "$LAB"/node*/var/log/pacemaker/pacemaker.log 2>/dev/null | /usr/bin/python3 "$HERE/labtool.py" first "$1" \
    'pacemaker-controld.*(Initiating (start|stop|promote|demote) operation pgsql_|Result of (start|stop|promote|demote) operation for pgsql )'
}
# the controller's monitor results for pgsql since epoch $1, as "ok=N other=M"
monitors_since() {
  local t=$1
  cat "$LAB"/node*/var/log/pacemaker/pacemaker.log 2>/dev/null | /usr/bin/python3 -c '
import datetime, re, sys
t0 = float(sys.argv[1]); year = datetime.date.today().year; ok = other = 0
pat = re.compile(r"pacemaker-controld.*Result of monitor operation for pgsql on \S+: (.*)")
for line in sys.stdin:
    m = pat.search(line)
    if not m:
        continue
    try:
        ts = datetime.datetime.strptime("%d %s" % (year, line[:19]), "%Y %b %d %H:%M:%S.%f").timestamp()
    except ValueError:
        continue
    if ts >= t0 and not m.group(1).startswith("Cancelled"):
        if m.group(1).startswith(("ok", "promoted", "Promoted", "master", "Master")): ok += 1
        else: other += 1; sys.stderr.write(line)
print("ok=%d other=%d" % (ok, other))' "$t"
}

# the writer's longest gap between two acknowledgements from epoch $1 to now (s; "none" without 2 acks)
gap_since() {
  awk -v t0="$1" '$2 >= t0 { if (n++) { g = $2 - p; if (g > m) m = g } p = $2 }
                  END { if (n > 1) printf "%.2f", m; else print "none" }' "$OUTDIR/writer-mig.acks" 2>/dev/null
}

AGENT_COPIED=0
cleanup() {
  local n
  bash "$HERE/writer.sh" stop mig >/dev/null 2>&1 || true
  for n in $NODES; do      # keep the controller logs of the run
    cp "$LAB/$n/var/log/pacemaker/pacemaker.log" "$OUTDIR/migrate-pacemaker-$n.log" 2>/dev/null || true
  done
  [ "${KEEP:-0}" = 1 ] || timeout 60 "$LAB_SH" down >/dev/null 2>&1
  if [ -n "$SAVED" ]; then install -m 0755 "$SAVED" "$RA_DIR/pgsql"; rm -f "$SAVED"
  elif [ $AGENT_COPIED = 1 ]; then rm -rf "$RA_DIR"; fi
  return 0
}
finish() {
  cleanup
  say "migration suite took $(( $(date +%s) - T0 )) s"
  echo "$PASS passed, $FAIL failed"
  [ $FAIL = 0 ]
}
abort() { ko "$1" "$2" "$3"; snap; echo "$S"; timeout 30 "$LAB_SH" logs 2>&1 | tail -80 | sed 's/^/    /'; finish; exit 1; }

# Our agent on the host (the lab's nodes share /usr): the package's, or a copy for this run.
# The same choice as lab.sh: the package's agent when PGSQL_RA_BIN is unset; else a copy of
# PGSQL_RA_BIN for this run (over the package's file, which is put back at the end).
pkg=0; dpkg-query -W -f='${Status}' pgsql-ra 2>/dev/null | grep -q 'install ok installed' && [ -x "$RA_DIR/pgsql" ] && pkg=1
SAVED=""
if [ $pkg = 1 ] && [ -z "${PGSQL_RA_BIN:-}" ]; then
  say "ocf:pgsql-ra:pgsql from the installed package pgsql-ra $(dpkg-query -W -f='${Version}' pgsql-ra): $("$RA_DIR/pgsql" --version)"
else
  BIN=${PGSQL_RA_BIN:-$REPO/target/release/pgsql-ra}
  [ -x "$BIN" ] || { echo "no pgsql-ra package installed and $BIN not found (set PGSQL_RA_BIN)"; exit 1; }
  if [ $pkg = 1 ]; then SAVED=$(mktemp); cp -a "$RA_DIR/pgsql" "$SAVED"; fi
  install -d "$RA_DIR"; install -m 0755 "$BIN" "$RA_DIR/pgsql"; AGENT_COPIED=1
  say "ocf:pgsql-ra:pgsql copied from $BIN for this run: $("$RA_DIR/pgsql" --version)"
fi
check "agent meta-data" 0 "$("$RA_DIR/pgsql" meta-data >/dev/null 2>&1; echo $?)"

# switch_agent PROVIDER RA NAME: docs/migration.md, steps 1-6 (and the rollback: the same with
# the other provider).  Asserts no restart and no start/stop over the whole procedure.
switch_agent() {
  local prov=$1 ra=$2 name=$3 t n before after op a
  declare -A pm0
  for n in $NODES; do pm0[$n]=$(pm "$n"); done
  say "$name: postmaster start time and pid before: node1 '${pm0[node1]}', node2 '${pm0[node2]}'"
  t=$(date +%s.%N)
  # 1. maintenance mode: Pacemaker stops monitoring and never starts/stops/promotes anything
  check "$name: maintenance-mode=true" 0 "$(on1 crm_attribute --type crm_config --name maintenance-mode --update true >/dev/null 2>&1; echo $?)"
  check "$name: cluster settled in maintenance (crm_resource --wait)" 0 "$(on1 crm_resource --wait >/dev/null 2>&1; echo $?)"
  snap; say "$name: in maintenance: $(tr '\n' ' ' <<<"$S" | cut -c1-300)"
  # 2. change the agent (class/provider/type) of the primitive
  check "$name: cibadmin --modify provider=$prov" 0 \
    "$(on1 cibadmin --modify --xml-text "<primitive id=\"pgsql\" class=\"ocf\" provider=\"$prov\" type=\"pgsql\"/>" >/dev/null 2>&1; echo $?)"
  a=$(on1 cibadmin --query --xpath "//primitive[@id='pgsql']" 2>/dev/null | head -1)
  check "$name: the CIB's primitive names provider $prov" 1 "$(grep -c "provider=\"$prov\"" <<<"$a")"
  if [ "$prov" = heartbeat ]; then
    # rollback only: the attributes only pgsql-ra writes go (docs/migration.md, Rollback)
    for n in $NODES; do
      for a in "forever pgsql-primary-origin" "forever pgsql-sync-baseline" "reboot pgsql-xlog-tli" "reboot pgsql-withheld-score"; do
        on1 crm_attribute --lifetime "${a% *}" --node "$n" --name "${a#* }" --delete >/dev/null 2>&1 \
          || ko "$name: delete ${a#* } on $n" "rc 0" "failed"
      done
    done
    snap
    check "$name: no pgsql-ra-only attribute left" "" "$(grep -E '^attr\.[^.]+\.pgsql-(primary-origin|sync-baseline|xlog-tli|withheld-score)=' <<<"$S")"
  fi
  # 3. re-probe every node with the new agent, wait for the probes
  check "$name: crm_resource --refresh" 0 "$(on1 crm_resource --refresh --resource msPostgresql >/dev/null 2>&1; echo $?)"
  check "$name: probes done (crm_resource --wait)" 0 "$(on1 crm_resource --wait >/dev/null 2>&1; echo $?)"
  snap
  check "$name: probe finds node roles (old primary $OLDPRI)" "Promoted" "$(get "role.$OLDPRI")"
  check "$name: probe finds the standby $OLDSTB" "Unpromoted" "$(get "role.$OLDSTB")"
  # 4. leave maintenance mode
  check "$name: maintenance-mode deleted" 0 "$(on1 crm_attribute --type crm_config --name maintenance-mode --delete >/dev/null 2>&1; echo $?)"
  say "$name: maintenance mode on to off took $(printf '%.1f' "$(echo "$(date +%s.%N) - $t" | bc)") s"
  CUR_RA=$ra
  if lab wait 90 > "$OUTDIR/migrate-wait-$ra.log" 2>&1; then ok "$name: healthy after maintenance" healthy healthy
  else ko "$name: healthy after maintenance" healthy "$(tail -3 "$OUTDIR/migrate-wait-$ra.log" | tr '\n' ' ')"; fi
  sleep 10    # a few monitor intervals (3 s / 4 s) with the new agent
  snap
  check "$name: $OLDPRI still Promoted" Promoted "$(get "role.$OLDPRI")"
  check "$name: VIP on $OLDPRI" "$OLDPRI" "$(get vip)"
  check "$name: $OLDPRI pgsql-status" PRI "$(get "attr.$OLDPRI.pgsql-status")"
  check "$name: $OLDSTB pgsql-status" HS:sync "$(get "attr.$OLDSTB.pgsql-status")"
  check "$name: no failed actions" "" "$(get "failed.$OLDPRI")$(get "failed.$OLDSTB")"
  for n in $NODES; do
    after=$(pm "$n"); before=${pm0[$n]}
    check "$name: $n postmaster start time and pid unchanged (no restart)" "$before" "$after"
  done
  a=$(gap_since "$t")
  say "$name: the writer's longest gap since maintenance mode was turned on: $a s"
  if [[ $a =~ ^[0-9.]+$ ]] && [ "$(echo "$a < ${MAX_SWITCH_GAP:-3}" | bc)" = 1 ]; then
    ok "$name: writes went on (longest gap < ${MAX_SWITCH_GAP:-3} s)" "< ${MAX_SWITCH_GAP:-3}" "$a"
  else ko "$name: writes went on (longest gap < ${MAX_SWITCH_GAP:-3} s)" "< ${MAX_SWITCH_GAP:-3}" "$a"; fi
  op=$(ops_since "$t")
  check "$name: no start/stop/promote/demote of pgsql in the controller log" "" "$op"
  a=$(monitors_since "$t" 2>"$OUTDIR/migrate-monitors-$ra.txt")
  say "$name: pgsql monitor results since the switch: $a"
  check "$name: every monitor result since the switch ok" "other=0" "${a#* }"
  # Pacemaker logs a recurring monitor's result when it changes: the first result of each
  # node's recurring monitor with the new agent, then nothing while it stays ok.
  [[ ${a%% *} =~ ^ok=([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -ge 2 ] \
    && ok "$name: both nodes' recurring monitors ran with the new agent" ">=2 ok results" "${BASH_REMATCH[1]}" \
    || ko "$name: both nodes' recurring monitors ran with the new agent" ">=2 ok results" "$a"
}

# ------------------------------------------------------------------ 1 up with the stock agent
say "scenario 1: the cluster up with ocf:heartbeat:pgsql (RA=stock lab.sh up)"
CUR_RA=stock
t=$(date +%s)
lab up > "$OUTDIR/migrate-up.log" 2>&1 || abort "lab up (stock)" healthy "failed: $(tail -5 "$OUTDIR/migrate-up.log" | tr '\n' ' ')"
ok "lab up (stock)" healthy "healthy after $(( $(date +%s) - t )) s"
snap
OLDPRI=$(get promoted); OLDSTB=node2; [ "$OLDPRI" = node2 ] && OLDSTB=node1
check "stock: primary" node1 "$OLDPRI"
check "stock: agent of the primitive" 1 "$(on1 cibadmin --query --xpath "//primitive[@id='pgsql']" 2>/dev/null | grep -c 'provider="heartbeat"')"
bash "$HERE/writer.sh" start mig
sleep 3

# ------------------------------------------------------------------ 2 migrate in place
say "scenario 2: migrate in place to ocf:pgsql-ra:pgsql (docs/migration.md)"
switch_agent pgsql-ra ours migrate
snap
for a in pgsql-xlog-tli pgsql-primary-origin; do
  say "after migration: attr.$OLDPRI.$a=$(get "attr.$OLDPRI.$a") attr.$OLDSTB.$a=$(get "attr.$OLDSTB.$a")"
done

# ------------------------------------------------------------------ 3 failover with ours
say "scenario 3: failover with ours (kill -9 of $OLDPRI's postmaster)"
if lab failover > "$OUTDIR/migrate-failover.log" 2>&1; then
  ok "failover $OLDPRI -> $OLDSTB" "$OLDSTB" "$(sed -n 's/^NEW=//p' "$OUTDIR/failover.env")"
else
  ko "failover $OLDPRI -> $OLDSTB" "$OLDSTB" "failed: $(tail -3 "$OUTDIR/migrate-failover.log" | tr '\n' ' ')"
fi
sed 's/^/    /' "$OUTDIR/failover.env" 2>/dev/null
say "failover times (s after the kill): $(tr '\n' ' ' < "$OUTDIR/failover.env" 2>/dev/null)"
sleep 5
if lab rebuild "$OLDPRI" > "$OUTDIR/migrate-rebuild.log" 2>&1 && lab wait 120 >> "$OUTDIR/migrate-rebuild.log" 2>&1; then
  ok "rebuild of $OLDPRI, healthy with ours" healthy healthy
else
  abort "rebuild of $OLDPRI, healthy with ours" healthy "failed: $(tail -3 "$OUTDIR/migrate-rebuild.log" | tr '\n' ' ')"
fi
t=$OLDPRI; OLDPRI=$OLDSTB; OLDSTB=$t

# ------------------------------------------------------------------ 4 roll back
say "scenario 4: roll back in place to ocf:heartbeat:pgsql (docs/migration.md, Rollback)"
switch_agent heartbeat stock rollback

# ------------------------------------------------------------------ 5 writes
bash "$HERE/writer.sh" stop mig
w=$(bash "$HERE/writer.sh" check mig); rc=$?
say "writer: $w"
check "no acknowledged write lost (writer.sh check)" 0 "$rc"

finish
