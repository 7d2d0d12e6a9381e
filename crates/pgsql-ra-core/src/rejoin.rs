//! The rejoin decision (issue 10): may a stopped old primary that holds
//! `PGSQL.lock` start as a standby of the current primary, after which
//! repair, or not at all? Pure: the caller gathers the facts through
//! [`crate::ports::DataDir`] and carries the decision out.
//!
//! ## Where the local WAL ends ([`LocalEnd`])
//!
//! * `wal_end` given (`pg_waldump` after a crash, or any exact reading):
//!   [`LocalEnd::Exact`] `E`, the LSN just past the last valid record.
//! * Else, after a clean shutdown of a primary (`shut down`): the shutdown
//!   checkpoint is the last record written, and it *starts* at the
//!   checkpoint location `C` ([`LocalEnd::CheckpointRecord`]); the record
//!   occupies `C..E` with `E > C`.
//! * Else: [`LocalEnd::Unknown`] (a crash, or a standby's clean shutdown,
//!   whose checkpoint is only its last restartpoint: never decide "follow"
//!   from the checkpoint alone).
//!
//! "The local WAL ends at or before `L`" (`L` = the primary's current LSN
//! on the same timeline, or the switch point `S` where the local timeline
//! ended in the primary's history) is then:
//! `Exact(E)`: `E ≤ L`; `CheckpointRecord(C)`: `C < L` — both LSNs are
//! record boundaries and no record starts inside another, so `C < L`
//! means the whole record `C..E` lies before `L` (`E ≤ L`), and `C ≥ L`
//! means the record (at least) goes past `L`. A standby that received the
//! shutdown checkpoint and was promoted has `S = E > C` (follow); one that
//! missed it has `S ≤ C` (repair). `Unknown`: never.
//!
//! ## Decision table (first matching row)
//!
//! | # | facts | action | reason |
//! |---|---|---|---|
//! | 1 | no primary facts | refuse | [`RejoinReason::NoPrimary`] |
//! | 2 | system identifiers differ | refuse | [`RejoinReason::OtherSystem`] |
//! | 3 | local timeline newer than the primary's | refuse | [`RejoinReason::NewerTimeline`] |
//! | 4 | local history known and not the primary's before the local timeline | repair | [`Divergence::HistoryDiffers`] |
//! | 5 | same timeline, end unknown | refuse | [`RejoinReason::EndUnknownOnSameTimeline`] |
//! | 6 | same timeline, end at or before the primary's current LSN (equal included) | follow | [`RejoinReason::Follows`] |
//! | 7 | same timeline, end past the primary's current LSN | refuse (never rewound: the wrong node may be primary) | [`RejoinReason::AheadOnSameTimeline`] |
//! | 8 | local timeline ended at `S` in the primary's history, end at or before `S` | follow | [`RejoinReason::Follows`] |
//! | 9 | local timeline ended at `S`, end past `S` | repair | [`Divergence::PastSwitchPoint`] |
//! | 10 | local timeline ended at `S`, end unknown (crash) | repair (`pg_rewind` says "no rewind required" when it did not go past) | [`Divergence::EndUnknown`] |
//! | 11 | older local timeline not in the primary's history | repair | [`Divergence::NotInHistory`] |
//!
//! A repair is, in order:
//!
//! | policy (`crash_rejoin`) | rewindable (checksums or `wal_log_hints`) | free bytes beside pgdata | action | reason |
//! |---|---|---|---|---|
//! | `none` | – | – | refuse | [`RejoinReason::RepairNotAllowed`] |
//! | `rewind`, `rewind-or-clone` | yes | – | rewind | [`RejoinReason::Rewind`] |
//! | `rewind` | no | – | refuse | [`RejoinReason::RewindImpossible`] |
//! | `rewind-or-clone` | no | ≥ size × [`CLONE_SPACE_PERCENT`] % | re-clone | [`RejoinReason::Reclone`] |
//! | `rewind-or-clone` | no | less, or unknown | refuse | [`RejoinReason::NotEnoughDisk`] |
//!
//! Row 4: PostgreSQL names timelines by number only; two promotions (one
//! outside the cluster) can both create timeline N. The local history
//! file (`pg_wal/<TLI>.history`, when read) must list the same ancestors
//! with the same switch points as the primary's history before the local
//! timeline; else the local timeline is another branch (`pg_rewind`
//! compares the histories the same way to find where they diverged). When
//! the local history is unknown the rows below judge by numbers only.
//!
//! Never done: delete data (a re-clone moves the old directory aside),
//! rewind a node ahead on the same timeline, start a node of another system.

