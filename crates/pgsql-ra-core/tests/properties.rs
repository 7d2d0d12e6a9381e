//! Safety properties of the agent driven through the simulator (the pure
//! election's properties are in `election_properties.rs`).
//!
//! The simulator properties run random fault schedules (`pgsql_ra_core::sim::faults`: steps,
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

#[path = "properties/oracle.rs"]
mod oracle;
#[path = "properties/reach.rs"]
mod reach;
#[path = "properties/rejoin.rs"]
mod rejoin;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::time::Instant;

use oracle::Oracle;
use pgsql_ra_core::sim::faults::{
    cold_event, rejoin_run_event, run_schedule, warm_event, Event, Judge, Observed,
};
use pgsql_ra_core::sim::{MonitorRoles, Sim, SimConfig};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError, TestRunner};
use reach::{Key, Reach};

/// One case: node count, sync mode, monitor role spelling, events, and
/// `crash_rejoin` (issue 10; `+restart`: with `restart_on_promote`, see [`build`]).
type Case = (usize, bool, MonitorRoles, Vec<Event>, &'static str);

/// `crash_rejoin`: mostly on, so that the oracles judge the rejoins.
fn crash_rejoin() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        1 => Just("none"),
        2 => Just("rewind"),
        2 => Just("rewind-or-clone"),
        1 => Just("rewind+restart"),
        1 => Just("rewind-or-clone+restart"),
    ]
}

fn roles() -> impl Strategy<Value = MonitorRoles> {
    prop_oneof![
        2 => Just(MonitorRoles::Seed),
        1 => Just(MonitorRoles::Legacy),
        1 => Just(MonitorRoles::Pcs011),
    ]
}

