//! One row per rule and edge of the tables in the module doc.

use super::*;
use crate::timeline::HistoryEntry;

const SYS: u64 = 7_300_000_000_000_000_001;
const C: u64 = 0x0500_0028; // a checkpoint record's start
const S: u64 = 0x0500_0100; // a switch point
const P: u64 = 0x0600_0000; // the primary's current LSN

#[derive(Clone, Copy)]
enum End {
    /// Clean shutdown (`shut down`), checkpoint at this LSN, no wal_end.
    Clean(u64),
    /// Crash (`in production`), wal_end given.
    Crash(u64),
    /// Crash, wal_end unknown.
    CrashUnknown,
    /// After pg_rewind: in archive recovery, the checkpoint on this older
    /// timeline, the minimum recovery point on the row's `local_tl`, and
    /// the wal_end read there (or unknown).
    Rewound(u32, Option<u64>),
}

struct Row {
    name: &'static str,
    policy: CrashRejoin,
    local_tl: u32,
    end: End,
    rewindable: bool,
    other_system: bool,
    primary: bool,
    primary_tl: u32,
    /// (parent, switch point) of the primary's history.
    history: &'static [(u32, u64)],
    /// The local history file, when read.
    local_history: Option<&'static [(u32, u64)]>,
    free: Option<u64>,
    /// Recorded fork points on the local timeline (restart promotions).
    forks: &'static [u64],
    /// The second decision, after a repair.
    repaired: bool,
    /// The primary's WAL files.
    wal: Wal,
    /// `restore_command` set.
    restore: bool,
    /// After pg_rewind: its backup_label's start.
    rewound_from: Option<(u32, u64)>,
    /// The segment files in the local pg_wal (read with `rewound_from`).
    kept: &'static [(u32, u64)],
    /// What restore_command gives for the file asked (`None`: not asked).
    archive: Option<Result<bool, &'static str>>,
    want: RejoinAction,
    /// A word the reason's sentence must hold.
    says: &'static str,
}

const BASE: Row = Row {
    name: "",
    policy: CrashRejoin::Rewind,
    local_tl: 1,
    end: End::Crash(S + 0x100),
    rewindable: true,
    other_system: false,
    primary: true,
    primary_tl: 2,
    history: &[(1, S)],
    local_history: None,
    free: Some(1 << 40),
    forks: &[],
    repaired: false,
    wal: Wal::All,
    restore: false,
    rewound_from: None,
    kept: &[],
    archive: None,
    want: RejoinAction::Rewind,
    says: "pg_rewind",
};

const SIZE: u64 = 1_000_000;

