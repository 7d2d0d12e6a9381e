#!/bin/bash
# lab/lab.sh - a real Pacemaker + Corosync + PostgreSQL 15 cluster on ONE Debian 12 host.
# Every node is a set of namespaces (net, uts, mount, pid) with tini as PID 1.
#
#   lab.sh install            apt-get the packages (idempotent)
#   lab.sh up                 build the cluster from nothing (runs "down" first), wait until healthy
#   lab.sh status             crm_mon -Afr -1
#   lab.sh state              crm_mon --output-as=xml as key=value lines (labtool.py kv)
#   lab.sh wait [SECS]        wait for one Promoted and every standby in sync (async: HS:async)
#   lab.sh failover           kill -9 the primary's postmaster, time promotion/VIP/first write
#   lab.sh rebuild NODE       seed procedure: pg_basebackup from the VIP, rm PGSQL.lock, cleanup
#   lab.sh restart [STALE]    full-cluster restart (issue 16): stop every node's stack cleanly,
#                             start all together, time to the first write through the VIP; with
#                             STALE, that standby goes down first and writes go on
#   lab.sh enter NODE [cmd]   run cmd (default bash) inside NODE
#   lab.sh cli [psql args]    psql to the VIP from the client namespace
#   lab.sh ocftest            ocf-tester against the agent on a single, non-replicated PostgreSQL
#   lab.sh config             print the crm configuration that "up" loads
#   lab.sh logs               print pacemaker and PostgreSQL log tails of every node
#   lab.sh down               kill everything the lab started (by init PID), remove namespaces/state
#
# Knobs (environment):
#   NODES="node1 node2"  (two_node: 1)   or "node1 node2 node3"
#   RA=ours|stock|paf    ours = ocf:pgsql-ra:pgsql: the installed pgsql-ra package's agent when
#                        PGSQL_RA_BIN is unset and the package is installed, else a copy of
#                        PGSQL_RA_BIN (default <repo>/target/release/pgsql-ra)
#   REP_MODE=sync|async  FENCING=0|1  DC_DEADTIME=2s  OUTDIR=<repo>/lab/out  PCMK_DEBUG=no
#   RESTART_ON_PROMOTE=true|false  (the seed: true; false = pg_ctl promote in place)
#   MON_PROMOTED=3s MON_UNPROMOTED=4s  (the agent's monitor intervals; RA=ours/stock)
#   WAL_SENDER_TIMEOUT=10s  (60s = the seed's)   PGSQL_EXTRA_PARAMS="name=value ..." (RA=ours/stock: more agent parameters)
#
# Network, never routed anywhere, the root namespace gets no address:
#   namespace pgra-sw holds bridges br0 (service + replication) and br1 (cluster/corosync).
#   nodeK: eth0 10.231.0.(10+K)  eth1 10.231.1.(10+K);  VIP 10.231.0.100;  client (pgra-cli) 10.231.0.200
#   Cutting a node's eth0 cuts replication and client traffic but keeps corosync membership.
set -euo pipefail

HERE=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
SELF=$HERE/lab.sh
REPO=$(dirname "$HERE")
LAB=${LAB:-/var/lib/pgsql-ra-lab}          # all per-node state
PFX=pgra                                   # netns prefix (distinct from other labs on this host)
NODES=${NODES:-"node1 node2"}
RA=${RA:-ours}
REP_MODE=${REP_MODE:-sync}
FENCING=${FENCING:-0}
DC_DEADTIME=${DC_DEADTIME-2s}
PCMK_DEBUG=${PCMK_DEBUG:-no}
RESTART_ON_PROMOTE=${RESTART_ON_PROMOTE:-true}   # the seed: true (stop+start instead of pg_ctl promote)
RA_DIR=/usr/lib/ocf/resource.d/pgsql-ra
# The pgsql-ra package owns $RA_DIR/pgsql when installed (dpkg -i pgsql-ra_*.deb, issue 15).
pkg_agent() { dpkg-query -W -f='${Status}' pgsql-ra 2>/dev/null | grep -q 'install ok installed' && [ -x "$RA_DIR/pgsql" ]; }
USE_PKG=0
if [ -z "${PGSQL_RA_BIN:-}" ] && pkg_agent; then USE_PKG=1; fi
PGSQL_RA_BIN=${PGSQL_RA_BIN:-$REPO/target/release/pgsql-ra}
OUTDIR=${OUTDIR:-$HERE/out}
SVC=10.231.0                               # eth0: service + replication + VIP
CLU=10.231.1                               # eth1: corosync
VIP=$SVC.100
CLI_IP=$SVC.200
PGBIN=/usr/lib/postgresql/15/bin
PGROOT=/var/lib/pgsql                      # same path in every node (bind mount)
PGDATA=$PGROOT/data
FENCE_AGENT=/usr/sbin/fence_pgralab
PACKAGES="postgresql-15 pacemaker pacemaker-cli-utils corosync resource-agents resource-agents-paf
          crmsh tini strace procps psmisc iproute2 bc python3 libxml2-utils"

