//! Fault schedules over the simulator (issue 18: exported so that another
//! crate can state its own property): the events a run mixes (Pacemaker
//! steps, crashes, hangs, link cuts, nodes down and up, restarts, promotions
//! outside the cluster, operator edits of attributes, client writes direct
//! and through the VIP), their proptest strategies ([`cold_event`],
//! [`warm_event`], [`rejoin_run_event`]), how each is applied to a [`Sim`]
//! ([`apply`]) and the runner that plays a whole schedule and hands every
//! event's outcome to a [`Judge`] ([`run_schedule`]).
//!
//! The core's own safety properties (`tests/properties.rs` in the repository) are a judge of
//! this runner; so can be yours:
//!
//! ```
//! use pgsql_ra_core::sim::faults::{run_schedule, Event, Judge, Observed};
//! use pgsql_ra_core::sim::{Sim, SimConfig};
//! use proptest::test_runner::TestCaseError;
//!
//! /// Never two running primaries after an event (a weak split-brain check).
//! struct AtMostOnePrimary;
//! impl Judge for AtMostOnePrimary {
//!     fn after_event(&mut self, seen: &Observed<'_>) -> Result<(), TestCaseError> {
//!         let primaries = seen.sim.net.running_primaries();
//!         if primaries.len() > 1 {
//!             return Err(TestCaseError::fail(format!("two primaries: {primaries:?}")));
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let mut sim = Sim::new(SimConfig::new(&["node1", "node2"]));
//! sim.settle(10);
//! let run = run_schedule(&mut sim, &[Event::KillPrimary, Event::Steps(8)], &mut AtMostOnePrimary);
//! assert!(run.result.is_ok());
//! assert!(run.transcript.iter().any(|l| l.starts_with("KillPrimary")));
//! ```

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::memory::{SimRole, WalHistory, WriteOutcome};
use crate::ports::Lifetime;
use crate::sim::script::{invocation_lines, roles_line};
use crate::sim::{Op, PcmkRole, PromotionRecord, Sim, TMPDIR};

/// Attributes an operator (or a foreign tool) edits in the runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attr {
    /// `pgsql-data-status` (forever).
    DataStatus,
    /// `pgsql-xlog-loc` (reboot).
    XlogLoc,
    /// `pgsql-xlog-tli` (reboot).
    XlogTli,
    /// `pgsql-sync-baseline` (forever).
    SyncBaseline,
    /// `master-pgsql` (reboot): deleting it makes Pacemaker demote.
    MasterScore,
}

impl Attr {
    /// The attribute's name (resource `pgsql`, the simulator's) and lifetime.
    pub fn name_and_lifetime(self) -> (&'static str, Lifetime) {
        match self {
            Attr::DataStatus => ("pgsql-data-status", Lifetime::Forever),
            Attr::XlogLoc => ("pgsql-xlog-loc", Lifetime::Reboot),
            Attr::XlogTli => ("pgsql-xlog-tli", Lifetime::Reboot),
            Attr::SyncBaseline => ("pgsql-sync-baseline", Lifetime::Forever),
            Attr::MasterScore => ("master-pgsql", Lifetime::Reboot),
        }
    }

    /// Values no version of the agent writes and none may trust: a foreign
    /// tool's spelling, a typo, an empty value. Only garbage: an operator
    /// who writes a *valid* optimistic
    /// value (LATEST on a stale node, a higher LSN) overrides the agent on
    /// purpose, and the data loss that follows is not the agent's.
    pub fn garbage(self) -> &'static [&'static str] {
        match self {
            Attr::DataStatus => &[
                "disconnect",
                "LATESTT",
                "STREAMING|sync",
                "",
                "streaming",
                "PRI",
                "STREAMING|SYNC|LATEST",
            ],
            Attr::XlogLoc => &["zz", "", "0/3000100", "-1", "LATEST"],
            Attr::XlogTli => &["tli", "", "1:", ":7300000000000000001", "x:y"],
            Attr::SyncBaseline => &["zz", "", "-5", "node2"],
            Attr::MasterScore => &["-INFINITY"],
        }
    }
}

