#!/bin/bash
# bench/run.sh - issue 6: monitor cost, scaling and failover of pgsql-ra (ours), the stock
# ocf:heartbeat:pgsql and PAF (ocf:heartbeat:pgsqlms), side by side in ONE run on the lab.
#
#   bench/run.sh            full run (about 25-35 min): writes docs/benchmarks.md
#   bench/run.sh --quick    CI smoke (< ~4 min): ours + stock, 3 monitors per role, 1 failover
#                           round for ours, no numbers asserted; exit 1 if any step failed.
#                           Writes bench/out/<run>/benchmarks.md only.
#
# For each agent the lab is brought up in turn (lab/lab.sh up, 2 nodes, seed intervals 3 s
# Promoted / 4 s Unpromoted, PCMK_DEBUG=pacemaker-execd), then:
#  1. the environment pacemaker-execd gives the agent is captured from an strace of execd
#     (execve with -v: the full envp of a recurring monitor, per interval);
#  2. MONITORS direct invocations of "<agent> monitor" inside the node with that environment:
#     wall time and CPU (user+sys of the whole process tree, wait4 rusage), benchtool.py run;
#  3. STRACE_RUNS more under strace -f -e trace=process: programs exec'd, processes created;
#  4. EXECD_SECS of an idle cluster: wall time of Pacemaker's own recurring monitors from the
#     execd debug log ("Scheduling another invocation" -> "exited with status"; the recorded
#     exec-time of recurring ops is stale, see shared/lab/REPORT.md section 8);
#  5. ROUNDS failovers (lab.sh failover: kill -9 of the postmaster -> first write via the VIP),
#     each followed by lab.sh rebuild of the old primary; PAF needs fencing (FENCING=1) there.
#  6. issue 16: EXECS_SECS of steady state with pacemaker-execd under strace -f -e trace=process:
#     the programs exec'd BELOW the agent per recurring monitor (target: 0 for ours);
#  7. issue 16: RESTART_ROUNDS full-cluster restarts (lab.sh restart): a cold start (every node's
#     stack stopped cleanly, all started together) and a restart with a stale standby (stopped
#     first, writes went on): first write through the VIP after the start, who was promoted.
# Then the 3-node lab (primary monitor cost; the idle CPU of CPU_SECS, issue 16: execd's reaped
# children per node, /proc cutime+cstime), the 1 s Promoted-interval failover phase (FAST_ROUNDS,
# lab MON_PROMOTED=1s, issue 16) and the in-memory scaling bench (N=2..16).
#
# Knobs: FAILOVER_JITTER=1 RESTART_ON_PROMOTE=true (lab knob) DOC=1 (rewrite docs/benchmarks.md)
#        MONITORS=30 STRACE_RUNS=5 EXECD_SECS=125 ROUNDS=10 PAF_ROUNDS=3 AGENTS="ours stock paf"
#        EXECS_SECS=30 RESTART_ROUNDS=3 CPU_SECS=600 FAST_ROUNDS=20 (issue 16; --quick: 10 1 5 1)
#        PHASE2N=1 (0: skip the 2-node seed phases)
#        FAST_UNPROMOTED=4s FAST_RESTART_ROUNDS=0 (the 1 s phase's Unpromoted interval, not 1s:
#        Pacemaker wants distinct intervals per role; restarts
#        of both kinds at the fast intervals, variants cold-fast and stale-fast)
#        SCALE3=1 (3-node phase) PGSQL_RA_BIN (default: built here into /work/target-bench)
#        BUILD=1 (cargo build ours first)  RUN_ID
# Needs root and the lab (lab/lab.sh).  The lab is always brought down at the end.
set -euo pipefail

HERE=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
REPO=$(dirname "$HERE")
LABSH=$REPO/lab/lab.sh
PY=/usr/bin/python3
TOOL=$HERE/benchtool.py
QUICK=0
[ "${1:-}" = --quick ] && QUICK=1
if [ $QUICK = 1 ]; then
  MONITORS=${MONITORS:-3}; STRACE_RUNS=${STRACE_RUNS:-1}; EXECD_SECS=${EXECD_SECS:-0}
  ROUNDS=${ROUNDS:-1}; PAF_ROUNDS=${PAF_ROUNDS:-0}; AGENTS=${AGENTS:-"ours stock"}; SCALE3=${SCALE3:-0}
  STOCK_ROUNDS=${STOCK_ROUNDS:-0}
  EXECS_SECS=${EXECS_SECS:-10}; RESTART_ROUNDS=${RESTART_ROUNDS:-1}; CPU_SECS=${CPU_SECS:-5}; FAST_ROUNDS=${FAST_ROUNDS:-1}
