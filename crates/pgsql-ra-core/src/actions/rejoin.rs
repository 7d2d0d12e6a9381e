//! The crash rejoin at `start` (issue 10): gathers the facts through the
//! [`crate::ports::DataDir`] port, decides with [`crate::rejoin::decide`],
//! logs the decision and carries it out within the start budget. A repair
//! (`pg_rewind`, re-clone) is followed by a second decision on the
//! repaired directory, which must say "follow".

use std::time::Duration;

use super::prepare::write_recovery_conf;
use super::Ctx;
use crate::ports::{segment_runs, SegmentRun, WalHoldings};
use crate::ports::{DbClusterState, LogLevel, RewindOutcome};
use crate::recovery::{recovery_conf_path, standby_signal_path, uses_standby_signal};
use crate::rejoin::wal::parse_segment_file_name;
use crate::rejoin::{
    decide, judged_position, ArchiveFact, RejoinAction, RejoinDecision, RejoinInput, RejoinReason,
};
use crate::timeline::{history_file_name, parse_history, HistoryEntry};

/// How long asking the primary may take at most (bounded further by the
/// start budget).
const PRIMARY_FACTS_TIMEOUT: Duration = Duration::from_secs(10);

/// How long `restore_command` may take to fetch one segment file (row W2;
/// bounded further by the start budget).
const ARCHIVE_TIMEOUT: Duration = Duration::from_secs(30);

fn remaining(ctx: &mut Ctx<'_, '_>) -> Duration {
    let now = ctx.world.clock.now();
    ctx.budget.remaining(now)
}

/// What came before a decision.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The first decision.
    First,
    /// After `pg_rewind` rewound the directory (it wrote `backup_label`).
    Rewound,
    /// After a re-clone (its WAL from the backup's start is in the copy).
    Recloned,
    /// After `pg_rewind` said "no rewind required": nothing was copied.
    NotRewound,
}

/// Where a rewound directory replays from: its `backup_label`'s start
/// ([`crate::rejoin::wal::backup_label_start`]); `Ok(None)` when there is
/// no `backup_label` and `required` is false (the first decision: only a
/// directory an earlier rejoin rewound has one).
///
/// # Errors
/// Unreadable, without a start, or missing after a rewind (`required`):
/// fail closed (the decision could not check the WAL the node needs).
fn rewound_from(
    ctx: &mut Ctx<'_, '_>,
    required: bool,
) -> Result<Option<(u32, crate::lsn::Lsn)>, String> {
    let path = ctx.pgdata_path("backup_label");
    match ctx.world.fs.read(&path) {
        Ok(Some(text)) => crate::rejoin::wal::backup_label_start(&text)
            .map(Some)
            .ok_or_else(|| format!("{path} names no START WAL LOCATION")),
        Ok(None) if required => Err(format!("after pg_rewind, {path} is missing")),
        Ok(None) => Ok(None),
        Err(e) => Err(format!("can't read {path}: {e}")),
    }
}

