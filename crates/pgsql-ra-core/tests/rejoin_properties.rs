//! Properties of the pure rejoin decision (`pgsql_ra_core::rejoin`, issue
//! 10): the safety rules hold for any facts, not only the table's rows.

use pgsql_ra_core::lsn::Lsn;
use pgsql_ra_core::params::CrashRejoin;
use pgsql_ra_core::ports::{
    ControlData, DbClusterState, PrimaryFacts, PrimaryWal, SegmentRun, WalHoldings,
};
use pgsql_ra_core::rejoin::{
    decide, Divergence, LocalEnd, RejoinAction, RejoinInput, RejoinReason,
};
use pgsql_ra_core::timeline::HistoryEntry;
use proptest::prelude::*;

/// LSNs from a small range so that ties and boundaries come up often.
fn lsn() -> impl Strategy<Value = Lsn> {
    (0x0300_0000u64..0x0300_0040).prop_map(Lsn)
}

fn policy() -> impl Strategy<Value = CrashRejoin> {
    prop_oneof![
        Just(CrashRejoin::None),
        Just(CrashRejoin::Rewind),
        Just(CrashRejoin::RewindOrClone),
    ]
}

fn state() -> impl Strategy<Value = DbClusterState> {
    prop_oneof![
        Just(DbClusterState::ShutDown),
        Just(DbClusterState::ShutDownInRecovery),
        Just(DbClusterState::ShuttingDown),
        Just(DbClusterState::InCrashRecovery),
        Just(DbClusterState::InArchiveRecovery),
        Just(DbClusterState::InProduction),
    ]
}

fn control() -> impl Strategy<Value = ControlData> {
    (
        state(),
        1u64..3,
        lsn(),
        1u32..5,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(state, system_id, checkpoint, timeline, data_checksums, wal_log_hints)| ControlData {
                state,
                system_id,
                checkpoint,
                redo: checkpoint,
                timeline,
                min_recovery_end: Lsn::ZERO,
                min_recovery_end_timeline: 0,
                data_checksums,
                wal_log_hints,
            },
        )
}

/// The segment size of the generated primaries: 16 bytes, so that the
/// small LSN range spans a few segments (`0x300000`..`0x300004`).
const SEG: u64 = 0x10;
const FIRST_SEG: u64 = 0x0300_0000 / SEG;

/// How a generated primary's `pg_wal` looks: every file (6 in 10), every
/// timeline's files from one segment on (3 in 10: PostgreSQL removes up to
/// one segment number whatever the timeline), unknown (1 in 10).
fn primary_wal() -> impl Strategy<Value = WalHoldings> {
    (0u8..10, 0u64..5).prop_map(|(kind, cut)| match kind {
        0..=5 => WalHoldings::Known(PrimaryWal {
            segment_size: SEG,
            runs: (1..=8)
                .map(|t| SegmentRun {
                    timeline: t,
                    first: 0,
                    last: u64::MAX,
                })
                .collect(),
        }),
        6..=8 => WalHoldings::Known(PrimaryWal {
            segment_size: SEG,
            runs: (1..=8)
                .map(|t| SegmentRun {
                    timeline: t,
                    first: FIRST_SEG + cut,
                    last: u64::MAX,
                })
                .collect(),
        }),
        _ => WalHoldings::Unknown("permission denied for function pg_ls_dir".into()),
    })
}

/// The first segment the generated primary still holds (every timeline
/// alike), `None` when unknown.
fn cutoff(p: &PrimaryFacts) -> Option<u64> {
    match &p.wal {
        WalHoldings::Known(w) => w.runs.iter().map(|r| r.first).min(),
        WalHoldings::Unknown(_) => None,
    }
}

/// A primary on timeline 1..5 whose history lists a subset of the older
/// timelines with non-decreasing switch points.
fn primary() -> impl Strategy<Value = PrimaryFacts> {
    (
        1u64..3,
        1u32..5,
        prop::collection::vec((any::<bool>(), 0u64..0x10), 4),
        lsn(),
        0u64..1_000_000,
        primary_wal(),
    )
        .prop_map(|(system_id, timeline, steps, base, size_bytes, wal)| {
            let mut at = base.0;
            let mut history = Vec::new();
            for (parent, (keep, step)) in (1..timeline).zip(steps) {
                at += step;
                if keep {
                    history.push(HistoryEntry {
                        parent,
                        switch_point: Lsn(at),
                    });
                }
            }
            PrimaryFacts {
                system_id,
                timeline,
                history,
                current_lsn: Lsn(at + 0x10),
                size_bytes,
                wal,
            }
        })
}