/// One event of a run.
#[derive(Debug, Clone)]
pub enum Event {
    /// One Pacemaker policy step (probes, monitors, recovery, start, promote).
    Step,
    /// Several Pacemaker steps in a row (a quiet period: lets a cold
    /// cluster come up or a failover finish between faults).
    Steps(u8),
    /// SIGKILL of a node's postmaster.
    Kill(usize),
    /// SIGKILL of whichever node runs as primary (all of them).
    KillPrimary,
    /// The replication link between two nodes is cut / restored.
    LinkDown(usize, usize),
    /// See [`Event::LinkDown`].
    LinkUp(usize, usize),
    /// A client writes directly to a node (bypassing the VIP).
    Write(usize, u64),
    /// A client writes through the VIP.
    WriteVip(u64),
    /// A standby stops (or resumes) replaying while staying connected.
    Lag(usize, bool),
    /// One monitor (or probe) on one node.
    Monitor(usize),
    /// `crm_resource --cleanup` of a node.
    Cleanup(usize),
    /// The postmaster hangs (or recovers).
    Hang(usize, bool),
    /// The node goes down hard (fenced).
    NodeDown(usize),
    /// The node comes back.
    NodeUp(usize),
    /// The operator rebuilds a stopped node from the running primary.
    Rebuild(usize),
    /// `pg_ctl promote` of a node outside the cluster (no-op unless a standby).
    PgPromote(usize),
    /// `pg_ctl promote` outside the cluster of the first running standby.
    PgPromoteStandby,
    /// The operator's `pg_ctl restart` of a node's server.
    Restart(usize),
    /// The operator (or a foreign tool) writes a garbage value.
    SetAttr(usize, Attr, usize),
    /// The operator deletes an attribute.
    DelAttr(usize, Attr),
    /// A stopped node's data is re-initdb'ed (another system identifier,
    /// fresh WAL; its attributes stay).
    SetSysid(usize),
    /// A planned switchover (an operator's `crm_resource --ban --promoted`):
    /// Pacemaker demotes the Promoted instance, then promotes the best other
    /// candidate, if any (issue 10: the clean demote continues as a standby).
    Switchover,
    /// A node's data directory gets (or loses) data checksums /
    /// `wal_log_hints` (`pg_rewind` can run on it or not; issue 10).
    Rewindable(usize, bool),
    /// The free disk beside a node's pgdata: ample, or less than a
    /// re-clone needs (issue 10).
    FreeDisk(usize, bool),
    /// Every node's failure record expires (`failure-timeout`): Pacemaker
    /// may start a failed instance again, which is what lets a crashed old
    /// primary rejoin (issue 10).
    FailureTimeout,
    /// Every standby stops replaying, the primary behind the VIP takes
    /// `n` writes (in sync mode never acknowledged: no standby confirms
    /// them), is killed (-9), and the standbys resume: the old primary's
    /// WAL goes past what any standby holds (what `pg_rewind` is for).
    DivergeAndKill(u64),
}

/// An attribute an operator edits, `pgsql-data-status` most often.
pub fn attr() -> impl Strategy<Value = Attr> {
    prop_oneof![
        4 => Just(Attr::DataStatus),
        1 => Just(Attr::XlogLoc),
        1 => Just(Attr::XlogTli),
        1 => Just(Attr::SyncBaseline),
    ]
}

/// A node index (0 to 3), taken modulo the cluster's size by [`name`].
pub fn node() -> impl Strategy<Value = usize> {
    0usize..4
}