log() { echo "[$(date +%T.%3N)] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
since() { printf '%.2f' "$(echo "$(now) - $1" | bc)"; }
# shellcheck disable=SC2086  # word splitting is the point
count() { set -- $1; echo $#; }          # number of words
idx() { local i=0 n; for n in $NODES; do i=$((i+1)); [ "$n" = "$1" ] && { echo $i; return; }; done; die "unknown node $1"; }
svc_ip() { echo "$SVC.$((10 + $(idx "$1")))"; }
clu_ip() { echo "$CLU.$((10 + $(idx "$1")))"; }
rsc_agent() { case $RA in ours) echo ocf:pgsql-ra:pgsql;; stock) echo ocf:heartbeat:pgsql;; paf) echo ocf:heartbeat:pgsqlms;;
              *) die "RA must be ours, stock or paf";; esac; }

# ---------------------------------------------------------------------------- node handles
initpid() { cat "$LAB/$1/init.pid" 2>/dev/null; }
alive() { local p; p=$(initpid "$1") && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
# run a command in all namespaces of a node
enter() { local n=$1 p; shift; p=$(initpid "$n") || die "$n is not running"; nsenter -t "$p" -n -u -m -p -- "$@"; }
as_pg() { local n=$1; shift; enter "$n" runuser -u postgres -- sh -c "cd /tmp && $*"; }
# first node whose pacemaker answers
any_node() {
  local n
  for n in $NODES; do alive "$n" && enter "$n" crm_mon -1 >/dev/null 2>&1 && { echo "$n"; return; }; done
  die "no cluster node answers"
}
xml_state() { enter "$(any_node)" crm_mon -1 --output-as=xml 2>/dev/null; }
# key=value snapshot of the cluster (see labtool.py kv)
state() { xml_state | /usr/bin/python3 "$HERE/labtool.py" kv; }
kv() { sed -n "s/^$1=//p" <<<"$2" | head -1; }

# ---------------------------------------------------------------------------- install
cmd_install() {
  # shellcheck disable=SC2086
  if ! dpkg -s $PACKAGES >/dev/null 2>&1; then
    apt-get update
    # policy-rc.d keeps the packages from starting services in the root namespace
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $PACKAGES
  fi
  # nothing of the packages may run in the root namespace
  if [ -d /run/systemd/system ]; then systemctl disable --now corosync pacemaker postgresql 2>/dev/null || true; fi
  if [ -f /etc/postgresql/15/main/start.conf ]; then
    echo manual > /etc/postgresql/15/main/start.conf
    pg_ctlcluster 15 main stop >/dev/null 2>&1 || true
  fi
}

# ---------------------------------------------------------------------------- network
veth_into() {   # veth_into NS BRIDGE IFNAME ADDR/24 ID: a veth from bridge BRIDGE into NS named IFNAME
  local ns=$1 br=$2 ifn=$3 addr=$4 a=$PFX$5        # unique per lab, ifname <= 15 chars
  ip link del "$a-e" 2>/dev/null || true           # a leftover of an interrupted run
  ip link add "$a-p" type veth peer name "$a-e"
  ip link set "$a-p" netns $PFX-sw
  ip -n $PFX-sw link set "$a-p" master "$br" up
  ip link set "$a-e" netns "$ns"
  ip -n "$ns" link set "$a-e" name "$ifn"
  ip -n "$ns" addr add "$addr" dev "$ifn"
  ip -n "$ns" link set "$ifn" up
}
net_up() {
  local n b
  ip netns add $PFX-sw
  ip -n $PFX-sw link set lo up
  for b in br0 br1; do ip -n $PFX-sw link add $b type bridge; ip -n $PFX-sw link set $b up; done
  for n in $NODES; do
    ip netns add "$PFX-$n"; ip -n "$PFX-$n" link set lo up
    veth_into "$PFX-$n" br0 eth0 "$(svc_ip "$n")/24" "$(idx "$n")s"
    veth_into "$PFX-$n" br1 eth1 "$(clu_ip "$n")/24" "$(idx "$n")c"
  done
  ip netns add $PFX-cli; ip -n $PFX-cli link set lo up
  veth_into $PFX-cli br0 eth0 $CLI_IP/24 cli
}

# ---------------------------------------------------------------------------- per-node files
PRIV_DIRS="/var/lib/pacemaker /var/log /etc/corosync /var/lib/corosync $PGROOT"
prepare_node() {    # prepare_node NODE [bare]
  local n=$1 r=$LAB/$1
  mkdir -p "$r/var/lib" "$r/etc" "$r/var/log" "$PGROOT"
  cp -a /var/lib/pacemaker /var/lib/corosync "$r/var/lib/"
  cp -a /etc/corosync "$r/etc/"
  install -d -o hacluster -g haclient -m 0770 "$r/var/log/pacemaker"
  install -d -m 0755 "$r/var/log/corosync" "$r/var/log/crmsh"
  install -d -o postgres -g postgres -m 0755 "$r/var/log/postgresql"
  install -d -o postgres -g postgres -m 0700 "$r$PGROOT" "$r$PGROOT/pg_archive" "$r$PGROOT/tmp"
  rm -f "$r"/var/lib/pacemaker/cib/cib* "$r"/var/lib/pacemaker/pengine/* 2>/dev/null || true
  corosync_conf > "$r/etc/corosync/corosync.conf"
  if [ -n "$DC_DEADTIME" ]; then
    # a seeded CIB: the first DC election does not wait the default 20 s dc-deadtime
    cibadmin --empty | sed "s|<crm_config/>|<crm_config><cluster_property_set id=\"cib-bootstrap-options\"><nvpair id=\"cib-bootstrap-options-dc-deadtime\" name=\"dc-deadtime\" value=\"$DC_DEADTIME\"/></cluster_property_set></crm_config>|" \
      > "$r/var/lib/pacemaker/cib/cib.xml"
    chown hacluster:haclient "$r/var/lib/pacemaker/cib/cib.xml"; chmod 600 "$r/var/lib/pacemaker/cib/cib.xml"
  fi
}
corosync_conf() {
  local n i=0
  cat <<EOF
totem {
    version: 2
    cluster_name: pgralab
    transport: knet
    crypto_cipher: none
    crypto_hash: none
}
logging {
    to_stderr: no
    to_syslog: no
    to_logfile: yes
    logfile: /var/log/corosync/corosync.log
    timestamp: hires
}
quorum {
    provider: corosync_votequorum
$([ "$(count "$NODES")" = 2 ] && echo "    two_node: 1")
}
nodelist {
EOF
  for n in $NODES; do i=$((i+1)); printf '    node {\n        name: %s\n        nodeid: %d\n        ring0_addr: %s\n    }\n' "$n" $i "$(clu_ip "$n")"; done
  echo "}"
}

# Runs inside the node, as the child of tini (PID 1, a reaper: a kill -9'd postmaster must not
# linger as a zombie that still answers kill -0).  MODE=bare: no corosync/pacemaker (ocftest).
cmd__node_init() {
  local n=$1 mode=${2:-cluster} d
  hostname "$n"
  mount --make-rprivate /
  mount -t tmpfs -o mode=0755 "run-$n" /run            # /var/run -> /run
  mount -t tmpfs -o mode=1777 "shm-$n" /dev/shm        # libqb ring buffers
  mount -t tmpfs -o mode=1777 "tmp-$n" /tmp
  for d in $PRIV_DIRS; do mount --bind "$LAB/$n$d" "$d"; done
  mount --bind "$LAB/hosts" /etc/hosts
  install -d -o postgres -g postgres -m 2775 /run/postgresql
  install -d -o hacluster -g haclient -m 0750 /run/crm
  install -d -m 0755 /run/corosync
  if [ "$RA" = stock ]; then
    # Pacemaker 2.1.5 parses "crm_attribute -p -v -INFINITY" (ocf_promotion_score) as
    # "-p=-v -I -N FINITY" and the stock agent retries forever.  Overlay a wrapper that
    # moves the bare -p last, only in this mount namespace.  Not used for RA=ours.
    install -d /run/pgralab; touch /run/pgralab/crm_attribute.real
    mount --bind /usr/sbin/crm_attribute /run/pgralab/crm_attribute.real
    mount --bind "$LAB/crm_attribute.wrap" /usr/sbin/crm_attribute
  fi
  if [ "$mode" = cluster ]; then
    corosync                                            # daemonizes
    for _ in $(seq 50); do corosync-cfgtool -s >/dev/null 2>&1 && break; sleep 0.2; done
    # double fork so that pacemakerd's parent is tini
    ( PCMK_logfile=/var/log/pacemaker/pacemaker.log PCMK_logfacility=none PCMK_debug=$PCMK_DEBUG \
      setsid pacemakerd </dev/null >>/var/log/pacemaker/pacemakerd.out 2>&1 & )
  fi
  touch "$LAB/$n/ready"                                 # node_start waits for this
  exec sleep infinity
}

node_start() {    # node_start NODE [bare]
  local n=$1 up p=""
  alive "$n" && return 0
  rm -f "$LAB/$n/ready"
  setsid nsenter --net="/run/netns/$PFX-$n" -- \
    unshare --mount --uts --pid --fork --mount-proc --propagation private \
    tini -s -- "$SELF" _node_init "$n" "${2:-cluster}" </dev/null >>"$LAB/$n/init.out" 2>&1 &
  up=$!
  echo $up > "$LAB/$n/unshare.pid"
  for _ in $(seq 50); do
    p=$(ps -o pid= --ppid $up 2>/dev/null | tr -d ' ' | head -1 || true)   # tini, as seen from here
    [ -n "$p" ] && break; sleep 0.1
  done
  [ -n "$p" ] || die "could not start $n"
  echo "$p" > "$LAB/$n/init.pid"
  for _ in $(seq 100); do [ -e "$LAB/$n/ready" ] && break; sleep 0.1; done
  [ -e "$LAB/$n/ready" ] || die "$n did not finish its init (see $LAB/$n/init.out)"
  log "$n: init (tini) pid $p"
}

# power off: SIGKILL to the namespace's PID 1 kills every process of the node.
node_kill() {
  local n=$1 p
  p=$(initpid "$n") || return 0
  [ -n "$p" ] || return 0
  # guard against PID reuse: only if it still is our node's tini
  if grep -qa "_node_init" "/proc/$p/cmdline" 2>/dev/null; then kill -9 "$p" 2>/dev/null || true; fi
  for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  rm -f "$LAB/$n/init.pid"
}

wait_online() {
  local t0; t0=$(now)
  for _ in $(seq 120); do
    [ "$(kv online "$(state 2>/dev/null || true)")" = "$NODES" ] && { log "all nodes online after $(since "$t0") s"; return 0; }
    sleep 0.5
  done
  die "nodes did not come online"
}

# ---------------------------------------------------------------------------- fencing (optional)
# fence agent -> request file in $LAB/fence -> this root-namespace loop kills/restarts the node
cmd__powerctl() {
  local f act node
  while :; do
    for f in "$LAB"/fence/req.*; do
      [ -e "$f" ] || continue
      case $f in *.done|*.tmp) continue;; esac
      read -r act node < "$f" || true
      log "powerctl: $act $node"
      case $act in off|reboot) node_kill "$node";; on) node_start "$node";; esac
      mv "$f" "$f.done"
      # boot later: a node rejoining while its fencing is still being broadcast stops itself
      if [ "$act" = reboot ]; then ( sleep "${REBOOT_DELAY:-15}"; node_start "$node" ) & fi
    done
    sleep 0.2
  done
}

# ---------------------------------------------------------------------------- PostgreSQL
pg_conf() {
  cat <<EOF
# ---- pgsql-ra lab ----
listen_addresses = '*'
unix_socket_directories = '/var/run/postgresql'
shared_buffers = 32MB
wal_level = replica
hot_standby = on
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = 256MB
wal_receiver_status_interval = 2
wal_sender_timeout = ${WAL_SENDER_TIMEOUT:-10s}            # 10s: notice a cut link in seconds; 60s (the seed's, PostgreSQL's default) where a scenario measures the agent's own detection
hot_standby_feedback = on
restart_after_crash = off
wal_log_hints = on
archive_mode = on
archive_command = 'test ! -f $PGROOT/pg_archive/%f && cp %p $PGROOT/pg_archive/%f'
log_line_prefix = '%m [%p] '
EOF
}
pg_hba() {   # trust on the lab's private subnet: acceptable only because this is a lab
  cat <<EOF
local   all          all                 trust
host    all          all   127.0.0.1/32  trust
host    all          all   $SVC.0/24     trust
host    replication  all   127.0.0.1/32  trust
host    replication  all   $SVC.0/24     trust
EOF
}
pg_initdb() {   # pg_initdb NODE
  as_pg "$1" "$PGBIN/initdb -D $PGDATA -A trust -U postgres --data-checksums >/dev/null"
  pg_conf >> "$LAB/$1$PGDATA/postgresql.conf"
  pg_hba > "$LAB/$1$PGDATA/pg_hba.conf"
}
# seed: initdb on the first node, pg_basebackup to the others, stop; Pacemaker starts the rest
pg_prepare() {
  local pri=${NODES%% *} n
  log "initdb on $pri"
  pg_initdb "$pri"
  as_pg "$pri" "$PGBIN/pg_ctl -D $PGDATA -l /var/log/postgresql/bootstrap.log -w start >/dev/null"
  as_pg "$pri" "psql -qX -h /var/run/postgresql -c 'create table lab(id serial primary key, ts timestamptz default now(), who text)'"
  for n in $NODES; do
    [ "$n" = "$pri" ] && continue
    log "pg_basebackup $n <- $pri"
    as_pg "$n" "$PGBIN/pg_basebackup -h $(svc_ip "$pri") -U postgres -D $PGDATA -X stream -c fast"
  done
  as_pg "$pri" "$PGBIN/pg_ctl -D $PGDATA -m fast -w stop >/dev/null"
  [ "$RA" = paf ] && paf_prepare
  return 0
}
# PAF writes no primary_conninfo and wants application_name=<node>: keep it outside PGDATA
paf_prepare() {
  local n
  for n in $NODES; do
    echo "primary_conninfo = 'host=$VIP user=postgres application_name=$n'" > "$LAB/$n$PGROOT/node.conf"
    chown postgres:postgres "$LAB/$n$PGROOT/node.conf"
    printf "restore_command = 'cp %s/pg_archive/%%f %%p'\nrecovery_target_timeline = 'latest'\ninclude_if_exists = '%s/node.conf'\n" \
      "$PGROOT" "$PGROOT" >> "$LAB/$n$PGDATA/postgresql.conf"
    [ "$n" = "${NODES%% *}" ] || touch "$LAB/$n$PGDATA/standby.signal"
  done
}

install_agent() {
  case $RA in
    ours)
      if [ $USE_PKG = 1 ]; then
        log "agent: the installed package's $RA_DIR/pgsql ($("$RA_DIR/pgsql" --version 2>/dev/null || echo '?'))"
        return 0
      fi
      [ -x "$PGSQL_RA_BIN" ] || die "agent binary $PGSQL_RA_BIN not found (cargo build --release -p pgsql-ra-ocf, or set PGSQL_RA_BIN)"
      install -d "$RA_DIR"
      # PGSQL_RA_BIN given while the package is installed: its file is put back at "down"
      if pkg_agent && [ ! -e "$LAB/pkg-agent.saved" ]; then
        cp -a "$RA_DIR/pgsql" "$LAB/pkg-agent.saved"
        log "agent: $PGSQL_RA_BIN over the package's $RA_DIR/pgsql until lab.sh down"
      fi
      install -m 0755 "$PGSQL_RA_BIN" "$RA_DIR/pgsql"    # a copy: a rebuild cannot swap it mid-run
      touch "$LAB/installed-agent";;
    stock)
      # shellcheck disable=SC2016  # literal script text
      printf '%s\n' '#!/bin/sh' '# lab workaround for Pacemaker 2.1.5: move a leading bare "-p" to the end' \
        'if [ "$1" = "-p" ]; then shift; exec /run/pgralab/crm_attribute.real "$@" -p; fi' \
        'exec /run/pgralab/crm_attribute.real "$@"' > "$LAB/crm_attribute.wrap"
      chmod 755 "$LAB/crm_attribute.wrap";;
  esac
  return 0
}

# ---------------------------------------------------------------------------- CIB
# RA=ours/stock: the seed's configuration; only the agent name and the addresses differ.
cmd_config() {
  local agent nl cnt; agent=$(rsc_agent); nl=$NODES; cnt=$(count "$NODES")
  cat <<EOF
property cib-bootstrap-options: no-quorum-policy=ignore stonith-enabled=$([ "$FENCING" = 1 ] && echo true || echo false)
rsc_defaults rsc-options: resource-stickiness=INFINITY migration-threshold=1
primitive vip-master IPaddr2 \\
    params ip=$VIP nic=eth0 cidr_netmask=24 \\
    op start interval=0s timeout=60s on-fail=restart \\
    op monitor interval=10s timeout=60s on-fail=restart \\
    op stop interval=0s timeout=60s on-fail=block
EOF
  if [ "$FENCING" = 1 ]; then
    cat <<EOF
primitive fence-lab stonith:$(basename $FENCE_AGENT) \\
    params pcmk_host_list="$NODES" pcmk_reboot_timeout=60s \\
    op monitor interval=60s
EOF
  fi
  if [ "$RA" = paf ]; then
    cat <<EOF
primitive pgsql $agent \\
    params bindir=$PGBIN pgdata=$PGDATA datadir=$PGDATA pghost=/var/run/postgresql pgport=5432 \\
    op start interval=0s timeout=60s \\
    op stop interval=0s timeout=60s \\
    op promote interval=0s timeout=30s \\
    op demote interval=0s timeout=120s \\
    op monitor interval=4s timeout=10s role=Slave \\
    op monitor interval=3s timeout=10s role=Master \\
    op notify interval=0s timeout=60s
EOF
  else
    cat <<EOF
primitive pgsql $agent \\
    params pgctl=$PGBIN/pg_ctl psql=/usr/bin/psql pgdata=$PGDATA \\
      socketdir=/var/run/postgresql tmpdir=$PGROOT/tmp \\
      rep_mode=$REP_MODE node_list="$nl" master_ip=$VIP \\
      restore_command="cp $PGROOT/pg_archive/%f %p" \\
      primary_conninfo_opt="keepalives_idle=60 keepalives_interval=5 keepalives_count=5" \\
      restart_on_promote=$RESTART_ON_PROMOTE logfile=/var/log/postgresql/postgresql.log ${PGSQL_EXTRA_PARAMS:-} \\
    op start interval=0s timeout=60s on-fail=restart \\
    op monitor interval=${MON_UNPROMOTED:-4s} timeout=60s on-fail=restart \\
    op monitor interval=${MON_PROMOTED:-3s} timeout=60s on-fail=restart role=Master \\
    op promote interval=0s timeout=60s on-fail=restart \\
    op demote interval=0s timeout=60s on-fail=stop \\
    op stop interval=0s timeout=60s on-fail=block \\
    op notify interval=0s timeout=60s
EOF
  fi
  cat <<EOF
clone msPostgresql pgsql \\
    meta promotable=true promoted-max=1 promoted-node-max=1 clone-max=$cnt clone-node-max=1 notify=true
colocation rsc_colocation-1 inf: vip-master msPostgresql:Master
order rsc_order-1 inf: msPostgresql:promote vip-master:start symmetrical=false
order rsc_order-2 0: msPostgresql:demote vip-master:stop symmetrical=false
EOF
}

# ---------------------------------------------------------------------------- up / down
cmd_up() {
  local t0 n; t0=$(now)
  rsc_agent >/dev/null
  cmd_install
  cmd_down
  mkdir -p "$LAB" "$OUTDIR"
  { echo "127.0.0.1 localhost"; for n in $NODES; do echo "$(svc_ip "$n") $n"; done; echo "$VIP vip"; } > "$LAB/hosts"
  install_agent
  for n in $NODES; do prepare_node "$n"; done
  net_up
  if [ "$FENCING" = 1 ]; then
    mkdir -p "$LAB/fence"
    sed "s|^LAB=.*|LAB=$LAB|" "$HERE/fence_lab" > $FENCE_AGENT; chmod 755 $FENCE_AGENT
    setsid "$SELF" _powerctl </dev/null >>"$LAB/fence/powerctl.log" 2>&1 &
    echo $! > "$LAB/powerctl.pid"
  fi
  for n in $NODES; do node_start "$n"; done
  pg_prepare
  wait_online
  cmd_config > "$LAB/cib.crm"
  enter "$(any_node)" crm configure load update "$LAB/cib.crm"
  log "CIB loaded ($RA, $(rsc_agent), rep_mode=$REP_MODE) after $(since "$t0") s"
  cmd_wait "${UP_TIMEOUT:-120}"
  log "up took $(since "$t0") s"
}

cmd_down() {
  local f n p ns
  p=$(cat "$LAB/powerctl.pid" 2>/dev/null || true)
  [ -n "$p" ] && { kill "$p" 2>/dev/null || true; }
  for f in "$LAB"/*/unshare.pid; do
    [ -e "$f" ] || continue
    n=$(basename "$(dirname "$f")")
    node_kill "$n"
    p=$(cat "$f"); kill "$p" 2>/dev/null || true
  done
  # whatever still lives in one of our namespaces (a node whose init.pid was never written)
  for ns in $(ip netns list | awk -v p="^$PFX-" '$1 ~ p {print $1}'); do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  for p in $(ip -o link show 2>/dev/null | sed -n "s/^[0-9]*: \(${PFX}[0-9a-z]*-[ep]\)@.*/\1/p"); do
    ip link del "$p" 2>/dev/null || true                 # root-ns leftovers of an interrupted net_up
  done
  if [ -e "$LAB/pkg-agent.saved" ]; then
    install -m 0755 "$LAB/pkg-agent.saved" "$RA_DIR/pgsql"    # the package's agent again
  elif [ -e "$LAB/installed-agent" ]; then
    rm -rf "$RA_DIR"
  fi
  rm -f $FENCE_AGENT
  rm -rf "$LAB"
  rmdir $PGROOT 2>/dev/null || true
}

# ---------------------------------------------------------------------------- status / wait
cmd_status() { enter "$(any_node)" crm_mon -Afr -1; }
cmd_state() { state; }

promoted() { kv promoted "$(state 2>/dev/null || true)"; }

# healthy = one Promoted, VIP on it, every other node Unpromoted and streaming: sync mode wants
# one HS:sync (the stock agent keeps a single sync standby, further ones are HS:async)
healthy() {
  local s=$1 m n st nsync=0
  m=$(kv promoted "$s"); [ -n "$m" ] && [ "$(count "$m")" = 1 ] || return 1
  [ "$(kv vip "$s")" = "$m" ] || return 1
  for n in $NODES; do
    [ "$n" = "$m" ] && continue
    [ "$(kv "role.$n" "$s")" = Unpromoted ] || return 1
    [ "$RA" = paf ] && continue
    st=$(kv "attr.$n.pgsql-status" "$s")
    # HS:quorum: a member of a quorum commit set (sync_quorum, issue 11) counts as synchronous
    case $REP_MODE:$st in sync:HS:sync|sync:HS:quorum) nsync=$((nsync+1));; sync:HS:async|sync:HS:potential|async:HS:async) ;; *) return 1;; esac
  done
  if [ "$RA" = paf ]; then
    [ "$(cli_q "select count(*) from pg_stat_replication where state='streaming'" 2>/dev/null)" = $(($(count "$NODES") - 1)) ] || return 1
  elif [ "$REP_MODE" = sync ]; then
    [ $nsync -ge 1 ] || return 1
  fi
}

