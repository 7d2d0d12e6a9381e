//! The crate's guide is its README (`crates/pgsql-ra-core/README.md`),
//! shown here and on docs.rs: what is public and why, and the three uses —
//! Pacemaker through the binary, embedding in another HA tool, and
//! property-testing failover decisions — each with runnable code (issue 18).
//! The in-memory ports (`memory`) and the multi-node simulator (`sim`,
//! with its proptest strategies and fault schedules) are test and
//! embedding tools, not part of the agent: they are compiled only with the
//! cargo feature `sim` (off by default).
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod action;
pub(crate) mod actions;
pub mod agent;
pub(crate) mod attrs;
pub(crate) mod budget;
pub mod context;
pub mod decide;
pub(crate) mod demote_checkpoint;
pub mod election;
pub mod explain;
pub mod forks;
pub mod ineligible;
pub mod journal;
pub mod loaded_sync_set;
pub mod lsn;
#[cfg(any(test, feature = "sim"))]
pub mod memory;
pub mod metadata;
pub mod names;
pub mod ocf;
pub mod params;
pub mod ports;
pub mod quorum;
pub mod quote;
pub(crate) mod recovery;
pub mod rejoin;
pub mod replication;
pub mod role_gate;
pub mod score;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
pub(crate) mod slots;
pub mod status;
pub mod superset;
pub mod sync_mode;
pub mod timeline;
pub mod validate;

pub use action::Action;
pub use agent::Agent;
pub use context::ClusterContext;
pub use lsn::Lsn;
pub use names::AttributeNames;
pub use ocf::{OcfExit, Outcome};
pub use params::{ParamError, Params, RepMode};
pub use score::Score;
pub use status::{DataStatus, PgStatus};