else
  MONITORS=${MONITORS:-30}; STRACE_RUNS=${STRACE_RUNS:-5}; EXECD_SECS=${EXECD_SECS:-125}
  ROUNDS=${ROUNDS:-10}; PAF_ROUNDS=${PAF_ROUNDS:-3}; AGENTS=${AGENTS:-"ours stock paf"}; SCALE3=${SCALE3:-1}
  STOCK_ROUNDS=${STOCK_ROUNDS:-$ROUNDS}
  EXECS_SECS=${EXECS_SECS:-30}; RESTART_ROUNDS=${RESTART_ROUNDS:-3}; CPU_SECS=${CPU_SECS:-600}; FAST_ROUNDS=${FAST_ROUNDS:-20}
fi
BUILD=${BUILD:-1}
FAST_UNPROMOTED=${FAST_UNPROMOTED:-4s}          # Unpromoted interval of the 1 s phase
FAST_RESTART_ROUNDS=${FAST_RESTART_ROUNDS:-0}   # restarts of each kind at the fast intervals
# random 0-3 s pause before each kill, so the kill lands at a random point of the 3 s monitor
# cycle (without it every round lands at the same phase, and "detected" is biased)
FAILOVER_JITTER=${FAILOVER_JITTER:-1}
ALTS=${ALTS:-1}                # ours: also time cheaper cluster-state readers (cibadmin, attrd_updater)
DOC=${DOC:-1}                 # 0: do not touch docs/benchmarks.md (variant runs)
export RESTART_ON_PROMOTE=${RESTART_ON_PROMOTE:-true}   # lab knob; the seed: true
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target-bench}
export PGSQL_RA_BIN=${PGSQL_RA_BIN:-$CARGO_TARGET_DIR/release/pgsql-ra}
RUN_ID=${RUN_ID:-$(date +%Y%m%d-%H%M%S)$([ $QUICK = 1 ] && echo -quick)}
# The run's files are read and written inside the lab's nodes, which mount a private
# /tmp, /run and /dev/shm (lab/lab.sh): so the run works in a directory every node sees
# (STAGE, outside those and outside the repository, which may be anywhere) and is copied to
# bench/out/<run id> at the end.
OUT=$HERE/out/$RUN_ID
STAGE=${STAGE:-/var/lib/pgsql-ra-bench}
RUN=$STAGE/$RUN_ID
RES=$RUN/results.jsonl
FAILS=$RUN/failures.txt
mkdir -p "$RUN" "$OUT"; : > "$RES"; : > "$FAILS"
cp "$TOOL" "$RUN/benchtool.py"; TOOL=$RUN/benchtool.py

log() { echo "[$(date +%T)] $*" >&2; }
fail() { log "FAILED: $*"; echo "$*" >> "$FAILS"; }
lab() { timeout "${LAB_TIMEOUT:-300}" "$LABSH" "$@"; }
kv() { sed -n "s/^$1=//p" <<<"$2" | head -1; }
cleanup() {
  log "lab down"; timeout 120 "$LABSH" down >/dev/null 2>&1 || true
  cp -a "$RUN/." "$OUT/" && rm -rf "$RUN" && rmdir "$STAGE" 2>/dev/null || true
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
[ -x "$LABSH" ] || { echo "no $LABSH" >&2; exit 2; }
for t in strace timeout "$PY"; do command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 2; }; done

# ------------------------------------------------------------------ build ours
# Other engineers edit the work tree while this runs: when it does not compile, build the last
# commit instead (git archive HEAD into the run directory; the work tree is not touched).
HEAD_SRC=""
head_src() {
  if [ -z "$HEAD_SRC" ]; then
    HEAD_SRC=$RUN/src-head; rm -rf "$HEAD_SRC"; mkdir -p "$HEAD_SRC"
    (cd "$REPO" && git archive HEAD) | tar -x -C "$HEAD_SRC"
    mkdir -p "$HEAD_SRC/bench"; cp -r "$HERE/scaling" "$HEAD_SRC/bench/"; rm -rf "$HEAD_SRC/bench/scaling/target"
  fi
  echo "$HEAD_SRC"
}
OURS_DESC=$(cd "$REPO" && git describe --always --dirty 2>/dev/null || echo unknown)
if [ "$BUILD" = 1 ] && [[ " $AGENTS " = *" ours "* ]]; then
  log "building ours (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  if ! (cd "$REPO" && timeout 900 cargo build --release -p pgsql-ra-ocf) > "$RUN/build-ours.log" 2>&1; then
    log "the work tree does not build; building HEAD"
    if (cd "$(head_src)" && timeout 900 cargo build --release -p pgsql-ra-ocf) >> "$RUN/build-ours.log" 2>&1; then
      OURS_DESC="$(cd "$REPO" && git describe --always 2>/dev/null) (HEAD; the work tree did not compile)"
    elif [ -x "$PGSQL_RA_BIN" ]; then
      fail "cargo build of ours failed (see build-ours.log); measured the previous binary $PGSQL_RA_BIN"
    else
      fail "cargo build of ours failed and there is no binary: ours not measured"
    fi
  fi
