//! The simulated data directory's rejoin facts and repairs (issue 10):
//! [`crate::ports::DataDir`] for [`SimPostgres`].
//!
//! Model:
//! * How the server last stopped ([`LastStop`]): a `kill -9` or
//!   `pg_ctl stop -m immediate` is a crash (`in production`, or `in archive
//!   recovery` for a standby); a fast stop is clean (`shut down`, `shut
//!   down in recovery`). A clean primary shutdown's last record is its
//!   shutdown checkpoint, [`SHUTDOWN_CHECKPOINT_LEN`] bytes long and ending
//!   at the end of WAL.
//! * `wal_end`: the instance's true end of WAL (what `pg_waldump` finds).
//! * `local_history`: its past timelines with their switch points (what
//!   its `pg_wal/<TLI>.history` lists).
//! * `primary_facts`: the node the VIP leads to (placed there, a
//!   responsive primary, the replication link up): its system, timeline,
//!   history (its past timelines with their switch points), current LSN
//!   and [`DATABASE_SIZE`].
//! * `rewind`: refused unless the instance is rewindable
//!   ([`DataDirState::rewindable`], default true; `rewindable NODE off` in
//!   scripts); "no rewind required" when the primary's WAL includes the
//!   local WAL; otherwise the local WAL after the divergence point is
//!   thrown away and the primary's history adopted (timelines, switch
//!   points, end of WAL), as `pg_rewind` copies the source's WAL and
//!   control file. Like `pg_rewind`, it removes files only the target has:
//!   `standby.signal` (PostgreSQL ≥ 12) or `recovery.conf`.
//! * `reclone`: needs [`DATABASE_SIZE`] free bytes; moves the data
//!   directory aside to `<pgdata>.rejoin-N` (recorded in
//!   [`DataDirState::moved_aside`], never deleted) and takes the primary's
//!   WAL history, without slots.

use std::time::Duration;

use super::{Instance, SimPostgres, SimRole};
use crate::lsn::Lsn;
use crate::ports::{
    CloneOutcome, ControlData, DataDir, DbClusterState, PrimaryFacts, PrimaryWal, RewindOutcome,
    SegmentRun, StopMode, WalHoldings,
};
use crate::timeline::HistoryEntry;

/// Bytes of a shutdown checkpoint record (its start is `pg_controldata`'s
/// "Latest checkpoint location").
pub const SHUTDOWN_CHECKPOINT_LEN: u64 = 0x78;
/// What `sum(pg_database_size())` answers on every simulated primary (64 MiB).
pub const DATABASE_SIZE: u64 = 64 << 20;

/// The simulated primary's `wal_segment_size` (PostgreSQL's default).
pub const SIM_WAL_SEGMENT_SIZE: u64 = 16 << 20;
/// Free bytes beside a simulated pgdata unless a scenario sets it (1 TiB).
pub const DEFAULT_FREE_BYTES: u64 = 1 << 40;

/// How the server last stopped, or what last rewrote the data directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LastStop {
    /// Never started since `initdb` (a clean shutdown of a primary).
    #[default]
    Initdb,
    /// `pg_ctl stop -m fast` completed.
    Clean {
        /// It was a standby.
        standby: bool,
    },
    /// `kill -9` or `pg_ctl stop -m immediate`.
    Crash {
        /// It was a standby.
        standby: bool,
    },
    /// `pg_rewind` or a re-clone rewrote the directory (`in archive recovery`).
    Repaired,
}

/// The rejoin-related state of one simulated data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDirState {
    /// `pg_rewind` can run (data checksums or `wal_log_hints=on`).
    pub rewindable: bool,
    /// Free bytes beside pgdata.
    pub free_bytes: u64,
    /// Directories a re-clone moved aside, oldest first.
    pub moved_aside: Vec<String>,
    /// How the server last stopped.
    pub last_stop: LastStop,
    /// `pg_rewind` runs that rewound the directory.
    pub rewinds: u32,
}