use std::fmt;

use serde::Serialize;

use crate::lsn::Lsn;
use crate::params::CrashRejoin;
use crate::ports::{ControlData, DbClusterState, PrimaryFacts};
use crate::timeline::HistoryEntry;

/// The free space a re-clone needs, in percent of the primary's size
/// (`sum(pg_database_size())`): the copy itself plus 25 % for the WAL
/// streamed during the copy (`pg_basebackup -X stream`), the files
/// `pg_database_size` does not count and the filesystem's own overhead.
pub const CLONE_SPACE_PERCENT: u64 = 125;

/// Bytes a re-clone of a primary of `size` bytes needs (saturating).
pub fn clone_space_needed(size: u64) -> u64 {
    let needed = u128::from(size) * u128::from(CLONE_SPACE_PERCENT) / 100;
    u64::try_from(needed).unwrap_or(u64::MAX)
}

/// Where the local WAL ends, as far as it is known (module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "lsn", rename_all = "snake_case")]
pub enum LocalEnd {
    /// The LSN just past the last valid local record.
    Exact(Lsn),
    /// A clean shutdown: the last record is the shutdown checkpoint, which
    /// starts at this LSN and ends past it.
    CheckpointRecord(Lsn),
    /// Not known (a crash without a reading of the WAL).
    Unknown,
}

impl LocalEnd {
    /// From `pg_controldata` and the optional exact end (`pg_waldump`):
    /// the exact end when given, else the shutdown checkpoint of a cleanly
    /// shut down primary, else unknown.
    pub fn from_facts(control: &ControlData, wal_end: Option<Lsn>) -> LocalEnd {
        match wal_end {
            Some(e) => LocalEnd::Exact(e),
            None if control.state == DbClusterState::ShutDown => {
                LocalEnd::CheckpointRecord(control.checkpoint)
            }
            None => LocalEnd::Unknown,
        }
    }

    /// True when every local record lies at or before `limit` (module doc:
    /// `E ≤ limit`, or `C < limit` for a shutdown checkpoint record).
    pub fn at_or_before(self, limit: Lsn) -> bool {
        match self {
            LocalEnd::Exact(e) => e <= limit,
            LocalEnd::CheckpointRecord(c) => c < limit,
            LocalEnd::Unknown => false,
        }
    }
}

impl fmt::Display for LocalEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalEnd::Exact(e) => write!(f, "ends at {}", e.to_pg()),
            LocalEnd::CheckpointRecord(c) => {
                write!(
                    f,
                    "ends with its shutdown checkpoint record at {}",
                    c.to_pg()
                )
            }
            LocalEnd::Unknown => f.write_str("end is unknown"),
        }
    }
}

/// What the rejoin does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RejoinAction {
    /// Start as a standby of the primary as it is.
    Follow,
    /// `pg_rewind` against the primary, then decide again.
    Rewind,
    /// A new copy by `pg_basebackup`, the old directory moved aside.
    Reclone,
    /// Keep `PGSQL.lock`; the start fails.
    Refuse,
}

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
            } => {
                if local_timeline == primary_timeline {
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
                "{divergence}; rewind impossible: no data checksums and wal_log_hints=off; re-clone not allowed by crash_rejoin=rewind"
            ),
            RejoinReason::Reclone {
                divergence,
                free,
                needed,
            } => write!(
                f,
                "{divergence}; rewind impossible (no data checksums, wal_log_hints=off): re-clone ({free} bytes free beside pgdata, {needed} needed)"
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

/// The decision and its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejoinDecision {
    /// What to do.
    pub action: RejoinAction,
    /// Why.
    pub reason: RejoinReason,
}

/// What the decision looks at.
#[derive(Debug, Clone, Copy)]
pub struct RejoinInput<'a> {
    /// `crash_rejoin`.
    pub policy: CrashRejoin,
    /// `pg_controldata` of the stopped local data directory.
    pub control: &'a ControlData,
    /// The exact end of the local WAL (`DataDir::wal_end`), `None` when not
    /// read or unreadable.
    pub wal_end: Option<Lsn>,
    /// The local timeline's history file, parsed (`None`: not read).
    pub local_history: Option<&'a [HistoryEntry]>,
    /// The current primary's facts, `None` when it could not be asked.
    pub primary: Option<&'a PrimaryFacts>,
    /// Free bytes beside pgdata, `None` when unknown.
    pub free_bytes: Option<u64>,
}