/// policy, local control data, exact end of WAL, primary, free bytes,
/// local history file, forks, `restore_command` set.
type Facts = (
    CrashRejoin,
    ControlData,
    Option<Lsn>,
    Option<PrimaryFacts>,
    Option<u64>,
    Option<Vec<HistoryEntry>>,
    Vec<Lsn>,
    bool,
);

fn facts() -> impl Strategy<Value = Facts> {
    (
        policy(),
        control(),
        prop::option::of(lsn()),
        prop::option::weighted(0.9, primary()),
        prop::option::weighted(0.9, 0u64..2_000_000),
        prop::bool::weighted(0.15),
        0u8..10,
        prop::collection::vec(lsn(), 0..3),
        prop::bool::weighted(0.2),
    )
        .prop_map(
            |(policy, control, wal_end, mut primary, free, other, hist, forks, restore)| {
                // Mostly the same system, so that the other rules are reached.
                if let Some(p) = primary.as_mut() {
                    p.system_id = if other {
                        control.system_id + 1
                    } else {
                        control.system_id
                    };
                }
                // The local history: not read (3 in 10), the primary's before
                // the local timeline (5 in 10), another branch (2 in 10).
                let local_history = match (hist, &primary) {
                    (0..=2, _) | (_, None) => None,
                    (h, Some(p)) => {
                        let mut before: Vec<HistoryEntry> = p
                            .history
                            .iter()
                            .filter(|e| e.parent < control.timeline)
                            .copied()
                            .collect();
                        if h >= 8 {
                            match before.last_mut() {
                                Some(e) => e.switch_point = Lsn(e.switch_point.0 + 1),
                                None => before.push(HistoryEntry {
                                    parent: 0,
                                    switch_point: Lsn(1),
                                }),
                            }
                        }
                        Some(before)
                    }
                };
                (
                    policy,
                    control,
                    wal_end,
                    primary,
                    free,
                    local_history,
                    forks,
                    restore,
                )
            },
        )
}

fn run(f: &Facts) -> pgsql_ra_core::rejoin::RejoinDecision {
    decide(&RejoinInput {
        policy: f.0,
        control: &f.1,
        wal_end: f.2,
        local_history: f.5.as_deref(),
        primary: f.3.as_ref(),
        free_bytes: f.4,
        forks: &f.6,
        repaired: false,
        restore_command: f.7,
        archive: None,
        rewound_from: None,
        kept_wal: None,
    })
}

/// A repair of a fork within one timeline (restart_on_promote).
fn is_fork(r: &RejoinReason) -> bool {
    let d = match r {
        RejoinReason::RepairNotAllowed { divergence }
        | RejoinReason::Rewind { divergence }
        | RejoinReason::RewindImpossible { divergence }
        | RejoinReason::Reclone { divergence, .. }
        | RejoinReason::NotEnoughDisk { divergence, .. } => divergence,
        _ => return false,
    };
    matches!(d, Divergence::ForkOnTimeline { .. })
}

/// A repair because the primary no longer holds the WAL needed first.
fn is_wal_gone(r: &RejoinReason) -> bool {
    match r {
        RejoinReason::RepairNotAllowed { divergence }
        | RejoinReason::RewindImpossible { divergence }
        | RejoinReason::Reclone { divergence, .. }
        | RejoinReason::NotEnoughDisk { divergence, .. } => {
            matches!(divergence, Divergence::WalGone { .. })
        }
        _ => false,
    }
}

/// The decision's own reason under an `ArchiveHolds`.
fn own(r: &RejoinReason) -> &RejoinReason {
    match r {
        RejoinReason::ArchiveHolds { then, .. } => then,
        r => r,
    }
}