fi

# ------------------------------------------------------------------ helpers
# capture the agent's environment from pacemaker-execd on every node of $NODES (in parallel)
envcap() {   # envcap DIR SECS
  local dir=$1 secs=$2 n p pids=""
  mkdir -p "$dir"
  for n in $NODES; do
    p=$(lab enter "$n" pgrep -x pacemaker-execd | head -1) || true
    [ -n "$p" ] || { fail "$RA: no pacemaker-execd on $n"; continue; }
    ( lab enter "$n" timeout -k 5 -s INT "$secs" strace -f -qq -v -s 65536 -e trace=execve -o "$dir/execd-$n.trace" -p "$p" \
        >/dev/null 2>&1 || true ) &
    pids="$pids $!"
  done
  # shellcheck disable=SC2086
  [ -z "$pids" ] || wait $pids
  for n in $NODES; do
    [ -f "$dir/execd-$n.trace" ] || continue
    log "$RA: env captured on $n for intervals: $($PY "$TOOL" envcap "$dir/execd-$n.trace" /resource.d/ "$dir/$n")"
  done
}

# The cluster healthy before a measurement. An instance that Pacemaker stopped since `lab up` made
# every later step of that node fail with a misleading message (CI, 2026-12-01: the stock standby
# was stopped during the execd capture; its direct monitors returned 7 and no recurring monitor
# ran). Once per phase: say so (log, crm_mon and fail-counts kept in the run directory),
# `crm_resource --cleanup`, wait, and go on; a cluster still unhealthy after that fails the step.
ensure_healthy() {   # ensure_healthy DIR WHAT -> 0 healthy (maybe after a cleanup), 1 not
  local dir=$1 what=$2 n
  if WAIT_TIMEOUT=20 lab wait 20 >/dev/null 2>&1; then return 0; fi
  n=$(first_node)
  lab status > "$dir/unhealthy-before-${what// /-}.txt" 2>&1 || true
  if [ -e "$dir/cleaned-up" ]; then
    fail "$RA/$(wc -w <<<"$NODES")n: cluster not healthy before $what, a second time in this phase (crm_mon in $dir/unhealthy-before-${what// /-}.txt)"
    return 1
  fi
  : > "$dir/cleaned-up"
  log "$RA: cluster not healthy before $what: $(lab state 2>/dev/null | tr '\n' ' ' | cut -c1-300); fail-counts: $(lab enter "$n" crm_mon -1 --failcounts 2>/dev/null | grep -i 'fail-count' | tr -s ' ' | tr '\n' ';' | cut -c1-300); crm_resource --cleanup, then waiting"
  lab enter "$n" crm_resource --cleanup >/dev/null 2>&1 || true
  if ! WAIT_TIMEOUT=120 lab wait 120 >/dev/null 2>&1; then
    fail "$RA/$(wc -w <<<"$NODES")n: cluster not healthy before $what, even after a cleanup (crm_mon in $dir/unhealthy-before-${what// /-}.txt)"
    return 1
  fi
  log "$RA: healthy again after the cleanup (Promoted on $(promoted))"
}
first_node() { set -- $NODES; echo "$1"; }

