//! A simulated PostgreSQL per node over a shared [`SimNetwork`]:
//! [`SimPostgres`] implements [`Database`] and [`Server`] for one node.
//!
//! Model: each instance is stopped, running (primary or standby) or crashed
//! (`postmaster.pid` left behind). `start` reads the files the agent wrote in
//! that node's [`MemFs`] (PG ≥ 12: `standby.signal` plus `primary_conninfo`
//! from the configuration and its includes; < 12: `<pgdata>/recovery.conf`).
//! A standby streams from the running primary named by its `host=`, when
//! the link is up and that primary's WAL includes the standby's (same
//! system, same timeline lineage: see [`lineage`]). The VIP `master_ip`
//! points where the cluster placed it ([`SimNetwork::place_vip`]: the
//! simulator's Pacemaker puts it on the Promoted instance); a network that
//! was never told (unit tests) points it at the newest running primary.
//! The primary's `pg_stat_replication` lists its connected standbys, with
//! `sync_state` derived from its `synchronous_standby_names`.
//!
//! Every timeline carries a unique birth ([`TimelineId`]), so two
//! promotions that both create timeline n+1 are a fork, and a promotion
//! outside the cluster ([`SimNetwork::pg_promote`]) is marked as such.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::Duration;

pub mod backlog;
pub mod lineage;
pub mod rejoin;

pub use backlog::{Backlog, WalSource};
pub use lineage::{TimelineId, WalHistory};
pub use rejoin::SHUTDOWN_CHECKPOINT_LEN as SHUTDOWN_CHECKPOINT_BYTES;

use super::clock::MemClock;
use super::fs::MemFs;
use super::pgconf;
use crate::lsn::Lsn;
use crate::ports::{
    Database, DbError, DbErrorKind, ProcessError, RecoveryActivity, ReplicationRow, Server,
    StopMode, UpstreamAnswer,
};

/// Bytes of WAL one simulated write produces.
pub const WAL_PER_WRITE: u64 = 0x100;
/// The LSN of a freshly initialised cluster.
pub const INITIAL_LSN: Lsn = Lsn(0x0300_0028);
/// PostgreSQL's default `max_replication_slots`.
pub const DEFAULT_MAX_SLOTS: usize = 10;
/// The system identifier of the simulated cluster's `initdb`.
pub const SYSTEM_ID: u64 = 7_300_000_000_000_000_001;

/// What the server process of a node is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimRole {
    /// No server, no pid file.
    Stopped,
    /// Running, accepting writes.
    Primary,
    /// Running in recovery.
    Standby,
    /// Killed with -9: the process is gone, `postmaster.pid` stays.
    Crashed,
}

/// How the server reacts to `pg_ctl stop`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StopBehaviour {
    /// Stops on `-m fast` and on `-m immediate`.
    #[default]
    Normal,
    /// Ignores `-m fast` (a checkpoint that never ends) but dies on `-m immediate`.
    IgnoresFast,
    /// Never stops, whatever the mode (a process stuck in the kernel).
    Never,
}

/// How a node's instance is laid out.
#[derive(Debug, Clone)]
pub struct InstanceSpec {
    /// The data directory.
    pub pgdata: String,
    /// The configuration file.
    pub config: String,
    /// `server_version_num`, e.g. 150004.
    pub version_num: u32,
    /// The OS owner.
    pub pgdba: String,
}

impl InstanceSpec {
    /// PostgreSQL 15 under `pgdata` with `<pgdata>/postgresql.conf`, owned by `postgres`.
    pub fn pg15(pgdata: &str) -> InstanceSpec {
        InstanceSpec {
            pgdata: pgdata.trim_end_matches('/').to_string(),
            config: format!("{}/postgresql.conf", pgdata.trim_end_matches('/')),
            version_num: 150004,
            pgdba: "postgres".into(),
        }
    }

    /// The `PG_VERSION` text: `15`, or `9.6` before 10.
    pub fn major(&self) -> String {
        if self.version_num >= 100000 {
            format!("{}", self.version_num / 10000)
        } else {
            format!(
                "{}.{}",
                self.version_num / 10000,
                self.version_num / 100 % 100
            )
        }
    }
}

#[derive(Debug, Clone)]
struct Instance {
    fs: MemFs,
    spec: InstanceSpec,
    role: SimRole,
    pid: u32,
    hung: bool,
    lsn: Lsn,
    timeline: TimelineId,
    /// (timeline, LSN where it ended) for every past timeline.
    history: Vec<(TimelineId, Lsn)>,
    system_id: u64,
    sync_names: String,
    conninfo: BTreeMap<String, String>,
    streamed: bool,
    lagging: bool,
    /// Issue 11: the host froze (SIGSTOP, a hung VM, a link lost without a
    /// TCP reset) at this virtual time: the server answers nothing, its
    /// walsender row on the primary stays (`streaming`, its last sync
    /// state) with a `reply_time` that no longer advances, and it receives
    /// no WAL.
    frozen_at: Option<Duration>,
    /// The primary terminated the frozen standby's walsender: its row is
    /// gone until the standby thaws (it cannot reconnect while frozen).
    walsender_terminated: bool,
    slots: BTreeSet<String>,
    fail_queries: u32,
    stop_behaviour: StopBehaviour,
    /// `max_replication_slots` the server runs with.
    max_slots: usize,
    /// Rejoin facts and repairs (issue 10, [`rejoin`]).
    data_dir: rejoin::DataDirState,
    /// Issue 16: WAL beyond the replay position `lsn` ([`backlog`]).
    backlog: Option<Backlog>,
    /// Issue 16: reads of its recovery activity, for the retry cycle of a
    /// standby that streams from nobody (asleep, then calling its upstream).
    activity_reads: u64,
}