/// Reads the local and the primary's facts and decides (`stage`: the
/// first decision, or the second after pg_rewind or a re-clone). `Err`:
/// the local control data (or, after a rewind, its `backup_label`) could
/// not be read (nothing can be decided without it).
fn gather_and_decide(ctx: &mut Ctx<'_, '_>, stage: Stage) -> Result<RejoinDecision, String> {
    // The recorded forks do not apply to a copy of the primary's WAL.
    let repaired = matches!(stage, Stage::Rewound | Stage::Recloned);
    let rewound_from = match stage {
        Stage::First | Stage::NotRewound => rewound_from(ctx, false)?,
        Stage::Rewound => rewound_from(ctx, true)?,
        Stage::Recloned => None,
    };
    let control = ctx
        .world
        .server
        .control_data()
        .map_err(|e| format!("pg_controldata failed: {e}"))?;
    // After a clean shutdown of a primary the checkpoint is the end of WAL;
    // otherwise only reading the WAL tells it (issue 10, "Precisions"). A
    // rewound directory is read on its minimum recovery timeline.
    let position = judged_position(&control);
    let wal_end = if control.state == DbClusterState::ShutDown {
        None
    } else {
        match ctx.world.server.wal_end(position.timeline, position.from) {
            Ok(end) => Some(end),
            Err(e) => {
                ctx.log(
                    LogLevel::Warn,
                    &format!("crash rejoin: the end of the local WAL is unknown: {e}"),
                );
                None
            }
        }
    };
    let timeout = PRIMARY_FACTS_TIMEOUT.min(remaining(ctx));
    let primary = match ctx.world.server.primary_facts(timeout) {
        Ok(p) => Some(p),
        Err(e) => {
            ctx.log(
                LogLevel::Warn,
                &format!("crash rejoin: the primary could not be asked: {e}"),
            );
            None
        }
    };
    let free_bytes = match ctx.world.server.free_bytes_beside_pgdata() {
        Ok(f) => Some(f),
        Err(e) => {
            ctx.log(
                LogLevel::Warn,
                &format!("crash rejoin: free disk space unknown: {e}"),
            );
            None
        }
    };
    let local_history = local_history(ctx, position.timeline);
    let forks = forks_on(ctx, position.timeline, control.system_id)?;
    let kept_wal = match (rewound_from, primary.as_ref().map(|p| &p.wal)) {
        (Some(_), Some(WalHoldings::Known(w))) => local_wal_segments(ctx, w.segment_size),
        _ => None,
    };
    let mut input = RejoinInput {
        policy: ctx.agent.params.crash_rejoin,
        control: &control,
        wal_end,
        local_history: local_history.as_deref(),
        primary: primary.as_ref(),
        free_bytes,
        forks: &forks,
        repaired,
        restore_command: !ctx.agent.params.restore_command.trim().is_empty(),
        archive: None,
        rewound_from,
        kept_wal: kept_wal.as_deref(),
    };
    let mut decision = decide(&input);
    // Row W2: the primary lacks a file; does the archive really hold it?
    let fact;
    if let RejoinReason::AskArchive { file } = &decision.reason {
        let timeout = ARCHIVE_TIMEOUT.min(remaining(ctx));
        let size = match primary.as_ref().map(|p| &p.wal) {
            Some(WalHoldings::Known(w)) => w.segment_size,
            _ => 0,
        };
        let answer = ctx.world.server.archive_holds(file, size, timeout);
        let said = match &answer {
            Ok(a) if a.holds => format!("the archive holds {file} ({})", a.detail),
            Ok(a) => format!("restore_command did not provide {file} ({})", a.detail),
            Err(e) => format!("restore_command could not be run for {file}: {e}"),
        };
        ctx.log(LogLevel::Info, &format!("crash rejoin: {said}"));
        fact = ArchiveFact {
            file: file.clone(),
            answer,
        };
        input.archive = Some(&fact);
        decision = decide(&input);
    }
    ctx.log(
        LogLevel::Info,
        &format!("crash rejoin: {}", decision.reason),
    );
    let outcome = match decision.action {
        RejoinAction::Follow => "follow",
        RejoinAction::Rewind => "rewind",
        RejoinAction::Reclone => "reclone",
        RejoinAction::Refuse => "refuse",
    };
    ctx.journal_rejoin(
        "start",
        "crash_rejoin",
        outcome,
        &decision.reason.to_string(),
    );
    Ok(decision)
}

/// The complete segment files in the local WAL directory, as runs
/// ([`RejoinInput::kept_wal`]); `None` (logged) when it cannot be listed:
/// then no local file counts.
fn local_wal_segments(ctx: &mut Ctx<'_, '_>, segment_size: u64) -> Option<Vec<SegmentRun>> {
    let wal_dir = if ctx.facts.pg_version.is_some_and(|v| v < 1000) {
        "pg_xlog"
    } else {
        "pg_wal"
    };
    let path = ctx.pgdata_path(wal_dir);
    match ctx.world.fs.list_dir(&path) {
        Ok(names) => Some(segment_runs(
            names
                .iter()
                .filter_map(|n| parse_segment_file_name(n, segment_size))
                .collect(),
        )),
        Err(e) => {
            ctx.log(
                LogLevel::Warn,
                &format!("crash rejoin: can't list {path}: {e}"),
            );
            None
        }
    }
}

/// The points where other nodes began writing on `timeline` of system
/// `system_id` by promotions that came after the local node's own latest
/// one on it (their `<rsc>-primary-forks`, recorded at every promotion that
/// kept the timeline: `restart_on_promote`;
/// [`crate::rejoin::RejoinInput::forks`]). Order, not LSN, decides which
/// count: a lagging standby promoted later may fork at an LSN before the
/// local node's own start (found by the fault schedules). A local node
/// that never recorded a promotion on the timeline counts them all.
///
/// # Errors
/// A record could not be read or parsed: a fork might be missed, so
/// nothing is decided (fail closed; the start fails and keeps the lock).
fn forks_on(
    ctx: &mut Ctx<'_, '_>,
    timeline: u32,
    system_id: u64,
) -> Result<Vec<crate::lsn::Lsn>, String> {
    let records = super::elect::recorded_fork_points(ctx)
        .map_err(|e| format!("crash rejoin: the recorded fork points: {e}"))?;
    let local = ctx.attrs.local.clone();
    let on = |r: &crate::forks::ForkRecord| r.is_on(timeline, system_id);
    let own_last = records
        .iter()
        .filter(|(n, r)| *n == local && on(r))
        .map(|(_, r)| r.last_seq())
        .max()
        .unwrap_or(0);
    Ok(records
        .iter()
        .filter(|(n, r)| *n != local && on(r))
        .flat_map(|(_, r)| r.points.iter())
        .filter(|p| p.seq > own_last)
        .map(|p| p.lsn)
        .collect())
}