# measure one role's monitor on NODE; env file from the role's interval
measure_role() {   # measure_role DIR NODE ROLE INTERVAL
  local dir=$1 n=$2 role=$3 iv=$4 env agent d=$RDIR/$3 argv
  env=$dir/$n/env-$iv.json
  if [ ! -f "$env" ]; then fail "$RA/$(wc -w <<<"$NODES")n: no $iv ms monitor of $n seen in the execd trace"; return 0; fi
  agent=$(cat "$dir/$n/agent-$iv.txt")
  mkdir -p "$d"; : > "$d/run.jsonl"
  log "$RA: $MONITORS direct monitors on $n ($role, $agent)"
  lab enter "$n" "$PY" "$TOOL" run "$env" "$agent" monitor "$MONITORS" 0.3 "$d/run.jsonl" || fail "$RA: direct monitors on $n failed"
  if [ "$RA" = ours ]; then   # issue 16: the same monitors through libcib and through crm_mon (PGSQL_RA_CIB_READ), A/B/C
    local path
    for path in libcib crm_mon; do
      $PY -c 'import json,sys; e=json.load(open(sys.argv[1])); e["PGSQL_RA_CIB_READ"]=sys.argv[3]; json.dump(e, open(sys.argv[2], "w"))' "$env" "$d/env-$path.json" "$path"
      lab enter "$n" "$PY" "$TOOL" run "$d/env-$path.json" "$agent" monitor "$MONITORS" 0.3 "$d/run-$path.jsonl" || fail "$RA: $path-path monitors on $n failed"
    done
    log "$RA: $role monitor wall/cpu ms medians, IPC path vs libcib path vs crm_mon path: $($PY -c 'import json,sys
def m(p):
    try: r=[json.loads(l) for l in open(p) if l.strip()]
    except OSError: r=[]
    w=sorted(x["wall_ms"] for x in r); c=sorted(x["cpu_ms"] for x in r)
    return "%.1f/%.1f" % (w[len(w)//2], c[len(c)//2]) if r else "-"
print(" vs ".join(m(a) for a in sys.argv[1:]))' "$d/run.jsonl" "$d/run-libcib.jsonl" "$d/run-crm_mon.jsonl" 2>/dev/null)"
  fi
  log "$RA: $STRACE_RUNS monitors under strace on $n"
  lab enter "$n" "$PY" "$TOOL" straceN "$env" "$agent" monitor "$STRACE_RUNS" "$d/strace" || fail "$RA: strace monitors on $n failed"
  $PY "$TOOL" count "$d"/strace/trace.* > "$d/count.json" 2>/dev/null || { fail "$RA: no strace output on $n"; : > "$d/count.json"; }
  if [ "$RA" = ours ]; then   # what the time goes to: each program ours runs, timed alone
    $PY "$TOOL" children "$d/strace/trace.0" > "$d/children.json" 2>/dev/null || echo '[]' > "$d/children.json"
    : > "$d/children.jsonl"
    $PY -c 'import json,sys; [print(json.dumps(a)) for a in json.load(open(sys.argv[1]))]' "$d/children.json" |
    while IFS= read -r argv; do
      lab enter "$n" "$PY" "$TOOL" runargv "$env" "$MONITORS" 0.1 "$d/children.jsonl" "$argv" </dev/null || fail "$RA: timing child $argv failed"
    done
  fi
  if [ "$RA" = ours ] && [ "$ALTS" = 1 ]; then   # cheaper ways to read the same cluster state, timed alike
    : > "$d/alts.jsonl"
    for argv in '["/usr/sbin/cibadmin", "--query", "--local"]' \
                '["/usr/sbin/cibadmin", "--query", "--local", "--scope", "status"]' \
                '["/usr/sbin/attrd_updater", "--query", "--all", "--name", "pgsql-status"]' \
                '["/usr/sbin/crm_node", "-n"]' '["/bin/true"]'; do
      lab enter "$n" "$PY" "$TOOL" runargv "$env" "$MONITORS" 0.1 "$d/alts.jsonl" "$argv" </dev/null || fail "$RA: timing $argv failed"
    done
  fi
  [ "$(grep -c '"rc": 0\|"rc": 8' "$d/run.jsonl" || true)" -gt 0 ] || fail "$RA/$(wc -w <<<"$NODES")n $role: no direct monitor returned 0/8 (rcs: $(grep -o '"rc": [0-9]*' "$d/run.jsonl" | sort | uniq -c | tr -s ' ' | tr '\n' ';'))"
}

execd_times() {   # execd_times DIR SINCE
  local n
  for n in $NODES; do
    $PY "$TOOL" execdlog "$2" pgsql "/var/lib/pgsql-ra-lab/$n/var/log/pacemaker/pacemaker.log" > "$1/execd-$n.json" 2>/dev/null || : > "$1/execd-$n.json"
  done
}

promoted() { kv promoted "$(lab state 2>/dev/null || true)"; }

agent_substr() { case $RA in ours) echo /resource.d/pgsql-ra/;; stock) echo /resource.d/heartbeat/pgsql;; paf) echo /resource.d/heartbeat/pgsqlms;; esac; }

# issue 16: the programs exec'd below the agent during steady-state recurring monitors: strace -f
# of every node's pacemaker-execd (process calls only) for EXECS_SECS
execd_execs() {   # execd_execs DIR
  local dir=$1 n p pids="" sub
  sub=$(agent_substr)
  mkdir -p "$dir/execs"
  for n in $NODES; do
    p=$(lab enter "$n" pgrep -x pacemaker-execd | head -1) || true
    [ -n "$p" ] || { fail "$RA: no pacemaker-execd on $n"; continue; }
    ( lab enter "$n" timeout -k 5 -s INT "$EXECS_SECS" strace -f -qq -s 256 -e trace=process -o "$dir/execs/execd-$n.trace" -p "$p" \
        >/dev/null 2>&1 || true ) &
    pids="$pids $!"
  done
  # shellcheck disable=SC2086
  [ -z "$pids" ] || wait $pids
  for n in $NODES; do
    if [ -f "$dir/execs/execd-$n.trace" ] && $PY "$TOOL" execdexecs "$sub" "$dir/execs/execd-$n.trace" > "$dir/execs/$n.json"; then
      log "$RA: programs below the agent's monitors on $n: $(cat "$dir/execs/$n.json")"
      if grep -q '"monitors": 0' "$dir/execs/$n.json"; then fail "$RA: no recurring monitor of $n seen in $EXECS_SECS s of execd"; fi
    else
      fail "$RA: execd process trace of $n unreadable"; : > "$dir/execs/$n.json"
    fi
  done
  return 0
}

