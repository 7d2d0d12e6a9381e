//! Safety properties of the agent driven through the simulator, and
//! properties of the pure election function.
//!
//! The simulator properties run random fault schedules ([`faults`]: steps,
//! crashes, hangs, link cuts, nodes down and up, restarts, promotions
//! outside the cluster, garbage attribute edits, writes direct and through
//! the VIP) on 2–4 node clusters, both cold (nothing probed yet) and from a
//! settled cluster, under the three spellings of the monitor roles, and
//! check the oracles of [`oracle`] after every event and at every promote.
//! Every run is executed twice and must give the same transcript.
//!
//! Each property counts how many cases reached each key assertion
//! ([`reach`]), prints the counts (`--nocapture`) and fails when a key
//! assertion is reached in under 20 % of the cases. 256 cases by default;
//! `PROPTEST_CASES=20000` raises it.

#[path = "properties/faults.rs"]
mod faults;
#[path = "properties/oracle.rs"]
mod oracle;
#[path = "properties/reach.rs"]
mod reach;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::time::Instant;

use faults::{apply, cold_event, warm_event, Event};
use oracle::Oracle;
use pgsql_ra_core::election::{
    decide, eligibility, render_note, Observation, Origin, Round, Verdict,
};
use pgsql_ra_core::lsn::Lsn;
use pgsql_ra_core::params::RepMode;
use pgsql_ra_core::sim::script::invocation_lines;
use pgsql_ra_core::sim::{MonitorRoles, Sim, SimConfig};
use pgsql_ra_core::status::DataStatus;
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError, TestRunner};
use reach::{Key, Reach};

/// One case: node count, sync mode, monitor role spelling, events.
type Case = (usize, bool, MonitorRoles, Vec<Event>);

fn roles() -> impl Strategy<Value = MonitorRoles> {
    prop_oneof![
        2 => Just(MonitorRoles::Seed),
        1 => Just(MonitorRoles::Legacy),
        1 => Just(MonitorRoles::Pcs011),
    ]
}

fn build(nodes: usize, sync: bool, roles: MonitorRoles) -> Sim {
    let names: Vec<String> = (1..=nodes).map(|i| format!("node{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut config = SimConfig::new(&refs);
    if !sync {
        config.params.insert("rep_mode".into(), "async".into());
    }
    config.migration_threshold = 0;
    config.monitor_roles = roles;
    Sim::new(config)
}

/// Runs one case, checking the oracles after each event and at each
/// promote. Returns the transcript, the key assertions reached and the
/// first violation. `warmup` policy steps run first (a settled cluster).
fn run_case(case: &Case, warmup: usize) -> (Vec<String>, BTreeSet<Key>, Result<(), TestCaseError>) {
    let (nodes, sync, roles, events) = case;
    let mut sim = build(*nodes, *sync, *roles);
    sim.settle(warmup);
    sim.promotions.clear();
    let mut transcript = invocation_lines(&sim.take_invocations());
    let mut oracle = Oracle::default();
    let mut result = Ok(());
    for e in events {
        if matches!(e, Event::Step) {
            oracle.before_step(&sim);
        }
        let (lines, commit) = apply(&mut sim, e);
        transcript.extend(lines);
        sim.take_invocations();
        let promotions = std::mem::take(&mut sim.promotions);
        let checked = promotions
            .iter()
            .try_for_each(|r| oracle.on_promotion(r))
            .and_then(|_| match &commit {
                Some(c) => oracle.on_commit(c),
                None => Ok(()),
            })
            .and_then(|_| oracle.after_event(&sim));
        if let Err(err) = checked {
            transcript.push(format!("VIOLATION after {e:?}: {err}"));
            result = Err(err);
            break;
        }
    }
    (transcript, oracle.reached, result)
}

/// Cases per property: `PROPTEST_CASES`, 256 by default.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// Runs a simulator property: every case twice (determinism), the reach
/// counters printed and checked, the shrunk counterexample and its
/// transcript printed on failure.
fn run_property(
    property: &str,
    strategy: impl Strategy<Value = Case>,
    warmup: usize,
    keys: &[Key],
) {
    let config = ProptestConfig {
        cases: cases(),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/properties-sim.proptest-regressions",
        ))),
        ..ProptestConfig::default()
    };
    let mut runner = TestRunner::new(config);
    let reach = RefCell::new(Reach::default());
    let started = Instant::now();
    let outcome = runner.run(&strategy, |case| {
        let (first, reached, result) = run_case(&case, warmup);
        result?;
        let (second, _, _) = run_case(&case, warmup);
        prop_assert_eq!(first, second, "the same events gave different transcripts");
        reach.borrow_mut().add(&reached);
        Ok(())
    });
    if let Err(e) = outcome {
        if let proptest::test_runner::TestError::Fail(_, case) = &e {
            let (transcript, _, _) = run_case(case, warmup);
            eprintln!("{property}: transcript of the minimal failing case:");
            for l in transcript {
                eprintln!("  {l}");
            }
        }
        panic!("{property}: {e}");
    }
    let reach = reach.into_inner();
    for line in reach.summary(property, keys) {
        eprintln!("{line}");
    }
    eprintln!(
        "{property}: {} cases in {:.1} s",
        reach.cases,
        started.elapsed().as_secs_f64()
    );
    let under = reach.under(keys, 20);
    assert!(
        under.is_empty(),
        "{property}: key assertions reached in under 20 % of the cases: {under:?}"
    );
}