impl Instance {
    fn wal(&self) -> WalHistory {
        WalHistory {
            system_id: self.system_id,
            past: self.history.clone(),
            current: self.timeline,
            lsn: self.backlog.map_or(self.lsn, |b| b.end.max(self.lsn)),
        }
    }
    fn running(&self) -> bool {
        matches!(self.role, SimRole::Primary | SimRole::Standby)
    }
    fn pid_file(&self) -> String {
        format!("{}/postmaster.pid", self.spec.pgdata)
    }
}

#[derive(Debug, Default)]
struct Net {
    instances: BTreeMap<String, Instance>,
    /// The cluster's virtual clock (`reply_time` ages), when given.
    clock: Option<MemClock>,
    links_down: BTreeSet<(String, String)>,
    vip: String,
    /// Where the cluster placed the VIP; `None`: never told (newest primary).
    vip_placed: Option<Option<String>>,
    next_pid: u32,
    /// The birth of the next timeline a promotion creates.
    next_birth: u64,
}

/// What became of a simulated write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Committed and acknowledged.
    Committed,
    /// Written locally but waiting for a synchronous standby (the client hangs).
    WaitingForSync,
}

fn pair(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    }
}

/// The k of `ANY k (...)`, `None` for any other form.
fn quorum_count(names: &str) -> Option<usize> {
    let text = names.trim();
    let upper = text.to_ascii_uppercase();
    let rest = upper.strip_prefix("ANY ")?;
    rest.split('(').next()?.trim().parse().ok()
}

/// How `synchronous_standby_names` ranks standbys.
fn sync_states(names: &str, connected: &[String]) -> BTreeMap<String, &'static str> {
    let text = names.trim();
    let (quorum, count, list) = {
        let upper = text.to_ascii_uppercase();
        let (quorum, rest) = if upper.starts_with("ANY ") {
            (true, &text[4..])
        } else if upper.starts_with("FIRST ") {
            (false, &text[6..])
        } else {
            (false, text)
        };
        let rest = rest.trim();
        match rest.split_once('(') {
            Some((n, inner)) if n.trim().parse::<usize>().is_ok() => (
                quorum,
                n.trim().parse::<usize>().unwrap_or(1),
                inner.trim_end_matches(')').to_string(),
            ),
            _ => (quorum, 1, rest.to_string()),
        }
    };
    let listed: Vec<String> = list
        .split(',')
        .map(|n| n.trim().trim_matches('"').to_string())
        .filter(|n| !n.is_empty())
        .collect();
    let is_listed = |app: &str| listed.iter().any(|n| n == "*" || n == app);
    let mut out = BTreeMap::new();
    let mut sync_given = 0;
    // Priority order: the order of the list, then connection order for `*`.
    for name in &listed {
        for app in connected.iter().filter(|a| name == "*" || *a == name) {
            if out.contains_key(app) {
                continue;
            }
            let state = if quorum {
                "QUORUM"
            } else if sync_given < count {
                sync_given += 1;
                "SYNC"
            } else {
                "POTENTIAL"
            };
            out.insert(app.clone(), state);
        }
    }
    for app in connected {
        if !is_listed(app) {
            out.insert(app.clone(), "ASYNC");
        }
    }
    out
}

impl Net {
    fn get(&self, node: &str) -> Option<&Instance> {
        self.instances.get(node)
    }

    /// The node a VIP `master_ip` points at and that serves it: where the
    /// cluster placed it, if that node runs a responsive primary; on a
    /// network never told, the running, responsive primary (the newest one
    /// if, wrongly, there are several).
    fn vip_holder(&self) -> Option<String> {
        let serving = |i: &Instance| i.role == SimRole::Primary && !i.hung;
        match &self.vip_placed {
            Some(placed) => placed
                .as_ref()
                .filter(|n| self.get(n).is_some_and(serving))
                .cloned(),
            None => self
                .instances
                .iter()
                .filter(|(_, i)| serving(i))
                .max_by_key(|(n, i)| (i.timeline.timeline, i.lsn, std::cmp::Reverse((*n).clone())))
                .map(|(n, _)| n.clone()),
        }
    }

    fn can_follow(standby: &Instance, primary: &Instance) -> bool {
        primary.wal().includes(&standby.wal())
    }

    /// The primary a standby streams from right now, if any.
    fn upstream(&self, node: &str) -> Option<String> {
        let s = self.get(node)?;
        // A frozen standby keeps its (stale) walsender row until the
        // primary terminates it; any other hung standby has none.
        let stale_row = s.frozen_at.is_some() && !s.walsender_terminated;
        if s.role != SimRole::Standby || (s.hung && !stale_row) {
            return None;
        }
        let host = s.conninfo.get("host")?;
        let target = if *host == self.vip {
            self.vip_holder()?
        } else {
            host.clone()
        };
        let p = self.get(&target)?;
        if target == node
            || p.role != SimRole::Primary
            || p.hung
            || self.links_down.contains(&pair(node, &target))
        {
            return None;
        }
        Net::can_follow(s, p).then_some(target)
    }

    /// Lets every connected, non-lagging standby catch up with its primary.
    fn refresh(&mut self) {
        let names: Vec<String> = self.instances.keys().cloned().collect();
        for n in names {
            let Some(up) = self.upstream(&n) else {
                continue;
            };
            let Some(p) = self.instances.get(&up).cloned() else {
                continue;
            };
            if let Some(s) = self.instances.get_mut(&n) {
                s.streamed = true;
                if !s.lagging && s.frozen_at.is_none() {
                    s.lsn = p.lsn;
                    s.timeline = p.timeline;
                    s.history = p.history.clone();
                    s.backlog = None;
                }
            }
        }
    }

    fn standbys_of(&self, primary: &str) -> Vec<String> {
        self.instances
            .keys()
            .filter(|n| self.upstream(n).as_deref() == Some(primary))
            .cloned()
            .collect()
    }