impl Default for DataDirState {
    fn default() -> Self {
        DataDirState {
            rewindable: true,
            free_bytes: DEFAULT_FREE_BYTES,
            moved_aside: Vec::new(),
            last_stop: LastStop::Initdb,
            rewinds: 0,
        }
    }
}

/// Records a stop of a running server (`Server::stop` that took effect).
pub(super) fn on_stop(i: &mut Instance, mode: StopMode) {
    let standby = i.role == SimRole::Standby;
    i.data_dir.last_stop = match mode {
        StopMode::Fast => LastStop::Clean { standby },
        StopMode::Immediate => LastStop::Crash { standby },
    };
}

/// Records a `kill -9` of a running server.
pub(super) fn on_crash(i: &mut Instance) {
    i.data_dir.last_stop = LastStop::Crash {
        standby: i.role == SimRole::Standby,
    };
}

fn control_data_of(i: &Instance) -> ControlData {
    let state = match i.data_dir.last_stop {
        _ if i.role == SimRole::Primary => DbClusterState::InProduction,
        _ if i.role == SimRole::Standby => DbClusterState::InArchiveRecovery,
        LastStop::Initdb | LastStop::Clean { standby: false } => DbClusterState::ShutDown,
        LastStop::Clean { standby: true } => DbClusterState::ShutDownInRecovery,
        LastStop::Crash { standby: false } => DbClusterState::InProduction,
        LastStop::Crash { standby: true } | LastStop::Repaired => DbClusterState::InArchiveRecovery,
    };
    let checkpoint = if state == DbClusterState::ShutDown {
        Lsn(i.lsn.0.saturating_sub(SHUTDOWN_CHECKPOINT_LEN))
    } else {
        // A crashed or repaired directory's last checkpoint lies somewhere
        // before its end of WAL; the decision never reads it as the end.
        Lsn(i.lsn.0.saturating_sub(crate::memory::WAL_PER_WRITE))
    };
    ControlData {
        state,
        system_id: i.system_id,
        checkpoint,
        redo: checkpoint,
        timeline: i.timeline.timeline,
        min_recovery_end: Lsn::ZERO,
        min_recovery_end_timeline: 0,
        data_checksums: false,
        wal_log_hints: i.data_dir.rewindable,
    }
}

/// A lineage's past timelines as a history file lists them: a fork that
/// kept the timeline number (a standby started without recovery) has no
/// line, PostgreSQL writes none.
fn history_entries(past: &[(super::TimelineId, Lsn)], current: u32) -> Vec<HistoryEntry> {
    past.iter()
        .enumerate()
        .filter(|(k, (tl, _))| {
            let next = past.get(k + 1).map_or(current, |(n, _)| n.timeline);
            next != tl.timeline
        })
        .map(|(_, (tl, end))| HistoryEntry {
            parent: tl.timeline,
            switch_point: *end,
        })
        .collect()
}

fn not_stopped(i: &Instance) -> Option<String> {
    matches!(i.role, SimRole::Primary | SimRole::Standby).then(|| {
        format!(
            "pg_rewind: error: target server must be shut down cleanly (postmaster running in {})",
            i.spec.pgdata
        )
    })
}

/// Removes the files only a standby's directory has (`pg_rewind` and
/// `pg_basebackup` leave the primary's set).
fn drop_standby_files(i: &mut Instance) {
    i.fs.remove_tree(&format!("{}/standby.signal", i.spec.pgdata));
    i.fs.remove_tree(&format!("{}/recovery.conf", i.spec.pgdata));
}

impl SimPostgres {
    /// The instance the VIP leads to from this node, cloned.
    fn reachable_primary(&self) -> Result<Instance, String> {
        let mut net = self.net.net.borrow_mut();
        net.refresh();
        let host = net.vip.clone();
        let Some(target) = net.vip_holder() else {
            return Err(format!(
                "connection to server at \"{host}\" failed: no primary answers"
            ));
        };
        if target == self.node || net.links_down.contains(&super::pair(&self.node, &target)) {
            return Err(format!(
                "connection to server at \"{host}\" failed: Connection timed out"
            ));
        }
        net.get(&target)
            .cloned()
            .ok_or_else(|| format!("no node {target}"))
    }