/// Operator edits: garbage values (data-status above all), deletions of
/// the reboot attributes and of the score. Deleting `pgsql-data-status` or
/// `pgsql-sync-baseline` is left out: "absent" means "first boot" and "no
/// handover pending" (what the stock agent allows), so deleting them from
/// a stale node is the operator's override of a safety guard, not a fault
/// the agent can see (found by the survey: a lagging sync standby whose
/// baseline an operator deleted is legitimately elected).
pub fn operator_edit() -> impl Strategy<Value = Event> {
    prop_oneof![
        4 => (node(), attr(), 0usize..8).prop_map(|(n, a, v)| Event::SetAttr(n, a, v)),
        1 => (node(), prop_oneof![
                Just(Attr::XlogLoc),
                Just(Attr::XlogTli),
                Just(Attr::MasterScore),
            ])
            .prop_map(|(n, a)| Event::DelAttr(n, a)),
    ]
}

/// Events of a cold run (from a cluster nothing has probed yet): mostly
/// Pacemaker steps, so that clusters come up, fail over and come back.
pub fn cold_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        8 => Just(Event::Step),
        9 => (2u8..9).prop_map(Event::Steps),
        12 => (1u64..20).prop_map(Event::WriteVip),
        1 => (node(), 1u64..20).prop_map(|(a, n)| Event::Write(a, n)),
        6 => Just(Event::KillPrimary),
        1 => node().prop_map(Event::Kill),
        1 => (node(), node()).prop_map(|(a, b)| Event::LinkDown(a, b)),
        1 => (node(), node()).prop_map(|(a, b)| Event::LinkUp(a, b)),
        1 => (node(), any::<bool>()).prop_map(|(a, l)| Event::Lag(a, l)),
        1 => node().prop_map(Event::Monitor),
        1 => node().prop_map(Event::Cleanup),
        1 => (node(), any::<bool>()).prop_map(|(a, h)| Event::Hang(a, h)),
        1 => node().prop_map(Event::NodeDown),
        2 => node().prop_map(Event::NodeUp),
        1 => node().prop_map(Event::Rebuild),
        1 => node().prop_map(Event::PgPromote),
        2 => Just(Event::PgPromoteStandby),
        1 => node().prop_map(Event::Restart),
        5 => operator_edit(),
        1 => node().prop_map(Event::SetSysid),
        1 => Just(Event::Switchover),
        2 => rejoin_event(),
    ]
}

/// The crash rejoin's conditions (issue 10): rewindable or not, enough
/// disk or not, failures expiring.
pub fn rejoin_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        1 => (node(), prop::bool::weighted(0.3)).prop_map(|(n, on)| Event::Rewindable(n, on)),
        1 => (node(), prop::bool::weighted(0.7)).prop_map(|(n, ample)| Event::FreeDisk(n, ample)),
        4 => Just(Event::FailureTimeout),
        3 => (1u64..5).prop_map(Event::DivergeAndKill),
    ]
}

/// Events after a settled bring-up, biased towards writes through the VIP
/// and failures, so that acknowledged writes are followed by failovers.
pub fn warm_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        6 => Just(Event::Step),
        4 => (2u8..9).prop_map(Event::Steps),
        9 => (1u64..20).prop_map(Event::WriteVip),
        1 => (node(), 1u64..20).prop_map(|(a, n)| Event::Write(a, n)),
        5 => Just(Event::KillPrimary),
        1 => node().prop_map(Event::Kill),
        1 => node().prop_map(Event::NodeDown),
        2 => node().prop_map(Event::NodeUp),
        1 => (node(), node()).prop_map(|(a, b)| Event::LinkDown(a, b)),
        1 => (node(), node()).prop_map(|(a, b)| Event::LinkUp(a, b)),
        1 => (node(), any::<bool>()).prop_map(|(a, l)| Event::Lag(a, l)),
        1 => (node(), any::<bool>()).prop_map(|(a, h)| Event::Hang(a, h)),
        1 => node().prop_map(Event::Rebuild),
        1 => node().prop_map(Event::Cleanup),
        2 => Just(Event::PgPromoteStandby),
        1 => node().prop_map(Event::Restart),
        7 => operator_edit(),
        2 => Just(Event::Switchover),
        2 => rejoin_event(),
    ]
}

