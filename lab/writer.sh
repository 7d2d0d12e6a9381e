#!/bin/bash
# lab/writer.sh - a client that writes through the VIP, one INSERT at a time (about every 100 ms),
# and records every acknowledged write.  Used by e2e.sh and bench/ to prove "0 acknowledged writes
# lost" and to measure write unavailability (the longest gap between two acknowledgements).
#
#   writer.sh start TAG     start in the background; acks go to $OUTDIR/writer-TAG.acks
#                           ("<n> <ack epoch> <epoch the INSERT began>")
#   writer.sh stop TAG      stop it (waits for the write in flight)
#   writer.sh check TAG     read back through the VIP; prints "acked=N lost=M max_gap=S.SS"
#                           (lost = acknowledged but absent); exit 1 when lost > 0 or nothing was acked
set -uo pipefail
HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
OUTDIR=${OUTDIR:-$HERE/out}
VIP=${VIP:-10.231.0.100}
NS=${CLI_NS:-pgra-cli}
cmd=${1:?usage: writer.sh start|stop|check TAG}; tag=${2:?usage: writer.sh start|stop|check TAG}
acks=$OUTDIR/writer-$tag.acks; pidf=$OUTDIR/writer-$tag.pid; stopf=$OUTDIR/writer-$tag.stop
q() { timeout "${2:-5}" ip netns exec "$NS" psql "host=$VIP user=postgres dbname=postgres connect_timeout=1" -XAtq -c "$1" 2>/dev/null; }
case $cmd in
  start)
    mkdir -p "$OUTDIR"; : > "$acks"; rm -f "$stopf"
    ( i=0
      while [ ! -e "$stopf" ]; do
        i=$((i+1)); t0=$(date +%s.%N)
        if [ "$(q "insert into lab(who) values('$tag-$i') returning 1")" = 1 ]; then
          echo "$i $(date +%s.%N) $t0" >> "$acks"
        fi
        sleep 0.1
      done ) >/dev/null 2>&1 &
    echo $! > "$pidf" ;;
  stop)
    touch "$stopf"
    pid=$(cat "$pidf" 2>/dev/null) && for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$pidf" ;;
  check)
    acked=$(wc -l < "$acks")
    have=$(mktemp); q "select who from lab where who like '$tag-%'" 20 | sed "s/^$tag-//" | sort > "$have"
    lost=$(cut -d" " -f1 "$acks" | sort | comm -23 - "$have" | wc -l)
    [ -s "$have" ] || lost=$acked     # the read-back itself failed: count nothing as present
    rm -f "$have"
    gap=$(awk 'NR > 1 { g = $2 - p; if (g > m) m = g } { p = $2 } END { printf "%.2f", m + 0 }' "$acks")
    echo "acked=$acked lost=$lost max_gap=$gap"
    [ "$acked" -gt 0 ] && [ "$lost" = 0 ] ;;
  *) echo "usage: writer.sh start|stop|check TAG" >&2; exit 2 ;;
esac
