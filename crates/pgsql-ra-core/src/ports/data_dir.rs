//! What the rejoin decision (issue 10) needs to know about the local data
//! directory and the current primary, and the two repairs it may order.
//! The types are plain facts; the decision lives in `crate::rejoin`.
//!
//! Real implementations: the shim runs `pg_controldata`, `pg_waldump`,
//! `pg_rewind` and `pg_basebackup` of the configured `pgctl`'s directory as
//! `pgdba`, each bounded in time. In-memory ones: `crate::memory`.

use std::time::Duration;

use serde::Serialize;

use crate::lsn::Lsn;
use crate::timeline::HistoryEntry;

/// `pg_controldata`'s "Database cluster state" (`src/include/catalog/pg_control.h`, `DBState`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum DbClusterState {
    /// "shut down": a clean shutdown of a primary.
    ShutDown,
    /// "shut down in recovery": a clean shutdown of a standby.
    ShutDownInRecovery,
    /// "shutting down": the shutdown did not finish (a crash during it).
    ShuttingDown,
    /// "in crash recovery".
    InCrashRecovery,
    /// "in archive recovery": a standby (running or crashed).
    InArchiveRecovery,
    /// "in production": a primary (running or crashed).
    InProduction,
    /// Any other text, kept as read.
    Other(String),
}

impl DbClusterState {
    /// True after a clean shutdown, when the latest checkpoint is the end of
    /// the local WAL (PostgreSQL writes the shutdown checkpoint last).
    pub fn is_clean_shutdown(&self) -> bool {
        matches!(
            self,
            DbClusterState::ShutDown | DbClusterState::ShutDownInRecovery
        )
    }
}

/// The facts `pg_controldata` gives about a stopped data directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControlData {
    /// "Database cluster state".
    pub state: DbClusterState,
    /// "Database system identifier".
    pub system_id: u64,
    /// "Latest checkpoint location" (the start of the checkpoint record).
    pub checkpoint: Lsn,
    /// "Latest checkpoint's REDO location".
    pub redo: Lsn,
    /// "Latest checkpoint's TimeLineID".
    pub timeline: u32,
    /// "Minimum recovery ending location" (`0/0` when none).
    pub min_recovery_end: Lsn,
    /// "Min recovery ending loc's timeline" (0 when none).
    pub min_recovery_end_timeline: u32,
    /// "Data page checksum version" is not 0.
    pub data_checksums: bool,
    /// "wal_log_hints setting" is on.
    pub wal_log_hints: bool,
}

impl ControlData {
    /// `pg_rewind` can work on this directory (it needs checksums or
    /// `wal_log_hints`; PostgreSQL documentation, pg_rewind, "Notes").
    pub fn rewindable(&self) -> bool {
        self.data_checksums || self.wal_log_hints
    }
}

/// What the current primary (reached through `master_ip`) says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrimaryFacts {
    /// `pg_control_system().system_identifier`.
    pub system_id: u64,
    /// The timeline it writes on.
    pub timeline: u32,
    /// Its timeline's history file, parsed (empty on timeline 1).
    pub history: Vec<HistoryEntry>,
    /// `pg_current_wal_lsn()`.
    pub current_lsn: Lsn,
    /// `sum(pg_database_size())` in bytes: what a re-clone copies at least.
    pub size_bytes: u64,
    /// The WAL segment files it still holds in `pg_wal` (issue 10,
    /// "Precisions": a node that follows or was rewound must find the WAL
    /// it requests first there, or in the archive).
    pub wal: WalHoldings,
}

/// The WAL segment files a primary holds in `pg_wal`, read with
/// `pg_ls_dir('pg_wal', false, false)` (the rewind role's grant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrimaryWal {
    /// `wal_segment_size` in bytes (a power of two, 1 MiB–1 GiB).
    pub segment_size: u64,
    /// Every complete segment file (`<8 hex timeline><16 hex segment>`;
    /// `.partial`, `.history`, `.backup` not counted), as runs of
    /// consecutive segment numbers per timeline: a missing file between
    /// two held ones is a gap between two runs (issue 10; a hole in
    /// `pg_wal` stalls a standby as surely as a removed oldest file).
    pub runs: Vec<SegmentRun>,
}

impl PrimaryWal {
    /// The file of segment `segno` on `timeline` is held.
    pub fn holds(&self, timeline: u32, segno: u64) -> bool {
        holds(&self.runs, timeline, segno)
    }
}

