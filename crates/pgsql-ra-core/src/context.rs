//! The cluster context of one invocation: the resource instance, Pacemaker's
//! `OCF_RESKEY_CRM_meta_*` values and the notify variables (new
//! `promoted`/`unpromoted` and legacy `master`/`slave` spellings).

use std::collections::BTreeMap;

use crate::names::resource_name;

/// The `*_uname` lists of a notification (names lower-cased; Pacemaker's
/// single-space encoding of an empty list gives an empty vector).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyLists {
    /// `notify_type`: `pre` or `post`.
    pub kind: String,
    /// `notify_operation`: `start`, `stop`, `promote`, `demote`.
    pub operation: String,
    /// Nodes being promoted.
    pub promote: Vec<String>,
    /// Nodes being demoted.
    pub demote: Vec<String>,
    /// Nodes being started.
    pub start: Vec<String>,
    /// Nodes being stopped.
    pub stop: Vec<String>,
    /// Nodes where the instance is promoted (`promoted_uname`, legacy `master_uname`).
    pub promoted: Vec<String>,
    /// Nodes where the instance is unpromoted (`unpromoted_uname`, legacy `slave_uname`).
    pub unpromoted: Vec<String>,
    /// True when the unpromoted list was given and is Pacemaker's empty list (`" "`).
    pub unpromoted_given_empty: bool,
}

/// The context Pacemaker gives one invocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterContext {
    /// `OCF_RESOURCE_INSTANCE`, e.g. `pgsql:0`.
    pub instance: String,
    /// `CRM_meta_interval` in milliseconds (0: a probe when the action is monitor).
    pub interval_ms: u64,
    /// `CRM_meta_timeout` in milliseconds, if given.
    pub timeout_ms: Option<u64>,
    /// `CRM_meta_notify`: notifications are enabled for the clone.
    pub notify: bool,
    /// `CRM_meta_clone_max`.
    pub clone_max: Option<u32>,
    /// `CRM_meta_promoted_max` (or legacy `master_max`).
    pub promoted_max: Option<u32>,
    /// `CRM_meta_promotable` is true or `promoted_max` > 0.
    pub promotable: bool,
    /// `CRM_meta_role` of a recurring monitor, if any (`Promoted`, `Unpromoted`, legacy names).
    pub role: Option<String>,
    /// `OCF_CHECK_LEVEL` (or `OCF_RESKEY_OCF_CHECK_LEVEL`), 0 when unset.
    pub check_level: u32,
    /// `OCF_RESKEY_crm_feature_set`, if given.
    pub crm_feature_set: Option<String>,
    /// The notify variables (also copied into start/stop/promote/demote when `notify=true`).
    pub notify_lists: NotifyLists,
}

fn names(text: Option<&String>) -> Vec<String> {
    text.map(|t| t.split_whitespace().map(|n| n.to_lowercase()).collect())
        .unwrap_or_default()
}

impl ClusterContext {
    /// Reads the context from environment-style variables (full names such as
    /// `OCF_RESOURCE_INSTANCE` and `OCF_RESKEY_CRM_meta_interval`). Never panics;
    /// unparsable numbers are treated as unset.
    pub fn from_env_map(env: &BTreeMap<String, String>) -> ClusterContext {
        let meta = |k: &str| env.get(&format!("OCF_RESKEY_CRM_meta_{k}"));
        let num = |k: &str| meta(k).and_then(|v| v.trim().parse::<u64>().ok());
        let either = |new: &str, old: &str| meta(new).or_else(|| meta(old));
        let promoted_max = num("promoted_max")
            .or_else(|| num("master_max"))
            .map(|n| n as u32);
        let promotable = meta("promotable")
            .map(|v| crate::params::is_true(v))
            .unwrap_or(false)
            || promoted_max.is_some_and(|n| n > 0);
        let unpromoted_raw = either("notify_unpromoted_uname", "notify_slave_uname");
        ClusterContext {
            instance: env
                .get("OCF_RESOURCE_INSTANCE")
                .cloned()
                .unwrap_or_default(),
            interval_ms: num("interval").unwrap_or(0),
            timeout_ms: num("timeout"),
            notify: meta("notify")
                .map(|v| crate::params::is_true(v))
                .unwrap_or(false),
            clone_max: num("clone_max").map(|n| n as u32),
            promoted_max,
            promotable,
            role: meta("role").cloned(),
            check_level: env
                .get("OCF_CHECK_LEVEL")
                .or_else(|| env.get("OCF_RESKEY_OCF_CHECK_LEVEL"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0),
            crm_feature_set: env.get("OCF_RESKEY_crm_feature_set").cloned(),
            notify_lists: NotifyLists {
                kind: meta("notify_type").cloned().unwrap_or_default(),
                operation: meta("notify_operation").cloned().unwrap_or_default(),
                promote: names(meta("notify_promote_uname")),
                demote: names(meta("notify_demote_uname")),
                start: names(meta("notify_start_uname")),
                stop: names(meta("notify_stop_uname")),
                promoted: names(either("notify_promoted_uname", "notify_master_uname")),
                unpromoted: names(unpromoted_raw),
                unpromoted_given_empty: unpromoted_raw.is_some_and(|v| v.trim().is_empty()),
            },
        }
    }

    /// The resource name (`<rsc>`): the instance without its clone suffix.
    pub fn resource(&self) -> &str {
        resource_name(&self.instance)
    }

    /// True for a monitor with interval 0 (a probe).
    pub fn is_probe(&self) -> bool {
        self.interval_ms == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_meta_and_both_notify_spellings() {
        let env: BTreeMap<String, String> = [
            ("OCF_RESOURCE_INSTANCE", "pgsql:1"),
            ("OCF_RESKEY_CRM_meta_interval", "3000"),
            ("OCF_RESKEY_CRM_meta_timeout", "60000"),
            ("OCF_RESKEY_CRM_meta_master_max", "1"),
            ("OCF_RESKEY_CRM_meta_notify_master_uname", "Node1"),
            ("OCF_RESKEY_CRM_meta_notify_slave_uname", " "),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let c = ClusterContext::from_env_map(&env);
        assert_eq!(c.resource(), "pgsql");
        assert_eq!(c.interval_ms, 3000);
        assert!(c.promotable);
        assert!(!c.is_probe());
        assert_eq!(c.notify_lists.promoted, vec!["node1"]);
        assert!(c.notify_lists.unpromoted.is_empty());
        assert!(c.notify_lists.unpromoted_given_empty);
    }
}