# issue 16: CPU (user+sys) of every node's pacemaker-execd's reaped children (the agent's monitors
# and the VIP's) over CPU_SECS of an idle cluster, from /proc/<execd>/stat cutime+cstime
cpu_idle() {   # cpu_idle DIR
  local dir=$1 n p f
  mkdir -p "$dir/cpu"
  for f in before after; do
    : > "$dir/cpu/$f"
    for n in $NODES; do
      p=$(lab enter "$n" pgrep -x pacemaker-execd | head -1) || true
      [ -n "$p" ] || { fail "$RA: no pacemaker-execd on $n"; continue; }
      lab enter "$n" cat "/proc/$p/stat" | awk -v n="$n" '{print n, $16 + $17}' >> "$dir/cpu/$f"
    done
    if [ $f = before ]; then log "$RA: ${CPU_SECS} s of an idle cluster (CPU)"; sleep "$CPU_SECS"; fi
  done
  $PY "$TOOL" mkcpu "$RA" "$(wc -w <<<"$NODES")" "$CPU_SECS" "$(getconf CLK_TCK)" "$dir/cpu/before" "$dir/cpu/after" \
    "execd's reaped children per node: the agent's recurring monitors and the VIP's IPaddr2 monitor (10 s)" >> "$RES" ||
    fail "$RA: idle CPU not computed"
  return 0
}

# issue 16: full-cluster restarts (lab.sh restart): VARIANT cold (no stale node) or stale (the
# standby STALE goes down first and writes go on)
# "decided early" lines of the agent in every node's pacemaker.log (issue 16, the early election)
early_decisions() { cat /var/lib/pgsql-ra-lab/node*/var/log/pacemaker/pacemaker.log 2>/dev/null | grep -c "decided early" || true; }
restarts() {   # restarts DIR VARIANT ROUNDS [STALE]
  local dir=$1/restart-$2 variant=$2 rounds=$3 stale=${4:-} i
  mkdir -p "$dir"
  for i in $(seq "$rounds"); do
    log "$RA: restart ($variant) round $i/$rounds"
    local early0; early0=$(early_decisions)
    # shellcheck disable=SC2086
    if ! WAIT_TIMEOUT=180 RESTART_TIMEOUT=180 lab restart $stale > "$dir/round-$i.out" 2>&1; then
      fail "$RA: restart ($variant) round $i: no first write, or the stale node promoted (see $dir/round-$i.out)"
    fi
    [ -f "$OUTDIR/restart.env" ] && mv "$OUTDIR/restart.env" "$dir/restart-$i.env"
    # issue 16: did the bootstrap election decide early (the agent's "decided early" line)?
    echo "EARLY=$(( $(early_decisions) - early0 ))" >> "$dir/restart-$i.env"
    log "$RA: restart round $i: $(tr '\n' ' ' < "$dir/restart-$i.env" 2>/dev/null || true)"
    if ! lab wait 180 > "$dir/wait-$i.out" 2>&1; then
      # The stock agent keeps PGSQL.lock on the old primary through a clean stop: after a
      # full restart that node's start is refused ("My data may be inconsistent") and it
      # stays stopped until the seed's manual rebuild. A finding about stock, recorded in
      # the round's env file, not a failure of the benchmark; the node is rebuilt.
      local locked
      locked=$(sed -n 's/^failed\.\([^=]*\)=.*PGSQL\.lock.*/\1/p' "$dir/wait-$i.out" | sort -u)
      if [ "$RA" = stock ] && [ -n "$locked" ]; then
        echo "LOCKED_OUT=$(echo $locked)" >> "$dir/restart-$i.env"
        log "$RA: restart round $i: $(echo $locked) refused to start (PGSQL.lock), rebuilt as the seed says"
        for n in $locked; do lab rebuild "$n" > "$dir/rebuild-$i-$n.out" 2>&1 || fail "$RA: rebuild of $n after restart round $i"; done
        lab wait 180 > "$dir/wait-$i-after-rebuild.out" 2>&1 || { fail "$RA: not healthy after restart round $i and the rebuild"; break; }
      else
        fail "$RA: not healthy after restart round $i"; break
      fi
    fi
  done
  $PY "$TOOL" mkrestart "$RA" "$variant" "$dir" >> "$RES" || true
  return 0
}

