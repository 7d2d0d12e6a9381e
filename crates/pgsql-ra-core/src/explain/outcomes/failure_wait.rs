//! [`Explain`] for a stopped node whose crash rejoin waits for Pacemaker to
//! call `start` there again ([`FailureWait`]; issue 10, item 3): with the
//! documented `migration-threshold=1`, the crashed primary's failure keeps
//! the instance stopped on that node until the failure expires
//! (`failure-timeout`, at a cluster recheck) or an operator runs
//! `crm_resource --cleanup` (docs/rejoin.md, "Pacemaker must call `start`
//! again").

use std::collections::BTreeMap;

use serde::Serialize;

use super::super::{tag_of, Explain};
use super::utc;
use crate::params::CrashRejoin;
use crate::ports::FailureRecord;

/// Why `start` does not run here yet although the crash rejoin would.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "wait", rename_all = "snake_case")]
pub enum FailureWait {
    /// The fail-count reached `migration-threshold`; it expires
    /// `failure-timeout` after the last failure.
    FailureTimeout {
        /// The fail-count (`INFINITY` as text).
        fail_count: String,
        /// `migration-threshold` (`INFINITY` as text).
        migration_threshold: String,
        /// `failure-timeout`, seconds.
        failure_timeout_s: u64,
        /// The last failure, as UTC text, when known.
        #[serde(skip_serializing_if = "Option::is_none")]
        last_failure: Option<String>,
        /// `crash_rejoin`.
        crash_rejoin: String,
    },
    /// The fail-count reached `migration-threshold` and no
    /// `failure-timeout` is set: it never expires by itself.
    NoFailureTimeout {
        /// The fail-count (`INFINITY` as text).
        fail_count: String,
        /// `migration-threshold` (`INFINITY` as text).
        migration_threshold: String,
        /// `crash_rejoin`.
        crash_rejoin: String,
    },
}

/// The wait, when crash rejoin is enabled and Pacemaker's failure record
/// keeps the resource off this node ([`FailureRecord::blocks`]); `None`
/// otherwise (no failure, below the threshold, an unknown record, or
/// `crash_rejoin=none`, where the lock refuses the start anyway).
pub fn failure_wait(
    record: Option<&FailureRecord>,
    crash_rejoin: CrashRejoin,
) -> Option<FailureWait> {
    let r = record?;
    if crash_rejoin == CrashRejoin::None || !r.blocks() {
        return None;
    }
    let count = |n: u32| {
        if n == FailureRecord::INFINITY {
            "INFINITY".to_string()
        } else {
            n.to_string()
        }
    };
    let fail_count = count(r.fail_count);
    let migration_threshold = count(r.migration_threshold.unwrap_or(FailureRecord::INFINITY));
    let crash_rejoin = crash_rejoin.as_str().to_string();
    Some(match r.failure_timeout_s.filter(|t| *t > 0) {
        Some(failure_timeout_s) => FailureWait::FailureTimeout {
            fail_count,
            migration_threshold,
            failure_timeout_s,
            last_failure: r.last_failure_epoch_s.map(utc),
            crash_rejoin,
        },
        None => FailureWait::NoFailureTimeout {
            fail_count,
            migration_threshold,
            crash_rejoin,
        },
    })
}

impl Explain for FailureWait {
    fn rule(&self) -> String {
        format!("start.{}", tag_of(self, "wait"))
    }

    fn sentence(&self) -> String {
        match self {
            FailureWait::FailureTimeout {
                fail_count,
                migration_threshold,
                failure_timeout_s,
                last_failure,
                crash_rejoin,
            } => format!(
                "waits for its fail-count to expire (failure-timeout {failure_timeout_s} s, last failure at {}): then start runs the crash rejoin (crash_rejoin={crash_rejoin}); fail-count {fail_count} reached migration-threshold {migration_threshold}, so Pacemaker does not call start here before",
                last_failure.as_deref().unwrap_or("an unknown time")
            ),
            FailureWait::NoFailureTimeout {
                fail_count,
                migration_threshold,
                crash_rejoin,
            } => format!(
                "no failure-timeout: Pacemaker will not call start here again until `crm_resource --cleanup` (fail-count {fail_count} reached migration-threshold {migration_threshold}), so the crash rejoin (crash_rejoin={crash_rejoin}) does not run"
            ),
        }
    }

    fn inputs(&self) -> BTreeMap<String, String> {
        super::inputs_of(self, &["wait"])
    }

    fn would_change(&self) -> String {
        match self {
            FailureWait::FailureTimeout { .. } => "the failure expiring (failure-timeout after the last failure, at the next cluster recheck), or crm_resource --cleanup".into(),
            FailureWait::NoFailureTimeout { .. } => "crm_resource --cleanup of the resource on this node; for the next time, a failure-timeout meta attribute on the clone (e.g. pcs resource meta <clone> failure-timeout=60s)".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(count: u32, threshold: Option<u32>, timeout: Option<u64>) -> FailureRecord {
        FailureRecord {
            fail_count: count,
            last_failure_epoch_s: Some(1_764_550_800),
            migration_threshold: threshold,
            failure_timeout_s: timeout,
        }
    }

    #[test]
    fn a_blocking_failure_with_a_timeout_waits_for_it() {
        let w = failure_wait(Some(&record(1, Some(1), Some(10))), CrashRejoin::Rewind).unwrap();
        assert_eq!(w.rule(), "start.failure_timeout");
        let s = w.sentence();
        assert!(
            s.starts_with("waits for its fail-count to expire (failure-timeout 10 s, last failure at 2025-12-01 01:00:00 UTC): then start runs the crash rejoin"),
            "{s}"
        );
        assert_eq!(w.inputs()["failure_timeout_s"], "10");
        assert_eq!(w.inputs()["last_failure"], "2025-12-01 01:00:00 UTC");
        let mut unknown = record(1, Some(1), Some(10));
        unknown.last_failure_epoch_s = None;
        let w = failure_wait(Some(&unknown), CrashRejoin::Rewind).unwrap();
        assert!(!w.inputs().contains_key("last_failure"), "{:?}", w.inputs());
        assert!(w.sentence().contains("last failure at an unknown time"));
    }

    #[test]
    fn without_a_timeout_only_a_cleanup_helps() {
        for timeout in [None, Some(0)] {
            let w = failure_wait(
                Some(&record(FailureRecord::INFINITY, Some(1), timeout)),
                CrashRejoin::RewindOrClone,
            )
            .unwrap();
            assert_eq!(w.rule(), "start.no_failure_timeout");
            assert!(w.sentence().starts_with(
                "no failure-timeout: Pacemaker will not call start here again until `crm_resource --cleanup` (fail-count INFINITY"
            ));
        }
    }

    #[test]
    fn nothing_to_say_when_start_is_not_held_back() {
        let r = record(1, Some(1), Some(10));
        assert_eq!(failure_wait(Some(&r), CrashRejoin::None), None);
        assert_eq!(failure_wait(None, CrashRejoin::Rewind), None);
        // Below the threshold, threshold disabled, no failure.
        for r in [
            record(1, Some(3), None),
            record(5, Some(0), None),
            record(0, Some(1), None),
            record(2, None, None),
        ] {
            assert_eq!(failure_wait(Some(&r), CrashRejoin::Rewind), None, "{r:?}");
        }
        // An unknown threshold is Pacemaker's default, INFINITY.
        assert!(failure_wait(
            Some(&record(FailureRecord::INFINITY, None, None)),
            CrashRejoin::Rewind
        )
        .is_some());
    }
}
