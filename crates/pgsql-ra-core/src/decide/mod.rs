//! Decisions of the actions as pure functions over plain data, each
//! returning what to do and why (serde-serializable, so that an `explain`
//! command can print them), like [`crate::election::decide`] and
//! [`crate::replication::control_slave_status`]. The actions (the
//! crate-private `actions`) gather the inputs through the ports and carry
//! out the result.
//!
//! - [`start`]: `PGSQL.lock`, the server found before start, the outcome matrix.
//! - [`lock`]: may `start` remove a lone primary's `PGSQL.lock` (B2-05).
//! - [`notify`]: what each notification does, and the pre-promote data check.

pub mod lock;
pub mod notify;
pub mod start;