failovers() {   # failovers DIR ROUNDS
  local dir=$1 rounds=$2 i old new since env
  mkdir -p "$dir"; since=$(date +%s.%N)
  for i in $(seq "$rounds"); do
    if [ "$FAILOVER_JITTER" = 1 ]; then sleep "$(printf '0.%03d' $((RANDOM % 1000)))"; sleep $((RANDOM % 3)); fi
    log "$RA: failover round $i/$rounds"
    if ! WAIT_TIMEOUT=180 lab failover > "$dir/round-$i.out" 2>&1; then
      fail "$RA: failover round $i did not complete (see $dir/round-$i.out)"
    fi
    env=$OUTDIR/failover.env
    [ -f "$env" ] && cp "$env" "$dir/round-$i.env" && rm -f "$env"
    old=$(kv OLD "$(cat "$dir/round-$i.env" 2>/dev/null || true)"); new=$(kv NEW "$(cat "$dir/round-$i.env" 2>/dev/null || true)")
    log "$RA: round $i: $(tr '\n' ' ' < "$dir/round-$i.env" 2>/dev/null || true)"
    [ -n "$old" ] && [ -n "$new" ] && [ "$old" != "$new" ] || { fail "$RA: round $i: no new primary; stopping the rounds"; break; }
    # a fenced node (PAF) is powered on again by the lab after REBOOT_DELAY; wait for it to answer
    for _ in $(seq 90); do lab enter "$old" crm_mon -1 >/dev/null 2>&1 && break; sleep 1; done
    sleep 2
    if ! lab rebuild "$old" > "$dir/rebuild-$i.out" 2>&1; then fail "$RA: rebuild of $old failed in round $i"; break; fi
    if ! lab wait 180 > "$dir/wait-$i.out" 2>&1; then fail "$RA: not healthy after the rebuild of round $i"; break; fi
  done
  local n logs=""
  for n in $NODES; do logs="$logs /var/lib/pgsql-ra-lab/$n/var/log/pacemaker/pacemaker.log"; done
  # shellcheck disable=SC2086
  $PY "$TOOL" execdlog "$since" pgsql $logs > "$dir/execd.json" 2>/dev/null || : > "$dir/execd.json"
}

phase() {   # phase RA "NODES" ROUNDS WITH_FAILOVER
  export RA=$1 NODES=$2
  local rounds=$3 nn t0 dir m s n iv_p=3000 iv_s=4000
  nn=$(wc -w <<<"$NODES")
  dir=$RUN/$RA-${nn}n
  RDIR=$dir
  export OUTDIR=$dir/lab PCMK_DEBUG=pacemaker-execd FENCING=0
  [ "$RA" = paf ] && [ "$rounds" -gt 0 ] && FENCING=1
  mkdir -p "$OUTDIR"
  if [ "$RA" = ours ] && [ ! -x "$PGSQL_RA_BIN" ]; then fail "ours: no binary $PGSQL_RA_BIN"; return 0; fi
  log "===== $RA, $nn nodes (FENCING=$FENCING): lab up"
  t0=$(date +%s.%N)
  if ! UP_TIMEOUT=${UP_TIMEOUT:-150} lab up > "$dir/up.log" 2>&1; then
    fail "$RA/${nn}n: lab up did not reach a healthy cluster (see $dir/up.log; last lines: $(tail -3 "$dir/up.log" | tr '\n' ' ' | cut -c1-300))"
    lab logs > "$dir/logs.txt" 2>&1 || true
    return 0
  fi
  log "$RA: up in $(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)") s"
  m=$(promoted)
  [ -n "$m" ] || { fail "$RA/${nn}n: no primary after up"; return 0; }
  s=""; for n in $NODES; do [ "$n" != "$m" ] && { s=$n; break; }; done
  sleep 3
  envcap "$dir/env" 10
  if ! ensure_healthy "$dir" "the monitor measurements"; then return 0; fi
  if [ -e "$dir/cleaned-up" ]; then   # roles may have moved and the capture may lack a role's env
    m=$(promoted); s=""; for n in $NODES; do [ "$n" != "$m" ] && { s=$n; break; }; done
    rm -rf "$dir/env"; envcap "$dir/env" 10
  fi
  measure_role "$dir/env" "$m" primary $iv_p
  [ "$nn" = 2 ] && measure_role "$dir/env" "$s" standby $iv_s
  if [ "$EXECD_SECS" -gt 0 ]; then
    local since; since=$(date +%s.%N)
    log "$RA: ${EXECD_SECS} s of Pacemaker's own monitors (execd debug log)"
    sleep "$EXECD_SECS"
    execd_times "$dir" "$since"
  fi
  if [ "$EXECS_SECS" -gt 0 ] && ensure_healthy "$dir" "the execd trace"; then execd_execs "$dir"; fi
  if [ "$CPU_SECS" -gt 0 ] && { [ "$nn" = 3 ] || [ "$SCALE3" != 1 ]; }; then cpu_idle "$dir"; fi
  local r note=""
  [ "$RA" = stock ] && note="stock agent with the lab's crm_attribute wrapper (adds 1 exec per crm_attribute call)"
  if [ -s "$dir/execs/$m.json" ]; then
    $PY "$TOOL" mkexecs "$RA" "$nn" primary "$dir/execs/$m.json" "$note" >> "$RES" || true
    if [ "$RA" = ours ] && ! grep -q '"max": 0' "$dir/execs/$m.json"; then
      fail "ours/${nn}n: programs exec'd below the steady-state primary monitor (issue 16 wants none): $(cat "$dir/execs/$m.json")"
    fi
  fi
  if [ "$nn" = 2 ] && [ -s "$dir/execs/$s.json" ]; then
    $PY "$TOOL" mkexecs "$RA" "$nn" standby "$dir/execs/$s.json" "$note" >> "$RES" || true
    if [ "$RA" = ours ] && ! grep -q '"max": 0' "$dir/execs/$s.json"; then
      fail "ours/${nn}n: programs exec'd below the steady-state standby monitor (issue 16 wants none): $(cat "$dir/execs/$s.json")"
    fi
  fi
  $PY "$TOOL" mkmon "$RA" "$nn" primary "$dir/primary/run.jsonl" "$dir/primary/count.json" "$dir/execd-$m.json" pgsql_monitor_$iv_p "$note" >> "$RES" || true
  if [ "$nn" = 2 ]; then
    $PY "$TOOL" mkmon "$RA" "$nn" standby "$dir/standby/run.jsonl" "$dir/standby/count.json" "$dir/execd-$s.json" pgsql_monitor_$iv_s "$note" >> "$RES" || true
  fi
  if [ "$rounds" -gt 0 ]; then
    failovers "$dir/failover" "$rounds"
    note=""
    [ "$RA" = paf ] && note="with FENCING=1 (PAF fences a crashed primary; without fencing it never fails over); REBOOT_DELAY of the fenced node not counted"
    $PY "$TOOL" mkfail "$RA" "$dir/failover" "$dir/failover/execd.json" "$note" >> "$RES" || true
  fi
  # --quick (CI's smoke run) restarts ours only: the stock agent's old primary keeps PGSQL.lock
  # through a clean stop, so its full restarts end locked out (a finding of the full run, not a
  # path of ours to check).
  if [ "$RESTART_ROUNDS" -gt 0 ] && [ "$nn" = 2 ] && [ "$RA" != paf ] && { [ "$QUICK" = 0 ] || [ "$RA" = ours ]; }; then
    restarts "$dir" cold "$RESTART_ROUNDS"
    m=$(promoted); s=""; for n in $NODES; do [ "$n" != "$m" ] && { s=$n; break; }; done
    if [ -n "$s" ]; then restarts "$dir" stale "$RESTART_ROUNDS" "$s"; else fail "$RA: no standby for the stale restart"; fi
  fi
  lab logs > "$dir/logs.txt" 2>&1 || true
  lab down >/dev/null 2>&1 || fail "$RA: lab down failed"
}