/// Events of a crash-rejoin run (issue 10): failovers with and without
/// writes the standbys never received, failures expiring so that the old
/// primary is started again, directories `pg_rewind` cannot use, short
/// disks, and the usual faults around them.
pub fn rejoin_run_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        6 => (2u8..9).prop_map(Event::Steps),
        4 => Just(Event::Step),
        6 => (1u64..20).prop_map(Event::WriteVip),
        4 => Just(Event::KillPrimary),
        5 => (1u64..5).prop_map(Event::DivergeAndKill),
        7 => Just(Event::FailureTimeout),
        1 => (node(), prop::bool::weighted(0.3)).prop_map(|(n, on)| Event::Rewindable(n, on)),
        1 => (node(), prop::bool::weighted(0.7)).prop_map(|(n, ample)| Event::FreeDisk(n, ample)),
        1 => node().prop_map(Event::Kill),
        1 => (node(), any::<bool>()).prop_map(|(a, l)| Event::Lag(a, l)),
        1 => (node(), node()).prop_map(|(a, b)| Event::LinkDown(a, b)),
        1 => (node(), node()).prop_map(|(a, b)| Event::LinkUp(a, b)),
        1 => node().prop_map(Event::NodeDown),
        2 => node().prop_map(Event::NodeUp),
        1 => operator_edit(),
    ]
}

/// The node an index names (modulo the cluster's size; empty for a
/// cluster without nodes).
pub fn name(sim: &Sim, i: usize) -> String {
    let names = sim.node_names();
    names
        .get(i % names.len().max(1))
        .cloned()
        .unwrap_or_default()
}

/// A client write the simulator committed.
#[derive(Debug, Clone)]
pub struct Commit {
    /// The node that committed it.
    pub node: String,
    /// True when it went through the VIP (to the node Pacemaker promoted).
    pub via_vip: bool,
    /// True when a synchronous standby confirmed it (the primary ran with a
    /// non-empty `synchronous_standby_names`).
    pub sync_confirmed: bool,
    /// The writer's WAL right after the commit.
    pub wal: WalHistory,
}

fn write(sim: &Sim, node: &str, n: u64, via_vip: bool, out: &mut Vec<String>) -> Option<Commit> {
    let sync = !sim.net.active_sync_names(node).trim().is_empty();
    let r = sim.net.write(node, n);
    out.push(format!("{node}: {r:?}"));
    if r != Ok(WriteOutcome::Committed) {
        return None;
    }
    Some(Commit {
        node: node.to_string(),
        via_vip,
        sync_confirmed: sync,
        wal: sim.net.wal(node)?,
    })
}