const KEYS: &[Key] = &[
    Key::PromotionAfterAck,
    Key::AckAfterAck,
    Key::PromotionCompared,
    Key::RogueBesidePromoted,
    Key::GarbageCandidate,
];

/// From a cluster nothing has probed yet.
#[test]
fn safety_properties_hold_from_a_cold_cluster() {
    let strategy = (
        2usize..=4,
        prop::bool::weighted(0.75),
        roles(),
        prop::collection::vec(cold_event(), 10..60),
    );
    run_property("cold", strategy, 0, KEYS);
}

/// From a settled sync cluster with a primary, biased towards writes
/// through the VIP followed by failovers.
#[test]
fn safety_properties_hold_from_a_settled_cluster() {
    let strategy = (
        2usize..=4,
        Just(true),
        roles(),
        prop::collection::vec(warm_event(), 5..40),
    );
    run_property("settled", strategy, 8, KEYS);
}

#[test]
fn a_quiet_cluster_elects_exactly_one_primary() {
    for nodes in 2..=4 {
        let mut sim = build(nodes, true, MonitorRoles::Seed);
        sim.settle(8);
        assert_eq!(sim.net.running_primaries().len(), 1, "{nodes} nodes");
        let primary = &sim.net.running_primaries()[0];
        assert_eq!(sim.status(primary).as_deref(), Some("PRI"));
        assert_eq!(sim.data_status(primary).as_deref(), Some("LATEST"));
    }
}