    fn app_name(&self, node: &str) -> String {
        self.get(node)
            .and_then(|i| i.conninfo.get("application_name").cloned())
            .unwrap_or_else(|| "walreceiver".to_string())
    }
}

/// The simulated network of PostgreSQL instances, shared by every node.
#[derive(Debug, Clone, Default)]
pub struct SimNetwork {
    net: Rc<RefCell<Net>>,
}

impl SimNetwork {
    /// An empty network; standbys whose `host=` equals `vip` stream from the running primary.
    pub fn new(vip: &str) -> SimNetwork {
        let n = SimNetwork::default();
        n.net.borrow_mut().vip = vip.to_string();
        n.net.borrow_mut().next_pid = 1000;
        n.net.borrow_mut().next_birth = lineage::FIRST_PROMOTION_BIRTH;
        n
    }

    /// Adds a node's instance, stopped, as a copy of the initial cluster
    /// (same system identifier, LSN [`INITIAL_LSN`], timeline 1), and lays
    /// out its data directory in `fs`: `PG_VERSION` and a `postgresql.conf`.
    pub fn add_node(&self, node: &str, fs: MemFs, spec: InstanceSpec) -> SimPostgres {
        fs.mkdir_p(&spec.pgdata, &spec.pgdba, 0o700);
        fs.put(
            &format!("{}/PG_VERSION", spec.pgdata),
            &format!("{}\n", spec.major()),
            &spec.pgdba,
            0o600,
        );
        if fs.file(&spec.config).is_none() {
            fs.put(
                &spec.config,
                "listen_addresses = '*'\nwal_level = replica\nhot_standby = on\n",
                &spec.pgdba,
                0o600,
            );
        }
        let inst = Instance {
            fs,
            spec,
            role: SimRole::Stopped,
            pid: 0,
            hung: false,
            lsn: INITIAL_LSN,
            timeline: TimelineId::canonical(1),
            history: Vec::new(),
            system_id: SYSTEM_ID,
            sync_names: String::new(),
            conninfo: BTreeMap::new(),
            streamed: false,
            lagging: false,
            frozen_at: None,
            walsender_terminated: false,
            slots: BTreeSet::new(),
            fail_queries: 0,
            stop_behaviour: StopBehaviour::Normal,
            max_slots: DEFAULT_MAX_SLOTS,
            data_dir: rejoin::DataDirState::default(),
            backlog: None,
            activity_reads: 0,
        };
        self.net
            .borrow_mut()
            .instances
            .insert(node.to_string(), inst);
        SimPostgres {
            net: self.clone(),
            node: node.to_string(),
        }
    }

    /// The handle for a node's instance.
    pub fn instance(&self, node: &str) -> SimPostgres {
        SimPostgres {
            net: self.clone(),
            node: node.to_string(),
        }
    }

    fn with<T>(&self, node: &str, f: impl FnOnce(&mut Instance) -> T) -> Option<T> {
        let mut net = self.net.borrow_mut();
        net.refresh();
        let out = net.instances.get_mut(node).map(f);
        net.refresh();
        out
    }

    /// The node's role.
    pub fn role(&self, node: &str) -> SimRole {
        self.with(node, |i| i.role).unwrap_or(SimRole::Stopped)
    }

    /// The node's current LSN (flushed WAL).
    pub fn lsn(&self, node: &str) -> Lsn {
        self.with(node, |i| i.lsn).unwrap_or_default()
    }

    /// The node's timeline.
    pub fn timeline(&self, node: &str) -> u32 {
        self.with(node, |i| i.timeline.timeline).unwrap_or(0)
    }

    /// The primary a standby streams from.
    pub fn upstream(&self, node: &str) -> Option<String> {
        let mut net = self.net.borrow_mut();
        net.refresh();
        net.upstream(node)
    }

