//! [`Explain`] for what no decision explains: a node's state ([`Fact`])
//! and the cluster line ([`ClusterLine`]).

use std::collections::BTreeMap;

use serde::Serialize;

use super::super::{tag_of, Explain, Implied};
use super::inputs_of;
use crate::score::Score;
use crate::status::{DataStatus, PgStatus};

/// What is known about a node that no decision explains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "fact", rename_all = "snake_case")]
pub enum Fact {
    /// Pacemaker reports it Promoted: its monitor sets data-status `LATEST`
    /// and score 1000 (§1.3).
    Promoted,
    /// The node is offline.
    Offline,
    /// Its `<rsc>-status` says it is stopped (`STOP`) or unknown.
    Stopped {
        /// The `<rsc>-status`.
        status: String,
    },
    /// A standby while a primary exists: its data-status and score were set
    /// by the primary's monitor from `pg_stat_replication`, which only the
    /// primary reads.
    SetByPrimary {
        /// The primary.
        primary: String,
    },
    /// No primary, and it has not published `<rsc>-xlog-loc`: it is not
    /// taking part in the election (not running as a standby, or withdrawn).
    NotInElection,
    /// No primary, and its `<rsc>-xlog-loc` is not a location the agent
    /// writes (16 hex digits): the rounds that read it restart until it is
    /// corrected (issue-13 attack: it was called "no location").
    UnrecognisedLocation {
        /// The published value, as typed.
        value: String,
    },
    /// The local node is Promoted, or its `<rsc>-status` says it runs, but
    /// no postmaster is alive (read through the Server port): its next
    /// monitor reports it not running and Pacemaker recovers it (demote
    /// and stop for a Promoted instance, whose stop sets -INFINITY and
    /// `STOP`; §1.2, §1.4).
    ServerDown {
        /// Pacemaker reports it Promoted.
        promoted: bool,
        /// Its `<rsc>-status` as published.
        status: String,
    },
}

impl Explain for Fact {
    fn rule(&self) -> String {
        format!("state.{}", tag_of(self, "fact"))
    }

    fn sentence(&self) -> String {
        match self {
            Fact::Promoted => "Promoted by Pacemaker: its monitor keeps data-status LATEST and score 1000".into(),
            Fact::Offline => "the node is offline".into(),
            Fact::Stopped { status } => format!("the resource is not running here (pgsql-status {status})"),
            Fact::SetByPrimary { primary } => format!(
                "its data-status and score are set by {primary}'s monitor from pg_stat_replication (run explain on {primary} for the row)"
            ),
            Fact::NotInElection => "it has published no location: it takes no part in the election".into(),
            Fact::UnrecognisedLocation { value } => format!(
                "its published location {} is not one the agent writes (16 hex digits): every round that reads it restarts",
                crate::quote::quoted(value)
            ),
            Fact::ServerDown { promoted: true, status } => format!(
                "Promoted (pgsql-status {status}) but its postmaster is not running: its next monitor fails (not running) and Pacemaker recovers it (demote and stop here; another node may be promoted)"
            ),
            Fact::ServerDown { promoted: false, status } => format!(
                "pgsql-status {status} but its postmaster is not running: its next monitor fails (not running) and Pacemaker recovers it (stop, then start)"
            ),
        }
    }

    fn inputs(&self) -> BTreeMap<String, String> {
        inputs_of(self, &["fact"])
    }

    fn would_change(&self) -> String {
        match self {
            Fact::Promoted => "a demote, or a failure of its monitor".into(),
            Fact::Offline => "the node rejoining the cluster".into(),
            Fact::Stopped { .. } => "Pacemaker starting it (see its start's refusal if any)".into(),
            Fact::SetByPrimary { primary } => format!("{primary}'s next monitor"),
            Fact::NotInElection => "its monitor running as a standby that sees no primary".into(),
            Fact::UnrecognisedLocation { .. } => {
                "its next monitor as a standby rewriting it, or an operator deleting it".into()
            }
            Fact::ServerDown { .. } => {
                "Pacemaker's recovery after its next monitor; the PostgreSQL log tells why it stopped".into()
            }
        }
    }

    fn implies(&self) -> Implied {
        match self {
            Fact::Promoted => Implied {
                score: Some(Score::PROMOTE_ME.to_string()),
                data_status: Some(DataStatus::Latest.to_string()),
                pgsql_status: Some(PgStatus::Pri.to_string()),
                keeps_sync_score: false,
            },
            Fact::ServerDown { .. } => Implied {
                score: Some(Score::CAN_NOT_PROMOTE.to_string()),
                data_status: None,
                pgsql_status: Some(PgStatus::Stop.to_string()),
                keeps_sync_score: false,
            },
            _ => Implied::default(),
        }
    }
}

/// The cluster-level line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "line", rename_all = "snake_case")]
pub enum ClusterLine {
    /// Pacemaker reports these nodes Promoted.
    Primary {
        /// The Promoted nodes.
        nodes: Vec<String>,
    },
    /// Nobody is Promoted: each node's most decisive reason.
    NoPrimary {
        /// `(node, its first reason's sentence)`, node_list order.
        why: Vec<(String, String)>,
    },
    /// The Promoted list could not be read.
    Unreadable {
        /// The error.
        error: String,
    },
}

impl Explain for ClusterLine {
    fn rule(&self) -> String {
        format!("cluster.{}", tag_of(self, "line"))
    }

    fn sentence(&self) -> String {
        match self {
            ClusterLine::Primary { nodes } => format!("primary: {}", nodes.join(", ")),
            ClusterLine::NoPrimary { why } => {
                let parts: Vec<String> = why.iter().map(|(n, s)| format!("{n}: {s}")).collect();
                format!("no primary: {}", parts.join("; "))
            }
            ClusterLine::Unreadable { error } => {
                format!("which node is primary cannot be read: {error}")
            }
        }
    }

    fn would_change(&self) -> String {
        match self {
            ClusterLine::Primary { .. } => String::new(),
            ClusterLine::NoPrimary { .. } => {
                "a node becoming eligible and winning the election (see each node)".into()
            }
            ClusterLine::Unreadable { .. } => "the cluster status becoming readable".into(),
        }
    }
}