/// A phrase the sentence of each reason must hold.
fn phrase(r: &RejoinReason) -> &'static str {
    match r {
        RejoinReason::NoPrimary => "no primary to follow",
        RejoinReason::OtherSystem { .. } => "another database system",
        RejoinReason::EndUnknownOnSameTimeline { .. } => "local end of WAL is unknown",
        RejoinReason::AheadOnSameTimeline { .. } => "ahead of the primary on the same timeline",
        RejoinReason::ForkUnknownOnSameTimeline { .. } => "no node recorded where it began writing",
        RejoinReason::NewerTimeline { .. } => "is newer than the primary's",
        RejoinReason::Follows { .. } => "follow it",
        RejoinReason::RepairNotAllowed { .. } => "crash_rejoin=none",
        RejoinReason::Rewind { .. } => "pg_rewind",
        RejoinReason::RewindImpossible { .. } => "re-clone not allowed by crash_rejoin=rewind",
        RejoinReason::Reclone { .. } => "re-clone (",
        RejoinReason::NotEnoughDisk { .. } => "bytes",
        RejoinReason::ArchiveHolds { .. } => "restore_command provided it",
        RejoinReason::AskArchive { .. } => "the archive was not asked",
        RejoinReason::ArchiveUnknown { .. } => "whether the archive holds it is unknown",
        RejoinReason::WalUnknown { .. } => "is unknown",
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// Never start (follow), rewind or re-clone against another system.
    #[test]
    fn another_system_is_always_refused(f in facts()) {
        let d = run(&f);
        if let Some(p) = &f.3 {
            if p.system_id != f.1.system_id {
                prop_assert_eq!(d.action, RejoinAction::Refuse);
                let is_other = matches!(d.reason, RejoinReason::OtherSystem { .. });
                prop_assert!(is_other, "{}", d.reason);
            }
        }
    }

    /// Ahead of the primary on the same timeline: neither followed nor
    /// repaired (the wrong node may be primary). The same timeline: the
    /// same number and, when the local history file was read, the same
    /// history (the same number on another branch is a divergence).
    #[test]
    fn ahead_on_the_same_timeline_is_refused(f in facts()) {
        let d = run(&f);
        if let Some(p) = &f.3 {
            let end = LocalEnd::from_facts(&f.1, f.2);
            let same_branch = f.5.as_ref().is_none_or(|h| *h == p.history);
            if p.system_id == f.1.system_id
                && p.timeline == f.1.timeline
                && same_branch
                && end != LocalEnd::Unknown
                && !end.at_or_before(p.current_lsn)
            {
                prop_assert_eq!(d.action, RejoinAction::Refuse, "{}", d.reason);
            }
            if p.timeline == f.1.timeline && same_branch {
                // Never rewound; re-cloned only past a recorded fork or
                // when the primary no longer holds the WAL to follow.
                prop_assert!(d.action != RejoinAction::Rewind, "{}", d.reason);
                if d.action == RejoinAction::Reclone {
                    prop_assert!(is_fork(&d.reason) || is_wal_gone(&d.reason), "{}", d.reason);
                }
            }
        }
    }

    /// Follow only when every local record lies at or before the point
    /// where the primary's history leaves the local timeline (its current
    /// LSN on the same timeline), on the same system.
    #[test]
    fn follow_only_at_or_before_the_divergence(f in facts()) {
        let d = run(&f);
        if d.action == RejoinAction::Follow {
            let p = f.3.as_ref().expect("a follow needs a primary");
            prop_assert_eq!(p.system_id, f.1.system_id);
            let limit = if p.timeline == f.1.timeline {
                p.current_lsn
            } else {
                let entry = p.history.iter().find(|h| h.parent == f.1.timeline);
                prop_assert!(entry.is_some(), "followed a timeline not in the history: {}", d.reason);
                entry.map(|h| h.switch_point).unwrap_or_default()
            };
            let end = LocalEnd::from_facts(&f.1, f.2);
            prop_assert!(end.at_or_before(limit), "{}", d.reason);
            // Issue 10, restart_on_promote: never past a point where another
            // node began writing on the local timeline.
            for fork in &f.6 {
                prop_assert!(end.at_or_before(*fork), "followed past the fork {}: {}", fork.to_pg(), d.reason);
            }
            // On the primary's timeline a node that wrote on it follows
            // only a recorded fork (nothing else proves a common history).
            let wrote_here = !matches!(
                f.1.state,
                DbClusterState::InArchiveRecovery | DbClusterState::ShutDownInRecovery
            );
            if p.timeline == f.1.timeline && wrote_here {
                prop_assert!(!f.6.is_empty(), "followed without a recorded fork: {}", d.reason);
            }
            // A local history that was read is the primary's up to there.
            if let Some(local) = &f.5 {
                let before: Vec<HistoryEntry> = p
                    .history
                    .iter()
                    .filter(|h| h.parent < f.1.timeline)
                    .copied()
                    .collect();
                prop_assert_eq!(&before, local, "followed another branch: {}", d.reason);
            }
            // The comparison by hand: an exact end at or before, a shutdown
            // checkpoint record that starts before.
            match (f.2, &f.1.state) {
                (Some(e), _) => prop_assert!(e <= limit),
                (None, DbClusterState::ShutDown) => prop_assert!(f.1.checkpoint < limit),
                (None, _) => prop_assert!(false, "followed with an unknown end: {}", d.reason),
            }
        }
    }

    /// `crash_rejoin=none` never repairs; a repair always needs a
    /// rewindable directory (rewind) or room for the copy (re-clone).
    #[test]
    fn repairs_only_when_allowed_and_possible(f in facts()) {
        let d = run(&f);
        match d.action {
            RejoinAction::Rewind => {
                prop_assert!(f.0 != CrashRejoin::None);
                prop_assert!(f.1.rewindable());
                // pg_rewind cannot see a fork within one timeline.
                prop_assert!(!is_fork(&d.reason), "{}", d.reason);
            }
            RejoinAction::Reclone => {
                prop_assert_eq!(f.0, CrashRejoin::RewindOrClone);
                prop_assert!(
                    !f.1.rewindable() || is_fork(&d.reason) || is_wal_gone(&d.reason),
                    "{}",
                    d.reason
                );
                let size = f.3.as_ref().map(|p| p.size_bytes).unwrap_or_default();
                prop_assert!(f.4.unwrap_or(0) >= pgsql_ra_core::rejoin::clone_space_needed(size));
            }
            RejoinAction::Follow | RejoinAction::Refuse => {}
        }
    }

    /// Every decision's sentence names its reason, and only a follow says so.
    #[test]
    fn every_decision_names_its_reason(f in facts()) {
        let d = run(&f);
        let text = d.reason.to_string();
        prop_assert!(text.contains(phrase(&d.reason)), "{:?}: {}", d.reason, text);
        prop_assert_eq!(
            d.action == RejoinAction::Follow,
            matches!(own(&d.reason), RejoinReason::Follows { .. })
        );
    }

    /// Issue 10, "Precisions": a follow starts streaming at the segment of
    /// the local end of WAL, a rewound node needs the primary's WAL from
    /// the switch point (its own before it, kept by pg_rewind): unless
    /// the archive gave it, the primary must hold that segment
    /// (checked here by segment number: the generated primaries cut every
    /// timeline at one segment, as PostgreSQL removes WAL); unknown
    /// holdings never follow nor rewind where the point is known.
    #[test]
    fn follow_and_rewind_only_with_the_wal_held(f in facts()) {
        let d = run(&f);
        let Some(p) = &f.3 else { return Ok(()) };
        let needed = match (&d.action, own(&d.reason)) {
            (RejoinAction::Follow, _) => Some(match (f.2, &f.1.state) {
                (Some(e), _) => e,
                _ => f.1.checkpoint,
            }),
            (
                RejoinAction::Rewind,
                RejoinReason::Rewind {
                    divergence:
                        Divergence::PastSwitchPoint { switch_point, .. }
                        | Divergence::EndUnknown { switch_point, .. },
                },
            ) => Some(*switch_point),
            _ => None,
        };
        let Some(needed) = needed else { return Ok(()) };
        // With restore_command set, the archive was not asked here (no
        // answer generated): it never counts as held.
        {
            let c = cutoff(p);
            prop_assert!(c.is_some(), "WAL unknown, yet {:?}: {}", d.action, d.reason);
            prop_assert!(
                c.unwrap_or(u64::MAX) <= needed.0 / SEG,
                "needs {} (segment {:#x}), the primary holds from {:#x}: {}",
                needed.to_pg(),
                needed.0 / SEG,
                c.unwrap_or_default(),
                d.reason
            );
        }
    }
}

/// The generator reaches every action and the same-timeline-ahead case
/// often enough for the properties above to mean something.
#[test]
fn the_generated_facts_reach_every_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = facts();
    let (mut counts, mut ahead, mut gone, n) = ([0usize; 4], 0usize, 0usize, 4000);
    for _ in 0..n {
        let f = strategy.new_tree(&mut runner).expect("a value").current();
        let d = run(&f);
        counts[d.action as usize] += 1;
        if matches!(d.reason, RejoinReason::AheadOnSameTimeline { .. }) {
            ahead += 1;
        }
        if is_wal_gone(&d.reason) {
            gone += 1;
        }
    }
    eprintln!(
        "follow/rewind/reclone/refuse: {counts:?}, ahead on the same timeline: {ahead}, WAL gone: {gone} of {n}"
    );
    assert!(gone * 100 >= n, "WAL gone reached {gone} of {n}");
    for (i, c) in counts.iter().enumerate() {
        assert!(*c * 100 >= n, "action {i} reached {c} of {n} (< 1 %)");
    }
    assert!(ahead * 100 >= n, "ahead reached {ahead} of {n}");
}