    /// The running primaries, sorted.
    pub fn running_primaries(&self) -> Vec<String> {
        let net = self.net.borrow();
        net.instances
            .iter()
            .filter(|(_, i)| i.role == SimRole::Primary)
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// The value of `synchronous_standby_names` the node's server runs with.
    pub fn active_sync_names(&self, node: &str) -> String {
        self.with(node, |i| i.sync_names.clone())
            .unwrap_or_default()
    }

    /// Kills the server with SIGKILL: the process is gone, `postmaster.pid` stays.
    pub fn crash(&self, node: &str) {
        self.with(node, |i| {
            if i.running() {
                rejoin::on_crash(i);
                i.role = SimRole::Crashed;
                i.hung = false;
            }
        });
    }

    /// Makes the running server hang (SQL times out, a fast stop is ignored) or recover.
    pub fn set_hung(&self, node: &str, hung: bool) {
        self.with(node, |i| i.hung = hung && i.running());
    }

    /// Cuts or restores the replication link between two nodes.
    pub fn set_link(&self, a: &str, b: &str, up: bool) {
        let mut net = self.net.borrow_mut();
        if up {
            net.links_down.remove(&pair(a, b));
        } else {
            net.links_down.insert(pair(a, b));
        }
        net.refresh();
    }

    /// Shares the cluster's virtual clock (the ages of `reply_time`).
    pub fn set_clock(&self, clock: MemClock) {
        self.net.borrow_mut().clock = Some(clock);
    }

    /// Freezes (or thaws) a node's host (issue 11): its WAL stops where it is until it is thawed.
    /// A frozen server answers no SQL (like a hung one); thawing lets it
    /// answer and reconnect.
    pub fn set_frozen(&self, node: &str, frozen: bool) {
        let now = self.now();
        self.with(node, |i| {
            if frozen && i.running() {
                i.frozen_at.get_or_insert(now);
                i.hung = true;
            } else if !frozen && i.frozen_at.is_some() {
                i.frozen_at = None;
                i.walsender_terminated = false;
                i.hung = false;
            }
        });
    }

    fn now(&self) -> Duration {
        self.net
            .borrow()
            .clock
            .as_ref()
            .map_or(Duration::ZERO, MemClock::elapsed)
    }

    /// Makes a standby stop (or resume) replaying new WAL while staying connected.
    pub fn set_lagging(&self, node: &str, lagging: bool) {
        self.with(node, |i| i.lagging = lagging);
    }

    /// Sets how the node's server reacts to `pg_ctl stop` (kept until changed).
    pub fn set_stop_behaviour(&self, node: &str, behaviour: StopBehaviour) {
        self.with(node, |i| i.stop_behaviour = behaviour);
    }

    /// The replication slots that exist on the node, sorted.
    pub fn slots(&self, node: &str) -> Vec<String> {
        self.with(node, |i| i.slots.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Makes the next `n` SQL calls on the node fail with a query error.
    pub fn fail_next_queries(&self, node: &str, n: u32) {
        self.with(node, |i| i.fail_queries = n);
    }

    /// Runs `count` write transactions on a primary. Each advances its LSN by
    /// [`WAL_PER_WRITE`]; connected standbys that are not lagging follow.
    /// `Err` when the node is not a responsive primary.
    pub fn write(&self, node: &str, count: u64) -> Result<WriteOutcome, String> {
        let mut net = self.net.borrow_mut();
        net.refresh();
        let sync_names = {
            let i = net
                .instances
                .get_mut(node)
                .ok_or_else(|| format!("no node {node}"))?;
            if i.role != SimRole::Primary {
                return Err(format!("{node} is not a running primary"));
            }
            if i.hung {
                return Err(format!("{node} does not answer"));
            }
            i.lsn = Lsn(i.lsn.0.saturating_add(count.saturating_mul(WAL_PER_WRITE)));
            i.sync_names.clone()
        };
        net.refresh();
        if sync_names.trim().is_empty() {
            return Ok(WriteOutcome::Committed);
        }
        let primary_lsn = net.get(node).map(|i| i.lsn).unwrap_or_default();
        let connected: Vec<String> = net
            .standbys_of(node)
            .iter()
            .map(|s| net.app_name(s))
            .collect();
        let states = sync_states(&sync_names, &connected);
        let holding = |state: &str| {
            net.standbys_of(node)
                .iter()
                .filter(|s| {
                    states.get(&net.app_name(s)).copied() == Some(state)
                        && net.get(s).is_some_and(|i| i.lsn >= primary_lsn)
                })
                .count()
        };
        // `ANY k (...)` needs k members; `FIRST n`/a name, one sync standby
        // (the simulator's single-standby model).
        let acked = match quorum_count(&sync_names) {
            Some(k) => holding("QUORUM") >= k,
            None => holding("SYNC") >= 1,
        };
        Ok(if acked {
            WriteOutcome::Committed
        } else {
            WriteOutcome::WaitingForSync
        })
    }

    /// Replaces a stopped node's data with a fresh base backup of `source`
    /// (same LSN, timeline, history and system identifier; no slots). The
    /// caller removes the files an operator would (`PGSQL.lock`, pid file).
    pub fn rebuild_from(&self, node: &str, source: &str) -> Result<(), String> {
        let mut net = self.net.borrow_mut();
        net.refresh();
        let src = net
            .get(source)
            .cloned()
            .ok_or_else(|| format!("no node {source}"))?;
        let dst = net
            .instances
            .get_mut(node)
            .ok_or_else(|| format!("no node {node}"))?;
        if dst.running() {
            return Err(format!("{node} is running; stop it before rebuilding"));
        }
        dst.lsn = src.lsn;
        dst.timeline = src.timeline;
        dst.history = src.history;
        dst.system_id = src.system_id;
        dst.slots.clear();
        dst.role = SimRole::Stopped;
        let pid_file = dst.pid_file();
        dst.fs.remove_tree(&pid_file);
        Ok(())
    }

    /// Sets a node's LSN and timeline directly (scenario setup, stopped nodes).
    pub fn set_position(&self, node: &str, lsn: Lsn, timeline: u32) {
        self.with(node, |i| {
            i.lsn = lsn;
            if i.timeline.timeline != timeline {
                i.timeline = TimelineId::canonical(timeline);
            }
        });
    }

    /// Issue 16: gives a standby WAL beyond its replay position
    /// ([`Backlog`]). `Local`/`Copied`: the replay position moves back by `amount`
    /// (not before its timeline began) and the WAL up to the old position
    /// waits in `pg_wal`; `Receiver`/`Intermittent`: `amount` bytes more
    /// are on their way from an upstream outside the cluster. Ignored for
    /// `amount` 0.
    pub fn set_backlog(
        &self,
        node: &str,
        source: WalSource,
        amount: u64,
        stall: u32,
        per_step: u64,
    ) {
        self.with(node, |i| {
            if amount == 0 {
                return;
            }
            let floor = i.history.last().map_or(Lsn::ZERO, |(_, end)| *end);
            let end = match source {
                WalSource::Local | WalSource::Copied => {
                    let end = i.lsn;
                    i.lsn = Lsn(i.lsn.0.saturating_sub(amount)).max(floor);
                    end
                }
                WalSource::Receiver | WalSource::Intermittent => {
                    Lsn(i.lsn.0.saturating_add(amount))
                }
            };
            if end > i.lsn {
                i.backlog = Some(Backlog {
                    end,
                    source,
                    stall,
                    per_step,
                });
            }
        });
    }

    /// Issue 16: one monitor interval of replay on every running standby
    /// with a backlog ([`Backlog::step`]); called by the simulator's step.
    pub fn tick_backlogs(&self) {
        let mut net = self.net.borrow_mut();
        for i in net.instances.values_mut() {
            if i.role != SimRole::Standby || i.hung || i.frozen_at.is_some() {
                continue;
            }
            if let Some(b) = i.backlog {
                let (lsn, rest) = b.step(i.lsn);
                i.lsn = lsn;
                i.backlog = rest;
            }
        }
    }

    /// Issue 16: the node's backlog, if any.
    pub fn backlog(&self, node: &str) -> Option<Backlog> {
        self.with(node, |i| i.backlog).flatten()
    }

    /// Gives the node's data another system identifier (as if re-initdb'ed).
    pub fn set_system_id(&self, node: &str, system_id: u64) {
        self.with(node, |i| i.system_id = system_id);
    }

    /// `pg_ctl promote` of a standby. `outside`: by an operator or a trigger
    /// file, not by the cluster (the new timeline is marked as such). The
    /// new timeline gets its own birth, so two promotions to the same
    /// timeline number stay a fork.
    pub fn promote(&self, node: &str, outside: bool) -> Result<(), ProcessError> {
        let birth = {
            let mut net = self.net.borrow_mut();
            net.next_birth += 1;
            net.next_birth
        };
        self.with(node, |i| {
            match i.role {
                SimRole::Standby => {}
                SimRole::Primary => {
                    return Err(perr(
                        1,
                        "pg_ctl: cannot promote server; server is not in standby mode",
                    ))
                }
                _ => {
                    return Err(perr(
                        1,
                        "pg_ctl: PID file does not exist\nIs server running?",
                    ))
                }
            }
            if i.hung {
                return Ok(());
            }
            // Issue 16: promotion replays the WAL already in pg_wal; WAL
            // an upstream had not delivered yet never arrives.
            if let Some(b) = i.backlog.take() {
                if b.in_pg_wal() {
                    i.lsn = b.end.max(i.lsn);
                }
            }
            i.history.push((i.timeline, i.lsn));
            i.timeline = TimelineId {
                timeline: i.timeline.timeline + 1,
                birth,
                outside,
            };
            i.role = SimRole::Primary;
            i.conninfo.clear();
            if i.spec.version_num >= 120000 {
                i.fs.remove_tree(&format!("{}/standby.signal", i.spec.pgdata));
            } else {
                let rc = format!("{}/recovery.conf", i.spec.pgdata);
                if let Some(text) = i.fs.file(&rc) {
                    i.fs.remove_tree(&rc);
                    let owner = i.spec.pgdba.clone();
                    i.fs.put(
                        &format!("{}/recovery.done", i.spec.pgdata),
                        &text,
                        &owner,
                        0o600,
                    );
                }
            }
            Ok(())
        })
        .unwrap_or_else(|| Err(perr(1, "no such instance")))
    }

    /// An operator's re-`initdb` of a stopped node: another system
    /// identifier and fresh WAL (timeline 1 at [`INITIAL_LSN`], no history,
    /// no slots); the configuration files stay.
    pub fn reinit(&self, node: &str, system_id: u64) -> Result<(), String> {
        self.with(node, |i| {
            if i.running() {
                return Err(format!("{node} is running; stop it before initdb"));
            }
            i.system_id = system_id;
            i.lsn = INITIAL_LSN;
            i.timeline = TimelineId::canonical(1);
            i.history.clear();
            i.slots.clear();
            Ok(())
        })
        .unwrap_or_else(|| Err(format!("no node {node}")))
    }

    /// An operator's (or a trigger file's) `pg_ctl promote` of a standby,
    /// outside the cluster.
    pub fn pg_promote(&self, node: &str) -> Result<(), String> {
        self.promote(node, true).map_err(|e| e.to_string())
    }

    /// An operator's `pg_ctl restart -m fast`: the server stops and starts
    /// again from its files, so it keeps its role (a standby stays one while
    /// `standby.signal` is there).
    pub fn restart(&self, node: &str) -> Result<(), String> {
        let mut pg = self.instance(node);
        pg.stop(StopMode::Fast).map_err(|e| e.to_string())?;
        if self.role(node) != SimRole::Stopped {
            return Err(format!("{node} did not stop"));
        }
        pg.start().map_err(|e| e.to_string())
    }

    /// Places the VIP on a node (or nowhere): from now on standbys whose
    /// `host=` is the VIP stream from that node when it runs a responsive
    /// primary, and from nobody otherwise.
    pub fn place_vip(&self, node: Option<&str>) {
        let mut net = self.net.borrow_mut();
        net.vip_placed = Some(node.map(str::to_string));
        net.refresh();
    }

    /// The node the VIP leads to right now (placed there and serving).
    pub fn vip_holder(&self) -> Option<String> {
        let mut net = self.net.borrow_mut();
        net.refresh();
        net.vip_holder()
    }

    /// Issue 16: whether `node`'s WAL receiver has its connection
    /// answered: towards the VIP, [`UpstreamAnswer::Answered`] while a
    /// node serves it or while an upstream outside the cluster streams to
    /// `node` (a [`WalSource::Receiver`] or [`WalSource::Intermittent`]
    /// backlog: a host that holds the address), else
    /// [`UpstreamAnswer::Unanswered`]; towards any other host
    /// [`UpstreamAnswer::Unknown`].
    pub fn receiver_answer(&self, node: &str) -> UpstreamAnswer {
        let mut net = self.net.borrow_mut();
        net.refresh();
        let Some(i) = net.instances.get(node) else {
            return UpstreamAnswer::Unknown;
        };
        if i.conninfo.get("host").is_some_and(|h| *h != net.vip) {
            return UpstreamAnswer::Unknown;
        }
        let outside = i.backlog.is_some_and(|b| !b.in_pg_wal());
        if net.vip_holder().is_some() || outside {
            UpstreamAnswer::Answered
        } else {
            UpstreamAnswer::Unanswered
        }
    }

    /// Where the VIP is placed (serving or not); `None` also when never placed.
    pub fn vip_placement(&self) -> Option<String> {
        self.net.borrow().vip_placed.clone().flatten()
    }

    /// True when the node's server has streamed from a primary since it
    /// last started (the cluster could see its position in
    /// `pg_stat_replication`).
    pub fn streamed_since_start(&self, node: &str) -> bool {
        self.with(node, |i| i.running() && i.streamed)
            .unwrap_or(false)
    }

    /// The node's true WAL history (system, timelines with their births and
    /// switch points, end of WAL).
    pub fn wal(&self, node: &str) -> Option<WalHistory> {
        self.with(node, |i| i.wal())
    }
}

/// One node's PostgreSQL: implements [`Database`] (a session) and
/// [`Server`] (pg_ctl). Clones address the same instance.
#[derive(Debug, Clone)]
pub struct SimPostgres {
    net: SimNetwork,
    node: String,
}

fn conn_error(node: &str) -> DbError {
    DbError::new(
        DbErrorKind::Connect,
        format!("connection to server on {node} failed: No such file or directory. Is the server running locally?"),
    )
}

fn perr(code: i32, msg: impl Into<String>) -> ProcessError {
    ProcessError::new(Some(code), msg)
}

impl SimPostgres {
    /// The node this instance runs on.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Runs `f` on a session: the server must be running and responsive.
    fn sql<T>(&self, f: impl FnOnce(&Net, &Instance) -> Result<T, DbError>) -> Result<T, DbError> {
        let mut net = self.net.net.borrow_mut();
        net.refresh();
        let i = net
            .instances
            .get_mut(&self.node)
            .ok_or_else(|| conn_error(&self.node))?;
        if !i.running() {
            return Err(conn_error(&self.node));
        }
        if i.hung {
            return Err(DbError::new(
                DbErrorKind::Timeout,
                "canceling statement due to statement timeout",
            ));
        }
        if i.fail_queries > 0 {
            i.fail_queries -= 1;
            return Err(DbError::new(
                DbErrorKind::Query,
                "ERROR:  simulated query failure",
            ));
        }
        let i = i.clone();
        f(&net, &i)
    }

    fn sql_mut<T>(
        &self,
        f: impl FnOnce(&mut Instance) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        self.sql(|_, _| Ok(()))?;
        let mut net = self.net.net.borrow_mut();
        let i = net
            .instances
            .get_mut(&self.node)
            .ok_or_else(|| conn_error(&self.node))?;
        let out = f(i);
        net.refresh();
        out
    }

    /// Reads the configuration a starting or reloading server would see.
    fn read_config(i: &Instance) -> Result<BTreeMap<String, String>, String> {
        pgconf::load(&i.fs, &i.spec.config, &i.spec.pgdata)
    }
}

impl Database for SimPostgres {
    fn reset(&mut self) {}

    fn is_in_recovery(&mut self) -> Result<bool, DbError> {
        self.sql(|_, i| Ok(i.role == SimRole::Standby))
    }

    fn server_version_num(&mut self) -> Result<u32, DbError> {
        self.sql(|_, i| Ok(i.spec.version_num))
    }

    fn current_lsn(&mut self) -> Result<Lsn, DbError> {
        self.sql(|_, i| match i.role {
            SimRole::Primary => Ok(i.lsn),
            _ => Err(DbError::new(
                DbErrorKind::Query,
                "ERROR:  recovery is in progress\nHINT:  WAL control functions cannot be executed during recovery.",
            )),
        })
    }

    fn replay_and_receive_lsn(&mut self) -> Result<(Option<Lsn>, Option<Lsn>), DbError> {
        self.sql(|_, i| match i.role {
            SimRole::Standby => {
                let streamed = i.streamed || i.backlog.is_some_and(|b| !b.in_pg_wal());
                Ok((Some(i.lsn), streamed.then_some(i.lsn)))
            }
            _ => Ok((None, None)),
        })
    }

    /// A standby that streams from no one goes through PostgreSQL's retry
    /// cycle: odd reads see it asleep (no receiver, the retry sleep), even
    /// reads see it calling its upstream (a receiver still connecting, the
    /// startup process waiting for the stream). WAL copied into `pg_wal`
    /// during a sleep keeps it asleep until the sleep ends; WAL in `pg_wal`
    /// keeps it replaying. A [`WalSource::Receiver`] not delivering yet is a
    /// receiver connecting to an upstream that answered
    /// ([`SimNetwork::receiver_answer`]: the attack on issue 16, finding 1).
    fn recovery_activity(&mut self) -> Result<Option<RecoveryActivity>, DbError> {
        let node = self.node.clone();
        let reads = self.sql_mut(|i| {
            i.activity_reads += 1;
            Ok(i.activity_reads)
        })?;
        self.sql(|net, i| {
            if i.role != SimRole::Standby {
                return Ok(Some(RecoveryActivity {
                    in_recovery: false,
                    replay: None,
                    receiver: false,
                    startup_waiting_for_wal: false,
                    receiver_connecting: false,
                    startup_waiting_for_stream: false,
                    receiver_pid: None,
                }));
            }
            let streaming = net.upstream(&node).is_some();
            let source = i.backlog.map(|b| b.source);
            let waiting = i.backlog.is_none_or(|b| b.startup_waiting(i.lsn));
            let hung_receiver = i.backlog.is_some_and(|b| b.receiver() && b.stall >= 1);
            let calling = !streaming
                && waiting
                && (hung_receiver
                    || (reads % 2 == 0 && matches!(source, None | Some(WalSource::Local))));
            let receiver = streaming || i.backlog.is_some_and(Backlog::receiver) || calling;
            Ok(Some(RecoveryActivity {
                in_recovery: true,
                replay: Some(i.lsn),
                receiver,
                startup_waiting_for_wal: waiting && !receiver,
                receiver_connecting: calling,
                startup_waiting_for_stream: waiting && receiver,
                receiver_pid: receiver.then_some(i.pid + 1),
            }))
        })
    }

    fn timeline(&mut self) -> Result<Option<u32>, DbError> {
        self.sql(|_, i| Ok(Some(i.timeline.timeline)))
    }

    fn system_identifier(&mut self) -> Result<Option<u64>, DbError> {
        self.sql(|_, i| Ok(Some(i.system_id)))
    }

    fn replication_rows(&mut self) -> Result<Vec<ReplicationRow>, DbError> {
        let node = self.node.clone();
        self.sql(|net, i| {
            if i.role != SimRole::Primary {
                return Ok(Vec::new());
            }
            let standbys = net.standbys_of(&node);
            let apps: Vec<String> = standbys.iter().map(|s| net.app_name(s)).collect();
            let states = sync_states(&i.sync_names, &apps);
            let now = net.clock.as_ref().map_or(Duration::ZERO, MemClock::elapsed);
            let has_reply_time = i.spec.version_num >= 120_000;
            Ok(standbys
                .iter()
                .map(|s| {
                    let app = net.app_name(s);
                    let lsn = net.get(s).map(|x| x.lsn);
                    ReplicationRow {
                        sync_state: states.get(&app).copied().unwrap_or("ASYNC").to_string(),
                        application_name: app,
                        state: "STREAMING".to_string(),
                        flush_lsn: lsn,
                        replay_lsn: lsn,
                        // A healthy standby replied just now.
                        reply_age: has_reply_time.then(|| {
                            net.get(s)
                                .and_then(|x| x.frozen_at)
                                .map_or(Duration::ZERO, |t| now.saturating_sub(t))
                        }),
                    }
                })
                .collect())
        })
    }

    fn synchronous_standby_names(&mut self) -> Result<String, DbError> {
        self.sql(|_, i| Ok(i.sync_names.clone()))
    }

    fn slot_exists(&mut self, name: &str) -> Result<bool, DbError> {
        self.sql(|_, i| Ok(i.slots.contains(name)))
    }

    fn drop_slot(&mut self, name: &str) -> Result<(), DbError> {
        self.sql_mut(|i| {
            if i.slots.remove(name) {
                Ok(())
            } else {
                Err(DbError::new(
                    DbErrorKind::Query,
                    format!("ERROR:  replication slot \"{name}\" does not exist"),
                ))
            }
        })
    }

    fn create_physical_slot(&mut self, name: &str) -> Result<(), DbError> {
        self.sql_mut(|i| {
            if !i.slots.contains(name) && i.slots.len() >= i.max_slots {
                return Err(DbError::new(
                    DbErrorKind::Query,
                    "ERROR:  all replication slots are in use\nHINT:  Free one or increase max_replication_slots.",
                ));
            }
            if i.slots.insert(name.to_string()) {
                Ok(())
            } else {
                Err(DbError::new(
                    DbErrorKind::Query,
                    format!("ERROR:  replication slot \"{name}\" already exists"),
                ))
            }
        })
    }

    fn run_monitor_sql(&mut self, _sql: &str) -> Result<(), DbError> {
        self.sql(|_, _| Ok(()))
    }

    fn terminate_walsenders(&mut self, application_name: &str) -> Result<u32, DbError> {
        let targets = self.sql(|net, _| {
            Ok(net
                .standbys_of(&self.node)
                .into_iter()
                .filter(|s| net.app_name(s) == application_name)
                .collect::<Vec<String>>())
        })?;
        let mut net = self.net.net.borrow_mut();
        for t in &targets {
            // A live standby reconnects at once; a frozen one cannot.
            if let Some(i) = net.instances.get_mut(t) {
                if i.frozen_at.is_some() {
                    i.walsender_terminated = true;
                }
            }
        }
        net.refresh();
        Ok(u32::try_from(targets.len()).unwrap_or(u32::MAX))
    }
}

impl Server for SimPostgres {
    fn postmaster_pid(&mut self) -> Result<Option<u32>, ProcessError> {
        Ok(self
            .net
            .with(&self.node, |i| {
                let text = i.fs.file(&i.pid_file())?;
                let pid: u32 = text.lines().next()?.trim().parse().ok()?;
                (i.running() && pid == i.pid).then_some(pid)
            })
            .flatten())
    }

    fn remove_stale_pid_file(&mut self) -> Result<(), ProcessError> {
        self.net
            .with(&self.node, |i| {
                if i.running() {
                    return Err(perr(1, "postmaster is running"));
                }
                i.fs.remove_tree(&i.pid_file());
                if i.role == SimRole::Crashed {
                    i.role = SimRole::Stopped;
                }
                Ok(())
            })
            .unwrap_or_else(|| Err(perr(1, "no such instance")))
    }

    fn start(&mut self) -> Result<(), ProcessError> {
        let mut net = self.net.net.borrow_mut();
        net.next_pid += 1;
        let pid = net.next_pid;
        let i = net
            .instances
            .get_mut(&self.node)
            .ok_or_else(|| perr(1, "no such instance"))?;
        if i.running() {
            return Err(perr(
                1,
                "pg_ctl: another server might be running; trying to start server anyway",
            ));
        }
        if i.fs
            .file(&format!("{}/PG_VERSION", i.spec.pgdata))
            .is_none()
        {
            return Err(perr(
                1,
                format!(
                    "pg_ctl: directory \"{}\" is not a database cluster directory",
                    i.spec.pgdata
                ),
            ));
        }
        let conf = SimPostgres::read_config(i).map_err(|e| perr(1, format!("FATAL:  {e}")))?;
        let recovery_conf = format!("{}/recovery.conf", i.spec.pgdata);
        let (standby, conninfo) = if i.spec.version_num >= 120000 {
            if i.fs.exists(&recovery_conf) {
                return Err(perr(
                    1,
                    format!(
                        "FATAL:  using recovery command file \"{recovery_conf}\" is not supported"
                    ),
                ));
            }
            let standby = i.fs.exists(&format!("{}/standby.signal", i.spec.pgdata));
            (
                standby,
                conf.get("primary_conninfo").cloned().unwrap_or_default(),
            )
        } else {
            match i.fs.file(&recovery_conf) {
                None => (false, String::new()),
                Some(text) => {
                    let rc: BTreeMap<String, String> =
                        text.lines().filter_map(pgconf::parse_line).collect();
                    let on = rc
                        .get("standby_mode")
                        .is_some_and(|v| crate::params::is_true(v));
                    (on, rc.get("primary_conninfo").cloned().unwrap_or_default())
                }
            }
        };
        // Recovery renames a backup_label (pg_rewind's, issue 10) once it
        // has read it.
        let label = format!("{}/backup_label", i.spec.pgdata);
        if let Some(text) = i.fs.file(&label) {
            let owner = i.spec.pgdba.clone();
            i.fs.put(&format!("{label}.old"), &text, &owner, 0o600);
            i.fs.remove_tree(&label);
        }
        // A standby's directory started without recovery (restart_on_promote)
        // keeps its timeline number but writes another history from its end
        // of WAL on: a fork no history file records (issue 10).
        let forks = !standby
            && matches!(
                i.data_dir.last_stop,
                rejoin::LastStop::Clean { standby: true }
                    | rejoin::LastStop::Crash { standby: true }
                    | rejoin::LastStop::Repaired
            );
        i.role = if standby {
            SimRole::Standby
        } else {
            SimRole::Primary
        };
        i.pid = pid;
        i.hung = false;
        i.streamed = false;
        i.sync_names = conf
            .get("synchronous_standby_names")
            .cloned()
            .unwrap_or_default();
        i.max_slots = conf
            .get("max_replication_slots")
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_MAX_SLOTS);
        i.conninfo = if standby {
            pgconf::conninfo(&conninfo)
        } else {
            BTreeMap::new()
        };
        let pid_text = format!("{pid}\n{}\n", i.spec.pgdata);
        let owner = i.spec.pgdba.clone();
        let pid_file = i.pid_file();
        i.fs.put(&pid_file, &pid_text, &owner, 0o600);
        if forks {
            net.next_birth += 1;
            let birth = net.next_birth;
            if let Some(i) = net.instances.get_mut(&self.node) {
                i.history.push((i.timeline, i.lsn));
                i.timeline = TimelineId {
                    timeline: i.timeline.timeline,
                    birth,
                    outside: false,
                };
            }
        }
        net.refresh();
        Ok(())
    }

    fn stop(&mut self, mode: StopMode) -> Result<(), ProcessError> {
        let mut net = self.net.net.borrow_mut();
        net.refresh();
        let i = net
            .instances
            .get_mut(&self.node)
            .ok_or_else(|| perr(1, "no such instance"))?;
        if !i.running() {
            return Err(perr(
                1,
                "pg_ctl: PID file does not exist\nIs server running?",
            ));
        }
        let ignored = match i.stop_behaviour {
            StopBehaviour::Never => true,
            StopBehaviour::IgnoresFast => mode == StopMode::Fast,
            StopBehaviour::Normal => false,
        };
        if ignored || (i.hung && mode == StopMode::Fast) {
            return Ok(());
        }
        let primary = i.role == SimRole::Primary;
        rejoin::on_stop(i, mode);
        if mode == StopMode::Fast && primary {
            // The shutdown checkpoint is the last record (issue 10); the
            // walsenders send everything, that record included, to every
            // connected standby that keeps up before the postmaster exits.
            i.lsn = Lsn(i.lsn.0.saturating_add(rejoin::SHUTDOWN_CHECKPOINT_LEN));
            let end = i.lsn;
            for st in net.standbys_of(&self.node) {
                if let Some(st) = net.instances.get_mut(&st).filter(|st| !st.lagging) {
                    st.lsn = end;
                }
            }
        }
        let Some(i) = net.instances.get_mut(&self.node) else {
            return Err(perr(1, "no such instance"));
        };
        i.role = SimRole::Stopped;
        i.hung = false;
        i.fs.remove_tree(&i.pid_file());
        net.refresh();
        Ok(())
    }

    fn promote(&mut self) -> Result<(), ProcessError> {
        self.net.promote(&self.node, false)
    }

    fn reload(&mut self) -> Result<(), ProcessError> {
        self.net
            .with(&self.node, |i| {
                if !i.running() {
                    return Err(perr(
                        1,
                        "pg_ctl: PID file does not exist\nIs server running?",
                    ));
                }
                // A reload with a broken file keeps the old settings, like the server.
                if let Ok(conf) = SimPostgres::read_config(i) {
                    i.sync_names = conf
                        .get("synchronous_standby_names")
                        .cloned()
                        .unwrap_or_default();
                    if i.role == SimRole::Standby && i.spec.version_num >= 130000 {
                        i.conninfo = pgconf::conninfo(
                            conf.get("primary_conninfo")
                                .map(String::as_str)
                                .unwrap_or(""),
                        );
                    }
                }
                Ok(())
            })
            .unwrap_or_else(|| Err(perr(1, "no such instance")))
    }

    fn wal_receiver_running(&mut self, postmaster_pid: u32) -> Result<bool, ProcessError> {
        let mut net = self.net.net.borrow_mut();
        net.refresh();
        let pid_matches = net
            .get(&self.node)
            .is_some_and(|i| i.running() && i.pid == postmaster_pid);
        Ok(pid_matches && net.upstream(&self.node).is_some())
    }
}

#[cfg(test)]
mod tests;
