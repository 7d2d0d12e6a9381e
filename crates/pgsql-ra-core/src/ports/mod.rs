//! The traits through which the core touches the world. The OCF shim provides
//! real implementations; `crate::memory` (cargo feature `sim`) provides complete in-memory ones.
//! Every method is bounded in time by its implementation (connect and
//! statement timeouts, command timeouts); the core never blocks otherwise.

mod clock;
mod cluster;
mod data_dir;
mod database;
mod filesystem;
mod log;
mod server;
mod system;

pub use clock::Clock;
pub use cluster::{
    Cluster, ClusterError, FailureRecord, InstanceState, Lifetime, NodeState, REFRESH_LIMIT,
};
pub use data_dir::{
    holds, run_holding, segment_runs, ArchiveAnswer, CloneOutcome, ControlData, DataDir,
    DbClusterState, PrimaryFacts, PrimaryWal, RewindOutcome, RewindRoleError, RewindRoleFacts,
    SegmentRun, WalHoldings, REWIND_FUNCTIONS,
};
pub use database::{
    Database, DbError, DbErrorKind, RecoveryActivity, ReplicationLag, ReplicationRow,
};
pub use filesystem::{tail_from, FileMeta, FileOwner, Filesystem, FsError};
pub use log::{Log, LogLevel, MemoryLog};
pub use server::{ProcessError, Server, StopMode};
pub use system::{System, UpstreamAnswer, UserInfo};

/// Every port an action may use, borrowed for one invocation.
pub struct World<'a> {
    /// The local PostgreSQL session.
    pub db: &'a mut dyn Database,
    /// The local PostgreSQL server process (pg_ctl).
    pub server: &'a mut dyn Server,
    /// Pacemaker's attribute store and cluster view.
    pub cluster: &'a mut dyn Cluster,
    /// The local filesystem.
    pub fs: &'a mut dyn Filesystem,
    /// Time.
    pub clock: &'a mut dyn Clock,
    /// Users and programs of the local machine.
    pub system: &'a mut dyn System,
    /// Where log lines go.
    pub log: &'a mut dyn Log,
}