/// Consecutive segment files `first..=last` of one timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SegmentRun {
    /// The timeline in the files' names.
    pub timeline: u32,
    /// The first segment number.
    pub first: u64,
    /// The last segment number (inclusive).
    pub last: u64,
}

/// The run of `runs` that holds segment `segno` of `timeline`, if any.
pub fn run_holding(runs: &[SegmentRun], timeline: u32, segno: u64) -> Option<SegmentRun> {
    runs.iter()
        .copied()
        .find(|r| r.timeline == timeline && r.first <= segno && segno <= r.last)
}

/// `runs` hold the file of segment `segno` on `timeline`.
pub fn holds(runs: &[SegmentRun], timeline: u32, segno: u64) -> bool {
    run_holding(runs, timeline, segno).is_some()
}

/// Groups `(timeline, segment)` pairs (any order, duplicates allowed) into
/// runs of consecutive segments, sorted by timeline then segment.
pub fn segment_runs(mut files: Vec<(u32, u64)>) -> Vec<SegmentRun> {
    files.sort_unstable();
    files.dedup();
    let mut runs: Vec<SegmentRun> = Vec::new();
    for (timeline, segno) in files {
        match runs.last_mut() {
            Some(r) if r.timeline == timeline && r.last.checked_add(1) == Some(segno) => {
                r.last = segno
            }
            _ => runs.push(SegmentRun {
                timeline,
                first: segno,
                last: segno,
            }),
        }
    }
    runs
}

/// Whether the primary's WAL files are known ([`PrimaryFacts::wal`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum WalHoldings {
    /// Read.
    Known(PrimaryWal),
    /// Not read: why (the query failed, e.g. no EXECUTE on `pg_ls_dir`).
    Unknown(String),
}

/// The functions `pg_rewind` calls on its source server as a
/// non-superuser (PostgreSQL documentation, pg_rewind, "Notes"; issue 10,
/// "Precisions"), in the order of [`RewindRoleFacts::executable`].
pub const REWIND_FUNCTIONS: [&str; 4] = [
    "pg_catalog.pg_ls_dir(text, boolean, boolean)",
    "pg_catalog.pg_stat_file(text, boolean)",
    "pg_catalog.pg_read_binary_file(text)",
    "pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)",
];

/// What the rewind role (`rewind_user`, empty: `pgdba`) may do on the
/// server reached through `master_ip`, as read over a normal
/// (non-replication) session as that role: the facts `validate-all`
/// (level 10, crash rejoin enabled) judges `pg_rewind`'s prerequisites by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RewindRoleFacts {
    /// The role the session logged in as (`current_user`).
    pub role: String,
    /// `server_version_num` (e.g. 150004).
    pub server_version_num: u32,
    /// `pg_is_in_recovery()`: a standby answered, not a primary.
    pub in_recovery: bool,
    /// The role is a superuser (`is_superuser`).
    pub superuser: bool,
    /// `has_function_privilege(…, 'EXECUTE')` for each of
    /// [`REWIND_FUNCTIONS`], in that order.
    pub executable: [bool; 4],
    /// Member of `pg_checkpoint` (`pg_has_role(…, 'MEMBER')`); `None` when
    /// the server has no such role (before PostgreSQL 15).
    pub checkpoint_member: Option<bool>,
}

/// Why [`DataDir::rewind_role_facts`] has no answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum RewindRoleError {
    /// No server answered through `master_ip` (not set, connection refused,
    /// deadline): nothing to judge.
    Unreachable(String),
    /// A server answered and refused the login (SQLSTATE 28000/28P01: no
    /// `pg_hba.conf` line for a normal connection, wrong or missing
    /// password, no such role).
    LoginRefused(String),
    /// Anything else (the query failed, an implementation without it).
    Failed(String),
}

/// What running `restore_command` for one segment file found
/// ([`DataDir::archive_holds`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArchiveAnswer {
    /// It exited 0 and left a file of the WAL segment size.
    pub holds: bool,
    /// How it ended, with its last output lines (for the reason).
    pub detail: String,
}

/// How a `pg_rewind` run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum RewindOutcome {
    /// It rewound the directory; it said where the servers diverged.
    Rewound {
        /// "servers diverged at WAL location X", when printed.
        diverged_at: Option<Lsn>,
    },
    /// "no rewind required".
    NotNeeded,
}

/// What a re-clone did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CloneOutcome {
    /// Where the previous data directory now is (never deleted).
    pub moved_aside: String,
}

