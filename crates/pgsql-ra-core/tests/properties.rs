//! Safety properties over random clusters (2–4 nodes, sync or async) and
//! random event sequences (crashes, link cuts, writes, lag, monitors,
//! Pacemaker steps, cleanups), driven through the simulator.

use std::collections::BTreeMap;

use pgsql_ra_core::memory::SimRole;
use pgsql_ra_core::ocf::OcfExit;
use pgsql_ra_core::sim::script::{invocation_lines, roles_line};
use pgsql_ra_core::sim::{PcmkRole, Sim, SimConfig};
use pgsql_ra_core::Score;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Event {
    Step,
    Kill(usize),
    LinkDown(usize, usize),
    LinkUp(usize, usize),
    Write(usize, u64),
    Lag(usize, bool),
    Monitor(usize),
    Cleanup(usize),
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        6 => Just(Event::Step),
        1 => (0usize..4).prop_map(Event::Kill),
        1 => (0usize..4, 0usize..4).prop_map(|(a, b)| Event::LinkDown(a, b)),
        1 => (0usize..4, 0usize..4).prop_map(|(a, b)| Event::LinkUp(a, b)),
        2 => (0usize..4, 1u64..20).prop_map(|(a, n)| Event::Write(a, n)),
        1 => (0usize..4, any::<bool>()).prop_map(|(a, l)| Event::Lag(a, l)),
        2 => (0usize..4).prop_map(Event::Monitor),
        1 => (0usize..4).prop_map(Event::Cleanup),
    ]
}

fn scenario() -> impl Strategy<Value = (usize, bool, Vec<Event>)> {
    (
        2usize..=4,
        any::<bool>(),
        prop::collection::vec(event(), 1..30),
    )
}

fn build(nodes: usize, sync: bool) -> Sim {
    let names: Vec<String> = (1..=nodes).map(|i| format!("node{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut config = SimConfig::new(&refs);
    if !sync {
        config.params.insert("rep_mode".into(), "async".into());
    }
    config.migration_threshold = 0;
    Sim::new(config)
}

fn name(sim: &Sim, i: usize) -> String {
    let names = sim.node_names();
    names[i % names.len()].clone()
}

/// Data-status values that let a standby be promoted (§4.3).
fn promotable_data(sync: bool, ds: Option<&str>) -> bool {
    match ds {
        None => true,
        Some("LATEST") | Some("STREAMING|SYNC") => true,
        Some("STREAMING|ASYNC") => !sync,
        _ => false,
    }
}

/// Applies one event; returns the transcript lines it produced.
fn apply(sim: &mut Sim, e: &Event) -> Vec<String> {
    let mut out = vec![format!("{e:?}")];
    match e {
        Event::Step => sim.step(),
        Event::Kill(i) => sim.net.crash(&name(sim, *i)),
        Event::LinkDown(a, b) => sim.net.set_link(&name(sim, *a), &name(sim, *b), false),
        Event::LinkUp(a, b) => sim.net.set_link(&name(sim, *a), &name(sim, *b), true),
        Event::Write(a, n) => out.push(format!("{:?}", sim.net.write(&name(sim, *a), *n))),
        Event::Lag(a, l) => sim.net.set_lagging(&name(sim, *a), *l),
        Event::Monitor(a) => {
            let n = name(sim, *a);
            sim.monitor(&n);
        }
        Event::Cleanup(a) => {
            let n = name(sim, *a);
            sim.cleanup(&n);
        }
    }
    out.extend(invocation_lines(&sim.invocations));
    out.push(roles_line(sim));
    out
}

/// Runs the events, checking the safety properties after each; returns the transcript.
fn run_checked(nodes: usize, sync: bool, events: &[Event]) -> Result<Vec<String>, TestCaseError> {
    let mut sim = build(nodes, sync);
    let mut transcript = Vec::new();
    for e in events {
        // Who could legitimately be promoted before this event.
        let before: BTreeMap<String, bool> = sim
            .node_names()
            .into_iter()
            .map(|n| {
                let ok = sim.net.role(&n) == SimRole::Standby
                    && promotable_data(sync, sim.data_status(&n).as_deref());
                (n, ok)
            })
            .collect();
        transcript.extend(apply(&mut sim, e));
        let invocations = sim.take_invocations();

        let primaries = sim.net.running_primaries();
        prop_assert!(
            primaries.len() <= 1,
            "two running primaries {primaries:?} after {e:?}"
        );
        let promoted: Vec<String> = sim
            .node_names()
            .into_iter()
            .filter(|n| sim.pcmk_role(n) == PcmkRole::Promoted)
            .collect();
        prop_assert!(
            promoted.len() <= 1,
            "two promoted instances {promoted:?} after {e:?}"
        );

        for n in sim.node_names() {
            if sim.data_status(&n).as_deref() == Some("DISCONNECT") {
                let score = sim.score(&n).and_then(|s| s.parse::<Score>().ok());
                prop_assert!(
                    !score.is_some_and(|s| s.is_positive()),
                    "{n} is DISCONNECT with score {score:?} after {e:?}"
                );
            }
        }

        for inv in invocations
            .iter()
            .filter(|i| i.label == "promote" && i.outcome.code == OcfExit::Success)
        {
            let winner = sim.net.lsn(&inv.node);
            for (other, eligible) in &before {
                if *eligible && *other != inv.node {
                    prop_assert!(
                        winner >= sim.net.lsn(other),
                        "{} promoted at {winner} but eligible {other} is at {}",
                        inv.node,
                        sim.net.lsn(other)
                    );
                }
            }
        }
    }
    Ok(transcript)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn safety_properties_hold_and_runs_are_deterministic((nodes, sync, events) in scenario()) {
        let first = run_checked(nodes, sync, &events)?;
        let second = run_checked(nodes, sync, &events)?;
        prop_assert_eq!(first, second);
    }
}

#[test]
fn a_quiet_cluster_elects_exactly_one_primary() {
    for nodes in 2..=4 {
        let mut sim = build(nodes, true);
        sim.settle(8);
        assert_eq!(sim.net.running_primaries().len(), 1, "{nodes} nodes");
        let primary = &sim.net.running_primaries()[0];
        assert_eq!(sim.status(primary).as_deref(), Some("PRI"));
        assert_eq!(sim.data_status(primary).as_deref(), Some("LATEST"));
    }
}