fn data_status() -> impl Strategy<Value = Option<DataStatus>> {
    prop_oneof![
        Just(None),
        Just(Some(DataStatus::Latest)),
        Just(Some(DataStatus::Disconnect)),
        Just(Some(DataStatus::replication("STREAMING", "SYNC"))),
        Just(Some(DataStatus::replication("STREAMING", "ASYNC"))),
        Just(Some(DataStatus::replication("STREAMING", "POTENTIAL"))),
        Just(Some(DataStatus::replication("CATCHUP", "ASYNC"))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The pure election (§4.3): nodes not eligible by their data-status
    /// (DISCONNECT among them) never take part and so never win; every node
    /// that takes part publishes its LSN; after the confirmation rounds a
    /// winner holds the highest LSN among the eligible nodes, and some
    /// eligible node always wins.
    #[test]
    fn the_election_winner_holds_the_highest_eligible_lsn(
        nodes in prop::collection::vec((data_status(), 0u64..8), 1..6),
        sync in any::<bool>(),
        check_count in 0u32..5,
    ) {
        let mode = if sync { RepMode::Sync } else { RepMode::Async };
        let eligible: Vec<(String, Lsn)> = nodes
            .iter()
            .enumerate()
            .filter(|(_, (ds, _))| eligibility(mode, ds.as_ref()).is_ok())
            .map(|(i, (_, l))| (format!("node{i}"), Lsn(0x0300_0000 + l * 0x100)))
            .collect();
        let observed: Vec<Observation> = eligible
            .iter()
            .map(|(n, l)| Observation { node: n.clone(), lsn: *l, origin: None })
            .collect();
        let top = observed.iter().map(|o| o.lsn).max();
        let mut winners = Vec::new();
        for (i, (ds, _)) in nodes.iter().enumerate() {
            let name = format!("node{i}");
            let Some((_, my_lsn)) = eligible.iter().find(|(n, _)| *n == name) else {
                prop_assert!(eligibility(mode, ds.as_ref()).is_err());
                continue;
            };
            prop_assert!(ds.as_ref() != Some(&DataStatus::Disconnect), "DISCONNECT is never eligible");
            // A confirmed round: the same note as last time, all rounds done.
            let d = decide(&Round {
                my_lsn: *my_lsn,
                my_origin: None,
                observed: observed.clone(),
                completed: check_count.saturating_sub(1),
                previous: Some(render_note(&observed)),
                check_count,
            });
            prop_assert_eq!(d.highest, top);
            match d.verdict {
                Verdict::Winner => {
                    prop_assert_eq!(Some(*my_lsn), top);
                    winners.push(name);
                }
                Verdict::Loser => prop_assert!(Some(*my_lsn) < top),
                v => prop_assert!(false, "a confirmed round must decide, got {:?}", v),
            }
            // An unconfirmed round (changed note) never elects anyone.
            let first = decide(&Round {
                my_lsn: *my_lsn,
                my_origin: None,
                observed: observed.clone(),
                completed: 0,
                previous: None,
                check_count,
            });
            prop_assert_eq!(first.verdict, Verdict::Restarted);
        }
        prop_assert_eq!(winners.is_empty(), eligible.is_empty());
    }

    /// §8.2 bug N (fixed): with every node publishing its timeline and
    /// system identifier, a confirmed round makes a node the winner exactly
    /// when it holds the maximum (timeline, LSN) among the nodes of its own
    /// system identifier and that identifier is not outnumbered; a node of
    /// another system is never the reason anyone loses; and the same inputs
    /// always give the same decision.
    #[test]
    fn the_election_winner_holds_the_newest_timeline_and_lsn_of_its_system(
        nodes in prop::collection::vec((1u32..4, 0u64..6, 0u64..3), 1..6),
        check_count in 0u32..5,
    ) {
        let observed: Vec<Observation> = nodes
            .iter()
            .enumerate()
            .map(|(i, (tli, lsn, sys))| Observation {
                node: format!("node{i}"),
                lsn: Lsn(0x0300_0000 + lsn * 0x100),
                origin: Some(Origin { timeline: *tli, system_id: 7_000 + sys }),
            })
            .collect();
        let count = |id: u64| observed.iter().filter(|o| o.origin.unwrap().system_id == id).count();
        let mut winners = Vec::new();
        for me in &observed {
            let mine = me.origin.unwrap();
            let round = Round {
                my_lsn: me.lsn,
                my_origin: me.origin,
                observed: observed.clone(),
                completed: check_count.saturating_sub(1),
                previous: Some(render_note(&observed)),
                check_count,
            };
            let d = decide(&round);
            prop_assert_eq!(&d, &decide(&round), "deterministic");
            let key = |o: &Observation| (o.origin.unwrap().timeline, o.lsn);
            let best = observed
                .iter()
                .filter(|o| o.origin.unwrap().system_id == mine.system_id)
                .map(key)
                .max()
                .unwrap();
            let outnumbered = observed
                .iter()
                .any(|o| count(o.origin.unwrap().system_id) > count(mine.system_id));
            let expected = key(me) == best && !outnumbered;
            match d.verdict {
                Verdict::Winner => {
                    prop_assert!(expected, "{} won: {}", me.node, d.reason);
                    winners.push(mine.system_id);
                }
                Verdict::Loser => prop_assert!(!expected, "{} lost: {}", me.node, d.reason),
                v => prop_assert!(false, "a confirmed round must decide, got {:?}", v),
            }
            let foreign = observed.iter().filter(|o| o.origin.unwrap().system_id != mine.system_id).count();
            prop_assert_eq!(d.warnings.len(), foreign);
        }
        // Someone always wins, and every winner belongs to a most published system.
        let top = observed.iter().map(|o| count(o.origin.unwrap().system_id)).max().unwrap();
        prop_assert!(!winners.is_empty());
        prop_assert!(winners.iter().all(|id| count(*id) == top));
    }
}