/// Applies one event; returns the transcript lines it produced and the
/// client write it committed, if any.
pub fn apply(sim: &mut Sim, e: &Event) -> (Vec<String>, Option<Commit>) {
    let mut out = vec![format!("{e:?}")];
    let mut commit = None;
    match e {
        Event::Step => sim.step(),
        Event::Steps(n) => sim.settle(usize::from(*n)),
        Event::Kill(i) => sim.net.crash(&name(sim, *i)),
        Event::KillPrimary => {
            for p in sim.net.running_primaries() {
                sim.net.crash(&p);
            }
        }
        Event::LinkDown(a, b) => sim.net.set_link(&name(sim, *a), &name(sim, *b), false),
        Event::LinkUp(a, b) => sim.net.set_link(&name(sim, *a), &name(sim, *b), true),
        Event::Write(a, n) => {
            let node = name(sim, *a);
            let via_vip = sim.net.vip_holder().as_deref() == Some(node.as_str());
            commit = write(sim, &node, *n, via_vip, &mut out);
        }
        Event::WriteVip(n) => match sim.net.vip_holder() {
            Some(node) => commit = write(sim, &node, *n, true, &mut out),
            None => out.push("nobody serves the VIP".into()),
        },
        Event::Lag(a, l) => sim.net.set_lagging(&name(sim, *a), *l),
        Event::Monitor(a) => {
            let n = name(sim, *a);
            sim.monitor(&n);
        }
        Event::Cleanup(a) => {
            let n = name(sim, *a);
            sim.cleanup(&n);
        }
        Event::Hang(a, h) => sim.net.set_hung(&name(sim, *a), *h),
        Event::NodeDown(a) => {
            let n = name(sim, *a);
            if sim.cluster.is_online(&n) {
                sim.node_down(&n);
            }
        }
        Event::NodeUp(a) => {
            let n = name(sim, *a);
            if !sim.cluster.is_online(&n) {
                sim.node_up(&n);
            }
        }
        Event::Rebuild(a) => {
            // The operator's recovery of a stopped node: a base backup of
            // the primary behind the VIP, PGSQL.lock removed, then a cleanup
            // (what the `rebuild` script command and the docs describe).
            let n = name(sim, *a);
            let source = sim.net.vip_holder();
            let stopped = matches!(sim.net.role(&n), SimRole::Stopped | SimRole::Crashed);
            if let (Some(src), true) = (source, stopped) {
                if src != n && sim.net.rebuild_from(&n, &src).is_ok() {
                    sim.nodes[&n]
                        .fs
                        .remove_tree(&format!("{TMPDIR}/PGSQL.lock"));
                    sim.cleanup(&n);
                    out.push(format!("rebuilt {n} from {src}"));
                }
            }
        }
        Event::PgPromote(a) => {
            let n = name(sim, *a);
            out.push(format!("{:?}", sim.net.pg_promote(&n)));
        }
        Event::PgPromoteStandby => {
            let standby = sim
                .node_names()
                .into_iter()
                .find(|n| sim.net.role(n) == SimRole::Standby);
            if let Some(n) = standby {
                out.push(format!("{n}: {:?}", sim.net.pg_promote(&n)));
            }
        }
        Event::Restart(a) => {
            let n = name(sim, *a);
            out.push(format!("{:?}", sim.net.restart(&n)));
        }
        Event::SetAttr(a, attr, v) => {
            let n = name(sim, *a);
            let (key, lifetime) = attr.name_and_lifetime();
            let values = attr.garbage();
            sim.cluster
                .put_attr(&n, key, values[v % values.len()], lifetime);
        }
        Event::DelAttr(a, attr) => {
            let n = name(sim, *a);
            let (key, lifetime) = attr.name_and_lifetime();
            sim.cluster.remove_attr(&n, key, lifetime);
        }
        Event::Switchover => switchover(sim),
        Event::SetSysid(a) => {
            let n = name(sim, *a);
            if matches!(sim.net.role(&n), SimRole::Stopped | SimRole::Crashed) {
                // Every initdb draws its own system identifier.
                let id = 42 + *a as u64 % sim.node_names().len() as u64;
                out.push(format!("{:?}", sim.net.reinit(&n, id)));
            }
        }
        Event::Rewindable(a, on) => sim.net.set_rewindable(&name(sim, *a), *on),
        Event::FreeDisk(a, ample) => {
            let bytes = if *ample { 1 << 40 } else { 1 << 20 };
            sim.net.set_free_bytes(&name(sim, *a), bytes);
        }
        Event::DivergeAndKill(n) => {
            if let Some(p) = sim.net.vip_holder() {
                let standbys: Vec<String> = sim
                    .node_names()
                    .into_iter()
                    .filter(|s| sim.net.role(s) == SimRole::Standby)
                    .collect();
                for s in &standbys {
                    sim.net.set_lagging(s, true);
                }
                commit = write(sim, &p, *n, true, &mut out);
                sim.net.crash(&p);
                for s in &standbys {
                    sim.net.set_lagging(s, false);
                }
            }
        }
        Event::FailureTimeout => {
            for n in sim.node_names() {
                if sim.nodes[&n].fail_count > 0 || sim.nodes[&n].failed {
                    sim.cleanup(&n);
                }
            }
        }
    }
    out.extend(invocation_lines(&sim.invocations));
    out.push(roles_line(sim));
    (out, commit)
}