# issue 16: failover with a 1 s Promoted monitor interval (lab knob MON_PROMOTED)
phase_fast() {   # phase_fast RA ROUNDS
  export RA=$1 NODES="node1 node2"
  local rounds=$2 dir
  dir=$RUN/$RA-fast
  RDIR=$dir
  export OUTDIR=$dir/lab PCMK_DEBUG=pacemaker-execd FENCING=0 MON_PROMOTED=1s MON_UNPROMOTED=$FAST_UNPROMOTED
  mkdir -p "$OUTDIR"
  if [ "$RA" = ours ] && [ ! -x "$PGSQL_RA_BIN" ]; then fail "ours: no binary $PGSQL_RA_BIN"; return 0; fi
  log "===== $RA, 1 s Promoted / $FAST_UNPROMOTED Unpromoted monitor: lab up"
  if ! UP_TIMEOUT=${UP_TIMEOUT:-150} lab up > "$dir/up.log" 2>&1; then
    fail "$RA/fast: lab up did not reach a healthy cluster (see $dir/up.log)"
    unset MON_PROMOTED; return 0
  fi
  failovers "$dir/failover" "$rounds"
  $PY "$TOOL" mkfail "$RA" "$dir/failover" "$dir/failover/execd.json" "MON_PROMOTED=1s" |
    sed 's/"kind": "failover"/"kind": "failover_fast"/' >> "$RES" || true
  # issue 16 target 3 at the fast intervals: the same restarts as the seed phase's, with
  # the 1 s Promoted and FAST_UNPROMOTED Unpromoted monitors (variants cold-fast, stale-fast)
  if [ "$FAST_RESTART_ROUNDS" -gt 0 ]; then
    local m s="" n
    restarts "$dir" cold-fast "$FAST_RESTART_ROUNDS"
    m=$(promoted); for n in $NODES; do [ "$n" != "$m" ] && { s=$n; break; }; done
    if [ -n "$s" ]; then restarts "$dir" stale-fast "$FAST_RESTART_ROUNDS" "$s"; else fail "$RA: no standby for the fast stale restart"; fi
  fi
  lab logs > "$dir/logs.txt" 2>&1 || true
  lab down >/dev/null 2>&1 || fail "$RA: lab down failed"
  unset MON_PROMOTED MON_UNPROMOTED
}

