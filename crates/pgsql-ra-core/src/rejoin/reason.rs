//! Why the rejoin decides what it decides ([`super::decide`]): the
//! reasons, each a sentence that quotes its inputs (timelines, LSNs, byte
//! counts), serializable for `explain`.

use std::fmt;

use serde::Serialize;

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
        _ => "no data checksums and wal_log_hints=off",
    }
}
