//! Issue 11 item 1 (B2-04): a standby whose host freezes without a TCP
//! reset keeps its walsender row `streaming` (and `sync`) while its
//! `reply_time` stops advancing and every commit waits for it. Over the
//! simulator (3–4 nodes, sync mode, default `standby_reply_timeout` 10 s),
//! with random freezes and thaws, time passing, primary monitors,
//! Pacemaker steps, lag and writes through the VIP:
//!
//! * never a commit acknowledged without a standby while the CIB still
//!   shows that standby promotable (positive score): every standby with a
//!   positive score holds every acknowledged write;
//! * after a primary monitor, a standby frozen for longer than the bound is
//!   not in `synchronous_standby_names` (commits no longer wait for it),
//!   has score -INFINITY and data-status `DISCONNECT`;
//! * a standby that was never frozen nor lagging and streams from the
//!   primary is never marked `DISCONNECT` by a primary monitor.
//!
//! And a healthy idle standby is never dropped over many bound periods.
//! The judgement comes from the simulated servers, not from the agent's
//! reasons. `PROPTEST_CASES` sets the number of cases (256 by default).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use pgsql_ra_core::memory::{SimRole, WriteOutcome};
use pgsql_ra_core::ocf::OcfExit;
use pgsql_ra_core::sim::{MonitorRoles, PcmkRole, Sim, SimConfig};
use pgsql_ra_core::Score;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// `standby_reply_timeout`'s default.
const BOUND: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
enum Event {
    Freeze(usize),
    /// Freezes the primary's synchronous standby, if it has one (keeps the
    /// reach of "a frozen sync standby dropped" well above 20 %).
    FreezeSync,
    Thaw(usize),
    Advance(u64),
    MonitorPrimary,
    Step,
    WriteVip(u64),
    Lag(usize, bool),
}

fn event() -> impl Strategy<Value = Event> {
    let node = 0usize..4;
    prop_oneof![
        3 => node.clone().prop_map(Event::Freeze),
        2 => Just(Event::FreezeSync),
        1 => node.clone().prop_map(Event::Thaw),
        6 => (1u64..8).prop_map(Event::Advance),
        8 => Just(Event::MonitorPrimary),
        1 => Just(Event::Step),
        6 => (1u64..5).prop_map(Event::WriteVip),
        1 => (node, any::<bool>()).prop_map(|(n, l)| Event::Lag(n, l)),
    ]
}

