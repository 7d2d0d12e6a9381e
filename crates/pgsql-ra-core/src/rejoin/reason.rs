//! Why the rejoin decides what it decides ([`super::decide`]): the
//! reasons, each a sentence that quotes its inputs (timelines, LSNs, byte
//! counts), serializable for `explain`.

use std::fmt;

use serde::Serialize;

use super::wal::WalStep;
use super::LocalEnd;
use crate::lsn::Lsn;

/// Why the local WAL is not on the primary's history: a repair is needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "divergence", rename_all = "snake_case")]
pub enum Divergence {
    /// The local timeline ended at `switch_point` in the primary's history
    /// and the local WAL goes past it.
    PastSwitchPoint {
        /// The local checkpoint's timeline.
        local_timeline: u32,
        /// Where the local WAL ends.
        local_end: LocalEnd,
        /// Where the local timeline ended in the primary's history.
        switch_point: Lsn,
        /// The primary's timeline.
        primary_timeline: u32,
    },
    /// A crash on an older timeline and the end of the local WAL is not
    /// known: only `pg_rewind` can tell (it does nothing when not needed).
    EndUnknown {
        /// The local checkpoint's timeline.
        local_timeline: u32,
        /// Where the local timeline ended in the primary's history.
        switch_point: Lsn,
        /// The primary's timeline.
        primary_timeline: u32,
    },
    /// The local timeline's history (its ancestors and switch points)
    /// is not the primary's: a timeline of the same number on another
    /// branch.
    HistoryDiffers {
        /// The local checkpoint's timeline.
        local_timeline: u32,
        /// The local history, `parent@switch point` each.
        local: String,
        /// The primary's history before the local timeline, the same way.
        primary: String,
        /// The primary's timeline.
        primary_timeline: u32,
    },
    /// Another node began writing on the local timeline at `fork` (a
    /// promotion that kept the timeline number: `restart_on_promote`) and
    /// the local WAL goes past it. `pg_rewind` cannot see this divergence.
    ForkOnTimeline {
        /// The timeline both wrote on.
        timeline: u32,
        /// Where the local WAL ends.
        local_end: LocalEnd,
        /// The first recorded fork point after the local node's start.
        fork: Lsn,
    },
    /// The primary no longer holds the WAL the node requests first (rows
    /// W3–W4; issue 10, "Precisions"): neither following nor `pg_rewind`
    /// can help, only a re-clone (or WAL kept or archived in future).
    WalGone {
        /// What needs it.
        step: WalStep,
        /// From where.
        needed: Lsn,
        /// The first segment file needed and missing.
        file: String,
        /// The primary's oldest file of that timeline, if any.
        oldest: Option<String>,
        /// `restore_command` ran for `file` and did not provide it: how
        /// it ended (`None`: no `restore_command`).
        archive: Option<String>,
    },
    /// An older local timeline that is not in the primary's history.
    NotInHistory {
        /// The local checkpoint's timeline.
        local_timeline: u32,
        /// The primary's timeline.
        primary_timeline: u32,
    },
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Divergence::PastSwitchPoint {
                local_timeline,
                local_end,
                switch_point,
                primary_timeline,
            } => write!(
                f,
                "the local WAL on timeline {local_timeline} {local_end}, past {}, where the primary's timeline {primary_timeline} left it",
                switch_point.to_pg()
            ),
            Divergence::EndUnknown {
                local_timeline,
                switch_point,
                primary_timeline,
            } => write!(
                f,
                "after a crash on timeline {local_timeline} the local end of WAL is unknown; the primary's timeline {primary_timeline} left it at {}",
                switch_point.to_pg()
            ),
            Divergence::HistoryDiffers {
                local_timeline,
                local,
                primary,
                primary_timeline,
            } => write!(
                f,
                "local timeline {local_timeline} has the history [{local}], the primary's timeline {primary_timeline} has [{primary}] before it: another branch"
            ),
            Divergence::ForkOnTimeline {
                timeline,
                local_end,
                fork,
            } => write!(
                f,
                "the local WAL on timeline {timeline} {local_end}, past {}, where another node began writing on the same timeline number (restart_on_promote)",
                fork.to_pg()
            ),
            Divergence::WalGone {
                step,
                needed,
                file,
                oldest,
                archive,
            } => {
                write!(
                    f,
                    "the primary no longer holds WAL segment {file}, needed from {} {step}",
                    needed.to_pg()
                )?;
                match oldest {
                    Some(oldest) => write!(f, "; the oldest it holds of that timeline is {oldest}")?,
                    None => f.write_str("; it holds none of that timeline")?,
                }
                if let Some(archive) = archive {
                    write!(f, "; restore_command did not provide it ({archive})")?;
                }
                f.write_str(
                    "; keep it with wal_keep_size (sized for the longest expected downtime), \
                     or archive it where restore_command reaches, or allow crash_rejoin=rewind-or-clone \
                     (a replication slot does not keep it: the agent creates the slots at promotion \
                     without reserving WAL)",
                )
            }
            Divergence::NotInHistory {
                local_timeline,
                primary_timeline,
            } => write!(
                f,
                "local timeline {local_timeline} is not in the history of the primary's timeline {primary_timeline}"
            ),
        }
    }
}

