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
//! ## Which timeline the directory is on ([`judged_position`])
//!
//! After `pg_rewind` the directory is "in archive recovery", its control
//! file holds the source's last checkpoint (whose timeline may still be
//! the one before the source's promotion) and "Min recovery ending
//! location" / "Min recovery ending loc's timeline" give where the source
//! was when the copy ended, on the source's timeline (pg_rewind writes
//! them so that recovery replays at least that far; PostgreSQL
//! documentation, pg_rewind, "How It Works"). Such a directory (in archive
//! recovery, minimum recovery timeline newer than the checkpoint's) is
//! judged on the minimum recovery timeline, its end of WAL read from the
//! minimum recovery location on that timeline: the older timeline's
//! segments past the divergence may be gone. Every other directory is
//! judged on its checkpoint's timeline, its WAL read from the checkpoint's
//! REDO.
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
//! | 6 | same timeline, end past the primary's current LSN | refuse (never rewound: the wrong node may be primary) | [`RejoinReason::AheadOnSameTimeline`] |
//! | 6a | same timeline, the local node wrote on it (not in archive recovery), no fork recorded | refuse | [`RejoinReason::ForkUnknownOnSameTimeline`] |
//! | 6b | a recorded fork `F` on the local timeline, the end known and past `F` (any timeline) | repair, never by `pg_rewind` | [`Divergence::ForkOnTimeline`] |
//! | 7 | same timeline, end at or before the first fork `F` (or, in archive recovery without a fork, the primary's current LSN; equal included) | follow | [`RejoinReason::Follows`] |
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
//! | `rewind`, `rewind-or-clone` | yes, and not row 6b | – | rewind | [`RejoinReason::Rewind`] |
//! | `rewind` | no | – | refuse | [`RejoinReason::RewindImpossible`] |
//! | `rewind-or-clone` | no | ≥ size × [`CLONE_SPACE_PERCENT`] % | re-clone | [`RejoinReason::Reclone`] |
//! | `rewind-or-clone` | no | less, or unknown | refuse | [`RejoinReason::NotEnoughDisk`] |
//!
//! ## The primary's WAL (rows W1–W5, after the tables above)
//!
//! A follow or a rewind is only worth starting when the primary still
//! holds the WAL the node requests first (issue 10, "Precisions"; the seed
//! archives to each node's own directory and `wal_keep_size` may be 0).
//! That point (`first_needed`): a follow streams from the segment of the
//! local end of WAL (of the shutdown checkpoint's start after a clean
//! shutdown); a rewound node replays its own WAL from the last common
//! checkpoint up to the divergence (`pg_rewind` keeps those files:
//! PostgreSQL, `src/bin/pg_rewind/filemap.c`, `keepwal`; measured on
//! 15.20) and needs the primary's from the switch point. Which files and
//! whether each is held, up to the primary's current segment (gaps
//! included): [`wal::check`] on [`PrimaryFacts::wal`].
//!
//! | # | facts | action | reason |
//! |---|---|---|---|
//! | W1 | the primary's files unknown | refuse (fail closed; start fails, Pacemaker retries) | [`RejoinReason::WalUnknown`] |
//! | W2 | a file gone, `restore_command` set | ask the archive for the first missing file ([`RejoinReason::AskArchive`], then [`RejoinInput::archive`]): provided → as decided ([`RejoinReason::ArchiveHolds`]); not → W4; could not run → refuse ([`RejoinReason::ArchiveUnknown`]) | as said |
//! | W3 | held | as decided | – |
//! | W4 | gone, no `restore_command` or the archive lacks it | the repair table with [`Divergence::WalGone`], never `pg_rewind`: `rewind-or-clone` re-clones (room permitting), `rewind` and `none` refuse naming the LSN, the segment and the fixes | [`Divergence::WalGone`] |
//! | W5 | a `backup_label` in pgdata (after `pg_rewind`, or left by a refused one) and "follow" | W1–W4 from its START WAL LOCATION, the local files `pg_rewind` kept counted ([`RejoinInput::kept_wal`]) | as W1–W4 |
//!
//! The second decision after a re-clone is not checked (its copy holds
//! the WAL from the backup's start, `pg_basebackup -X stream`).
//!
//! Rows 6a and 6b: with `restart_on_promote` the new primary is a standby started
//! without `standby.signal`: it keeps the timeline number and writes on
//! from the end of the WAL it received (`F`, recorded in its
//! `<rsc>-primary-forks` at promote, [`crate::forks`]). The old primary's WAL past
//! `F` is another history under the same timeline number; no history
//! file records it and `pg_rewind` reports "no rewind required" (it
//! compares timelines only), so such a node is re-cloned or refused, and a
//! node on the primary's timeline with no recorded fork is refused (an
//! agent before this rule did not record `F`: nothing proves the local WAL
//! is part of the primary's). Found by `bench/rejoin_sync.sh` on the lab:
//! a crashed primary's last 192 bytes past the new primary's start made it
//! "follow" and stall on "record with incorrect prev-link".
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
use crate::ports::{ArchiveAnswer, ControlData, DbClusterState, PrimaryFacts, SegmentRun};
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