/// The local data directory and the tools that repair it. Every method is
/// bounded in time; a method an implementation does not support returns an
/// error (the default), which the decision treats as "cannot know".
pub trait DataDir {
    /// `pg_controldata` of `pgdata` (the server must be stopped for the
    /// facts to be final).
    ///
    /// # Errors
    /// The program failed or its output lacked a field.
    fn control_data(&mut self) -> Result<ControlData, String> {
        Err("control data not supported".into())
    }
    /// The end of the valid local WAL on `timeline`, reading from `from`
    /// (the latest checkpoint's REDO location): the LSN just past the last
    /// valid record (`pg_waldump`). After a crash this, not the checkpoint,
    /// is where the local history ends.
    ///
    /// # Errors
    /// The WAL could not be read.
    fn wal_end(&mut self, timeline: u32, from: Lsn) -> Result<Lsn, String> {
        let _ = (timeline, from);
        Err("reading the end of WAL not supported".into())
    }
    /// The local history file of `timeline` (`pg_wal/<TLI>.history`),
    /// parsed; empty for timeline 1. The rejoin decision compares it with
    /// the primary's history: a timeline of the same number but another
    /// history (a promotion outside the cluster) has diverged.
    ///
    /// # Errors
    /// The file could not be read or parsed (the caller may read it
    /// through the filesystem port instead).
    fn local_history(&mut self, timeline: u32) -> Result<Vec<HistoryEntry>, String> {
        let _ = timeline;
        Err("reading the local timeline history not supported".into())
    }
    /// The current primary's facts, through `master_ip`.
    ///
    /// # Errors
    /// It could not be reached or did not answer within `timeout`.
    fn primary_facts(&mut self, timeout: Duration) -> Result<PrimaryFacts, String> {
        let _ = timeout;
        Err("asking the primary not supported".into())
    }
    /// Free bytes on the filesystem that holds `pgdata`'s parent directory.
    ///
    /// # Errors
    /// The filesystem could not be asked.
    fn free_bytes_beside_pgdata(&mut self) -> Result<u64, String> {
        Err("free space not supported".into())
    }
    /// The rewind role's rights on the server reached through `master_ip`
    /// (see [`RewindRoleFacts`]), over one normal session bounded by
    /// `timeout`.
    ///
    /// # Errors
    /// See [`RewindRoleError`]; the default answers `Failed` (not supported).
    fn rewind_role_facts(&mut self, timeout: Duration) -> Result<RewindRoleFacts, RewindRoleError> {
        let _ = timeout;
        Err(RewindRoleError::Failed(
            "checking the rewind role not supported".into(),
        ))
    }
    /// Does the WAL archive hold segment file `file` (24 hex digits)? Runs
    /// the operator's `restore_command` as PostgreSQL would for it
    /// (`%f` the file name, `%p` a temporary file the port owns, `%r` the
    /// file itself, `%%` a `%`; PostgreSQL documentation, "Archive
    /// Recovery", `restore_command`), bounded by `timeout`, and checks it
    /// produced a file of `segment_size` bytes; the temporary file is
    /// removed. `Ok` says what it found, with the command's output.
    ///
    /// # Errors
    /// It could not be run or did not end in time (the decision then
    /// fails closed); the default answers this (not supported).
    fn archive_holds(
        &mut self,
        file: &str,
        segment_size: u64,
        timeout: Duration,
    ) -> Result<ArchiveAnswer, String> {
        let _ = (file, segment_size, timeout);
        Err("asking the WAL archive not supported".into())
    }
    /// Runs `pg_rewind` against the primary (stopped server; bounded by `timeout`).
    ///
    /// Call it only when [`ControlData::rewindable`] holds: after a crash,
    /// PostgreSQL 15's `pg_rewind` first runs crash recovery (the control
    /// file then says "shut down") and only then checks `wal_log_hints` or
    /// checksums, so a refused run has already changed `pgdata`.
    ///
    /// # Errors
    /// It failed or timed out; the message quotes its last output lines.
    /// `pgdata` is left as `pg_rewind` left it.
    fn rewind(&mut self, timeout: Duration) -> Result<RewindOutcome, String> {
        let _ = timeout;
        Err("pg_rewind not supported".into())
    }
    /// `pg_basebackup` from the primary into a new directory beside
    /// `pgdata`, then moves `pgdata` aside and the copy into place.
    ///
    /// # Errors
    /// It failed or timed out; `pgdata` is then untouched and the partial
    /// copy removed.
    fn reclone(&mut self, timeout: Duration) -> Result<CloneOutcome, String> {
        let _ = timeout;
        Err("re-clone not supported".into())
    }
}