# ------------------------------------------------------------------ run
log "run $RUN_ID: agents=$AGENTS monitors=$MONITORS rounds=$ROUNDS quick=$QUICK load: $(cut -d' ' -f1-3 /proc/loadavg)"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for a in $AGENTS; do
  [ "${PHASE2N:-1}" = 1 ] || break   # PHASE2N=0: skip the 2-node seed phases
  case $a in
    ours) phase ours "node1 node2" "$ROUNDS";;
    stock) phase stock "node1 node2" "$STOCK_ROUNDS";;
    paf) phase paf "node1 node2" "$PAF_ROUNDS";;
  esac
done
if [ "$SCALE3" = 1 ]; then
  for a in $AGENTS; do phase "$a" "node1 node2 node3" 0; done
fi
if [ "$FAST_ROUNDS" -gt 0 ]; then
  for a in $AGENTS; do [ "$a" = paf ] || phase_fast "$a" "$FAST_ROUNDS"; done
fi
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# in-memory scaling bench (N = 2..16)
log "in-memory scaling bench"
if (cd "$HERE/scaling" && timeout 900 cargo build --release --quiet) > "$RUN/build-scaling.log" 2>&1 ||
   { log "the work tree's core does not build; scaling bench from HEAD";
     (cd "$(head_src)/bench/scaling" && timeout 900 cargo build --release --quiet) >> "$RUN/build-scaling.log" 2>&1; }; then
  set +e
  "$CARGO_TARGET_DIR/release/pgsql-ra-bench-scaling" --max 16 --json "$RUN/scaling.json" > "$RUN/scaling.md" 2>&1
  rc=$?
  set -e
  case $rc in
    0) ;;
    3) echo '{"kind":"note","text":"in-memory scaling: the core monitor is not implemented yet (rc 3), nothing counted"}' >> "$RES";;
    *) fail "in-memory scaling bench: rc $rc (see scaling.md)";;
  esac
  [ -s "$RUN/scaling.json" ] && $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); d["kind"]="scaling"; print(json.dumps(d))' "$RUN/scaling.json" >> "$RES"
else
  fail "in-memory scaling bench did not build (the core may be mid-edit; see build-scaling.log)"
fi

# ------------------------------------------------------------------ report
ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }
$PY - "$RUN/meta.json" "$FAILS" <<EOF
import json, sys
fails = [l.strip() for l in open(sys.argv[2]) if l.strip()]
mem = [l for l in open('/proc/meminfo') if l.startswith('MemTotal')][0].split()[1]
json.dump({"date": "$(date -u '+%Y-%m-%d %H:%M UTC')", "run_id": "$RUN_ID", "quick": $QUICK == 1,
           "machine": "$(nproc) vCPU, %.1f GiB RAM, kernel $(uname -r), $(. /etc/os-release; echo "$PRETTY_NAME")" % (int(mem) / 1048576),
           "versions": "PostgreSQL $(ver postgresql-15), Pacemaker $(ver pacemaker), corosync $(ver corosync), resource-agents $(ver resource-agents), resource-agents-paf $(ver resource-agents-paf), ours $OURS_DESC",
           "load": "load average $LOAD0 at the start, $LOAD1 at the end; failover jitter $FAILOVER_JITTER; restart_on_promote=$RESTART_ON_PROMOTE",
           "failures": fails}, open(sys.argv[1], "w"))
EOF
$PY "$TOOL" report "$RES" "$RUN/meta.json" > "$RUN/benchmarks.md"
cat "$RUN/benchmarks.md"
if [ $QUICK = 0 ] && [ "$DOC" = 1 ]; then
  # the generated block of docs/benchmarks.md is replaced; the analysis around it is kept
  $PY - "$REPO/docs/benchmarks.md" "$RUN/benchmarks.md" <<'EOF'
import os, sys
doc, gen = sys.argv[1], open(sys.argv[2]).read()
B, E = "<!-- BEGIN GENERATED by bench/run.sh -->", "<!-- END GENERATED -->"
old = open(doc).read() if os.path.exists(doc) else ""
block = B + "\n" + gen.rstrip("\n") + "\n" + E
if B in old and E in old:
    new = old[:old.index(B)] + block + old[old.index(E) + len(E):]
else:
    new = old.rstrip("\n") + ("\n\n" if old else "") + block + "\n"
open(doc, "w").write(new)
EOF
  log "report: $OUT/benchmarks.md, and its block in docs/benchmarks.md"
fi
if [ -s "$FAILS" ]; then
  log "$(wc -l < "$FAILS") step(s) failed:"; cat "$FAILS" >&2
  exit 1
fi
log "all steps ran"