/// Why the rejoin does what it does; every variant quotes its inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum RejoinReason {
    /// No primary answered: nothing to follow.
    NoPrimary,
    /// The primary is another database system (never started as its standby).
    OtherSystem {
        /// The local system identifier.
        local: u64,
        /// The primary's.
        primary: u64,
    },
    /// Same timeline as the primary and the local end is not known.
    EndUnknownOnSameTimeline {
        /// The shared timeline.
        timeline: u32,
    },
    /// The primary writes on the local timeline and no node recorded where
    /// it began (rejoin.rs row 6a): fail closed.
    ForkUnknownOnSameTimeline {
        /// The shared timeline.
        timeline: u32,
        /// Where the local WAL ends.
        local_end: LocalEnd,
    },
    /// Same timeline and the local WAL goes past the primary's current LSN:
    /// the wrong node may be primary. Never rewound.
    AheadOnSameTimeline {
        /// The shared timeline.
        timeline: u32,
        /// Where the local WAL ends.
        local_end: LocalEnd,
        /// The primary's current LSN.
        primary_lsn: Lsn,
    },
    /// The local timeline is newer than the primary's.
    NewerTimeline {
        /// The local checkpoint's timeline.
        local_timeline: u32,
        /// The primary's.
        primary_timeline: u32,
    },
    /// The local WAL is a prefix of the primary's: follow it as it is.
    Follows {
        /// The local checkpoint's timeline.
        local_timeline: u32,
        /// Where the local WAL ends.
        local_end: LocalEnd,
        /// The primary's timeline.
        primary_timeline: u32,
        /// The primary's current LSN (same timeline) or the switch point
        /// where the local timeline ended in the primary's history.
        limit: Lsn,
        /// `limit` is where another node began writing on the same
        /// timeline (a recorded fork point), not the primary's current LSN.
        fork: bool,
    },
    /// A repair is needed and `crash_rejoin=none`.
    RepairNotAllowed {
        /// Why a repair is needed.
        divergence: Divergence,
    },
    /// A repair is needed and `pg_rewind` can do it.
    Rewind {
        /// Why a repair is needed.
        divergence: Divergence,
    },
    /// A repair is needed, `pg_rewind` cannot run and `crash_rejoin=rewind`.
    RewindImpossible {
        /// Why a repair is needed.
        divergence: Divergence,
    },
    /// A repair is needed, `pg_rewind` cannot run, and there is room for a copy.
    Reclone {
        /// Why a repair is needed.
        divergence: Divergence,
        /// Free bytes beside pgdata.
        free: u64,
        /// Bytes the copy needs.
        needed: u64,
    },
    /// A follow or a rewind whose WAL the primary no longer holds from
    /// `file` on, and `restore_command` produced `file` (row W2): the
    /// archive holds it. The action is `then`'s.
    ArchiveHolds {
        /// The decision's own reason.
        then: Box<RejoinReason>,
        /// Where the node needs WAL from.
        needed: Lsn,
        /// The first file the primary lacks, which the archive gave.
        file: String,
    },
    /// The primary lacks `file` and `restore_command` is set: the caller
    /// must run it for `file` ([`crate::ports::DataDir::archive_holds`])
    /// and decide again with the answer ([`super::RejoinInput::archive`]).
    /// Refused if it stops here.
    AskArchive {
        /// The segment file to ask the archive for.
        file: String,
    },
    /// `restore_command` could not be run for `file` (row W2, fail
    /// closed): refused this time.
    ArchiveUnknown {
        /// What needs it.
        step: WalStep,
        /// From where.
        needed: Lsn,
        /// The first file the primary lacks.
        file: String,
        /// Why.
        error: String,
    },
    /// Whether the primary holds the WAL a follow or a rewind needs first
    /// could not be read (row W1): refused this time (fail closed).
    WalUnknown {
        /// What needs it.
        step: WalStep,
        /// From where.
        needed: Lsn,
        /// Why it is unknown.
        error: String,
    },
    /// A re-clone is the only repair and there is not enough room (or the
    /// free space is unknown).
    NotEnoughDisk {
        /// Why a repair is needed.
        divergence: Divergence,
        /// Free bytes beside pgdata, when known.
        free: Option<u64>,
        /// Bytes the copy needs.
        needed: u64,
    },
}

