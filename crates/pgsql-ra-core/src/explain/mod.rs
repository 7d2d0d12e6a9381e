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
pub mod published;
pub mod snapshot;
pub mod status;

use std::collections::BTreeMap;

use serde::Serialize;

pub use build::explain;
pub use published::{Implied, Mismatch, PublishedCheck, Verdict as PublishedVerdict};
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
    /// The published values this outcome sets or keeps (issue 13: compared
    /// with what is published, [`published::check`]). Default: none.
    fn implies(&self) -> Implied {
        Implied::default()
    }
}

/// When an outcome holds, relative to the published values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum When {
    /// Decided already: the state the published values come from (for the
    /// local election, the round that left the `xlog_note.*` files as they
    /// are).
    Now,
    /// What the local node's next monitor decides from the same inputs.
    NextMonitor,
    /// Where the election ends if the published locations stay unchanged
    /// (another node's rounds are counted on that node).
    IfUnchanged,
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
    /// are counted on that node), not a decision already taken
    /// (`when` is not [`When::Now`]).
    pub projected: bool,
    /// When it holds (`projected` in detail).
    pub when: When,
    /// [`Explain::implies`]: what it sets, compared with the published values.
    pub implies: Implied,
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
            when: When::Now,
            implies: outcome.implies(),
        }
    }

    /// The same reason, marked as projected ([`When::IfUnchanged`]).
    pub fn projected(self) -> Reason {
        self.at(When::IfUnchanged)
    }

    /// The same reason at `when` (projected unless [`When::Now`]).
    pub fn at(mut self, when: When) -> Reason {
        self.projected = when != When::Now;
        self.when = when;
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
    /// The published values against what the reasons set (issue 13):
    /// `disagrees` names each attribute whose published value the rules
    /// do not give.
    pub published: PublishedCheck,
    /// The local node only: its server as it answered through the
    /// Server and Database ports.
    pub server: Option<LocalServer>,
}

/// The local server, as `explain` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalServer {
    /// A live postmaster was found (`None`: could not be told).
    pub running: Option<bool>,
    /// `primary`, `standby`, or `None` (not running or did not answer).
    pub role: Option<String>,
    /// Its WAL position (`X/Y`): `pg_current_wal_lsn()` on a primary, the
    /// greater of replay and receive on a standby.
    pub lsn: Option<String>,
    /// Its checkpoint timeline.
    pub timeline: Option<u32>,
    /// Errors met asking it, in words.
    pub errors: Vec<String>,
}

impl LocalServer {
    /// One line in words.
    pub fn render(&self) -> String {
        let mut s = match (self.running, self.role.as_deref()) {
            (Some(false), _) => "not running (no live postmaster)".to_string(),
            (None, _) => "unknown (the postmaster could not be looked for)".to_string(),
            (Some(true), Some(role)) => format!("running as {role}"),
            (Some(true), None) => "running, role unknown".to_string(),
        };
        if let Some(l) = &self.lsn {
            s.push_str(&format!(" at {l}"));
        }
        if let Some(t) = self.timeline {
            s.push_str(&format!(" timeline {t}"));
        }
        if !self.errors.is_empty() {
            s.push_str(&format!(" ({})", self.errors.join("; ")));
        }
        s
    }
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
            if let Some(server) = &n.server {
                out.push_str(&format!("  server: {}\n", server.render()));
            }
            for m in &n.published.mismatches {
                out.push_str(&format!("  ! {}\n", m.sentence()));
            }
            for r in &n.reasons {
                let when = match r.when {
                    When::Now => "",
                    When::NextMonitor => " (next monitor)",
                    When::IfUnchanged => " (if unchanged)",
                };
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
