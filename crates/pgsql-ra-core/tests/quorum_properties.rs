//! Issue 11 item 3: the safety oracles of `properties.rs` (no acknowledged
//! write lost, never two Promoted or two primaries, never a node of
//! another system or a forked timeline, never a standby with more of the
//! same WAL passed over) over random fault schedules on 3–4 node clusters
//! running quorum commit (`sync_quorum=1`: `ANY 1 (...)` over the streaming
//! standbys; a write acknowledged by any one member). Members are promoted
//! only by the election, under Patroni's rule. `PROPTEST_CASES` sets the
//! number of cases (256 by default).

// Shared with properties.rs, which uses all of them.
#[allow(dead_code)]
#[path = "properties/oracle.rs"]
mod oracle;
#[allow(dead_code)]
#[path = "properties/reach.rs"]
mod reach;

use std::collections::BTreeSet;

use oracle::Oracle;
use pgsql_ra_core::sim::faults::{run_schedule, Event, Judge, Observed};
use pgsql_ra_core::sim::{MonitorRoles, Sim, SimConfig};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use reach::Key;

fn build(nodes: usize) -> Sim {
    let names: Vec<String> = (1..=nodes).map(|i| format!("node{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut config = SimConfig::new(&refs);
    config.params.insert("sync_quorum".into(), "1".into());
    config.migration_threshold = 0;
    config.monitor_roles = MonitorRoles::Seed;
    Sim::new(config)
}

/// The oracles of `properties.rs` as a judge of the exported runner.
struct Oracles(Oracle);

impl Judge for Oracles {
    fn before_step(&mut self, sim: &Sim) {
        self.0.before_step(sim);
    }

    fn after_event(&mut self, seen: &Observed<'_>) -> Result<(), TestCaseError> {
        seen.promotions
            .iter()
            .try_for_each(|r| self.0.on_promotion(r))?;
        if let Some(c) = seen.commit {
            self.0.on_commit(c)?;
        }
        self.0.after_event(seen.sim)
    }
}

/// Runs one case; returns the key assertions reached and the first
/// violation, with the transcript on failure.
fn run_case(nodes: usize, events: &[Event]) -> (BTreeSet<Key>, Result<(), TestCaseError>) {
    let mut sim = build(nodes);
    sim.settle(8);
    sim.take_invocations();
    let mut judge = Oracles(Oracle::default());
    let run = run_schedule(&mut sim, events, &mut judge);
    if run.result.is_err() {
        for l in &run.transcript {
            eprintln!("  {l}");
        }
    }
    (judge.0.reached, run.result)
}

/// Writes through the VIP and failovers with time to finish them, among
/// the faults of `properties.rs` (a quorum election waits for enough
/// members, so quiet periods are longer).
fn quorum_event() -> impl Strategy<Value = Event> {
    let node = 0usize..4;
    prop_oneof![
        6 => (1u64..20).prop_map(Event::WriteVip),
        4 => Just(Event::KillPrimary),
        6 => (4u8..10).prop_map(Event::Steps),
        3 => Just(Event::Step),
        2 => (node.clone(), any::<bool>()).prop_map(|(a, l)| Event::Lag(a, l)),
        1 => node.clone().prop_map(Event::Kill),
        1 => (node.clone(), node.clone()).prop_map(|(a, b)| Event::LinkDown(a, b)),
        1 => (node.clone(), node.clone()).prop_map(|(a, b)| Event::LinkUp(a, b)),
        1 => node.clone().prop_map(Event::NodeDown),
        2 => node.clone().prop_map(Event::NodeUp),
        1 => node.clone().prop_map(Event::Rebuild),
        1 => node.prop_map(Event::Cleanup),
    ]
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

#[test]
fn safety_properties_hold_with_quorum_commit() {
    let counts = std::cell::Cell::new((0u32, 0u32, 0u32));
    let config = ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(nodes in 3usize..=4, events in prop::collection::vec(quorum_event(), 10..50))| {
        let (reached, result) = run_case(nodes, &events);
        result?;
        let (n, a, c) = counts.get();
        counts.set((
            n + 1,
            a + u32::from(reached.contains(&Key::PromotionAfterAck)),
            c + u32::from(reached.contains(&Key::PromotionCompared)),
        ));
    });
    let (n, after_ack, compared) = counts.get();
    eprintln!("quorum commit: {n} cases, {after_ack} promoted after an acknowledged write, {compared} compared a promotion with another standby");
    assert!(
        after_ack * 5 >= n,
        "a promotion after an acknowledged write in under 20 % of the cases"
    );
}

/// A settled quorum cluster: the members are quorum members, none is
/// promotable, the set is recorded everywhere.
#[test]
fn a_settled_quorum_cluster_records_its_members() {
    let mut sim = build(3);
    sim.settle(8);
    let primaries = sim.net.running_primaries();
    assert_eq!(primaries.len(), 1);
    let p = &primaries[0];
    let setting = sim.net.active_sync_names(p);
    assert!(setting.starts_with("ANY 1 ("), "{setting}");
    for n in sim.node_names().iter().filter(|n| *n != p) {
        assert_eq!(sim.data_status(n).as_deref(), Some("STREAMING|QUORUM"));
        assert_eq!(sim.status(n).as_deref(), Some("HS:quorum"));
        assert_eq!(sim.score(n).as_deref(), Some("-INFINITY"));
    }
    let record = sim.cluster.attr(
        p,
        "pgsql-sync-quorum",
        pgsql_ra_core::ports::Lifetime::Forever,
    );
    assert!(
        record.as_deref().is_some_and(|r| r.starts_with("1 ")),
        "{record:?}"
    );
}