    fn with_instance<T>(&self, f: impl FnOnce(&mut Instance) -> T) -> Result<T, String> {
        self.net
            .with(&self.node, f)
            .ok_or_else(|| format!("no node {}", self.node))
    }
}

impl DataDir for SimPostgres {
    fn control_data(&mut self) -> Result<ControlData, String> {
        self.with_instance(|i| control_data_of(i))
    }

    fn wal_end(&mut self, timeline: u32, from: Lsn) -> Result<Lsn, String> {
        self.with_instance(|i| {
            if i.timeline.timeline != timeline || from > i.lsn {
                return Err(format!(
                    "pg_waldump: error: could not find a valid record after {}",
                    from.to_pg()
                ));
            }
            // WAL waiting in pg_wal beyond the replay position is on disk;
            // WAL still on its way from an upstream is not.
            let on_disk = i
                .backlog
                .filter(|b| matches!(b.source, super::WalSource::Local | super::WalSource::Copied));
            Ok(on_disk.map_or(i.lsn, |b| b.end.max(i.lsn)))
        })?
    }

    fn local_history(&mut self, timeline: u32) -> Result<Vec<HistoryEntry>, String> {
        self.with_instance(|i| {
            if i.timeline.timeline != timeline {
                return Err(format!(
                    "pg_wal/{timeline:08X}.history: not the local timeline"
                ));
            }
            Ok(history_entries(&i.history, i.timeline.timeline))
        })?
    }

    fn primary_facts(&mut self, timeout: Duration) -> Result<PrimaryFacts, String> {
        if timeout.is_zero() {
            return Err("timeout expired".into());
        }
        let p = self.reachable_primary()?;
        Ok(PrimaryFacts {
            system_id: p.system_id,
            timeline: p.timeline.timeline,
            history: history_entries(&p.history, p.timeline.timeline),
            current_lsn: p.lsn,
            size_bytes: DATABASE_SIZE,
            // The simulated primary keeps all its WAL (no recycling
            // modelled): the WAL rows of the rejoin are unit-tested.
            wal: WalHoldings::Known(PrimaryWal {
                segment_size: SIM_WAL_SEGMENT_SIZE,
                runs: (1..=p.timeline.timeline)
                    .map(|t| SegmentRun {
                        timeline: t,
                        first: 0,
                        last: u64::MAX,
                    })
                    .collect(),
            }),
        })
    }

    fn free_bytes_beside_pgdata(&mut self) -> Result<u64, String> {
        self.with_instance(|i| i.data_dir.free_bytes)
    }

    fn rewind(&mut self, timeout: Duration) -> Result<RewindOutcome, String> {
        if timeout.is_zero() {
            return Err("pg_rewind: timed out".into());
        }
        let p = self.reachable_primary()?;
        self.with_instance(|i| {
            if let Some(e) = not_stopped(i) {
                return Err(e);
            }
            if !i.data_dir.rewindable {
                return Err("pg_rewind: error: target server needs to use either data checksums or \"wal_log_hints = on\"".into());
            }
            if i.system_id != p.system_id {
                return Err("pg_rewind: error: source and target clusters are from different systems".into());
            }
            let (local, source) = (i.wal(), p.wal());
            // pg_rewind finds the divergence from timeline numbers and
            // history files: on the same number it rewinds nothing, even
            // across a fork a restart_on_promote promotion made (issue 10).
            if source.includes(&local) || local.current.timeline == source.current.timeline {
                return Ok(RewindOutcome::NotNeeded);
            }
            let diverged_at = divergence_point(&local, &source);
            // pg_rewind's backup_label: the replay starts at the last
            // common checkpoint, which the simulator does not model: the
            // divergence point stands for it (its primary keeps all WAL).
            let start = diverged_at.unwrap_or(Lsn::ZERO);
            let label = format!(
                "START WAL LOCATION: {} (file {})\nBACKUP METHOD: pg_rewind\nBACKUP FROM: standby\n",
                start.to_pg(),
                crate::rejoin::wal::segment_file_name(
                    local.current.timeline,
                    crate::rejoin::wal::segment_of(start, SIM_WAL_SEGMENT_SIZE),
                    SIM_WAL_SEGMENT_SIZE
                )
            );
            let owner = i.spec.pgdba.clone();
            i.fs.put(
                &format!("{}/backup_label", i.spec.pgdata),
                &label,
                &owner,
                0o600,
            );
            i.timeline = p.timeline;
            i.history = p.history.clone();
            i.lsn = p.lsn;
            i.data_dir.last_stop = LastStop::Repaired;
            i.data_dir.rewinds += 1;
            drop_standby_files(i);
            i.fs.remove_tree(&i.pid_file());
            i.role = SimRole::Stopped;
            Ok(RewindOutcome::Rewound { diverged_at })
        })?
    }