fn build(nodes: usize) -> Sim {
    let names: Vec<String> = (1..=nodes).map(|i| format!("node{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut config = SimConfig::new(&refs);
    config.migration_threshold = 0;
    config.monitor_roles = MonitorRoles::Seed;
    Sim::new(config)
}

fn promoted(sim: &Sim) -> Option<String> {
    sim.node_names()
        .into_iter()
        .find(|n| sim.pcmk_role(n) == PcmkRole::Promoted)
}

fn names_of(setting: &str) -> Vec<String> {
    setting
        .split(',')
        .map(|n| n.trim().trim_matches('"').to_string())
        .filter(|n| !n.is_empty())
        .collect()
}

fn promotable(sim: &Sim, n: &str) -> bool {
    sim.score(n)
        .and_then(|s| s.parse::<Score>().ok())
        .is_some_and(|s| s.is_positive())
}

/// What a run remembers.
#[derive(Debug, Default)]
struct Run {
    /// Frozen nodes and since when (virtual time).
    frozen: BTreeMap<String, Duration>,
    /// Nodes ever frozen or lagging in this run.
    disturbed: BTreeSet<String>,
    /// A frozen sync standby was dropped by a primary monitor.
    dropped_sync: bool,
    /// A commit was acknowledged after such a drop.
    acked_after_drop: bool,
}

fn apply(sim: &mut Sim, e: &Event, run: &mut Run) -> Result<(), TestCaseError> {
    let name = |sim: &Sim, i: usize| {
        let names = sim.node_names();
        names[i % names.len()].clone()
    };
    match e {
        Event::Freeze(i) => {
            let n = name(sim, *i);
            if sim.net.role(&n) == SimRole::Standby && !run.frozen.contains_key(&n) {
                sim.net.set_frozen(&n, true);
                run.frozen.insert(n.clone(), sim.clock.elapsed());
                run.disturbed.insert(n);
            }
        }
        Event::FreezeSync => {
            let Some(p) = promoted(sim) else {
                return Ok(());
            };
            let sync = names_of(&sim.net.active_sync_names(&p));
            if let Some(n) = sync
                .into_iter()
                .find(|n| sim.net.role(n) == SimRole::Standby && !run.frozen.contains_key(n))
            {
                sim.net.set_frozen(&n, true);
                run.frozen.insert(n.clone(), sim.clock.elapsed());
                run.disturbed.insert(n);
            }
        }
        Event::Thaw(i) => {
            let n = name(sim, *i);
            if run.frozen.remove(&n).is_some() {
                sim.net.set_frozen(&n, false);
            }
        }
        Event::Advance(s) => sim.advance(Duration::from_secs(*s)),
        Event::Step => sim.step(),
        Event::Lag(i, l) => {
            let n = name(sim, *i);
            sim.net.set_lagging(&n, *l);
            run.disturbed.insert(n);
        }
        Event::MonitorPrimary => {
            let Some(p) = promoted(sim) else {
                return Ok(());
            };
            let before = names_of(&sim.net.active_sync_names(&p));
            let healthy: Vec<String> = sim
                .node_names()
                .into_iter()
                .filter(|n| {
                    *n != p
                        && !run.disturbed.contains(n)
                        && sim.net.upstream(n).as_deref() == Some(p.as_str())
                })
                .collect();
            if sim.monitor(&p) != Some(OcfExit::RunningPromoted) {
                return Ok(());
            }
            let now = sim.clock.elapsed();
            let after = names_of(&sim.net.active_sync_names(&p));
            for (n, since) in &run.frozen {
                if now.saturating_sub(*since) <= BOUND {
                    continue;
                }
                prop_assert!(
                    !after.contains(n),
                    "{n} frozen for {:?} is still in synchronous_standby_names {after:?}",
                    now - *since
                );
                prop_assert!(!promotable(sim, n), "{n} frozen but promotable");
                let status = sim.data_status(n);
                prop_assert_eq!(status.as_deref(), Some("DISCONNECT"));
                if before.contains(n) {
                    run.dropped_sync = true;
                }
            }
            for n in &healthy {
                let status = sim.data_status(n);
                prop_assert_ne!(
                    status.as_deref(),
                    Some("DISCONNECT"),
                    "{} streams, was never frozen nor lagging, yet was dropped",
                    n
                );
            }
        }
        Event::WriteVip(count) => {
            let Some(p) = sim.net.vip_holder() else {
                return Ok(());
            };
            if sim.net.write(&p, *count) != Ok(WriteOutcome::Committed) {
                return Ok(());
            }
            let Some(acked) = sim.net.wal(&p) else {
                return Ok(());
            };
            if run.dropped_sync {
                run.acked_after_drop = true;
            }
            for n in sim.node_names().iter().filter(|n| **n != p) {
                if !promotable(sim, n) {
                    continue;
                }
                let holds = sim.net.wal(n).is_some_and(|w| w.includes(&acked));
                prop_assert!(
                    holds,
                    "a commit at {} was acknowledged by {p} without {n}, which the CIB shows promotable (score {:?})",
                    acked.describe(),
                    sim.score(n)
                );
            }
        }
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

#[test]
fn a_frozen_standby_is_dropped_and_never_trusted_meanwhile() {
    let counts = std::cell::Cell::new((0u32, 0u32, 0u32));
    let config = ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(nodes in 3usize..=4, events in prop::collection::vec(event(), 10..60))| {
        let mut sim = build(nodes);
        sim.settle(8);
        prop_assert!(promoted(&sim).is_some(), "a settled cluster has a primary");
        let mut run = Run::default();
        for e in &events {
            apply(&mut sim, e, &mut run)?;
            sim.take_invocations();
            sim.promotions.clear();
        }
        let (n, d, a) = counts.get();
        counts.set((n + 1, d + u32::from(run.dropped_sync), a + u32::from(run.acked_after_drop)));
    });
    let (n, dropped, acked) = counts.get();
    eprintln!("frozen standby: {n} cases, {dropped} dropped a frozen sync standby, {acked} acknowledged a commit after such a drop");
    assert!(
        dropped * 5 >= n,
        "a frozen sync standby was dropped in under 20 % of the cases"
    );
    assert!(
        acked * 5 >= n,
        "a commit followed a drop in under 20 % of the cases"
    );
}

/// A healthy idle standby replies every `wal_receiver_status_interval`:
/// over three bound periods of primary monitors without a write, the sync
/// standby stays synchronous and promotable.
#[test]
fn a_healthy_idle_standby_is_never_dropped() {
    let mut sim = build(3);
    sim.settle(8);
    let p = promoted(&sim).expect("a primary");
    let sync = names_of(&sim.net.active_sync_names(&p));
    assert_eq!(sync.len(), 1);
    for _ in 0..(3 * BOUND.as_secs()) {
        sim.advance(Duration::from_secs(1));
        assert_eq!(sim.monitor(&p), Some(OcfExit::RunningPromoted));
        assert_eq!(names_of(&sim.net.active_sync_names(&p)), sync);
        assert!(promotable(&sim, &sync[0]));
        assert_eq!(sim.data_status(&sync[0]).as_deref(), Some("STREAMING|SYNC"));
    }
}