/// A planned switchover: demote the Promoted instance, then promote the
/// best other candidate (Pacemaker's transition after
/// `crm_resource --ban --promoted`; the ban itself is not modelled).
fn switchover(sim: &mut Sim) {
    let promoted: Vec<String> = sim
        .node_names()
        .into_iter()
        .filter(|n| sim.pcmk_role(n) == PcmkRole::Promoted)
        .collect();
    for p in &promoted {
        sim.operate(Op::Demote, std::slice::from_ref(p));
    }
    if let (false, Some(c)) = (promoted.is_empty(), sim.promotion_candidate()) {
        sim.operate(Op::Promote, &[c]);
    }
}

/// What one event of a schedule did, handed to [`Judge::after_event`].
#[derive(Debug)]
pub struct Observed<'a> {
    /// The simulator after the event; its `invocations` are the agent runs
    /// the event caused (taken out after the judge has seen them).
    pub sim: &'a Sim,
    /// The event ([`Event::Steps`] is played as that many [`Event::Step`]s).
    pub event: &'a Event,
    /// The promotes Pacemaker ran during the event, with the servers' state
    /// just before each (the ground truth to judge them by).
    pub promotions: &'a [PromotionRecord],
    /// The client write the event committed, if any.
    pub commit: Option<&'a Commit>,
}

/// A property over a fault schedule: called around every event of
/// [`run_schedule`]; the first error ends the run.
pub trait Judge {
    /// Before each [`Event::Step`], to remember what the step starts from
    /// (does nothing unless overridden).
    fn before_step(&mut self, sim: &Sim) {
        let _ = sim;
    }

    /// After each event.
    ///
    /// # Errors
    /// The violation, in words (`TestCaseError::fail`), which ends the run.
    fn after_event(&mut self, seen: &Observed<'_>) -> Result<(), TestCaseError>;
}

/// The outcome of [`run_schedule`].
#[derive(Debug)]
pub struct ScheduleRun {
    /// One line per event and per agent invocation it caused, and the roles
    /// after it ([`apply`]'s lines), ending with `VIOLATION after …` when the
    /// judge failed: run a schedule twice and compare transcripts to check
    /// determinism.
    pub transcript: Vec<String>,
    /// The judge's first violation, if any.
    pub result: Result<(), TestCaseError>,
}

/// Plays `events` on `sim` in order ([`Event::Steps`] step by step),
/// calling `judge` before each step and after each event, and stops at the
/// first violation. The invocations and promotion records the events
/// caused are consumed (taken out of `sim` once judged); the promotion
/// records from before the call are discarded and its invocations only
/// open the transcript.
pub fn run_schedule(sim: &mut Sim, events: &[Event], judge: &mut impl Judge) -> ScheduleRun {
    sim.promotions.clear();
    let mut transcript = invocation_lines(&sim.take_invocations());
    let expanded = events.iter().flat_map(|e| match e {
        Event::Steps(n) => vec![Event::Step; usize::from(*n)],
        other => vec![other.clone()],
    });
    for e in expanded {
        if matches!(e, Event::Step) {
            judge.before_step(sim);
        }
        let (lines, commit) = apply(sim, &e);
        transcript.extend(lines);
        let promotions = std::mem::take(&mut sim.promotions);
        let seen = Observed {
            sim,
            event: &e,
            promotions: &promotions,
            commit: commit.as_ref(),
        };
        let judged = judge.after_event(&seen);
        sim.take_invocations();
        if let Err(err) = judged {
            transcript.push(format!("VIOLATION after {e:?}: {err}"));
            return ScheduleRun {
                transcript,
                result: Err(err),
            };
        }
    }
    ScheduleRun {
        transcript,
        result: Ok(()),
    }
}