impl fmt::Display for RejoinReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejoinReason::NoPrimary => f.write_str("no primary to follow: refused"),
            RejoinReason::OtherSystem { local, primary } => write!(
                f,
                "the primary is another database system (system identifier {primary}, local {local}): refused, never started as its standby"
            ),
            RejoinReason::EndUnknownOnSameTimeline { timeline } => write!(
                f,
                "on the primary's timeline {timeline} but the local end of WAL is unknown: refused"
            ),
            RejoinReason::AheadOnSameTimeline {
                timeline,
                local_end,
                primary_lsn,
            } => write!(
                f,
                "ahead of the primary on the same timeline {timeline} (the local WAL {local_end}, the primary is at {}): the wrong node may be primary; refused, never rewound",
                primary_lsn.to_pg()
            ),
            RejoinReason::ForkUnknownOnSameTimeline { timeline, local_end } => write!(
                f,
                "the primary writes on the local timeline {timeline} (the local WAL {local_end}) but no node recorded where it began writing on it (a promotion that kept the timeline, by an older agent): nothing proves the local WAL is part of the primary's; refused"
            ),
            RejoinReason::NewerTimeline {
                local_timeline,
                primary_timeline,
            } => write!(
                f,
                "the local timeline {local_timeline} is newer than the primary's {primary_timeline}: refused"
            ),
            RejoinReason::Follows {
                local_timeline,
                local_end,
                primary_timeline,
                limit,
                fork,
            } => {
                if *fork {
                    write!(
                        f,
                        "the local WAL on timeline {local_timeline} {local_end}, at or before {}, where another node began writing on this timeline (restart_on_promote): follow it",
                        limit.to_pg()
                    )
                } else if local_timeline == primary_timeline {
                    write!(
                        f,
                        "the local WAL on timeline {local_timeline} {local_end}, at or before the primary's {}: follow it",
                        limit.to_pg()
                    )
                } else {
                    write!(
                        f,
                        "the local WAL on timeline {local_timeline} {local_end}, at or before {}, where the primary's timeline {primary_timeline} left it: follow it",
                        limit.to_pg()
                    )
                }
            }
            RejoinReason::ArchiveHolds { then, needed, file } => write!(
                f,
                "{then}; the primary no longer holds WAL segment {file} (needed from {}) but restore_command provided it: the archive holds it",
                needed.to_pg()
            ),
            RejoinReason::AskArchive { file } => write!(
                f,
                "the primary no longer holds WAL segment {file} and the archive was not asked (restore_command): refused"
            ),
            RejoinReason::ArchiveUnknown {
                step,
                needed,
                file,
                error,
            } => write!(
                f,
                "the primary no longer holds WAL segment {file}, needed from {} {step}, and whether the archive holds it is unknown (restore_command: {error}): refused this time",
                needed.to_pg()
            ),
            RejoinReason::WalUnknown {
                step,
                needed,
                error,
            } => write!(
                f,
                "whether the primary still holds the WAL needed from {} {step} is unknown ({error}): refused this time (the rewind role needs EXECUTE on pg_catalog.pg_ls_dir(text, boolean, boolean))",
                needed.to_pg()
            ),
            RejoinReason::RepairNotAllowed { divergence } => write!(
                f,
                "{divergence}; a repair is needed and crash_rejoin=none: refused"
            ),
            RejoinReason::Rewind { divergence } => write!(f, "{divergence}: pg_rewind"),
            RejoinReason::RewindImpossible { divergence } => write!(
                f,
                "{divergence}; rewind impossible: {}; re-clone not allowed by crash_rejoin=rewind",
                why_no_rewind(divergence)
            ),
            RejoinReason::Reclone {
                divergence,
                free,
                needed,
            } => write!(
                f,
                "{divergence}; rewind impossible ({}): re-clone ({free} bytes free beside pgdata, {needed} needed)",
                why_no_rewind(divergence)
            ),
            RejoinReason::NotEnoughDisk {
                divergence,
                free,
                needed,
            } => match free {
                Some(free) => write!(
                    f,
                    "{divergence}; rewind impossible and not enough disk for a re-clone: {free} bytes free beside pgdata, {needed} needed: refused"
                ),
                None => write!(
                    f,
                    "{divergence}; rewind impossible and the free disk space beside pgdata is unknown ({needed} bytes needed): refused"
                ),
            },
        }
    }
}

/// Why `pg_rewind` cannot repair `divergence`.
fn why_no_rewind(divergence: &Divergence) -> &'static str {
    match divergence {
        Divergence::ForkOnTimeline { .. } => {
            "pg_rewind compares timelines only and cannot see a fork within one timeline"
        }
        Divergence::WalGone { .. } => {
            "the node needs WAL the primary removed, which pg_rewind cannot bring back"
        }
        _ => "no data checksums and wal_log_hints=off",
    }
}
