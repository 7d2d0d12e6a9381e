//! Issue 11 item 2: the synchronous standby is chosen from all rows of
//! `pg_stat_replication` at once, not in node_list order. Over the
//! simulator with 3–5 nodes in sync mode, after random link cuts, standby
//! crashes, restarts, nodes down and up, lag and Pacemaker steps: after
//! every monitor of the Promoted instance in which a standby of node_list
//! streams from it, the `synchronous_standby_names` the server runs with
//! names one of the standbys that stream.
//!
//! The judgement comes from the simulated servers (who streams from whom,
//! the reloaded setting), never from the attributes the agent wrote.
//! `PROPTEST_CASES` sets the number of cases (256 by default).

use pgsql_ra_core::memory::SimRole;
use pgsql_ra_core::ocf::OcfExit;
use pgsql_ra_core::sim::{MonitorRoles, PcmkRole, Sim, SimConfig};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

#[derive(Debug, Clone)]
enum Event {
    Step,
    MonitorPrimary,
    LinkDown(usize),
    LinkUp(usize),
    Kill(usize),
    Restart(usize),
    NodeDown(usize),
    NodeUp(usize),
    Lag(usize, bool),
    WriteVip(u64),
}

fn event() -> impl Strategy<Value = Event> {
    let node = 0usize..5;
    prop_oneof![
        4 => Just(Event::Step),
        8 => Just(Event::MonitorPrimary),
        4 => node.clone().prop_map(Event::LinkDown),
        3 => node.clone().prop_map(Event::LinkUp),
        1 => node.clone().prop_map(Event::Kill),
        1 => node.clone().prop_map(Event::Restart),
        1 => node.clone().prop_map(Event::NodeDown),
        2 => node.clone().prop_map(Event::NodeUp),
        2 => (node, any::<bool>()).prop_map(|(n, l)| Event::Lag(n, l)),
        3 => (1u64..10).prop_map(Event::WriteVip),
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

/// The standbys (other node_list nodes) streaming from `primary` now.
fn streaming_from(sim: &Sim, primary: &str) -> Vec<String> {
    sim.node_names()
        .into_iter()
        .filter(|n| n != primary && sim.net.upstream(n).as_deref() == Some(primary))
        .collect()
}

fn names_of(setting: &str) -> Vec<String> {
    setting
        .split(',')
        .map(|n| n.trim().trim_matches('"').to_string())
        .filter(|n| !n.is_empty())
        .collect()
}

/// What one case reached.
#[derive(Debug, Default)]
struct Reached {
    /// A primary monitor ran with a standby streaming (the check ran).
    checked: bool,
    /// ... and before it the setting named no streaming standby (a
    /// replacement had to be chosen).
    replaced: bool,
}

fn apply(sim: &mut Sim, e: &Event, reached: &mut Reached) -> Result<(), TestCaseError> {
    let name = |sim: &Sim, i: usize| {
        let names = sim.node_names();
        names[i % names.len()].clone()
    };
    match e {
        Event::Step => sim.step(),
        Event::MonitorPrimary => {
            let Some(primary) = promoted(sim) else {
                return Ok(());
            };
            let streaming = streaming_from(sim, &primary);
            let before = names_of(&sim.net.active_sync_names(&primary));
            let code = sim.monitor(&primary);
            if code != Some(OcfExit::RunningPromoted) || streaming.is_empty() {
                return Ok(());
            }
            reached.checked = true;
            if !before.iter().any(|n| streaming.contains(n)) {
                reached.replaced = true;
            }
            let after = sim.net.active_sync_names(&primary);
            prop_assert!(
                names_of(&after).iter().any(|n| streaming.contains(n)),
                "after {primary}'s monitor, synchronous_standby_names = {after:?} names none of the streaming standbys {streaming:?} (before: {before:?})"
            );
        }
        Event::LinkDown(i) | Event::LinkUp(i) => {
            if let Some(p) = promoted(sim) {
                let n = name(sim, *i);
                sim.net.set_link(&p, &n, matches!(e, Event::LinkUp(_)));
            }
        }
        Event::Kill(i) => {
            let n = name(sim, *i);
            if sim.net.role(&n) == SimRole::Standby {
                sim.net.crash(&n);
            }
        }
        Event::Restart(i) => {
            let n = name(sim, *i);
            if sim.net.role(&n) == SimRole::Standby {
                let _ = sim.net.restart(&n);
            }
        }
        Event::NodeDown(i) => {
            let n = name(sim, *i);
            if sim.cluster.is_online(&n) && sim.net.role(&n) == SimRole::Standby {
                sim.node_down(&n);
            }
        }
        Event::NodeUp(i) => {
            let n = name(sim, *i);
            if !sim.cluster.is_online(&n) {
                sim.node_up(&n);
            }
        }
        Event::Lag(i, l) => sim.net.set_lagging(&name(sim, *i), *l),
        Event::WriteVip(count) => {
            if let Some(p) = sim.net.vip_holder() {
                let _ = sim.net.write(&p, *count);
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
fn after_a_primary_monitor_a_streaming_standby_is_synchronous() {
    let counts = std::cell::Cell::new((0u32, 0u32, 0u32));
    let config = ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(nodes in 3usize..=5, events in prop::collection::vec(event(), 10..60))| {
        let mut sim = build(nodes);
        sim.settle(8);
        prop_assert!(promoted(&sim).is_some(), "a settled cluster has a primary");
        let mut reached = Reached::default();
        for e in &events {
            apply(&mut sim, e, &mut reached)?;
            sim.take_invocations();
            sim.promotions.clear();
        }
        let (n, c, r) = counts.get();
        counts.set((n + 1, c + u32::from(reached.checked), r + u32::from(reached.replaced)));
    });
    let (n, checked, replaced) = counts.get();
    eprintln!("sync set: {n} cases, {checked} checked a primary monitor with a streaming standby, {replaced} had to choose a replacement");
    assert!(checked * 5 >= n, "the check ran in under 20 % of the cases");
    assert!(
        replaced * 5 >= n,
        "a replacement was chosen in under 20 % of the cases"
    );
}

/// The stock order dependence (issue 11), 3 nodes: the sync standby is
/// the standby listed last in node_list and its link is cut: one primary
/// monitor makes the other standby synchronous (the stock walk met the
/// other standby while the lost one was still configured, then released
/// the lost one: the primary ran asynchronous until its next monitor).
#[test]
fn a_lost_sync_standby_listed_last_is_replaced_in_one_monitor() {
    let mut sim = build(3);
    sim.settle(8);
    let p = promoted(&sim).expect("a primary");
    let others: Vec<String> = sim.node_names().into_iter().filter(|n| *n != p).collect();
    let (first, last) = (others[0].as_str(), others[1].as_str());
    let monitor = |sim: &mut Sim| assert_eq!(sim.monitor(&p), Some(OcfExit::RunningPromoted));
    // Make the last-listed standby the sync standby.
    sim.net.set_link(&p, first, false);
    monitor(&mut sim);
    assert_eq!(names_of(&sim.net.active_sync_names(&p)), [last]);
    sim.net.set_link(&p, first, true);
    monitor(&mut sim);
    assert_eq!(names_of(&sim.net.active_sync_names(&p)), [last]);
    // It is lost: the first-listed standby replaces it in the same monitor.
    sim.net.set_link(&p, last, false);
    assert_eq!(streaming_from(&sim, &p), [first]);
    monitor(&mut sim);
    assert_eq!(names_of(&sim.net.active_sync_names(&p)), [first]);
}
