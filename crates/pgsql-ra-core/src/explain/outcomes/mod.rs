//! [`Explain`](super::Explain) for the core decisions' outcome values, one
//! module per decision: the ineligibility reasons
//! ([`crate::ineligible::Ineligible`]), the primary's classification of a
//! standby ([`Classification`]), one election round ([`ElectionRound`]) and
//! its lineage check ([`LineageRefusal`]), `start`'s decision
//! ([`crate::decide::start::StartDecision`], [`LockedStart`]), the role gate
//! ([`crate::role_gate::Gate`]), a crash rejoin waiting for Pacemaker's
//! fail-count to expire ([`FailureWait`]) and what is not a decision ([`Fact`],
//! [`ClusterLine`]). A new outcome enum (issue 10's rejoin, issue 11's
//! election) joins with one `impl Explain` in a module of its own.

mod election;
mod facts;
mod failure_wait;
mod gate;
mod ineligible;
mod replication;
mod start;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::lsn::Lsn;

pub use election::{ElectionRound, LineageRefusal};
pub use facts::{ClusterLine, Fact};
pub use failure_wait::{failure_wait, FailureWait};
pub use replication::Classification;
pub use start::LockedStart;

/// A serializable value's fields as text inputs (strings unquoted), minus `skip`.
pub(crate) fn inputs_of<T: Serialize>(value: &T, skip: &[&str]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Ok(serde_json::Value::Object(m)) = serde_json::to_value(value) {
        for (k, v) in m {
            if skip.contains(&k.as_str()) {
                continue;
            }
            let text = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            out.insert(k, text);
        }
    }
    out
}

pub(crate) fn pg(lsn: Lsn) -> String {
    lsn.to_pg()
}

/// `YYYY-MM-DD HH:MM:SS UTC` of seconds since the Unix epoch (civil-from-days).
pub fn utc(epoch_s: u64) -> String {
    let days = (epoch_s / 86_400) as i64;
    let secs = epoch_s % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}
