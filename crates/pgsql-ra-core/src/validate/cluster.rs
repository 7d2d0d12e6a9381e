//! Checks of the configuration against the cluster (sync/async only):
//! every `node_list` name is a node the cluster knows, and the clone has
//! `notify=true`. Beyond the stock agent, which checks neither (§8.2 S and
//! T, §7.1 "needs `notify=true` … but never validates it"; §10 lists both
//! as improvements):
//!
//! - a misspelt `node_list` name silently gets `DISCONNECT` and no score
//!   from the primary, and counts in the "≥ 3 names" rules (§4.1, §4.5);
//! - without `notify=true` Pacemaker sends no notifications, so the
//!   pre-promote check (§4.5) never runs, and no notify variables reach
//!   demote, so `PGSQL.lock` is never removed (§4.6).
//!
//! `start` refuses such a configuration with `OCF_ERR_CONFIGURED` (6), the
//! code stock validation uses for a configuration that cannot work
//! (§1.10); a monitor only logs a warning (a monitor never returns 6 for
//! it: the running service is not at fault).

use std::fmt;

use serde::Serialize;

use crate::ocf::{OcfExit, Outcome};

/// A configuration problem that only the cluster can show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum ClusterProblem {
    /// A `node_list` name that is not a node of the cluster (§8.2 T).
    UnknownNode {
        /// The name, as lower-cased from `node_list`.
        node: String,
    },
    /// The clone's meta attribute `notify` is not true (§8.2 S).
    NotifyDisabled,
}

impl fmt::Display for ClusterProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClusterProblem::UnknownNode { node } => write!(
                f,
                "node_list names {node}, which is not a node of the cluster"
            ),
            ClusterProblem::NotifyDisabled => f.write_str(
                "the clone's meta attribute notify is not true: the pre-promote check and the removal of PGSQL.lock need notify=true",
            ),
        }
    }
}

/// The problems of a replication configuration, `node_list` names in list
/// order, then `notify`. `known` tells whether the cluster knows a node
/// (online or not; the local node always counts); `notify` is
/// `OCF_RESKEY_CRM_meta_notify` read as a boolean (absent: false).
pub fn cluster_problems(
    node_list: &[String],
    notify: bool,
    known: impl Fn(&str) -> bool,
) -> Vec<ClusterProblem> {
    let mut problems: Vec<ClusterProblem> = node_list
        .iter()
        .filter(|n| !known(n))
        .map(|n| ClusterProblem::UnknownNode { node: n.clone() })
        .collect();
    if !notify {
        problems.push(ClusterProblem::NotifyDisabled);
    }
    problems
}

/// The outcome `start` fails with: `OCF_ERR_CONFIGURED` naming every
/// problem, or `None` when there is none.
pub fn start_refusal(problems: &[ClusterProblem]) -> Option<Outcome> {
    if problems.is_empty() {
        return None;
    }
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    Some(Outcome::fail(OcfExit::ErrConfigured, text.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn unknown_names_and_notify_are_reported_in_order() {
        let known = |n: &str| n == "node1" || n == "node2";
        assert!(cluster_problems(&list(&["node1", "node2"]), true, known).is_empty());
        let p = cluster_problems(&list(&["node1", "nodeX", "node2", "node3"]), false, known);
        assert_eq!(
            p,
            vec![
                ClusterProblem::UnknownNode {
                    node: "nodeX".into()
                },
                ClusterProblem::UnknownNode {
                    node: "node3".into()
                },
                ClusterProblem::NotifyDisabled,
            ]
        );
    }

    #[test]
    fn start_fails_with_6_naming_the_parameter() {
        assert_eq!(start_refusal(&[]), None);
        let o = start_refusal(&[ClusterProblem::UnknownNode {
            node: "node3".into(),
        }])
        .expect("refused");
        assert_eq!(o.code, OcfExit::ErrConfigured);
        let reason = o.reason.unwrap_or_default();
        assert!(reason.starts_with("node_list names node3"), "{reason}");
        let o = start_refusal(&[ClusterProblem::NotifyDisabled]).expect("refused");
        assert!(o
            .reason
            .unwrap_or_default()
            .contains("meta attribute notify"));
    }

    #[test]
    fn problems_serialize_for_explain() {
        let v = serde_json::to_value(ClusterProblem::UnknownNode { node: "n3".into() })
            .expect("serializes");
        assert_eq!(v["problem"], "unknown_node");
        assert_eq!(v["node"], "n3");
    }
}