/// The primary's `pg_wal` (16 MiB segments: C and S lie in segment 5, P
/// starts segment 6).
#[derive(Clone, Copy)]
enum Wal {
    /// Every file since segment 0, every timeline.
    All,
    /// `(timeline, oldest segment)`.
    Oldest(&'static [(u32, u64)]),
    /// The listing failed.
    Unknown,
}

/// A primary that still holds every WAL file (the WAL rows W1–W5 have
/// their own table below).
fn holds_everything() -> crate::ports::WalHoldings {
    crate::ports::WalHoldings::Known(crate::ports::PrimaryWal {
        segment_size: 16 << 20,
        runs: (1..=8)
            .map(|t| crate::ports::SegmentRun {
                timeline: t,
                first: 0,
                last: u64::MAX,
            })
            .collect(),
    })
}

fn run(r: &Row) -> RejoinDecision {
    let (state, checkpoint, wal_end) = match r.end {
        End::Clean(c) => (DbClusterState::ShutDown, c, None),
        End::Crash(e) => (DbClusterState::InProduction, C, Some(Lsn(e))),
        End::CrashUnknown => (DbClusterState::InProduction, C, None),
        End::Rewound(_, e) => (DbClusterState::InArchiveRecovery, C, e.map(Lsn)),
    };
    let (timeline, min_recovery_end, min_recovery_end_timeline) = match r.end {
        End::Rewound(checkpoint_tl, _) => (checkpoint_tl, Lsn(P - 0x1000), r.local_tl),
        _ => (r.local_tl, Lsn::ZERO, 0),
    };
    let control = ControlData {
        state,
        system_id: SYS,
        checkpoint: Lsn(checkpoint),
        redo: Lsn(checkpoint),
        timeline,
        min_recovery_end,
        min_recovery_end_timeline,
        data_checksums: false,
        wal_log_hints: r.rewindable,
    };
    let primary = PrimaryFacts {
        system_id: if r.other_system { SYS + 1 } else { SYS },
        timeline: r.primary_tl,
        history: r
            .history
            .iter()
            .map(|(p, s)| HistoryEntry {
                parent: *p,
                switch_point: Lsn(*s),
            })
            .collect(),
        current_lsn: Lsn(P),
        size_bytes: SIZE,
        wal: match r.wal {
            Wal::All => holds_everything(),
            Wal::Oldest(o) => crate::ports::WalHoldings::Known(crate::ports::PrimaryWal {
                segment_size: 16 << 20,
                runs: o
                    .iter()
                    .map(|(t, first)| crate::ports::SegmentRun {
                        timeline: *t,
                        first: *first,
                        last: 0x1000,
                    })
                    .collect(),
            }),
            Wal::Unknown => crate::ports::WalHoldings::Unknown(
                "permission denied for function pg_ls_dir".into(),
            ),
        },
    };
    let local_history: Option<Vec<HistoryEntry>> = r.local_history.map(|h| {
        h.iter()
            .map(|(p, s)| HistoryEntry {
                parent: *p,
                switch_point: Lsn(*s),
            })
            .collect()
    });
    let kept = crate::ports::segment_runs(r.kept.to_vec());
    let forks: Vec<Lsn> = r.forks.iter().copied().map(Lsn).collect();
    let mut input = RejoinInput {
        policy: r.policy,
        control: &control,
        wal_end,
        local_history: local_history.as_deref(),
        primary: r.primary.then_some(&primary),
        free_bytes: r.free,
        forks: &forks,
        repaired: r.repaired,
        restore_command: r.restore,
        archive: None,
        rewound_from: r.rewound_from.map(|(t, l)| (t, Lsn(l))),
        kept_wal: Some(&kept),
    };
    let first = decide(&input);
    // As the start action does: ask the archive, then decide again.
    match (&first.reason, r.archive) {
        (RejoinReason::AskArchive { file }, Some(answer)) => {
            let fact = ArchiveFact {
                file: file.clone(),
                answer: answer
                    .map(|holds| ArchiveAnswer {
                        holds,
                        detail: if holds {
                            "exit 0, 16777216 bytes".into()
                        } else {
                            format!("exit 1: cp: cannot stat '/a/{file}'")
                        },
                    })
                    .map_err(str::to_string),
            };
            input.archive = Some(&fact);
            decide(&input)
        }
        _ => first,
    }
}

#[test]
fn the_decision_table() {
    use CrashRejoin as Pol;
    use RejoinAction::*;
    let rows = [
        Row { name: "no primary", primary: false, want: Refuse, says: "no primary to follow", ..BASE },
        Row { name: "another system", other_system: true, policy: Pol::RewindOrClone, want: Refuse, says: "another database system", ..BASE },
        Row { name: "same timeline, behind the fork", local_tl: 2, end: End::Crash(P - 0x200), forks: &[P - 0x100], want: Follow, says: "at or before 0/5FFFF00, where another node began writing on this timeline", ..BASE },
        Row { name: "same timeline, at the fork", local_tl: 2, end: End::Crash(P - 0x100), forks: &[P - 0x100], want: Follow, says: "follow", ..BASE },
        Row { name: "same timeline, the first of two forks counts", local_tl: 2, end: End::Crash(P - 0x100), forks: &[P - 0x80, P - 0x180], policy: Pol::RewindOrClone, want: Reclone, says: "past 0/5FFFE80, where another node began writing", ..BASE },
        Row { name: "same timeline, one byte past the fork, rewind-or-clone", local_tl: 2, end: End::Crash(P - 0xFF), forks: &[P - 0x100], policy: Pol::RewindOrClone, want: Reclone, says: "pg_rewind compares timelines only", ..BASE },
        Row { name: "same timeline, past the fork, rewind only, rewindable", local_tl: 2, end: End::Crash(P - 0xFF), forks: &[P - 0x100], want: Refuse, says: "rewind impossible: pg_rewind compares timelines only and cannot see a fork within one timeline; re-clone not allowed", ..BASE },
        Row { name: "same timeline, past the fork, crash_rejoin=none", local_tl: 2, end: End::Crash(P - 0xFF), forks: &[P - 0x100], policy: Pol::None, want: Refuse, says: "crash_rejoin=none", ..BASE },
        Row { name: "same timeline, no fork recorded", local_tl: 2, end: End::Crash(P - 0x100), policy: Pol::RewindOrClone, want: Refuse, says: "no node recorded where it began writing", ..BASE },
        Row { name: "same timeline, one byte ahead", local_tl: 2, end: End::Crash(P + 1), forks: &[P - 0x100], policy: Pol::RewindOrClone, want: Refuse, says: "ahead of the primary on the same timeline 2", ..BASE },
        Row { name: "same timeline, clean, checkpoint before the fork", local_tl: 2, end: End::Clean(P - 0x28), forks: &[P], want: Follow, says: "shutdown checkpoint record at 0/5FFFFD8", ..BASE },
        Row { name: "same timeline, clean, checkpoint at the fork", local_tl: 2, end: End::Clean(P - 0x100), forks: &[P - 0x100], policy: Pol::RewindOrClone, want: Reclone, says: "where another node began writing", ..BASE },
        Row { name: "same timeline, clean, checkpoint at the primary's LSN", local_tl: 2, end: End::Clean(P), forks: &[P - 0x100], want: Refuse, says: "wrong node may be primary", ..BASE },
        Row { name: "older timeline, past a fork on it, before its switch point", end: End::Crash(S - 0x10), forks: &[S - 0x100], policy: Pol::RewindOrClone, want: Reclone, says: "on timeline 1 ends at 0/50000F0, past 0/5000000, where another node began writing", ..BASE },
        Row { name: "older timeline, before a fork on it", end: End::Crash(S - 0x200), forks: &[S - 0x100], want: Follow, says: "follow", ..BASE },
        Row { name: "same timeline, crash, end unknown", local_tl: 2, end: End::CrashUnknown, want: Refuse, says: "end of WAL is unknown", ..BASE },
        Row { name: "newer timeline", local_tl: 3, want: Refuse, says: "newer than the primary's 2", ..BASE },
        Row { name: "ancestor, end before S", end: End::Crash(S - 0x100), want: Follow, says: "where the primary's timeline 2 left it: follow", ..BASE },
        Row { name: "ancestor, end at S", end: End::Crash(S), want: Follow, says: "at or before 0/5000100", ..BASE },
        Row { name: "ancestor, end one past S", end: End::Crash(S + 1), want: Rewind, says: "past 0/5000100", ..BASE },
        Row { name: "ancestor, clean, checkpoint just before S", end: End::Clean(S - 1), want: Follow, says: "follow", ..BASE },
        Row { name: "ancestor, clean, checkpoint at S (the standby missed it)", end: End::Clean(S), want: Rewind, says: "shutdown checkpoint record at 0/5000100, past 0/5000100", ..BASE },
        Row { name: "ancestor, crash, end unknown", end: End::CrashUnknown, want: Rewind, says: "after a crash on timeline 1", ..BASE },
        Row { name: "ancestor further back (3 → 2 → 1)", primary_tl: 3, history: &[(1, S), (2, P - 0x1000)], end: End::Crash(S - 1), want: Follow, says: "follow", ..BASE },
        Row { name: "not in the history", local_tl: 2, primary_tl: 3, history: &[(1, S)], want: Rewind, says: "not in the history of the primary's timeline 3", ..BASE },
        Row { name: "policy none, repair needed", policy: Pol::None, want: Refuse, says: "crash_rejoin=none", ..BASE },
        Row { name: "policy none, follow needs no repair", policy: Pol::None, end: End::Crash(S), want: Follow, says: "follow", ..BASE },
        Row { name: "rewind only, not rewindable", rewindable: false, want: Refuse, says: "rewind impossible: no data checksums and wal_log_hints=off; re-clone not allowed by crash_rejoin=rewind", ..BASE },
        Row { name: "rewind-or-clone, rewindable", policy: Pol::RewindOrClone, want: Rewind, says: "pg_rewind", ..BASE },
        Row { name: "rewind-or-clone, not rewindable, room", policy: Pol::RewindOrClone, rewindable: false, want: Reclone, says: "re-clone (1099511627776 bytes free beside pgdata, 1250000 needed)", ..BASE },
        Row { name: "rewind-or-clone, exactly enough room", policy: Pol::RewindOrClone, rewindable: false, free: Some(SIZE * 125 / 100), want: Reclone, says: "re-clone", ..BASE },
        Row { name: "rewind-or-clone, one byte short", policy: Pol::RewindOrClone, rewindable: false, free: Some(SIZE * 125 / 100 - 1), want: Refuse, says: "1249999 bytes free beside pgdata, 1250000 needed", ..BASE },
        Row { name: "rewind-or-clone, free space unknown", policy: Pol::RewindOrClone, rewindable: false, free: None, want: Refuse, says: "free disk space beside pgdata is unknown", ..BASE },
    ];
    // Row 4: the local history file against the primary's.
    let branches = [
        Row { name: "same timeline, same history", local_tl: 2, end: End::Crash(P), forks: &[P], local_history: Some(&[(1, S)]), want: Follow, says: "follow", ..BASE },
        Row { name: "same timeline number, another branch", local_tl: 2, end: End::Crash(S), local_history: Some(&[(1, S - 0x100)]), want: Rewind, says: "local timeline 2 has the history [1@0/5000000], the primary's timeline 2 has [1@0/5000100] before it: another branch", ..BASE },
        Row { name: "another branch, crash_rejoin=none", policy: Pol::None, local_tl: 2, end: End::Crash(S), local_history: Some(&[(1, S - 0x100)]), want: Refuse, says: "another branch; a repair is needed and crash_rejoin=none", ..BASE },
        Row { name: "ancestor with the same history", local_tl: 2, primary_tl: 3, history: &[(1, S), (2, P - 0x1000)], local_history: Some(&[(1, S)]), end: End::Crash(P - 0x1000), want: Follow, says: "follow", ..BASE },
        Row { name: "ancestor of another branch", local_tl: 2, primary_tl: 3, history: &[(1, S), (2, P - 0x1000)], local_history: Some(&[(1, S + 8)]), end: End::Crash(S + 8), want: Rewind, says: "another branch", ..BASE },
        Row { name: "timeline 1 has no history file", local_history: Some(&[]), end: End::Crash(S), want: Follow, says: "follow", ..BASE },
        Row { name: "history not read: numbers only", local_tl: 2, end: End::Crash(S), forks: &[S], local_history: None, want: Follow, says: "follow", ..BASE },
    ];
    // After pg_rewind (measured on PostgreSQL 15 when the source had not
    // checkpointed since its promotion): the checkpoint on the old
    // timeline 1, the minimum recovery point on the primary's timeline 2.
    let rewound = [
        Row { name: "rewound, on the primary's timeline, behind it", local_tl: 2, end: End::Rewound(1, Some(P - 0x100)), want: Follow, says: "the local WAL on timeline 2 ends at 0/5FFFF00, at or before the primary's 0/6000000: follow it", ..BASE },
        Row { name: "rewound, at the primary's LSN", local_tl: 2, end: End::Rewound(1, Some(P)), want: Follow, says: "follow", ..BASE },
        Row { name: "rewound, end unknown", local_tl: 2, end: End::Rewound(1, None), want: Refuse, says: "on the primary's timeline 2 but the local end of WAL is unknown", ..BASE },
        Row { name: "rewound, past a recorded fork", local_tl: 2, end: End::Rewound(1, Some(P - 0x100)), forks: &[P - 0x200], policy: Pol::RewindOrClone, want: Reclone, says: "where another node began writing", ..BASE },
        Row { name: "re-cloned copy on the primary's timeline: forks do not apply", local_tl: 2, end: End::Crash(P), forks: &[P - 0x200], repaired: true, want: Follow, says: "follow", ..BASE },
        Row { name: "rewound, ahead of the primary", local_tl: 2, end: End::Rewound(1, Some(P + 1)), want: Refuse, says: "ahead of the primary on the same timeline 2", ..BASE },
        Row { name: "rewound onto an older timeline, past its switch point", local_tl: 2, primary_tl: 3, history: &[(1, S), (2, P - 0x800)], end: End::Rewound(1, Some(P - 0x100)), want: Rewind, says: "the local WAL on timeline 2 ends at 0/5FFFF00, past 0/5FFF800", ..BASE },
        Row { name: "minimum recovery timeline not newer: the checkpoint's timeline", local_tl: 1, end: End::Rewound(1, Some(S - 0x100)), want: Follow, says: "the local WAL on timeline 1", ..BASE },
    ];
    // Rows W1–W5: the WAL the node requests first must still be on the
    // primary (16 MiB segments; C, S in segment 5 of timeline 1, whose
    // file on the primary is timeline 2's: the switch is in it).
    let follow = End::Crash(S - 0x100);
    let held: &[(u32, u64)] = &[(1, 4), (2, 5)];
    let gone: &[(u32, u64)] = &[(2, 6)];
    let wal = [
        Row { name: "W: follow, held", end: follow, wal: Wal::Oldest(held), want: Follow, says: "follow it", ..BASE },
        Row { name: "W: follow, gone, rewind", end: follow, wal: Wal::Oldest(gone), want: Refuse, says: "the primary no longer holds WAL segment 000000020000000000000005, needed from 0/5000000 to follow (streaming from the end of the local WAL); the oldest it holds of that timeline is 000000020000000000000006; keep it with wal_keep_size (sized for the longest expected downtime), or archive it where restore_command reaches, or allow crash_rejoin=rewind-or-clone (a replication slot does not keep it: the agent creates the slots at promotion without reserving WAL); rewind impossible: the node needs WAL the primary removed, which pg_rewind cannot bring back", ..BASE },
        Row { name: "W: follow, gone, rewind-or-clone", end: follow, wal: Wal::Oldest(gone), policy: Pol::RewindOrClone, want: Reclone, says: "needed from 0/5000000 to follow", ..BASE },
        Row { name: "W: follow, gone, rewind-or-clone, no room", end: follow, wal: Wal::Oldest(gone), policy: Pol::RewindOrClone, free: Some(1), want: Refuse, says: "not enough disk", ..BASE },
        Row { name: "W2: follow, gone, restore_command not run", end: follow, wal: Wal::Oldest(gone), restore: true, want: Refuse, says: "the primary no longer holds WAL segment 000000020000000000000005 and the archive was not asked", ..BASE },
        Row { name: "W2: follow, gone, the archive holds it", end: follow, wal: Wal::Oldest(gone), restore: true, archive: Some(Ok(true)), want: Follow, says: "follow it; the primary no longer holds WAL segment 000000020000000000000005 (needed from 0/5000000) but restore_command provided it", ..BASE },
        Row { name: "W2: follow, gone, the archive lacks it, rewind", end: follow, wal: Wal::Oldest(gone), restore: true, archive: Some(Ok(false)), want: Refuse, says: "segment 000000020000000000000005, needed from 0/5000000 to follow (streaming from the end of the local WAL); the oldest it holds of that timeline is 000000020000000000000006; restore_command did not provide it (exit 1: cp: cannot stat '/a/000000020000000000000005')", ..BASE },
        Row { name: "W2: follow, gone, the archive lacks it, rewind-or-clone", end: follow, wal: Wal::Oldest(gone), restore: true, archive: Some(Ok(false)), policy: Pol::RewindOrClone, want: Reclone, says: "restore_command did not provide it", ..BASE },
        Row { name: "W2: follow, gone, restore_command could not run", end: follow, wal: Wal::Oldest(gone), restore: true, archive: Some(Err("timed out after 30 s")), policy: Pol::RewindOrClone, want: Refuse, says: "whether the archive holds it is unknown (restore_command: timed out after 30 s): refused this time", ..BASE },
        Row { name: "W: follow, unknown", end: follow, wal: Wal::Unknown, policy: Pol::RewindOrClone, want: Refuse, says: "whether the primary still holds the WAL needed from 0/5000000 to follow (streaming from the end of the local WAL) is unknown (permission denied for function pg_ls_dir): refused this time", ..BASE },
        Row { name: "W1: follow, unknown, restore_command: fail closed", end: follow, wal: Wal::Unknown, restore: true, archive: Some(Ok(true)), want: Refuse, says: "is unknown (permission denied for function pg_ls_dir)", ..BASE },
        Row { name: "W: follow, clean, the checkpoint's segment", end: End::Clean(S - 1), wal: Wal::Oldest(gone), policy: Pol::RewindOrClone, want: Reclone, says: "from 0/50000FF", ..BASE },
        Row { name: "W: follow on the same timeline, gone", local_tl: 2, end: End::Crash(P - 0x200), forks: &[P - 0x100], wal: Wal::Oldest(gone), policy: Pol::RewindOrClone, want: Reclone, says: "segment 000000020000000000000005", ..BASE },
        Row { name: "W: follow on the same timeline, held", local_tl: 2, end: End::Crash(P), forks: &[P], wal: Wal::Oldest(gone), want: Follow, says: "follow it", ..BASE },
        Row { name: "W: follow from an older timeline's own file", end: End::Crash(0x0400_0010), wal: Wal::Oldest(&[(2, 5)]), want: Refuse, says: "segment 000000010000000000000004, needed from 0/4000010 to follow (streaming from the end of the local WAL); it holds none of that timeline", ..BASE },
        Row { name: "W: rewind, the switch point's file held", wal: Wal::Oldest(held), want: Rewind, says: "pg_rewind", ..BASE },
        Row { name: "W: rewind needs the primary's WAL from the switch point only (pg_rewind keeps the local WAL before it)", history: &[(1, P)], end: End::Crash(P + 0x10), wal: Wal::Oldest(&[(2, 6)]), want: Rewind, says: "pg_rewind", ..BASE },
        Row { name: "W: rewind, gone", wal: Wal::Oldest(gone), want: Refuse, says: "segment 000000020000000000000005, needed from 0/5000100 after pg_rewind (the local WAL up to the divergence, then the primary's from the switch point)", ..BASE },
        Row { name: "W: rewind, gone, rewind-or-clone", wal: Wal::Oldest(gone), policy: Pol::RewindOrClone, want: Reclone, says: "re-clone", ..BASE },
        Row { name: "W: rewind, gone, the archive holds it", wal: Wal::Oldest(gone), restore: true, archive: Some(Ok(true)), want: Rewind, says: "pg_rewind; the primary no longer holds WAL segment 000000020000000000000005 (needed from 0/5000100) but restore_command provided it", ..BASE },
        Row { name: "W: rewind, unknown", wal: Wal::Unknown, want: Refuse, says: "unknown", ..BASE },
        Row { name: "W: rewind, checkpoint past the switch point: the switch point", end: End::Clean(S + 0x10), wal: Wal::Oldest(gone), want: Refuse, says: "needed from 0/5000100 after pg_rewind", ..BASE },
        Row { name: "W: rewind impossible stays so", rewindable: false, wal: Wal::Oldest(gone), want: Refuse, says: "no data checksums", ..BASE },
        Row { name: "W: crash_rejoin=none, follow gone", policy: Pol::None, end: follow, wal: Wal::Oldest(gone), want: Refuse, says: "the primary no longer holds WAL segment", ..BASE },
        Row { name: "W: the second decision after a re-clone is not gated", local_tl: 2, end: End::Crash(P), repaired: true, wal: Wal::Oldest(&[(2, 7)]), want: Follow, says: "follow", ..BASE },
        Row { name: "W5: after pg_rewind, the replay start held", local_tl: 2, end: End::Rewound(1, Some(P)), repaired: true, rewound_from: Some((1, C)), wal: Wal::Oldest(held), want: Follow, says: "follow", ..BASE },
        Row { name: "W5: after pg_rewind, the replay start gone (the rewind's CHECKPOINT), rewind", local_tl: 2, end: End::Rewound(1, Some(P)), repaired: true, rewound_from: Some((1, C)), wal: Wal::Oldest(gone), want: Refuse, says: "WAL segment 000000020000000000000005, needed from 0/5000028 after pg_rewind", ..BASE },
        Row { name: "W5: after pg_rewind, gone, rewind-or-clone", local_tl: 2, end: End::Rewound(1, Some(P)), repaired: true, rewound_from: Some((1, C)), wal: Wal::Oldest(gone), policy: Pol::RewindOrClone, want: Reclone, says: "re-clone", ..BASE },
        Row { name: "W5: a directory left rewound, first decision: its backup_label decides", local_tl: 2, end: End::Rewound(1, Some(P)), rewound_from: Some((1, C)), wal: Wal::Oldest(gone), policy: Pol::RewindOrClone, want: Reclone, says: "needed from 0/5000028 after pg_rewind", ..BASE },
        Row { name: "W5: after pg_rewind, gone, the archive holds it", local_tl: 2, end: End::Rewound(1, Some(P)), repaired: true, rewound_from: Some((1, C)), wal: Wal::Oldest(gone), restore: true, archive: Some(Ok(true)), want: Follow, says: "restore_command provided it", ..BASE },
        Row { name: "W5: after pg_rewind, gone, the archive lacks it", local_tl: 2, end: End::Rewound(1, Some(P)), repaired: true, rewound_from: Some((1, C)), wal: Wal::Oldest(gone), restore: true, archive: Some(Ok(false)), want: Refuse, says: "restore_command did not provide it", ..BASE },
        Row { name: "W5: the local files pg_rewind kept count before the switch", local_tl: 2, end: End::Rewound(1, Some(P)), repaired: true, rewound_from: Some((1, 0x0300_0028)), kept: &[(1, 3), (1, 4)], wal: Wal::Oldest(&[(2, 5)]), want: Follow, says: "follow", ..BASE },
        Row { name: "W5: a kept file missing", local_tl: 2, end: End::Rewound(1, Some(P)), repaired: true, rewound_from: Some((1, 0x0300_0028)), kept: &[(1, 4)], wal: Wal::Oldest(&[(2, 5)]), want: Refuse, says: "segment 000000010000000000000003", ..BASE },
        Row { name: "W5: local files past the switch do not count", local_tl: 2, end: End::Rewound(1, Some(P)), repaired: true, rewound_from: Some((1, 0x0300_0028)), kept: &[(1, 3), (1, 4), (1, 5), (2, 5)], wal: Wal::Oldest(&[(2, 6)]), want: Refuse, says: "segment 000000020000000000000005", ..BASE },
    ];
    for r in rows.iter().chain(&branches).chain(&rewound).chain(&wal) {
        let d = run(r);
        assert_eq!(d.action, r.want, "{}: {}", r.name, d.reason);
        assert!(
            d.reason.to_string().contains(r.says),
            "{}: {:?} lacks {:?}",
            r.name,
            d.reason.to_string(),
            r.says
        );
    }
}

#[test]
fn a_rewound_directory_is_judged_on_its_minimum_recovery_timeline() {
    let mut c = ControlData {
        state: DbClusterState::InArchiveRecovery,
        system_id: SYS,
        checkpoint: Lsn(C),
        redo: Lsn(C - 0x28),
        timeline: 2,
        min_recovery_end: Lsn(P),
        min_recovery_end_timeline: 3,
        data_checksums: true,
        wal_log_hints: false,
    };
    let rewound = JudgedPosition {
        timeline: 3,
        from: Lsn(P),
    };
    let checkpoint = JudgedPosition {
        timeline: 2,
        from: Lsn(C - 0x28),
    };
    assert_eq!(judged_position(&c), rewound);
    c.min_recovery_end_timeline = 2;
    assert_eq!(judged_position(&c), checkpoint, "same timeline");
    c.min_recovery_end_timeline = 0;
    assert_eq!(judged_position(&c), checkpoint, "no minimum recovery point");
    c.min_recovery_end_timeline = 3;
    for state in [
        DbClusterState::InProduction,
        DbClusterState::ShutDown,
        DbClusterState::ShutDownInRecovery,
    ] {
        c.state = state;
        assert_eq!(judged_position(&c), checkpoint, "{:?}", c.state);
    }
}

#[test]
fn the_clone_margin_saturates() {
    assert_eq!(clone_space_needed(100), 125);
    assert_eq!(clone_space_needed(u64::MAX), u64::MAX);
}

#[test]
fn a_clean_standby_shutdown_is_not_an_end_of_wal() {
    let mut c = ControlData {
        state: DbClusterState::ShutDownInRecovery,
        system_id: SYS,
        checkpoint: Lsn(C),
        redo: Lsn(C),
        timeline: 1,
        min_recovery_end: Lsn::ZERO,
        min_recovery_end_timeline: 0,
        data_checksums: true,
        wal_log_hints: false,
    };
    assert_eq!(LocalEnd::from_facts(&c, None), LocalEnd::Unknown);
    assert_eq!(
        LocalEnd::from_facts(&c, Some(Lsn(S))),
        LocalEnd::Exact(Lsn(S))
    );
    c.state = DbClusterState::ShutDown;
    assert_eq!(
        LocalEnd::from_facts(&c, None),
        LocalEnd::CheckpointRecord(Lsn(C))
    );
}

#[test]
fn decisions_serialize_for_explain() {
    let d = run(&BASE);
    let v = serde_json::to_value(&d).expect("serializes");
    assert_eq!(v["action"], "Rewind");
    assert_eq!(v["reason"]["reason"], "rewind");
    assert_eq!(v["reason"]["divergence"]["divergence"], "past_switch_point");
    assert_eq!(v["reason"]["divergence"]["local_end"]["kind"], "exact");
}