/// The local history of `timeline`: from the port, else the history file
/// in the WAL directory through the filesystem port (none on timeline 1).
/// `None` when neither can tell (the decision then judges by timeline
/// numbers only).
fn local_history(ctx: &mut Ctx<'_, '_>, timeline: u32) -> Option<Vec<HistoryEntry>> {
    if let Ok(h) = ctx.world.server.local_history(timeline) {
        return Some(h);
    }
    if timeline <= 1 {
        return Some(Vec::new());
    }
    let wal_dir = if ctx.facts.pg_version.is_some_and(|v| v < 1000) {
        "pg_xlog"
    } else {
        "pg_wal"
    };
    let path = ctx.pgdata_path(&format!("{wal_dir}/{}", history_file_name(timeline)));
    match ctx.world.fs.read(&path) {
        Ok(Some(text)) => match parse_history(&text) {
            Ok(h) => Some(h),
            Err(e) => {
                ctx.log(LogLevel::Warn, &format!("crash rejoin: {path}: {e}"));
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            ctx.log(
                LogLevel::Warn,
                &format!("crash rejoin: can't read {path}: {e}"),
            );
            None
        }
    }
}

/// After a repair the directory must be on the primary's history. After
/// `pg_rewind` the second decision may still order a re-clone (row W5: the
/// primary no longer holds the WAL the rewound directory replays from,
/// `crash_rejoin=rewind-or-clone`); nothing else but "follow" is accepted.
fn follow_after(ctx: &mut Ctx<'_, '_>, stage: Stage) -> Result<(), String> {
    let again = gather_and_decide(ctx, stage)?;
    let what = match stage {
        Stage::Recloned => "the re-clone",
        _ => "pg_rewind",
    };
    match again.action {
        RejoinAction::Follow => {}
        RejoinAction::Reclone if stage != Stage::Recloned => return reclone(ctx),
        _ => return Err(format!("after {what}: {}", again.reason)),
    }
    // pg_rewind and pg_basebackup replace the files the standby
    // configuration lives in: write it again.
    write_recovery_conf(ctx).map_err(|o| o.reason.unwrap_or_default())
}

/// A re-clone, then the second decision.
fn reclone(ctx: &mut Ctx<'_, '_>) -> Result<(), String> {
    let budget = remaining(ctx);
    let outcome = ctx
        .world
        .server
        .reclone(budget)
        .map_err(|e| format!("re-clone failed: {e}"))?;
    ctx.log(
        LogLevel::Info,
        &format!(
            "crash rejoin: re-cloned from the primary; the previous data directory is {}",
            outcome.moved_aside
        ),
    );
    follow_after(ctx, Stage::Recloned)
}

/// Removes the file that puts pgdata in standby mode (`standby.signal`,
/// PostgreSQL 12+; `recovery.conf` in pgdata before), which start wrote
/// before the rejoin: after a crash `pg_rewind` (13+) first runs the target
/// in single-user mode to finish crash recovery, and a single-user server
/// refuses standby mode ("FATAL: standby mode is not supported by
/// single-user servers", measured on PostgreSQL 15). [`follow_after`]
/// writes the standby configuration again.
fn leave_standby_mode(ctx: &mut Ctx<'_, '_>) -> Result<(), String> {
    let params = &ctx.agent.params;
    let path = if uses_standby_signal(ctx.facts.pg_version) {
        standby_signal_path(params)
    } else {
        recovery_conf_path(params, ctx.facts.pg_version)
    };
    ctx.world
        .fs
        .remove(&path)
        .map(|_| ())
        .map_err(|e| format!("can't remove {path} before pg_rewind: {e}"))
}

/// Runs the crash rejoin. `Ok` when the local data directory may now start
/// as a standby of the primary; `Err` with the reason otherwise (the lock
/// stays, pgdata as the tools left it).
pub fn crash_rejoin(ctx: &mut Ctx<'_, '_>) -> Result<(), String> {
    let decision = gather_and_decide(ctx, Stage::First)?;
    match decision.action {
        RejoinAction::Follow => Ok(()),
        RejoinAction::Refuse => Err(decision.reason.to_string()),
        RejoinAction::Rewind => {
            leave_standby_mode(ctx)?;
            let budget = remaining(ctx);
            let outcome = ctx
                .world
                .server
                .rewind(budget)
                .map_err(|e| format!("pg_rewind failed: {e}"))?;
            let ended = match outcome {
                RewindOutcome::Rewound {
                    diverged_at: Some(lsn),
                } => format!("rewound (the servers diverged at {})", lsn.to_pg()),
                RewindOutcome::Rewound { diverged_at: None } => "rewound".to_string(),
                RewindOutcome::NotNeeded => "no rewind required".to_string(),
            };
            ctx.log(
                LogLevel::Info,
                &format!("crash rejoin: pg_rewind ended: {ended}"),
            );
            let stage = match outcome {
                RewindOutcome::Rewound { .. } => Stage::Rewound,
                RewindOutcome::NotNeeded => Stage::NotRewound,
            };
            follow_after(ctx, stage)
        }
        RejoinAction::Reclone => reclone(ctx),
    }
}
