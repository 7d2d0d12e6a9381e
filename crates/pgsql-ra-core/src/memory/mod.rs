//! Complete in-memory implementations of every port, for tests, the
//! simulator and benchmarks (like raft-rs's `MemStorage`, not per-test mocks).
//!
//! Shared state lives behind `Rc<RefCell<…>>`: clones of a [`MemCluster`],
//! [`MemClock`], [`MemFs`] or [`SimNetwork`] see the same data, so several
//! agents can share one cluster while each node keeps its own filesystem.

mod clock;
mod cluster;
mod fs;
pub mod pgconf;
mod postgres;
mod system;

pub use crate::ports::MemoryLog;
pub use clock::MemClock;
pub use cluster::{AttrKey, CallCounters, MemCluster, MemClusterHandle, ViewReadCounters};
pub use fs::{normalize, MemEntry, MemFs};
pub use postgres::rejoin;
pub use postgres::{
    Backlog, InstanceSpec, SimNetwork, SimPostgres, SimRole, StopBehaviour, TimelineId, WalHistory,
    WalSource, WriteOutcome, INITIAL_LSN, SHUTDOWN_CHECKPOINT_BYTES, SYSTEM_ID, WAL_PER_WRITE,
};
pub use system::MemSystem;
