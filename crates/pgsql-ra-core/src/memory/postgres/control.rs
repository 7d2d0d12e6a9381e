//! What `pg_controldata` says about a simulated data directory
//! ([`crate::ports::DataDir::control_data`]), and the shutdown checkpoint a
//! clean (`-m fast`) stop of a primary writes.
//!
//! Model: a running server is "in production" (primary) or "in archive
//! recovery" (standby). A fast stop of a primary writes a shutdown
//! checkpoint record at the end of its WAL ([`SHUTDOWN_CHECKPOINT_BYTES`],
//! recorded in the WAL lineage as an LSN advance) and leaves "shut down";
//! PostgreSQL's walsenders send all WAL, that record included, to the
//! connected standbys before the postmaster exits (PostgreSQL documentation,
//! "Server Shutdown": smart and fast modes), so every connected standby that
//! is not lagging receives it. A fast stop of a standby leaves "shut down in
//! recovery" (its restartpoint modelled at its end of WAL). An immediate stop
//! or a kill leaves the running state (crash recovery at the next start).

use super::Instance;
use super::SimRole;
use crate::lsn::Lsn;
use crate::ports::{ControlData, DbClusterState};

/// Bytes of WAL a shutdown checkpoint record takes in the simulator: 120,
/// measured on PostgreSQL 15 (`switchover_real_pg`: the promoted standby's
/// new timeline began 120 bytes after the demoted primary's "Latest
/// checkpoint location").
pub const SHUTDOWN_CHECKPOINT_BYTES: u64 = 0x78;

/// The part of `pg_control` the simulator keeps per node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ControlState {
    /// The state the last stop or crash left (shown while not running).
    pub left: DbClusterState,
    /// "Latest checkpoint location" (the start of the record).
    pub checkpoint: Lsn,
    /// "Minimum recovery ending location" (a standby's clean stop).
    pub min_recovery_end: Lsn,
    /// `wal_log_hints` on (pg_rewind could run on this directory).
    pub rewindable: bool,
}

impl ControlState {
    /// A freshly `initdb`'ed, cleanly shut down cluster at `lsn`.
    pub fn initdb(lsn: Lsn) -> ControlState {
        ControlState {
            left: DbClusterState::ShutDown,
            checkpoint: lsn,
            min_recovery_end: Lsn::ZERO,
            rewindable: true,
        }
    }
}

impl Instance {
    /// `pg_controldata` of this instance's data directory.
    pub(super) fn control_data(&self) -> ControlData {
        let state = match self.role {
            SimRole::Primary => DbClusterState::InProduction,
            SimRole::Standby => DbClusterState::InArchiveRecovery,
            SimRole::Stopped | SimRole::Crashed => self.control.left.clone(),
        };
        let min_end = self.control.min_recovery_end;
        ControlData {
            state,
            system_id: self.system_id,
            checkpoint: self.control.checkpoint,
            redo: self.control.checkpoint,
            timeline: self.timeline.timeline,
            min_recovery_end: min_end,
            min_recovery_end_timeline: if min_end == Lsn::ZERO {
                0
            } else {
                self.timeline.timeline
            },
            data_checksums: false,
            wal_log_hints: self.control.rewindable,
        }
    }

    /// The state a crash (kill -9, `-m immediate`) leaves: the running one.
    pub(super) fn record_crash(&mut self) {
        self.control.left = if self.role == SimRole::Standby {
            DbClusterState::InArchiveRecovery
        } else {
            DbClusterState::InProduction
        };
    }

    /// A clean stop: a primary writes its shutdown checkpoint at the end of
    /// its WAL (the LSN advances past it); a standby records a restartpoint
    /// at its end of WAL. Returns the primary's new end of WAL.
    pub(super) fn record_clean_stop(&mut self) -> Option<Lsn> {
        if self.role == SimRole::Primary {
            self.control.checkpoint = self.lsn;
            self.control.min_recovery_end = Lsn::ZERO;
            self.control.left = DbClusterState::ShutDown;
            self.lsn = Lsn(self.lsn.0.saturating_add(SHUTDOWN_CHECKPOINT_BYTES));
            Some(self.lsn)
        } else {
            self.control.checkpoint = self.lsn;
            self.control.min_recovery_end = self.lsn;
            self.control.left = DbClusterState::ShutDownInRecovery;
            None
        }
    }
}