/// Where the local WAL is judged: the timeline and the LSN its end of WAL
/// is read from (module doc, "Which timeline the directory is on").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JudgedPosition {
    /// The timeline the decision compares with the primary's history.
    pub timeline: u32,
    /// Where reading the local WAL on `timeline` starts (a record boundary
    /// or a position `DataDir::wal_end` resynchronizes from).
    pub from: Lsn,
}

/// The timeline and the start of the WAL reading of a stopped directory:
/// the minimum recovery timeline and location of a directory in archive
/// recovery whose minimum recovery timeline is newer than its
/// checkpoint's (after `pg_rewind`), else the checkpoint's timeline and
/// REDO location.
pub fn judged_position(control: &ControlData) -> JudgedPosition {
    if control.state == DbClusterState::InArchiveRecovery
        && control.min_recovery_end_timeline > control.timeline
    {
        JudgedPosition {
            timeline: control.min_recovery_end_timeline,
            from: control.min_recovery_end,
        }
    } else {
        JudgedPosition {
            timeline: control.timeline,
            from: control.redo,
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
    /// `pg_controldata` of the stopped local data directory (judged on
    /// [`judged_position`]'s timeline).
    pub control: &'a ControlData,
    /// The exact end of the local WAL (`DataDir::wal_end` on
    /// [`judged_position`]'s timeline, from its LSN), `None` when not read
    /// or unreadable.
    pub wal_end: Option<Lsn>,
    /// The local timeline's history file, parsed (`None`: not read).
    pub local_history: Option<&'a [HistoryEntry]>,
    /// The current primary's facts, `None` when it could not be asked.
    pub primary: Option<&'a PrimaryFacts>,
    /// Free bytes beside pgdata, `None` when unknown.
    pub free_bytes: Option<u64>,
    /// Where other nodes began writing on the local judged timeline by
    /// promotions after the local node's own latest one: their
    /// `<rsc>-primary-forks` points on this timeline and system (a promotion
    /// that kept the timeline number, `restart_on_promote`; issue 10,
    /// [`crate::forks`]). Empty when
    /// none is recorded. No timeline history file marks such a fork, and
    /// `pg_rewind` sees the two nodes "on the same timeline" and rewinds
    /// nothing, so the decision must know them.
    pub forks: &'a [Lsn],
    /// The second decision, after `pg_rewind` or a re-clone: the WAL past
    /// the divergence is now a copy of the primary's own, so the recorded
    /// forks (rows 6a–6b) do not apply; the other rows still must say
    /// "follow".
    pub repaired: bool,
    /// `restore_command` is set: WAL the primary no longer holds may come
    /// from the archive, if running it for the first missing file
    /// produces that file (row W2, [`RejoinInput::archive`]).
    pub restore_command: bool,
    /// What `restore_command` produced for the file a previous decision
    /// asked about ([`RejoinReason::AskArchive`]); `None`: not asked yet.
    pub archive: Option<&'a ArchiveFact>,
    /// Where a rewound directory replays from, `(timeline, LSN)` of its
    /// `backup_label`'s "START WAL LOCATION" ([`wal::backup_label_start`]):
    /// after `pg_rewind` (the second decision), or left by an earlier
    /// rejoin whose second decision refused. It replays its own WAL kept
    /// by `pg_rewind` from there up to the divergence ([`RejoinInput::kept_wal`])
    /// and needs the rest from the primary, which may have removed it since
    /// the first decision (`pg_rewind` ran a `CHECKPOINT` on it when
    /// needed): a "follow" is then checked from there (row W5). `None`
    /// after a re-clone (its copy holds that WAL).
    pub rewound_from: Option<(u32, Lsn)>,
    /// The complete segment files in the local `pg_wal`
    /// ([`wal::parse_segment_file_name`], [`crate::ports::segment_runs`]),
    /// read with [`RejoinInput::rewound_from`]; `None`: not read. Only the
    /// files of the `backup_label`'s timeline before its switch point count
    /// ([`wal::check`]).
    pub kept_wal: Option<&'a [SegmentRun]>,
}

fn decided(action: RejoinAction, reason: RejoinReason) -> RejoinDecision {
    RejoinDecision { action, reason }
}

/// Decides the rejoin (the tables in the module doc), the WAL rows W1–W5
/// last.
pub fn decide(input: &RejoinInput<'_>) -> RejoinDecision {
    let decision = decide_on_history(input);
    let Some(primary) = input.primary else {
        return decision;
    };
    // A directory with a backup_label replays from its start, before its
    // end of WAL: that point decides a follow (row W5).
    let needed = match (input.rewound_from, decision.action) {
        (Some((timeline, lsn)), RejoinAction::Follow) => Some((WalStep::Rewind, timeline, lsn)),
        _ if input.repaired => None,
        _ => first_needed(&decision),
    };
    match needed {
        Some(needed) => wal_gate(input, primary, decision, needed),
        None => decision,
    }
}

/// Where the node will request WAL from the primary first, for a decision
/// to follow or to rewind (`None`: not judged before acting): follow, the
/// local end of WAL (a shutdown checkpoint's start: its segment or the one
/// before the end, conservatively); rewind, the switch point. The rewound
/// node replays from the last common checkpoint before the divergence,
/// out of its own `pg_wal` up to the switch point (`pg_rewind` keeps the
/// target's WAL files it read from that checkpoint to the divergence and
/// copies the source's others: PostgreSQL, `src/bin/pg_rewind/filemap.c`,
/// `keepwal`; measured on 15.20), then from the primary's files of the new
/// timeline. A `pg_rewind` without that rule removes the target's files
/// the source lacks; row W5 measures the local `pg_wal` after the rewind
/// either way, so this is a necessary condition, never a false refusal.
fn first_needed(decision: &RejoinDecision) -> Option<(WalStep, u32, Lsn)> {
    match &decision.reason {
        RejoinReason::Follows {
            local_timeline,
            local_end,
            ..
        } => match local_end {
            LocalEnd::Exact(e) | LocalEnd::CheckpointRecord(e) => {
                Some((WalStep::Follow, *local_timeline, *e))
            }
            LocalEnd::Unknown => None,
        },
        RejoinReason::Rewind {
            divergence:
                Divergence::PastSwitchPoint {
                    local_timeline,
                    switch_point,
                    ..
                }
                | Divergence::EndUnknown {
                    local_timeline,
                    switch_point,
                    ..
                },
        } => Some((WalStep::Rewind, *local_timeline, *switch_point)),
        _ => None,
    }
}

/// Rows W1–W5 (module doc): a follow or a rewind needs the primary's WAL
/// from `needed` (`(step, timeline, LSN)`) on.
fn wal_gate(
    input: &RejoinInput<'_>,
    primary: &PrimaryFacts,
    decision: RejoinDecision,
    (step, timeline, needed): (WalStep, u32, Lsn),
) -> RejoinDecision {
    let kept = input.rewound_from.and(input.kept_wal);
    let (file, oldest) = match wal::check(primary, kept, timeline, needed) {
        WalCheck::Held { .. } => return decision,
        WalCheck::Unknown { error } => {
            return decided(
                RejoinAction::Refuse,
                RejoinReason::WalUnknown {
                    step,
                    needed,
                    error,
                },
            )
        }
        WalCheck::Gone { file, oldest } => (file, oldest),
    };
    let gone = |archive: Option<String>| Divergence::WalGone {
        step,
        needed,
        file: file.clone(),
        oldest: oldest.clone(),
        archive,
    };
    if !input.restore_command {
        return repair(input, primary, gone(None));
    }
    // Row W2: the archive must really hold the first missing file.
    match input.archive.filter(|a| a.file == file) {
        None => decided(
            RejoinAction::Refuse,
            RejoinReason::AskArchive { file: file.clone() },
        ),
        Some(ArchiveFact {
            answer: Ok(answer), ..
        }) if answer.holds => RejoinDecision {
            action: decision.action,
            reason: RejoinReason::ArchiveHolds {
                then: Box::new(decision.reason),
                needed,
                file: file.clone(),
            },
        },
        Some(ArchiveFact {
            answer: Ok(answer), ..
        }) => repair(input, primary, gone(Some(answer.detail.clone()))),
        Some(ArchiveFact {
            answer: Err(error), ..
        }) => decided(
            RejoinAction::Refuse,
            RejoinReason::ArchiveUnknown {
                step,
                needed,
                file: file.clone(),
                error: error.clone(),
            },
        ),
    }
}

/// What running `restore_command` for one segment file found
/// ([`crate::ports::DataDir::archive_holds`]; row W2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveFact {
    /// The segment file asked for (the decision's
    /// [`RejoinReason::AskArchive`]).
    pub file: String,
    /// The port's answer; `Err`: could not be run (fail closed).
    pub answer: Result<ArchiveAnswer, String>,
}

/// The decision from the histories and ends of WAL (rows 1–11).
fn decide_on_history(input: &RejoinInput<'_>) -> RejoinDecision {
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
    let (tl, ptl) = (judged_position(local).timeline, primary.timeline);
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
    let first_fork = if input.repaired {
        None
    } else {
        input.forks.iter().copied().min()
    };
    if tl == ptl {
        if end == LocalEnd::Unknown {
            return decided(
                Refuse,
                RejoinReason::EndUnknownOnSameTimeline { timeline: tl },
            );
        }
        if !end.at_or_before(primary.current_lsn) {
            return decided(
                Refuse,
                RejoinReason::AheadOnSameTimeline {
                    timeline: tl,
                    local_end: end,
                    primary_lsn: primary.current_lsn,
                },
            );
        }
        // Row 6a: the primary writes on the local timeline; only a recorded
        // fork point tells where its WAL stops being the local node's.
        // A directory in archive recovery (a standby, or rewound) holds WAL
        // it received: row 6b judges it by the forks recorded, if any.
        let wrote_here = !input.repaired
            && !matches!(
                local.state,
                DbClusterState::InArchiveRecovery | DbClusterState::ShutDownInRecovery
            );
        let fork = match first_fork {
            Some(fork) => fork,
            None if !wrote_here => primary.current_lsn,
            None => {
                return decided(
                    Refuse,
                    RejoinReason::ForkUnknownOnSameTimeline {
                        timeline: tl,
                        local_end: end,
                    },
                )
            }
        };
        if !end.at_or_before(fork) {
            return repair(input, primary, fork_divergence(tl, end, fork));
        }
        return decided(
            Follow,
            RejoinReason::Follows {
                local_timeline: tl,
                local_end: end,
                primary_timeline: ptl,
                limit: fork,
                fork: first_fork.is_some(),
            },
        );
    }
    // Row 6b on an older timeline: another node began writing on it before
    // the local WAL ends (its later timelines' switch points cannot help).
    if let Some(fork) = first_fork {
        if end != LocalEnd::Unknown && !end.at_or_before(fork) {
            return repair(input, primary, fork_divergence(tl, end, fork));
        }
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
                    fork: false,
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

fn fork_divergence(timeline: u32, local_end: LocalEnd, fork: Lsn) -> Divergence {
    Divergence::ForkOnTimeline {
        timeline,
        local_end,
        fork,
    }
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
    // pg_rewind finds the divergence from the timeline histories only: a
    // fork within one timeline number is invisible to it (it reports "no
    // rewind required"), so only a re-clone repairs it.
    // Nor can it bring back WAL the primary removed.
    let rewind_sees_it = !matches!(
        divergence,
        Divergence::ForkOnTimeline { .. } | Divergence::WalGone { .. }
    );
    match input.policy {
        CrashRejoin::None => decided(Refuse, RejoinReason::RepairNotAllowed { divergence }),
        CrashRejoin::Rewind | CrashRejoin::RewindOrClone
            if rewind_sees_it && input.control.rewindable() =>
        {
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

mod reason;
#[cfg(test)]
mod tests;
pub mod wal;

pub use reason::{Divergence, RejoinReason};
pub use wal::{WalCheck, WalStep};
