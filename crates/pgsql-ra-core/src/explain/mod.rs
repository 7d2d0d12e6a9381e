//! Explanations for operators (issue 13): why each node has its score and
//! data-status, and why the cluster has (or lacks) a primary, in words and
//! as versioned JSON (`docs/explain.md`, schema [`SCHEMA`]).
//!
//! The explanation is not re-derived text: [`build::explain`] re-runs the
//! core's own pure decision functions (`election`, `replication`,
//! `decide::start`, `role_gate`) over a [`Snapshot`] of the state the agent
//! reads (cluster attributes, the local server, tmpdir files), and every
//! line carries the outcome value those functions returned, through the
//! [`Explain`] trait. A new outcome enum joins with one `impl Explain`.
//!
//! [`gather::gather`] reads the snapshot through the ports (reads only);
//! the shim (`pgsql-ra explain`) and the simulator (`explain` in scenario
//! scripts) both use it.

pub mod build;
pub mod gather;
pub mod outcomes;
pub mod snapshot;
pub mod status;

use std::collections::BTreeMap;

use serde::Serialize;

pub use build::explain;
pub use snapshot::Snapshot;

/// The JSON schema name and version of [`Explanation`] (docs/explain.md).
pub const SCHEMA: &str = "pgsql-ra/explain/1";

/// An outcome of a core decision that can explain itself.
pub trait Explain {
    /// A stable rule identifier, `<decision>.<outcome variant>` in
    /// snake_case (e.g. `ineligible.handover_behind`, `election.waiting`,
    /// `start.lock_present`); docs/explain.md lists them.
    fn rule(&self) -> String;
    /// One sentence in words (the decision's own reason text where it has one).
    fn sentence(&self) -> String;
    /// The values the decision read, by name (LSNs in PostgreSQL's `X/Y` form).
    fn inputs(&self) -> BTreeMap<String, String> {
        BTreeMap::new()
    }
    /// What would change the outcome (an event or an operator's action).
    fn would_change(&self) -> String;
}

/// One explained outcome, as printed and serialized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// [`Explain::rule`].
    pub rule: String,
    /// [`Explain::sentence`].
    pub sentence: String,
    /// [`Explain::inputs`].
    pub inputs: BTreeMap<String, String>,
    /// [`Explain::would_change`].
    pub would_change: String,
    /// True when the outcome is what the decision *would* conclude if its
    /// inputs stay as they are (the election of another node, whose rounds
    /// are counted on that node), not a decision already taken.
    pub projected: bool,
}

impl Reason {
    /// The reason behind an outcome.
    pub fn of(outcome: &dyn Explain) -> Reason {
        Reason {
            rule: outcome.rule(),
            sentence: outcome.sentence(),
            inputs: outcome.inputs(),
            would_change: outcome.would_change(),
            projected: false,
        }
    }

    /// The same reason, marked as projected.
    pub fn projected(mut self) -> Reason {
        self.projected = true;
        self
    }
}

/// One node_list node, explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeExplanation {
    /// The node name.
    pub node: String,
    /// `Promoted` (Pacemaker's Promoted list), `offline`, `Started` (its
    /// `<rsc>-status` is set and not `STOP`) or `Stopped`: the Cluster port
    /// reports only the Promoted role, so the others come from the status.
    pub role: String,
    /// Its `master-<rsc>` score as published (`None`: none).
    pub score: Option<String>,
    /// Its `<rsc>-data-status` as published.
    pub data_status: Option<String>,
    /// Its `<rsc>-status` as published.
    pub pgsql_status: Option<String>,
    /// The outcomes behind its score and data-status, most decisive first.
    pub reasons: Vec<Reason>,
}

/// The whole explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// The resource (primitive) name.
    pub resource: String,
    /// The node the snapshot was taken on.
    pub local_node: String,
    /// The cluster-level line (`cluster.primary` or `cluster.no_primary`).
    pub cluster: Reason,
    /// One entry per node_list node, in list order.
    pub nodes: Vec<NodeExplanation>,
}

impl Explanation {
    /// The text form: the cluster line, then per node its score and every
    /// reason with what would change it. `only` restricts it to one node.
    pub fn render_text(&self, only: Option<&str>) -> String {
        let mut out = String::new();
        if only.is_none() {
            out.push_str(&format!("{}\n", self.cluster.sentence));
        }
        for n in self
            .nodes
            .iter()
            .filter(|n| only.is_none_or(|o| o == n.node))
        {
            out.push_str(&format!(
                "{}: {} ({}, data-status {}, {})\n",
                n.node,
                n.score.as_deref().unwrap_or("no score"),
                n.role,
                n.data_status.as_deref().unwrap_or("none"),
                n.pgsql_status.as_deref().unwrap_or("no pgsql-status"),
            ));
            for r in &n.reasons {
                let when = if r.projected { " (if unchanged)" } else { "" };
                out.push_str(&format!("  - [{}]{when} {}\n", r.rule, r.sentence));
                if !r.would_change.is_empty() {
                    out.push_str(&format!("    would change: {}\n", r.would_change));
                }
            }
        }
        out
    }
}

/// The rule name of a serde-tagged enum value: the snake_case `reason` tag.
pub(crate) fn tag_of<T: Serialize>(value: &T, field: &str) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(m)) => m
            .get(field)
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .or_else(|| m.keys().next().cloned())
            .unwrap_or_default(),
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// `CamelCase` → `camel_case`.
pub(crate) fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests;