    fn reclone(&mut self, timeout: Duration) -> Result<CloneOutcome, String> {
        if timeout.is_zero() {
            return Err("pg_basebackup: timed out".into());
        }
        let p = self.reachable_primary()?;
        self.with_instance(|i| {
            if let Some(e) = not_stopped(i) {
                return Err(e);
            }
            if i.data_dir.free_bytes < DATABASE_SIZE {
                return Err(
                    "pg_basebackup: error: could not write to file: No space left on device".into(),
                );
            }
            let moved = format!(
                "{}.rejoin-{}",
                i.spec.pgdata,
                i.data_dir.moved_aside.len() + 1
            );
            let owner = i.spec.pgdba.clone();
            i.fs.mkdir_p(&moved, &owner, 0o700);
            i.data_dir.moved_aside.push(moved.clone());
            i.data_dir.free_bytes -= DATABASE_SIZE;
            i.system_id = p.system_id;
            i.timeline = p.timeline;
            i.history = p.history.clone();
            i.lsn = p.lsn;
            i.slots.clear();
            i.data_dir.last_stop = LastStop::Repaired;
            drop_standby_files(i);
            i.fs.remove_tree(&i.pid_file());
            i.role = SimRole::Stopped;
            Ok(CloneOutcome { moved_aside: moved })
        })?
    }
}

/// The last LSN both WAL histories share (what `pg_rewind` prints as
/// "servers diverged at WAL location").
fn divergence_point(local: &super::WalHistory, source: &super::WalHistory) -> Option<Lsn> {
    let path = |w: &super::WalHistory| -> Vec<(super::TimelineId, Lsn)> {
        w.past
            .iter()
            .copied()
            .chain(std::iter::once((w.current, w.lsn)))
            .collect()
    };
    let (a, b) = (path(local), path(source));
    let mut last = None;
    for ((ta, ea), (tb, eb)) in a.iter().zip(b.iter()) {
        if ta != tb {
            break;
        }
        last = Some((*ea).min(*eb));
        if ea != eb {
            break;
        }
    }
    last
}

impl super::SimNetwork {
    /// Makes the node's data directory rewindable (data checksums or
    /// `wal_log_hints`) or not.
    pub fn set_rewindable(&self, node: &str, on: bool) {
        self.with(node, |i| i.data_dir.rewindable = on);
    }

    /// Sets the free bytes beside the node's pgdata.
    pub fn set_free_bytes(&self, node: &str, bytes: u64) {
        self.with(node, |i| i.data_dir.free_bytes = bytes);
    }

    /// The node's data-directory state (rewindable, free bytes, moved-aside
    /// directories, last stop).
    pub fn data_dir(&self, node: &str) -> Option<DataDirState> {
        self.with(node, |i| i.data_dir.clone())
    }
}

#[cfg(test)]
mod tests;