/// `crash_rejoin` with an optional `+restart` suffix: the seed's
/// `restart_on_promote=true` as well (promotions keep the timeline number;
/// issue 10's fork rule).
fn build(nodes: usize, sync: bool, roles: MonitorRoles, crash_rejoin: &str) -> Sim {
    let names: Vec<String> = (1..=nodes).map(|i| format!("node{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut config = SimConfig::new(&refs);
    if !sync {
        config.params.insert("rep_mode".into(), "async".into());
    }
    let (policy, restart) = match crash_rejoin.strip_suffix("+restart") {
        Some(policy) => (policy, true),
        None => (crash_rejoin, false),
    };
    config.params.insert("crash_rejoin".into(), policy.into());
    if restart {
        config
            .params
            .insert("restart_on_promote".into(), "true".into());
    }
    config.migration_threshold = 0;
    config.monitor_roles = roles;
    Sim::new(config)
}

/// The oracles of [`oracle`] and the rejoin watch of [`rejoin`] as a
/// judge of the exported fault-schedule runner.
#[derive(Default)]
struct Oracles {
    oracle: Oracle,
}

impl Judge for Oracles {
    fn before_step(&mut self, sim: &Sim) {
        self.oracle.before_step(sim);
    }

    fn after_event(&mut self, seen: &Observed<'_>) -> Result<(), TestCaseError> {
        if matches!(seen.event, Event::Step) {
            rejoin::after_step(seen.sim, &mut self.oracle.reached)?;
        }
        seen.promotions
            .iter()
            .try_for_each(|r| self.oracle.on_promotion(r))?;
        if let Some(c) = seen.commit {
            self.oracle.on_commit(c)?;
        }
        self.oracle.after_event(seen.sim)
    }
}

/// Runs one case, checking the oracles after each event and at each
/// promote. Returns the transcript, the key assertions reached and the
/// first violation. `warmup` policy steps run first (a settled cluster).
fn run_case(case: &Case, warmup: usize) -> (Vec<String>, BTreeSet<Key>, Result<(), TestCaseError>) {
    let (nodes, sync, roles, events, crash_rejoin) = case;
    let mut sim = build(*nodes, *sync, *roles, crash_rejoin);
    sim.settle(warmup);
    let mut judge = Oracles::default();
    let run = run_schedule(&mut sim, events, &mut judge);
    (run.transcript, judge.oracle.reached, run.result)
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
    if std::env::var("SIM_PROPS_SURVEY").is_ok_and(|v| v == "1") {
        return survey(property, &strategy, &mut runner, warmup, keys);
    }
    let reach = RefCell::new(Reach::default());
    // Once a case failed, proptest shrinks it: those runs are not counted.
    let shrinking = std::cell::Cell::new(false);
    let started = Instant::now();
    let outcome = runner.run(&strategy, |case| {
        let (first, reached, result) = run_case(&case, warmup);
        if result.is_err() {
            shrinking.set(true);
        }
        result?;
        let (second, _, _) = run_case(&case, warmup);
        prop_assert_eq!(first, second, "the same events gave different transcripts");
        if !shrinking.get() {
            reach.borrow_mut().add(&reached);
        }
        Ok(())
    });
    if let Err(e) = outcome {
        let reach = reach.borrow();
        for line in reach.summary(&format!("{property}, before the failure"), keys, &[]) {
            eprintln!("{line}");
        }
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
    let shown: Vec<Key> = [
        Key::ForkedPromoted,
        Key::IndistinguishableFork,
        Key::UnobservedStandbyAhead,
        Key::DemotedRanAsStandby,
        Key::LonePrimaryRestart,
        Key::RejoinedByFollow,
        Key::RejoinedByRewind,
        Key::RejoinedByClone,
    ]
    .into_iter()
    .filter(|k| !keys.contains(k))
    .collect();
    for line in reach.summary(property, keys, &shown) {
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

/// The tag of a violation (`[forked] …` → `forked`).
fn violation_kind(e: &TestCaseError) -> String {
    let text = e.to_string();
    text.split_once('[')
        .and_then(|(_, rest)| rest.split_once(']'))
        .map_or(text.clone(), |(tag, _)| tag.to_string())
}

/// Greedily removes events while the case still breaks the same oracle.
fn shrink(mut case: Case, warmup: usize, kind: &str) -> Case {
    loop {
        let smaller = (0..case.3.len()).find_map(|i| {
            let mut c = case.clone();
            c.3.remove(i);
            let (_, _, r) = run_case(&c, warmup);
            r.err().filter(|e| violation_kind(e) == kind).map(|_| c)
        });
        match smaller {
            Some(c) => case = c,
            None => return case,
        }
    }
}

/// `SIM_PROPS_SURVEY=1`: runs every case to its end (no proptest
/// shrinking), then prints the reach counters over all cases, how many
/// cases broke each oracle and, per oracle, the smallest such case shrunk
/// by removing events, with its transcript; fails when any case broke an
/// oracle. For measuring and hunting, not for CI.
fn survey(
    property: &str,
    strategy: &impl Strategy<Value = Case>,
    runner: &mut TestRunner,
    warmup: usize,
    keys: &[Key],
) {
    use proptest::strategy::ValueTree;
    let mut reach = Reach::default();
    let mut broken: std::collections::BTreeMap<String, (u32, Case)> = Default::default();
    for _ in 0..runner.config().cases {
        let case = strategy.new_tree(runner).expect("a case").current();
        let (_, reached, result) = run_case(&case, warmup);
        reach.add(&reached);
        if let Err(e) = result {
            let entry = broken
                .entry(violation_kind(&e))
                .or_insert_with(|| (0, case.clone()));
            entry.0 += 1;
            if case.3.len() < entry.1 .3.len() {
                entry.1 = case;
            }
        }
    }
    for line in reach.summary(property, keys, &[]) {
        eprintln!("{line}");
    }
    for (kind, (n, case)) in &broken {
        eprintln!("survey[{property}] {n:>5} cases broke: {kind}");
        let small = shrink(case.clone(), warmup, kind);
        eprintln!("survey[{property}] smallest {kind} case: {small:?}");
        for l in run_case(&small, warmup).0 {
            eprintln!("    {l}");
        }
    }
    assert!(broken.is_empty(), "{property}: some cases broke an oracle");
}

const KEYS: &[Key] = &[
    Key::PromotionAfterAck,
    Key::AckAfterAck,
    Key::PromotionCompared,
    Key::RogueBesidePromoted,
    Key::GarbageCandidate,
];

/// Minimal counterexamples the properties found (shrunk by proptest),
/// kept as fixed cases so that they are replayed whatever the generators
/// become: (label, warm-up steps, case).
fn recorded_counterexamples() -> Vec<(&'static str, usize, Case)> {
    use Event::*;
    vec![
        (
            "issue 10 rejoin-diverged with restart_on_promote (found by a 5000-case rejoin-restart run, 2026-12-01; reproduced on 6292fda; fixed: a later promotion of a node at an LSN it once began writing at keeps its own point): node2, promoted at 0/3000128 and killed before writing, rejoined by follow; node4 wrote past 0/3000128 and crashed; node2 was promoted there again, but <rsc>-primary-forks dropped the point as a duplicate of its first (seq 3); node2 wrote, crashed, came back as the lone primary and was promoted at 0/3000228 (seq 6); node4 (its own last point seq 5) counted only 6@0/3000228 and followed with its WAL past 0/3000128",
            8,
            (4, true, MonitorRoles::Seed, vec![
                KillPrimary, Steps(2), FailureTimeout, WriteVip(1), Steps(2), NodeDown(0), Steps(2),
                Lag(1, true), KillPrimary, Steps(2), FailureTimeout, Steps(2), KillPrimary, Steps(2),
                Steps(2), DivergeAndKill(1), Steps(2), DivergeAndKill(1), Steps(5), Steps(2),
                FailureTimeout, Steps(2), Steps(2), Steps(2), Steps(2), Steps(2), Steps(2), Steps(2),
                Steps(2), Steps(2), Steps(2), Steps(2), Steps(2), Steps(2), Steps(2), Steps(2),
                Steps(2), Steps(2), Steps(2), Steps(2), Steps(2), Steps(2),
            ], "rewind+restart"),
        ),
        (
            "issue 9 (found by a settled run of issue 18's branch, 2026-12-01; reproduced on cb45954; fixed: promote refuses a server already primary on a timeline no cluster primary recorded): a diverged old primary, an outside promotion, a hung node and a switchover promoted node2 on a timeline created outside the cluster",
            8,
            (4, true, MonitorRoles::Seed, vec![
                DivergeAndKill(1), Step, Step, WriteVip(1), PgPromoteStandby, Hang(0, true),
                Kill(2), Switchover, Step, Step,
            ], "none"),
        ),
        (
            "issue 9 (found by a settled run, 2026-12-01; fixed: the Promoted monitor checks the lineage): node1 promoted outside the cluster, a planned switchover's promote of node1 refuses (node3's demote checkpoint), the failure expires before Pacemaker recovers and node1's monitor reported it Promoted; node3 was then promoted outside too, restarted as node1's standby, and was promoted when node1 died: on a timeline created outside the cluster",
            8,
            (3, true, MonitorRoles::Seed, vec![
                PgPromoteStandby, Switchover, FailureTimeout, WriteVip(1), Step,
                PgPromoteStandby, Steps(2), KillPrimary, Step, Step,
            ], "rewind"),
        ),
        (
            "issue 11 item 4 (found by CI's settled run, tolerated then as AsyncAheadInSyncMode; fixed: pre-promote reads a hung standby's end of WAL from the data directory): after a failover, a planned switchover promoted the sync standby while the async standby, whose server did not answer at post-demote, held more WAL on the same timeline",
            8,
            (3, true, MonitorRoles::Seed, vec![
                Lag(3, true), WriteVip(1), Hang(1, true), KillPrimary, Switchover, Steps(5),
            ], "none"),
        ),
        (
            "issue 11 item 4, the same history (found by CI's cold run, tolerated then as AheadOnNewerTimeline; fixed: pre-promote compares by the newer node's own history file): the lagging sync standby, still on timeline 1, was promoted while the async standby held more WAL on timeline 2, whose history passes through the sync standby's position",
            0,
            (3, true, MonitorRoles::Seed, vec![
                Lag(0, true), Steps(6), WriteVip(1), NodeDown(2), Steps(8), Steps(8),
            ], "none"),
        ),
        (
            "issue 11 item 4 (found by the 5000-case cold run of this change, 2026-12-01): a standby promoted outside the cluster and restarted stays DISCONNECT; at a switchover its recorded master-baseline is ahead of the promotee's on the same timeline and it took over, scoring an ineligible node 1000 (now: no take-over, no ban)",
            0,
            (3, true, MonitorRoles::Seed, vec![
                Steps(5), PgPromoteStandby, Kill(0), Step, PgPromote(1), Switchover,
                Step, Step, Step, Step, Step, Step, Step, Step, Step, Step, Step, Step, Step, Step,
            ], "none"),
        ),
        (
            "issue 11 item 4 (found by the 5000-case settled run of this change, 2026-12-01): a DISCONNECT standby with a master-baseline ahead of the promotee's took over at pre-promote after a failover (now: no take-over, no ban)",
            8,
            (4, true, MonitorRoles::Seed, vec![
                KillPrimary, Step, PgPromoteStandby, Restart(1), KillPrimary, Steps(6),
                KillPrimary, Step, Step, Step,
            ], "none"),
        ),
        (
            "issue 11 item 4, the same history (found by the 5000-case rejoin run of this change, 2026-12-01): the lagging sync standby on timeline 3 was promoted while two async standbys held more WAL on timeline 4, whose history passes through its position; the promotee's published origin has no switch point (the simulator writes no history files), so the node ahead compares it by (timeline, position) on its own history",
            8,
            (4, true, MonitorRoles::Seed, vec![
                KillPrimary, Steps(2), Lag(2, true), KillPrimary, Steps(2), Steps(2), Steps(2),
                FailureTimeout, Steps(2), WriteVip(1), Steps(2), FailureTimeout, Steps(2),
                FailureTimeout, Steps(2), NodeDown(1), Steps(2), Steps(2), Steps(2), Steps(2),
                Steps(2), Steps(2), Steps(2), Steps(2), Steps(2), Steps(2), Steps(2), Steps(2),
                Steps(2), Steps(2), Steps(2), Steps(2), Steps(2), Steps(2), Steps(2), Steps(2),
                Steps(2), Steps(2), Steps(2), Steps(2),
            ], "rewind"),
        ),
        (
            "issue 11 item 4 (found by the second 5000-case settled run of this change, 2026-12-01): an operator's tool made the lagging sync standby's data-status unrecognised, so it published no location while its score 100 stood; the primary's node went down and it was promoted while an async standby held more of the same timeline (now the promotee compares itself at its own pre-promote and yields)",
            8,
            (4, true, MonitorRoles::Seed, vec![
                LinkDown(0, 3), Lag(1, true), Step, WriteVip(1), NodeDown(3),
                SetAttr(1, pgsql_ra_core::sim::faults::Attr::DataStatus, 0), Step, Step, Step, Step,
            ], "none"),
        ),
        (
            "S1: a rogue standby's Unpromoted monitor sets the Promoted node to -INFINITY; it is demoted and the rogue is finally promoted on its fork",
            8,
            (3, true, MonitorRoles::Seed, vec![
                PgPromoteStandby, Step, KillPrimary, PgPromoteStandby,
                Step, Step, Step, Step, Step,
            ], "none"),
        ),
        (
            "S2: the primary's link to its sync standby node1 is cut (node1 DISCONNECT, node2 becomes sync), a write is acknowledged by node2, node2 and the primary go down, an operator's tool writes 'disconnect' on node1: node1 is elected without the acknowledged write",
            8,
            (3, true, MonitorRoles::Seed, vec![
                LinkDown(2, 0), Step, WriteVip(5), NodeDown(1), KillPrimary,
                SetAttr(0, pgsql_ra_core::sim::faults::Attr::DataStatus, 0), Steps(8),
            ], "none"),
        ),
        (
            "a standby promoted outside the cluster that crashes before its next monitor restarts as a standby on its fork and wins on the higher timeline",
            8,
            (2, true, MonitorRoles::Seed, vec![
                PgPromoteStandby, WriteVip(1), KillPrimary, Steps(4),
                Step, Step, Step, Step, Step, Step,
            ], "none"),
        ),
        (
            "a re-initdb'ed node (another system identifier) wins a 1:1 tie of system identifiers",
            0,
            (2, false, MonitorRoles::Seed, vec![SetSysid(1), Steps(8), Step], "none"),
        ),
        (
            "a standby that crashed is re-initdb'ed (fresh WAL, another system) and keeps its STREAMING|SYNC data-status; when the primary dies it is promoted",
            0,
            (4, true, MonitorRoles::Seed, vec![
                Steps(5), Steps(2), Kill(0), SetSysid(0), KillPrimary, Steps(6),
            ], "none"),
        ),
        (
            "issue 10: an outside promotion's timeline is adopted by the cluster (the tolerated indistinguishable fork), a second node promoted outside rejoins it by crash rejoin and is promoted later: the same known limit, continued, not a new fork",
            0,
            (3, true, MonitorRoles::Seed, vec![
                Lag(3, true), Step, Steps(5), PgPromoteStandby, WriteVip(1), KillPrimary,
                Steps(3), Steps(2), WriteVip(1), PgPromote(1), Steps(2), NodeDown(0),
                Step, Step, Step, Step, Step, Step, Step, Step,
            ], "rewind"),
        ),
        (
            "B2-14 (issue 11 item 4): the sync standby crashed and lost the election's race with an async standby that holds more WAL of the same timeline; the sync standby was elected (now the async standby, a superset, wins)",
            8,
            (3, true, MonitorRoles::Seed, vec![Kill(3), WriteVip(1), KillPrimary, Steps(5), Step], "none"),
        ),
        (
            "issue 10: a standby promoted outside the cluster, then a switchover: the cleanly demoted primary's shutdown checkpoint is not in the rogue's history, and the rogue, already a primary, was promoted (found by the 1000-case run)",
            8,
            (2, true, MonitorRoles::Seed, vec![
                PgPromoteStandby, Write(2, 1), Switchover, Steps(7),
            ], "none"),
        ),
        (
            "issue 10 with the known limit of an indistinguishable outside fork: that fork's node was promoted (tolerated), demoted cleanly by a switchover, ran on as a standby and was promoted again; the oracle counts it as the same tolerated fork (found by the 1000-case cold run)",
            0,
            (4, true, MonitorRoles::Seed, vec![
                Steps(6), KillPrimary, Lag(2, true), Step, Kill(1), Step, WriteVip(1),
                PgPromote(2), KillPrimary, Steps(4), Step, Switchover, Steps(8),
            ], "none"),
        ),
    ]
}

/// B2-14 (issue 11 item 4): the async standby that holds more of the same
/// WAL is the one promoted (the oracle held; the crashed sync standby has
/// not streamed since its restart, so the oracle does not compare it).
#[test]
fn b2_14_the_most_advanced_standby_is_promoted() {
    let (_, _, case) = recorded_counterexamples()
        .into_iter()
        .find(|(label, _, _)| label.starts_with("B2-14"))
        .expect("the B2-14 case");
    let (transcript, _, result) = run_case(&case, 8);
    assert!(result.is_ok(), "{result:?}");
    assert!(
        transcript
            .iter()
            .any(|l| l == "node2 promote: 0 OCF_SUCCESS"),
        "node2, the async standby ahead, is promoted: {transcript:#?}"
    );
}

/// Issue 11 item 4: in both counterexamples once tolerated, the standby
/// ahead takes over at pre-promote (the promote of the node behind is not
/// run). In the hung one its server stays hung, so its monitor fails,
/// Pacemaker stops it and the sync standby is elected later (the oracle
/// then compares no running standby ahead); in the newer-timeline one the
/// async standby on timeline 2 is promoted.
#[test]
fn issue_11_item_4_the_standby_ahead_takes_over() {
    let cases = recorded_counterexamples();
    let find = |prefix: &str| {
        cases
            .iter()
            .find(|(label, _, _)| label.starts_with(prefix))
            .unwrap_or_else(|| panic!("the case {prefix}"))
    };
    let (_, warmup, case) = find("issue 11 item 4 (found by CI's settled run");
    let (transcript, _, result) = run_case(case, *warmup);
    assert!(result.is_ok(), "{result:?}");
    assert!(
        transcript.iter().any(|l| l
            == "node1 promote not run: the transition was aborted by a promotion score change during pre-promote (best candidate now: node2)"),
        "node2, hung but ahead, takes over: {transcript:#?}"
    );
    let (_, warmup, case) = find("issue 11 item 4, the same history");
    let (transcript, _, result) = run_case(case, *warmup);
    assert!(result.is_ok(), "{result:?}");
    assert!(
        transcript
            .iter()
            .any(|l| l == "node2 promote: 0 OCF_SUCCESS"),
        "node2, ahead on timeline 2, is promoted: {transcript:#?}"
    );
    assert!(
        !transcript
            .iter()
            .any(|l| l == "node1 promote: 0 OCF_SUCCESS"),
        "node1, behind on timeline 1, is not promoted: {transcript:#?}"
    );
    let (_, warmup, case) = find("issue 11 item 4 (found by the second 5000-case settled run");
    let (transcript, _, result) = run_case(case, *warmup);
    assert!(result.is_ok(), "{result:?}");
    assert!(
        transcript
            .iter()
            .any(|l| l.starts_with("node2 promote not run")),
        "node2, behind and unpublished, yields at its own pre-promote: {transcript:#?}"
    );
    assert!(
        transcript
            .iter()
            .any(|l| l == "node3 promote: 0 OCF_SUCCESS"),
        "node3, ahead on the same timeline, is promoted: {transcript:#?}"
    );
}

/// Issue 10, restart_on_promote: node2, promoted at 0/3000128 once
/// already, is promoted there a second time after node4 wrote past
/// 0/3000128; that promotion keeps its own point (seq 6), so node4's crash
/// rejoin sees the fork at 0/3000128 and is refused (`rewind` cannot repair
/// a fork within one timeline), while node3, whose WAL ends at the fork,
/// follows.
#[test]
fn a_second_promotion_at_the_same_lsn_keeps_its_own_fork_point() {
    let (_, warmup, case) = recorded_counterexamples()
        .into_iter()
        .find(|(label, _, _)| label.starts_with("issue 10 rejoin-diverged with restart_on_promote"))
        .expect("the case");
    let (transcript, _, result) = run_case(&case, warmup);
    assert!(result.is_ok(), "{result:?}");
    assert!(
        transcript.iter().any(|l| l
            == "  node2 pgsql-primary-forks (forever): 1:7300000000000000001:3@0000000003000128 -> 1:7300000000000000001:3@0000000003000128,6@0000000003000128"),
        "node2's second promotion at 0/3000128 is recorded: {transcript:#?}"
    );
    assert!(
        transcript
            .iter()
            .any(|l| l.starts_with("node4 start: 1 OCF_ERR_GENERIC")
                && l.contains("0/3000228, past 0/3000128")),
        "node4, past the fork, is refused: {transcript:#?}"
    );
    let last_expiry = transcript
        .iter()
        .rposition(|l| l == "FailureTimeout")
        .expect("the failures expire");
    let after = &transcript[last_expiry..];
    assert!(
        !after.iter().any(|l| l == "node4 start: 0 OCF_SUCCESS"),
        "node4 does not start after its failure expired: {after:#?}"
    );
    assert!(
        after.iter().any(|l| l == "node3 start: 0 OCF_SUCCESS"),
        "node3, whose WAL ends at the fork, follows: {after:#?}"
    );
}

/// Every recorded counterexample now passes every oracle.
#[test]
fn recorded_counterexamples_hold() {
    let mut failed = Vec::new();
    for (label, warmup, case) in recorded_counterexamples() {
        let (transcript, _, result) = run_case(&case, warmup);
        if let Err(e) = result {
            eprintln!("--- {label}");
            for l in &transcript {
                eprintln!("  {l}");
            }
            failed.push(format!("{label}: {e}"));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// From a cluster nothing has probed yet.
#[test]
fn safety_properties_hold_from_a_cold_cluster() {
    let strategy = (
        2usize..=4,
        prop::bool::weighted(0.85),
        roles(),
        prop::collection::vec(cold_event(), 20..70),
        crash_rejoin(),
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
        prop::collection::vec(warm_event(), 10..50),
        crash_rejoin(),
    );
    run_property("settled", strategy, 8, KEYS);
}

/// Crash rejoins (issue 10): from a settled cluster (sync or async) with
/// `crash_rejoin=rewind` or `rewind-or-clone`, failovers with and without
/// writes the standbys never received, failures expiring so that the old
/// primary starts again. The same oracles judge every rejoin (no
/// acknowledged write lost, never two primaries, never another system),
/// and the rejoin watch checks that a rejoined node holds nothing its
/// primary lacks. Rejoins by follow and by `pg_rewind` and the lone
/// primary's restarts are key assertions; the re-clone is informational (it needs a directory without checksums
/// and `wal_log_hints`, `rewind-or-clone` and room, together).
#[test]
fn safety_properties_hold_through_crash_rejoins() {
    let strategy = (
        2usize..=4,
        prop::bool::weighted(0.7),
        roles(),
        prop::collection::vec(rejoin_run_event(), 40..100),
        prop_oneof![Just("rewind"), Just("rewind-or-clone")],
    );
    run_property(
        "rejoin",
        strategy,
        8,
        &[
            Key::PromotionAfterAck,
            Key::LonePrimaryRestart,
            Key::RejoinedByFollow,
            Key::RejoinedByRewind,
        ],
    );
}

/// The crash rejoins above with the seed's `restart_on_promote=true`
/// (issue 10): promotions keep the timeline number, the simulator gives
/// each one a new birth, and the oracles judge every rejoin against the
/// true lineages (a rejoined node holding WAL its primary lacks is a
/// violation). Rewinds do not happen here (a fork within one timeline is
/// re-cloned or refused), so only the acknowledged-write key is required.
#[test]
fn safety_properties_hold_through_crash_rejoins_with_restart_on_promote() {
    let strategy = (
        2usize..=4,
        prop::bool::weighted(0.7),
        roles(),
        prop::collection::vec(rejoin_run_event(), 40..100),
        prop_oneof![Just("rewind+restart"), Just("rewind-or-clone+restart")],
    );
    run_property("rejoin-restart", strategy, 8, &[Key::PromotionAfterAck]);
}

#[test]
fn a_quiet_cluster_elects_exactly_one_primary() {
    for nodes in 2..=4 {
        let mut sim = build(nodes, true, MonitorRoles::Seed, "none");
        sim.settle(8);
        assert_eq!(sim.net.running_primaries().len(), 1, "{nodes} nodes");
        let primary = &sim.net.running_primaries()[0];
        assert_eq!(sim.status(primary).as_deref(), Some("PRI"));
        assert_eq!(sim.data_status(primary).as_deref(), Some("LATEST"));
    }
}

/// The rejoin paths the schedules are counted on (issue 10) are reached by
/// hand-made schedules and classified as such: a crash with a standby that
/// had everything (follow), writes no standby received (rewind), the same
/// on a directory `pg_rewind` cannot use (re-clone), and B2-05's lone
/// primary.
#[test]
fn the_rejoin_paths_are_reached_and_classified() {
    use Event::*;
    // After the warm-up node2 is the primary, node1 its sync standby.
    let cases: Vec<(Key, Case)> = vec![
        (
            Key::RejoinedByFollow,
            (
                2,
                true,
                MonitorRoles::Seed,
                vec![KillPrimary, Steps(8), FailureTimeout, Steps(8)],
                "rewind",
            ),
        ),
        (
            Key::RejoinedByRewind,
            (
                2,
                true,
                MonitorRoles::Seed,
                vec![DivergeAndKill(2), Steps(8), FailureTimeout, Steps(8)],
                "rewind",
            ),
        ),
        (
            Key::RejoinedByClone,
            (
                2,
                true,
                MonitorRoles::Seed,
                vec![
                    Rewindable(1, false),
                    DivergeAndKill(2),
                    Steps(8),
                    FailureTimeout,
                    Steps(8),
                ],
                "rewind-or-clone",
            ),
        ),
        (
            Key::LonePrimaryRestart,
            (
                2,
                true,
                MonitorRoles::Seed,
                vec![NodeDown(0), Steps(3), KillPrimary, Steps(8)],
                "none",
            ),
        ),
    ];
    for (key, case) in cases {
        let (transcript, reached, result) = run_case(&case, 8);
        assert!(
            result.is_ok(),
            "{key:?}: {result:?}\n{}",
            transcript.join("\n")
        );
        assert!(
            reached.contains(&key),
            "{key:?} not reached: {reached:?}\n{}",
            transcript.join("\n")
        );
    }
}

/// One full-restart case (issue 16): node count, sync mode, the stale
/// standby (an index among the standbys), writes while it is away, whether
/// the cluster stops cleanly (demote, then stop every instance) or every
/// node goes down hard, the order the nodes come back in, and the policy
/// steps between two of them.
/// Then whether a last write reaches the primary only (its link to another
/// standby cut just before, no monitor in between: that standby keeps an
/// eligible data-status while it is behind). The last element: WAL one node
/// holds beyond its replay position when the cluster comes back
/// ([`Backlog`]).
type RestartCase = (usize, bool, usize, u64, bool, Vec<usize>, u8, bool, Backlog);

/// Issue 16: (node index, source 0 local / 1 receiver / 2 intermittent /
/// 3 copied into `pg_wal` during the retry sleep, bytes, stall in steps,
/// bytes per step); 0 bytes: none. The node starts in the step of its first
/// stall count, so a stall of s steps is seen by s - 1 monitors: at most 3,
/// what the count (`xlog_check_count` = 3: four equal reads) tolerates; an
/// intermittent receiver is seen absent, and WAL copied during the sleep
/// hidden, by at most one monitor (stall clamped to 2: the early rule's
/// stated limit, docs/decision-logic.md; two such monitors make a final
/// mark that moves, as in PostgreSQL).
type Backlog = (usize, u8, u64, u32, u64);

fn backlog() -> impl Strategy<Value = Backlog> {
    prop_oneof![
        1 => Just((0usize, 0u8, 0u64, 0u32, 0u64)),
        3 => (0usize..4, 0u8..4, 1u64..0x900, 1u32..5, 0x80u64..0x400),
    ]
}

fn apply_backlog(sim: &Sim, b: &Backlog) {
    use pgsql_ra_core::memory::WalSource;
    let (node, source, amount, stall, per_step) = *b;
    let names = sim.node_names();
    let (source, stall) = match source {
        0 => (WalSource::Local, stall),
        1 => (WalSource::Receiver, stall),
        2 => (WalSource::Intermittent, stall.min(2)),
        _ => (WalSource::Copied, stall.min(2)),
    };
    sim.net
        .set_backlog(&names[node % names.len()], source, amount, stall, per_step);
}

/// Runs a full restart with a stale node; returns whether a node won by an
/// early decision and whether one was promoted after the restart, and the
/// first violation (the stale node promoted, a winner decided early a promoted node behind another
/// node's true WAL on the same history (the stale node included), or any
/// of the run's oracles ([`oracle::Oracle`]: no acknowledged write lost,
/// never two primaries, …; a winner by the count is judged by these only,
/// with the stock agent's known limits).
fn run_full_restart(
    case: &RestartCase,
    concurrent: bool,
) -> ((bool, bool), Result<(), TestCaseError>) {
    use pgsql_ra_core::sim::Op;
    let (nodes, sync, stale, writes, clean, order, gap, cut, backlog) = case;
    let mut sim = build(*nodes, *sync, MonitorRoles::Seed, "none");
    // Issue 16: with `concurrent`, the nodes' monitors of a step run at the
    // same moment (the election then waits for the others' marks, and
    // decides on them); without, one after another (each sees the earlier
    // ones' writes at once, as monitors drifted apart do).
    sim.config.concurrent_monitors = concurrent;
    sim.settle(8);
    sim.promotions.clear();
    let names = sim.node_names();
    let Some(primary) = sim.net.running_primaries().first().cloned() else {
        return ((false, false), Ok(()));
    };
    let standbys: Vec<usize> = (0..names.len()).filter(|i| names[*i] != primary).collect();
    let stale = standbys[*stale % standbys.len()];
    let mut events = vec![
        Event::NodeDown(stale),
        Event::Steps(3),
        Event::WriteVip(*writes),
        Event::Steps(2),
    ];
    let primary_ix = names.iter().position(|n| *n == primary).unwrap_or(0);
    if let Some(behind) = standbys.iter().find(|i| **i != stale) {
        if *cut {
            events.push(Event::LinkDown(primary_ix, *behind));
            events.push(Event::WriteVip(*writes));
        }
    }
    let mut oracle = Oracle::default();
    let journal = format!(
        "{}/{}",
        pgsql_ra_core::sim::TMPDIR,
        pgsql_ra_core::journal::FILE
    );
    let early_promotions = std::cell::Cell::new(0u32);
    let restarted = std::cell::Cell::new(false);
    let journal_lines = RefCell::new(std::collections::BTreeMap::<String, usize>::new());
    let promoted_after = std::cell::Cell::new(false);
    let stale_name = names[stale].clone();
    let check = |sim: &mut Sim,
                 oracle: &mut Oracle,
                 commit: Option<pgsql_ra_core::sim::faults::Commit>| {
        let promotions = std::mem::take(&mut sim.promotions);
        for r in promotions.iter().filter(|r| r.succeeded) {
            if restarted.get() {
                promoted_after.set(true);
                if r.node == stale_name {
                    return fail(format!(
                        "[stale-promoted] {} was stale and got promoted",
                        r.node
                    ));
                }
            }
            let Some(mine) = r.wal.get(&r.node) else {
                continue;
            };
            // The promoted node's last election verdict: only a winner
            // decided early is this rule's to answer for (a count-decided
            // one keeps the stock agent's known limits, judged by the
            // run's oracles below).
            // Only the entries journaled since the restart: an early win
            // of the first bootstrap does not explain a later promotion.
            let skip = if restarted.get() {
                journal_lines.borrow().get(&r.node).copied().unwrap_or(0)
            } else {
                0
            };
            let won_early = sim
                .nodes
                .get(&r.node)
                .and_then(|n| n.fs.file(&journal))
                .and_then(|t| {
                    t.lines()
                        .skip(skip)
                        .filter(|l| l.contains("\"election\"") || l.contains("master right"))
                        .last()
                        .map(|l| l.contains("decided early"))
                })
                .unwrap_or(false);
            if !won_early {
                oracle.on_promotion(r)?;
                continue;
            }
            early_promotions.set(early_promotions.get() + 1);
            for (other, theirs) in &r.wal {
                if *other != r.node && theirs.includes(mine) && !mine.includes(theirs) {
                    return fail(format!(
                        "[promoted-behind] {} promoted at {} but {other} holds more of the same WAL: {}",
                        r.node,
                        mine.describe(),
                        theirs.describe()
                    ));
                }
            }
            oracle.on_promotion(r)?;
        }
        if let Some(c) = &commit {
            oracle.on_commit(c)?;
        }
        oracle.after_event(sim)
    };
    for e in events.drain(..) {
        let (_, commit) = pgsql_ra_core::sim::faults::apply(&mut sim, &e);
        if let Err(err) = check(&mut sim, &mut oracle, commit) {
            return ((false, promoted_after.get()), Err(err));
        }
    }
    if *clean {
        sim.operate(Op::Demote, std::slice::from_ref(&primary));
        let up: Vec<String> = names
            .iter()
            .filter(|n| **n != names[stale])
            .cloned()
            .collect();
        sim.operate(Op::Stop, &up);
    }
    restarted.set(true);
    for n in &names {
        let lines = sim
            .nodes
            .get(n)
            .and_then(|x| x.fs.file(&journal))
            .map_or(0, |t| t.lines().count());
        journal_lines.borrow_mut().insert(n.clone(), lines);
    }
    for i in (0..names.len()).filter(|i| *i != stale) {
        let (_, commit) = pgsql_ra_core::sim::faults::apply(&mut sim, &Event::NodeDown(i));
        if let Err(err) = check(&mut sim, &mut oracle, commit) {
            return ((false, promoted_after.get()), Err(err));
        }
    }
    apply_backlog(&sim, backlog);
    let mut rest = Vec::new();
    for i in order {
        rest.push(Event::NodeUp(*i % names.len()));
        rest.push(Event::Steps(*gap));
    }
    rest.push(Event::Steps(14));
    for e in rest {
        let (_, commit) = pgsql_ra_core::sim::faults::apply(&mut sim, &e);
        if let Err(err) = check(&mut sim, &mut oracle, commit) {
            return ((false, promoted_after.get()), Err(err));
        }
    }
    let early = early_promotions.get() > 0;
    ((early, promoted_after.get()), Ok(()))
}

fn fail(msg: String) -> Result<(), TestCaseError> {
    Err(TestCaseError::fail(msg))
}

/// Issue 16: full restarts the early-election property (or a mutation of
/// the rule) found failing, shrunk by proptest, replayed whatever the
/// generators become: (label, case).
fn early_election_counterexamples() -> Vec<(&'static str, RestartCase)> {
    vec![
        (
            "deleting the no-receiver clause: node1 streams one more byte from an upstream outside the cluster, its position unchanged for three monitors; node3 was promoted early behind it",
            (3, false, 1, 1, true, vec![0, 1, 2, 3], 0, false, (0, 1, 1, 3, 128)),
        ),
        (
            "deleting the two-observations clause: node1's receiver is absent between deliveries; one observation made it final and node2 was promoted early one byte behind it",
            (2, false, 0, 1, false, vec![0, 1, 2, 3], 0, false, (2, 2, 257, 2, 128)),
        ),
        (
            "deleting the every-node clause: node3, more advanced, had not published its location when node2 was promoted early",
            (3, false, 0, 1, false, vec![0, 1, 2, 3], 0, true, (0, 0, 0, 0, 0)),
        ),
        (
            "deleting the answer clause of calling nobody (2026-12-02): node1's WAL receiver hangs connecting to a host that accepted its connection to master_ip (outside the cluster) for two monitors, then gets 0x101 bytes; node2 was promoted early behind it",
            (2, false, 0, 1, false, vec![0, 1, 2, 3], 0, false, (0, 1, 257, 3, 128)),
        ),
    ]
}

/// Issue 16: cold starts a mutation of the early rule failed, shrunk by
/// proptest (`early_election_cold_start_never_promotes_a_node_behind`).
fn early_election_cold_counterexamples() -> Vec<(&'static str, ColdCase)> {
    vec![
        (
            "deleting the startup-waiting clause: node1 (0/3000128) replays its pg_wal from 0/3000028 after a stall seen by two monitors; node2 at 0/3000028 was promoted early",
            (2, false, vec![1, 0, 0, 0], (2, 0, 256, 3, 128)),
        ),
        (
            "deleting the no-receiver clause: node2's receiver gets 0x501 bytes after a stall seen by two monitors; node1 was promoted early one byte behind",
            (4, false, vec![5, 0, 0, 0], (1, 1, 1281, 3, 128)),
        ),
        (
            "deleting the two-observations clause: node1's receiver, absent between deliveries, gets one byte after one monitor saw it waiting; node3 was promoted early one byte behind",
            (3, false, vec![2, 0, 2, 0], (0, 2, 1, 2, 128)),
        ),
        (
            "deleting the answer clause of calling nobody (2026-12-02): node3's WAL receiver hangs connecting to a host that accepted its connection to master_ip, then gets 0x301 bytes; a node one byte behind was promoted early",
            (4, false, vec![7, 0, 4, 0], (2, 1, 769, 3, 128)),
        ),
    ]
}

/// Every recorded counterexample (full restarts and cold starts) holds
/// with the rule.
#[test]
fn early_election_counterexamples_hold() {
    let mut failed = Vec::new();
    for concurrent in [false, true] {
        for (label, case) in early_election_counterexamples() {
            if let (_, Err(e)) = run_full_restart(&case, concurrent) {
                failed.push(format!("{label} (concurrent monitors: {concurrent}): {e}"));
            }
        }
        for (label, case) in early_election_cold_counterexamples() {
            if let (_, _, Err(e)) = run_cold_start(&case, concurrent) {
                failed.push(format!("{label} (concurrent monitors: {concurrent}): {e}"));
            }
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// Issue 16 (target 3): the early election never promotes a node behind
/// another node's true position — in particular not the stale node of a
/// full restart (stopped earlier, writes went on, then the whole cluster
/// stopped cleanly or went down hard and came back in any order, one node
/// holding WAL beyond its replay position: in pg_wal, from a WAL receiver,
/// or from one absent between deliveries) — and every oracle of the run
/// holds. Key counter: some node decided early in
/// at least 20 % of the cases and a promotion after the restart in at least
/// 20 % (the rule and the oracles are exercised, not bypassed).
#[test]
fn early_election_never_promotes_a_node_behind() {
    let strategy = (
        2usize..=4,
        prop::bool::weighted(0.8),
        0usize..3,
        1u64..20,
        any::<bool>(),
        Just(vec![0usize, 1, 2, 3]).prop_shuffle(),
        0u8..5,
        any::<bool>(),
        backlog(),
    );
    let mut runner = TestRunner::new(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let early = RefCell::new((0u32, 0u32, 0u32));
    // Each case twice: the nodes' monitors one after another, then at the
    // same moment (`SimConfig::concurrent_monitors`).
    let result = runner.run(&strategy, |case| {
        for concurrent in [false, true] {
            let ((decided_early, promoted), result) = run_full_restart(&case, concurrent);
            let mut e = early.borrow_mut();
            e.0 += 1;
            e.1 += u32::from(decided_early);
            e.2 += u32::from(promoted);
            result?;
        }
        Ok(())
    });
    let (total, decided, promoted) = *early.borrow();
    eprintln!(
        "full restarts: {total}, a promotion after the restart in {promoted}, won by an early decision in {decided}"
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(
        decided * 5 >= total && promoted * 5 >= total,
        "the early rule decided in {decided}, a promotion followed in {promoted}, of {total} cases"
    );
}

/// One cold-start case (issue 16): node count, sync mode, each node's WAL
/// beyond the initial position (in WAL_PER_WRITE units), and one node's
/// backlog ([`Backlog`]).
type ColdCase = (usize, bool, Vec<u64>, Backlog);

/// Runs a cold start of nodes whose positions differ, one of them holding
/// WAL beyond its replay position; returns whether a node won by an early
/// decision, whether an election decided on marks that came while it
/// waited for them, and the first early winner behind another node's true
/// WAL.
fn run_cold_start(case: &ColdCase, concurrent: bool) -> (bool, bool, Result<(), TestCaseError>) {
    use pgsql_ra_core::memory::{INITIAL_LSN, WAL_PER_WRITE};
    let (nodes, sync, extra, backlog) = case;
    let mut sim = build(*nodes, *sync, MonitorRoles::Seed, "none");
    // Issue 16: with `concurrent`, the nodes' monitors of a step run at the
    // same moment, as on a real cold start (the election then waits for
    // the others' marks); without, one after another.
    sim.config.concurrent_monitors = concurrent;
    let names = sim.node_names();
    for (n, w) in names.iter().zip(extra.iter()) {
        let lsn = pgsql_ra_core::Lsn(INITIAL_LSN.0 + w * WAL_PER_WRITE);
        sim.net.set_position(n, lsn, 1);
    }
    apply_backlog(&sim, backlog);
    let journal = format!(
        "{}/{}",
        pgsql_ra_core::sim::TMPDIR,
        pgsql_ra_core::journal::FILE
    );
    let mut early = false;
    let mut waited = false;
    for _ in 0..12 {
        sim.step();
        waited |= sim
            .take_invocations()
            .iter()
            .any(|i| i.log.iter().any(|(_, l)| l.contains("final marks came")));
        for r in std::mem::take(&mut sim.promotions)
            .iter()
            .filter(|r| r.succeeded)
        {
            let won_early = sim
                .nodes
                .get(&r.node)
                .and_then(|n| n.fs.file(&journal))
                .and_then(|t| {
                    t.lines()
                        .rfind(|l| l.contains("\"election\""))
                        .map(|l| l.contains("decided early"))
                })
                .unwrap_or(false);
            if !won_early {
                continue;
            }
            early = true;
            let Some(mine) = r.wal.get(&r.node) else {
                continue;
            };
            for (other, theirs) in &r.wal {
                if *other != r.node && theirs.includes(mine) && !mine.includes(theirs) {
                    return (
                        early,
                        waited,
                        fail(format!(
                            "[promoted-behind] {} promoted early at {} but {other} holds more of the same WAL: {}",
                            r.node,
                            mine.describe(),
                            theirs.describe()
                        )),
                    );
                }
            }
        }
    }
    (early, waited, Ok(()))
}

/// Issue 16: on a cold start of nodes at different positions, one of them
/// holding WAL beyond its replay position (in pg_wal, from a receiver, from
/// an intermittent receiver), an early winner is never behind another
/// node's true WAL. Key counter: an early decision in at least 20 % of the
/// cases.
#[test]
fn early_election_cold_start_never_promotes_a_node_behind() {
    let strategy = (
        2usize..=4,
        any::<bool>(),
        prop::collection::vec(0u64..8, 4),
        backlog(),
    );
    let mut runner = TestRunner::new(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let counts = RefCell::new((0u32, 0u32, 0u32));
    // Each case twice: the nodes' monitors one after another, then at the
    // same moment (`SimConfig::concurrent_monitors`); the wait is counted
    // in the second.
    let result = runner.run(&strategy, |case| {
        for concurrent in [false, true] {
            let (early, waited, result) = run_cold_start(&case, concurrent);
            let mut c = counts.borrow_mut();
            c.0 += u32::from(concurrent);
            c.1 += u32::from(early && concurrent);
            c.2 += u32::from(waited);
            result?;
        }
        Ok(())
    });
    let (total, early, waited) = *counts.borrow();
    eprintln!(
        "cold starts: {total}, won by an early decision in {early}, \
         decided on marks that came while waiting in {waited}"
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(
        early * 5 >= total,
        "early decisions in {early} of {total} cases"
    );
    // The monitors run at the same moment: the wait for the others' marks
    // must be exercised, not only the decision at the next monitor.
    assert!(
        waited * 5 >= total,
        "decisions after a wait in {waited} of {total} cases"
    );
}
