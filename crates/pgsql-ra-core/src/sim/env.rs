//! The environment Pacemaker gives one invocation: `OCF_RESKEY_*`
//! parameters, `CRM_meta_*` values and the notify variables in both the new
//! (`promoted`/`unpromoted`) and legacy (`master`/`slave`) spellings, with
//! Pacemaker's single-space encoding of an empty list.

use std::collections::BTreeMap;

use super::SimConfig;

/// The node lists of one notification (or of an action of a clone with `notify=true`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyEnv {
    /// `pre` or `post` (empty for the action itself).
    pub kind: String,
    /// `start`, `stop`, `promote` or `demote` (empty for the action itself).
    pub operation: String,
    /// Nodes being started.
    pub start: Vec<String>,
    /// Nodes being stopped.
    pub stop: Vec<String>,
    /// Nodes being promoted.
    pub promote: Vec<String>,
    /// Nodes being demoted.
    pub demote: Vec<String>,
    /// Nodes where the instance is promoted.
    pub promoted: Vec<String>,
    /// Nodes where the instance is unpromoted.
    pub unpromoted: Vec<String>,
    /// Nodes where the instance is active.
    pub active: Vec<String>,
}

/// What varies between invocations besides the action.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpEnv {
    /// `CRM_meta_interval` in milliseconds (0 for probes and one-shot actions).
    pub interval_ms: u64,
    /// `CRM_meta_role` of a recurring monitor.
    pub role: Option<String>,
    /// Notify variables, if any.
    pub notify: Option<NotifyEnv>,
}

/// Pacemaker's text for a node list: names separated by spaces, `" "` when empty.
pub fn list_text(nodes: &[String]) -> String {
    if nodes.is_empty() {
        " ".to_string()
    } else {
        nodes.join(" ")
    }
}

impl OpEnv {
    /// A one-shot action (interval 0).
    pub fn oneshot() -> OpEnv {
        OpEnv::default()
    }

    /// The full environment for `instance` under `config`.
    pub fn to_env(&self, config: &SimConfig, instance: &str) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        let mut put = |k: &str, v: &str| {
            env.insert(k.to_string(), v.to_string());
        };
        put("OCF_ROOT", "/usr/lib/ocf");
        put("OCF_RA_VERSION_MAJOR", "1");
        put("OCF_RA_VERSION_MINOR", "1");
        put("OCF_RESOURCE_INSTANCE", instance);
        put("OCF_RESOURCE_TYPE", "pgsql");
        put("OCF_RESKEY_crm_feature_set", "3.16.2");
        for (k, v) in &config.params {
            put(&format!("OCF_RESKEY_{k}"), v);
        }
        let meta = |k: &str| format!("OCF_RESKEY_CRM_meta_{k}");
        put(&meta("interval"), &self.interval_ms.to_string());
        put(&meta("timeout"), "60000");
        put(
            &meta("notify"),
            if config.notify { "true" } else { "false" },
        );
        put(&meta("clone_max"), &config.nodes.len().to_string());
        put(&meta("clone_node_max"), "1");
        put(&meta("promoted_max"), "1");
        put(&meta("master_max"), "1");
        put(&meta("promoted_node_max"), "1");
        put(&meta("master_node_max"), "1");
        put(&meta("promotable"), "true");
        put(&meta("globally_unique"), "false");
        if let Some(role) = &self.role {
            put(&meta("role"), role);
        }
        if let Some(n) = &self.notify {
            if !n.kind.is_empty() {
                put(&meta("notify_type"), &n.kind);
                put(&meta("notify_operation"), &n.operation);
            }
            let lists: [(&str, Option<&str>, &Vec<String>); 7] = [
                ("start", None, &n.start),
                ("stop", None, &n.stop),
                ("promote", None, &n.promote),
                ("demote", None, &n.demote),
                ("promoted", Some("master"), &n.promoted),
                ("unpromoted", Some("slave"), &n.unpromoted),
                ("active", None, &n.active),
            ];
            for (name, legacy, nodes) in lists {
                let text = list_text(nodes);
                put(&meta(&format!("notify_{name}_uname")), &text);
                if let Some(old) = legacy {
                    put(&meta(&format!("notify_{old}_uname")), &text);
                }
            }
        }
        env
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ClusterContext;

    #[test]
    fn both_spellings_and_the_empty_list_reach_the_context() {
        let config = SimConfig::new(&["node1", "node2"]);
        let op = OpEnv {
            interval_ms: 0,
            role: None,
            notify: Some(NotifyEnv {
                kind: "post".into(),
                operation: "demote".into(),
                demote: vec!["node1".into()],
                promoted: vec!["node1".into()],
                ..NotifyEnv::default()
            }),
        };
        let env = op.to_env(&config, "pgsql:0");
        assert_eq!(env["OCF_RESKEY_CRM_meta_notify_slave_uname"], " ");
        assert_eq!(env["OCF_RESKEY_node_list"], "node1 node2");
        let ctx = ClusterContext::from_env_map(&env);
        assert_eq!(ctx.notify_lists.promoted, vec!["node1"]);
        assert!(ctx.notify_lists.unpromoted_given_empty);
        assert_eq!(ctx.notify_lists.operation, "demote");
        assert!(ctx.promotable);
    }
}