fn decided(action: RejoinAction, reason: RejoinReason) -> RejoinDecision {
    RejoinDecision { action, reason }
}

/// Decides the rejoin (the tables in the module doc).
pub fn decide(input: &RejoinInput<'_>) -> RejoinDecision {
    use RejoinAction::{Follow, Refuse};
    let Some(primary) = input.primary else {
        return decided(Refuse, RejoinReason::NoPrimary);
    };
    let local = input.control;
    if local.system_id != primary.system_id {
        return decided(
            Refuse,
            RejoinReason::OtherSystem {
                local: local.system_id,
                primary: primary.system_id,
            },
        );
    }
    let end = LocalEnd::from_facts(local, input.wal_end);
    let (tl, ptl) = (local.timeline, primary.timeline);
    if tl > ptl {
        return decided(
            Refuse,
            RejoinReason::NewerTimeline {
                local_timeline: tl,
                primary_timeline: ptl,
            },
        );
    }
    if let Some(divergence) = other_branch(input.local_history, primary, tl) {
        return repair(input, primary, divergence);
    }
    if tl == ptl {
        if end == LocalEnd::Unknown {
            return decided(
                Refuse,
                RejoinReason::EndUnknownOnSameTimeline { timeline: tl },
            );
        }
        if end.at_or_before(primary.current_lsn) {
            return decided(
                Follow,
                RejoinReason::Follows {
                    local_timeline: tl,
                    local_end: end,
                    primary_timeline: ptl,
                    limit: primary.current_lsn,
                },
            );
        }
        return decided(
            Refuse,
            RejoinReason::AheadOnSameTimeline {
                timeline: tl,
                local_end: end,
                primary_lsn: primary.current_lsn,
            },
        );
    }
    let divergence = match primary.history.iter().find(|h| h.parent == tl) {
        Some(h) if end.at_or_before(h.switch_point) => {
            return decided(
                Follow,
                RejoinReason::Follows {
                    local_timeline: tl,
                    local_end: end,
                    primary_timeline: ptl,
                    limit: h.switch_point,
                },
            )
        }
        Some(h) if end == LocalEnd::Unknown => Divergence::EndUnknown {
            local_timeline: tl,
            switch_point: h.switch_point,
            primary_timeline: ptl,
        },
        Some(h) => Divergence::PastSwitchPoint {
            local_timeline: tl,
            local_end: end,
            switch_point: h.switch_point,
            primary_timeline: ptl,
        },
        None => Divergence::NotInHistory {
            local_timeline: tl,
            primary_timeline: ptl,
        },
    };
    repair(input, primary, divergence)
}

/// Row 4: the local history, when known, differs from the primary's
/// history before the local timeline `tl`.
fn other_branch(
    local_history: Option<&[HistoryEntry]>,
    primary: &PrimaryFacts,
    tl: u32,
) -> Option<Divergence> {
    let local_history = local_history?;
    let before: Vec<HistoryEntry> = primary
        .history
        .iter()
        .filter(|h| h.parent < tl)
        .copied()
        .collect();
    if before == local_history {
        return None;
    }
    let text = |h: &[HistoryEntry]| {
        h.iter()
            .map(|e| format!("{}@{}", e.parent, e.switch_point.to_pg()))
            .collect::<Vec<_>>()
            .join(" ")
    };
    Some(Divergence::HistoryDiffers {
        local_timeline: tl,
        local: text(local_history),
        primary: text(&before),
        primary_timeline: primary.timeline,
    })
}

/// The repair table of the module doc.
fn repair(
    input: &RejoinInput<'_>,
    primary: &PrimaryFacts,
    divergence: Divergence,
) -> RejoinDecision {
    use RejoinAction::{Reclone, Refuse, Rewind};
    match input.policy {
        CrashRejoin::None => decided(Refuse, RejoinReason::RepairNotAllowed { divergence }),
        CrashRejoin::Rewind | CrashRejoin::RewindOrClone if input.control.rewindable() => {
            decided(Rewind, RejoinReason::Rewind { divergence })
        }
        CrashRejoin::Rewind => decided(Refuse, RejoinReason::RewindImpossible { divergence }),
        CrashRejoin::RewindOrClone => {
            let needed = clone_space_needed(primary.size_bytes);
            match input.free_bytes {
                Some(free) if free >= needed => decided(
                    Reclone,
                    RejoinReason::Reclone {
                        divergence,
                        free,
                        needed,
                    },
                ),
                free => decided(
                    Refuse,
                    RejoinReason::NotEnoughDisk {
                        divergence,
                        free,
                        needed,
                    },
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests;
