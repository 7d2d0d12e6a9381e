//! [`Explain`] for `start`'s decision ([`StartDecision`]), with the lock's age.

use std::collections::BTreeMap;

use serde::Serialize;

use super::super::{tag_of, Explain};
use super::{inputs_of, utc};
use crate::decide::start::{StartDecision, StartReason};

impl Explain for StartDecision {
    fn rule(&self) -> String {
        format!("start.{}", tag_of(&self.reason, "reason"))
    }

    fn sentence(&self) -> String {
        self.reason.to_string()
    }

    fn inputs(&self) -> BTreeMap<String, String> {
        inputs_of(&self.reason, &["reason"])
    }

    fn would_change(&self) -> String {
        match &self.reason {
            StartReason::LockPresent { lock } => format!(
                "rebuild this node from the current primary (pg_basebackup or pg_rewind), then remove {lock} and run crm_resource --cleanup; crash rejoin (issue 10) when it is enabled"
            ),
            _ => String::new(),
        }
    }
}

/// The lock's age, attached to [`StartDecision`] when the shim knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockedStart {
    /// `start`'s decision with the lock present.
    pub decision: StartDecision,
    /// The lock's modification time, seconds since the Unix epoch.
    pub since_epoch_s: Option<u64>,
    /// Why start would remove the lock (the lone primary of B2-05,
    /// [`crate::decide::lock::lone_primary`]); `None`: it is kept.
    pub released: Option<String>,
}

impl Explain for LockedStart {
    fn rule(&self) -> String {
        if self.released.is_some() {
            return "start.lone_primary".into();
        }
        self.decision.rule()
    }
    fn sentence(&self) -> String {
        let since = self
            .since_epoch_s
            .map(|s| format!(" since {}", utc(s)))
            .unwrap_or_default();
        if let Some(why) = &self.released {
            return format!("PGSQL.lock present{since}, but start removes it: {why} (B2-05)");
        }
        format!(
            "PGSQL.lock present{since} (it ran as a primary and did not stop cleanly): start refuses: {}",
            self.decision.sentence()
        )
    }
    fn inputs(&self) -> BTreeMap<String, String> {
        let mut m = self.decision.inputs();
        if let Some(s) = self.since_epoch_s {
            m.insert("lock_since".into(), utc(s));
        }
        m
    }
    fn would_change(&self) -> String {
        if self.released.is_some() {
            return "nothing to do: Pacemaker's next start removes the lock and the election promotes this node".into();
        }
        self.decision.would_change()
    }
}