cmd_wait() {
  local secs=${1:-120} t0 s=""; t0=$(now)
  while [ "$(echo "$(now) - $t0 < $secs" | bc)" = 1 ]; do
    s=$(state 2>/dev/null || true)
    if healthy "$s"; then log "healthy after $(since "$t0") s: Promoted on $(kv promoted "$s")"; return 0; fi
    sleep 1
  done
  echo "$s" >&2
  die "not healthy after $secs s"
}

# ---------------------------------------------------------------------------- client side
cli_q() { timeout 15 ip netns exec $PFX-cli psql "host=$VIP user=postgres dbname=postgres connect_timeout=1" -XAtq -c "$1"; }
cmd_cli() { ip netns exec $PFX-cli psql "host=$VIP user=postgres dbname=postgres connect_timeout=3" "$@"; }
cmd_enter() { local n=$1; shift; [ $# = 0 ] && set -- bash; enter "$n" "$@"; }

# ---------------------------------------------------------------------------- failover
# kill -9 the primary's postmaster; a new psql INSERT through the VIP every 100 ms; timings from
# the controld log.  Writes KEY=VALUE lines to $OUTDIR/failover.env for e2e.sh.
cmd_failover() {
  local m nm pid t0 tw="" f i
  cmd_wait "${WAIT_TIMEOUT:-120}" 2>/dev/null
  rm -f "$OUTDIR/failover.env"
  m=$(promoted); [ -n "$m" ] || die "no primary"
  pid=$(head -1 "$LAB/$m$PGDATA/postmaster.pid")
  cli_q "insert into lab(who) values('before-failover')" >/dev/null || die "no write before the kill"
  f=$(mktemp); : > "$f"
  t0=$(now)
  enter "$m" kill -9 "$pid"
  log "killed postmaster (pid $pid in its namespace) on $m"
  for i in $(seq "${FAILOVER_TIMEOUT:-120}0"); do
    [ -s "$f" ] && break
    ( cli_q "insert into lab(who) values('after-failover') returning id" >/dev/null 2>&1 && now >> "$f" ) &
    sleep 0.1
  done
  wait
  tw=$(sort -n "$f" | head -1); rm -f "$f"
  nm=$(promoted)
  local tp tv td
  td=$(events "$t0" "pacemaker-controld.*Result of monitor operation for pgsql on $m: (not running|error|failed)")
  tp=$(events "$t0" "pacemaker-controld.*Result of promote operation for pgsql on ${nm:-none}: ok")
  tv=$(events "$t0" "pacemaker-controld.*Result of start operation for vip-master on ${nm:-none}: ok")
  rel() { if [ -n "$1" ]; then printf '%.2f' "$(echo "$1 - $t0" | bc)"; else echo NA; fi; }
  mkdir -p "$OUTDIR"
  printf 'OLD=%s\nNEW=%s\nDETECT=%s\nPROMOTED=%s\nVIP=%s\nWRITE=%s\n' "$m" "${nm:-}" \
    "$(rel "$td")" "$(rel "$tp")" "$(rel "$tv")" "$(rel "$tw")" | tee "$OUTDIR/failover.env"
  log "failover $m -> ${nm:-NONE}: detected $(rel "$td") s, promoted $(rel "$tp") s, VIP $(rel "$tv") s, first write $(rel "$tw") s"
  [ -n "$tw" ] && [ -n "$nm" ] && [ "$nm" != "$m" ]
}
# epoch of the first pacemaker.log line (any node) at/after $1 matching ERE $2
events() { cat "$LAB"/node*/var/log/pacemaker/pacemaker.log 2>/dev/null | /usr/bin/python3 "$HERE/labtool.py" first "$1" "$2"; }

# ---------------------------------------------------------------------------- full restart
# Issue 16: cold start and full restart with a stale node. The stack of every node is stopped
# cleanly (SIGTERM to its pacemakerd: Pacemaker demotes and stops the resources first), the nodes
# are powered off, then all are started together; the time from that start to the first
# acknowledged write through the VIP is measured, with the node promoted. With STALE (a standby),
# that node's stack stops and the node is powered off first, 20 writes go through the VIP and
# the primary marks it DISCONNECT before the rest stops. Writes $OUTDIR/restart.env.
stack_stop() {   # stack_stop NODE: graceful Pacemaker shutdown; waits until pacemakerd is gone
  local n=$1 p
  p=$(enter "$n" pidof pacemakerd 2>/dev/null | awk '{print $1}') || true
  [ -n "$p" ] || return 0
  enter "$n" kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 1200); do enter "$n" kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
  log "$n: pacemakerd still running after 120 s"
}

cmd_restart() {
  local stale=${1:-} n m t0 tw="" f i nm ds="" pids=""
  cmd_wait "${WAIT_TIMEOUT:-120}" 2>/dev/null
  rm -f "$OUTDIR/restart.env"
  m=$(promoted); [ -n "$m" ] || die "no primary"
  if [ -n "$stale" ]; then
    [ "$stale" != "$m" ] || die "the stale node must be a standby, $m is the primary"
    stack_stop "$stale"; node_kill "$stale"
    for i in $(seq 20); do cli_q "insert into lab(who) values('while-$stale-away-$i')" >/dev/null || die "write $i failed"; done
    for _ in $(seq 60); do
      ds=$(enter "$m" crm_attribute -N "$stale" -n pgsql-data-status -l forever -G -q 2>/dev/null || true)
      [ "$ds" = DISCONNECT ] && break; sleep 1
    done
    log "$stale stale: data-status ${ds:-none}"
  fi
  for n in $NODES; do
    [ "$n" = "$stale" ] && continue
    stack_stop "$n" & pids="$pids $!"
  done
  # shellcheck disable=SC2086
  wait $pids
  for n in $NODES; do [ "$n" = "$stale" ] || node_kill "$n"; done
  log "every node down; starting all"
  t0=$(now)
  pids=""
  for n in $NODES; do node_start "$n" & pids="$pids $!"; done
  # shellcheck disable=SC2086
  wait $pids
  f=$(mktemp); : > "$f"
  for i in $(seq "${RESTART_TIMEOUT:-180}0"); do
    [ -s "$f" ] && break
    ( cli_q "insert into lab(who) values('after-restart') returning id" >/dev/null 2>&1 && now >> "$f" ) &
    sleep 0.1
  done
  wait
  tw=$(sort -n "$f" | head -1); rm -f "$f"
  nm=$(promoted)
  local rel=NA; [ -n "$tw" ] && rel=$(printf '%.2f' "$(echo "$tw - $t0" | bc)")
  mkdir -p "$OUTDIR"
  # Where the time went (controld's log, any node; seconds after the start): Pacemaker asks
  # for the first start of pgsql, asks for the promote (the election decided), the promote
  # and the VIP's start end.
  local ts tq tp tv
  ts=$(events "$t0" "pacemaker-controld.*Requesting local execution of start operation for pgsql")
  tq=$(events "$t0" "pacemaker-controld.*Requesting local execution of promote operation for pgsql")
  tp=$(events "$t0" "pacemaker-controld.*Result of promote operation for pgsql on ${nm:-none}: ok")
  tv=$(events "$t0" "pacemaker-controld.*Result of start operation for vip-master on ${nm:-none}: ok")
  since0() { if [ -n "$1" ]; then printf '%.2f' "$(echo "$1 - $t0" | bc)"; else echo NA; fi; }
  printf 'STALE=%s\nOLD=%s\nNEW=%s\nWRITE=%s\nSTART=%s\nPROMOTE_ASKED=%s\nPROMOTED=%s\nVIP=%s\n' \
    "$stale" "$m" "${nm:-}" "$rel" "$(since0 "$ts")" "$(since0 "$tq")" "$(since0 "$tp")" "$(since0 "$tv")" |
    tee "$OUTDIR/restart.env"
  log "restart (stale: ${stale:-none}): first write $rel s after the start, promoted ${nm:-NONE}"
  [ -n "$tw" ] && [ -n "$nm" ] && [ "$nm" != "$stale" ]
}

# ---------------------------------------------------------------------------- rebuild
# The seed's procedure for an old primary: fresh base backup from the VIP, remove the lock,
# clean up the resource so that Pacemaker starts it as a standby.
cmd_rebuild() {
  local n=${1:?usage: rebuild NODE} t0 m; t0=$(now)
  m=$(promoted); if [ -z "$m" ] || [ "$m" = "$n" ]; then die "need a primary other than $n (have '${m:-}')"; fi
  log "rebuild $n from the VIP ($m)"
  if [ -f "$LAB/$n$PGDATA/postmaster.pid" ]; then
    as_pg "$n" "$PGBIN/pg_ctl -D $PGDATA -m immediate stop" >/dev/null 2>&1 || true
  fi
  as_pg "$n" "rm -rf $PGDATA && $PGBIN/pg_basebackup -h $VIP -U postgres -D $PGDATA -X stream -c fast"
  [ "$RA" = paf ] && as_pg "$n" "touch $PGDATA/standby.signal"
  rm -f "$LAB/$n$PGROOT/tmp/PGSQL.lock"
  enter "$n" crm_resource --cleanup -r msPostgresql -N "$n" >/dev/null
  log "rebuild of $n done after $(since "$t0") s (base backup + cleanup)"
}

# ---------------------------------------------------------------------------- ocf-tester
# ocf-tester on a single PostgreSQL without replication, in its own bare node "solo" (no
# Pacemaker, tini as PID 1, loopback only).  Two runs:
#  * "masked": promote/demote answer 3 (unimplemented), as they must be meaningless without
#    replication; ocf-tester then runs its whole start/stop/monitor/idempotency sequence.
#    Its exit status is the result of this command.
#  * "plain": the agent as is.  The stock agent answers promote/demote with 6 ("Not in a
#    replication mode"), which makes ocf-tester abort; kept for information.
# Output: $OUTDIR/ocf-tester-$RA-{masked,plain}.txt
cmd_ocftest() {
  local n=solo agent rc=0 run
  command -v ocf-tester >/dev/null || { log "ocf-tester not installed: skipped"; return 0; }
  case $RA in ours) agent=$RA_DIR/pgsql;; stock) agent=/usr/lib/ocf/resource.d/heartbeat/pgsql;; *) die "ocftest: RA=ours|stock";; esac
  mkdir -p "$LAB" "$OUTDIR"; [ -f "$LAB/hosts" ] || echo "127.0.0.1 localhost" > "$LAB/hosts"
  ip netns list | grep -q "^$PFX-solo" || { ip netns add $PFX-solo; ip -n $PFX-solo link set lo up; }
  if [ "$RA" = ours ] || [ ! -f "$LAB/crm_attribute.wrap" ]; then install_agent; fi
  node_kill $n; rm -rf "${LAB:?}/$n"; mkdir -p "$LAB/$n"
  NODES=$n prepare_node $n
  # shellcheck disable=SC2016  # literal script text
  printf '#!/bin/sh\ncase "$1" in promote|demote) exit 3;; esac\nexec %s "$@"\n' "$agent" > "$LAB/$n/masked-agent"
  chmod 755 "$LAB/$n" "$LAB/$n/masked-agent"
  NODES=$n node_start $n bare
  pg_initdb $n
  for run in masked plain; do
    local a=$agent; [ $run = masked ] && a=$LAB/$n/masked-agent
    log "ocf-tester ($run) on $agent"
    if enter $n env OCF_ROOT=/usr/lib/ocf ocf-tester -n pgsql \
        -o pgctl=$PGBIN/pg_ctl -o psql=/usr/bin/psql -o pgdata=$PGDATA \
        -o socketdir=/var/run/postgresql -o tmpdir=$PGROOT/tmp -o logfile=/var/log/postgresql/postgresql.log \
        "$a" > "$OUTDIR/ocf-tester-$RA-$run.txt" 2>&1; then
      echo "ocf-tester $run: rc=0"
    else
      local r=$?; echo "ocf-tester $run: rc=$r"; if [ $run = masked ]; then rc=$r; fi
    fi
    sed 's/^/    /' "$OUTDIR/ocf-tester-$RA-$run.txt"
    as_pg $n "$PGBIN/pg_ctl -D $PGDATA -m fast -w stop" >/dev/null 2>&1 || true
  done
  node_kill $n; rm -rf "${LAB:?}/$n"
  ip netns del $PFX-solo 2>/dev/null || true
  if ! compgen -G "$LAB/*/init.pid" >/dev/null; then cmd_down; fi   # no cluster up: leave nothing behind
  return $rc
}

# ---------------------------------------------------------------------------- logs
cmd_logs() {
  local n lines=${LOG_LINES:-60}
  for n in $NODES; do
    [ -d "$LAB/$n" ] || continue
    echo "===== $n: pacemaker.log (agent, errors, warnings; last $lines)"
    grep -E 'pgsql|error|warning|Result of' "$LAB/$n/var/log/pacemaker/pacemaker.log" 2>/dev/null | tail -n "$lines" || true
    echo "===== $n: PostgreSQL logs (last $lines)"
    tail -n "$lines" "$LAB/$n"/var/log/postgresql/*.log 2>/dev/null || true
  done
}

[ "$(id -u)" = 0 ] || die "run as root"
case "${1:-}" in
  install|up|down|status|state|wait|failover|restart|rebuild|enter|cli|ocftest|config|logs|_node_init|_powerctl)
    c=$1; shift; "cmd_$c" "$@";;
  *) sed -n '2,/^set -euo/p' "$SELF" | grep '^#' | sed 's/^# \{0,1\}//'; exit 1;;
esac
