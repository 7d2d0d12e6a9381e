//! The role gate of `monitor`: may a server that answers as a primary run
//! the primary path (own `LATEST`/`PRI`, `control_slave_status`, writes
//! about the other nodes)?
//!
//! Only an instance that Pacemaker promoted may. The stock agent (§1.3)
//! runs the primary path whenever `pg_is_in_recovery()` is false, so a
//! standby promoted outside the cluster (an operator's `pg_ctl promote`, a
//! trigger file) rewrites the legitimate primary's score and data status on
//! its next Unpromoted monitor, and Pacemaker then demotes the legitimate
//! primary (issue 9, case S1). Here:
//!
//! * a recurring monitor runs the primary path only when
//!   `OCF_RESKEY_CRM_meta_role` says Promoted (`Master` from crmsh and older
//!   pcs, `Promoted` from pcs 0.11). The documented setup's Unpromoted
//!   monitor passes no role at all, so a missing role is *not* Promoted;
//! * a probe (interval 0, no role) runs it only when no *other* instance is
//!   Promoted (a probe that finds the only primary keeps resource-agents
//!   PR #1277's behaviour: exit 8 and score 1000); when the promoted list
//!   cannot be read the gate fails closed.
//!
//! A refused server gets `OCF_ERR_GENERIC` with the exit reason
//! [`NOT_PROMOTED`], not 8: Pacemaker then recovers that instance instead of
//! demoting the legitimate primary.

use crate::quote::quoted;
use serde::Serialize;

/// The exit reason's fixed start when a primary was not promoted by the cluster.
pub const NOT_PROMOTED: &str = "running as primary but not promoted by the cluster";

/// The role Pacemaker passes to a monitor (`OCF_RESKEY_CRM_meta_role`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum MonitorRole {
    /// `Promoted` (pcs 0.11) or `Master` (crmsh, older pcs).
    Promoted,
    /// `Unpromoted` (pcs 0.11) or `Slave` (crmsh, older pcs).
    Unpromoted,
    /// No role: a probe, or the documented setup's Unpromoted monitor.
    Unstated,
    /// A value Pacemaker does not send; never read as Promoted.
    Unrecognised(String),
}

impl MonitorRole {
    /// Reads `CRM_meta_role` (case-insensitive, surrounding blanks ignored).
    pub fn from_meta(role: Option<&str>) -> MonitorRole {
        let Some(raw) = role else {
            return MonitorRole::Unstated;
        };
        match raw.trim().to_ascii_lowercase().as_str() {
            "" => MonitorRole::Unstated,
            "promoted" | "master" => MonitorRole::Promoted,
            "unpromoted" | "slave" => MonitorRole::Unpromoted,
            _ => MonitorRole::Unrecognised(raw.to_string()),
        }
    }

    fn describe(&self) -> String {
        match self {
            MonitorRole::Promoted => "Promoted".into(),
            MonitorRole::Unpromoted => "Unpromoted".into(),
            MonitorRole::Unstated => "no role (Unpromoted)".into(),
            MonitorRole::Unrecognised(v) => format!("unrecognised role {}", quoted(v)),
        }
    }
}

/// What the gate knows about the other instances: the nodes Pacemaker
/// reports Promoted, other than the local one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum OthersPromoted {
    /// Not read (recurring monitors do not need it).
    NotRead,
    /// Read: these other nodes hold the Promoted role (may be empty).
    Nodes(Vec<String>),
    /// The cluster status could not be read; the error in words.
    Unreadable(String),
}

/// The gate's input for a server that answers as a primary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateInput {
    /// True for a probe (monitor with interval 0).
    pub probe: bool,
    /// The role Pacemaker passed.
    pub role: MonitorRole,
    /// The other Promoted instances (read for probes only).
    pub others: OthersPromoted,
    /// On a probe: whether the local data is the cluster's (its own
    /// data-status and the recorded primary origins); `Err` with the reason.
    pub own_claim: Result<(), String>,
}

/// Why a primary may not run the primary path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Refusal {
    /// A recurring monitor of an instance Pacemaker did not promote.
    NotPromotedRole {
        /// The role the monitor carried, in words.
        role: String,
    },
    /// A probe found a primary while another instance holds the Promoted role.
    AnotherPromoted {
        /// The Promoted nodes.
        nodes: Vec<String>,
    },
    /// A probe found the only primary, but its data is not the cluster's
    /// (a standby promoted outside the cluster, refused before, or
    /// re-initdb'ed): never taken as the cluster's primary.
    NotClusterData {
        /// Why, in words.
        reason: String,
    },
    /// A probe found a primary but the Promoted instances could not be read.
    ClusterUnreadable {
        /// The error in words.
        error: String,
    },
}

impl Refusal {
    /// True when the local server is known to have been promoted outside
    /// the cluster (its data may have forked): the caller marks itself out
    /// of every election. False when the gate only could not tell.
    pub fn is_rogue(&self) -> bool {
        !matches!(self, Refusal::ClusterUnreadable { .. })
    }

    /// The exit reason (starts with [`NOT_PROMOTED`] for a rogue primary).
    pub fn reason(&self) -> String {
        match self {
            Refusal::NotPromotedRole { role } => {
                format!("{NOT_PROMOTED} (the monitor runs with {role})")
            }
            Refusal::AnotherPromoted { nodes } => {
                format!("{NOT_PROMOTED} ({} holds the Promoted role)", nodes.join(", "))
            }
            Refusal::NotClusterData { reason } => {
                format!("{NOT_PROMOTED} (its data is not the cluster's: {reason})")
            }
            Refusal::ClusterUnreadable { error } => format!(
                "running as primary, and whether another instance is Promoted cannot be read: {error}"
            ),
        }
    }
}

/// The gate's verdict for a server that answers as a primary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Gate {
    /// Run the primary path; `probe_score` asks for the score 1000 of
    /// PR #1277 (a probe that found the only primary).
    PrimaryPath {
        /// True on a probe.
        probe_score: bool,
    },
    /// Do not: return `OCF_ERR_GENERIC` with the refusal's reason.
    Refused(Refusal),
}

/// True when the gate needs the list of other Promoted instances (probes).
pub fn needs_promoted_list(probe: bool) -> bool {
    probe
}

/// Decides whether a server answering as a primary runs the primary path.
pub fn decide(input: &GateInput) -> Gate {
    if !input.probe {
        return match input.role {
            MonitorRole::Promoted => match &input.own_claim {
                Ok(()) => Gate::PrimaryPath { probe_score: false },
                Err(reason) => Gate::Refused(Refusal::NotClusterData {
                    reason: reason.clone(),
                }),
            },
            ref other => Gate::Refused(Refusal::NotPromotedRole {
                role: other.describe(),
            }),
        };
    }
    match &input.others {
        OthersPromoted::Nodes(nodes) if nodes.is_empty() => match &input.own_claim {
            Ok(()) => Gate::PrimaryPath { probe_score: true },
            Err(reason) => Gate::Refused(Refusal::NotClusterData {
                reason: reason.clone(),
            }),
        },
        OthersPromoted::Nodes(nodes) => Gate::Refused(Refusal::AnotherPromoted {
            nodes: nodes.clone(),
        }),
        OthersPromoted::Unreadable(error) => Gate::Refused(Refusal::ClusterUnreadable {
            error: error.clone(),
        }),
        OthersPromoted::NotRead => Gate::Refused(Refusal::ClusterUnreadable {
            error: "the Promoted instances were not read".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recurring(role: Option<&str>) -> Gate {
        decide(&GateInput {
            probe: false,
            role: MonitorRole::from_meta(role),
            others: OthersPromoted::NotRead,
            own_claim: Ok(()),
        })
    }

    #[test]
    fn a_promoted_monitor_on_data_the_cluster_did_not_make_primary_is_refused() {
        let gate = decide(&GateInput {
            probe: false,
            role: MonitorRole::Promoted,
            others: OthersPromoted::NotRead,
            own_claim: Err("my timeline 3 was not created by the cluster".into()),
        });
        match gate {
            Gate::Refused(r) => {
                assert!(r.is_rogue());
                assert!(r.reason().contains("timeline 3"), "{}", r.reason());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_a_promoted_recurring_monitor_runs_the_primary_path() {
        for role in ["Promoted", "Master", "master", " Promoted "] {
            assert_eq!(
                recurring(Some(role)),
                Gate::PrimaryPath { probe_score: false },
                "{role}"
            );
        }
        for role in [
            None,
            Some("Slave"),
            Some("Unpromoted"),
            Some(""),
            Some("Started"),
        ] {
            match recurring(role) {
                Gate::Refused(r) => {
                    assert!(r.is_rogue());
                    assert!(r.reason().starts_with(NOT_PROMOTED), "{}", r.reason());
                }
                g => panic!("{role:?} must be refused, got {g:?}"),
            }
        }
    }

    #[test]
    fn a_probe_runs_it_only_when_no_other_instance_is_promoted() {
        let probe = |others| {
            decide(&GateInput {
                probe: true,
                role: MonitorRole::Unstated,
                others,
                own_claim: Ok(()),
            })
        };
        let Gate::Refused(r) = decide(&GateInput {
            probe: true,
            role: MonitorRole::Unstated,
            others: OthersPromoted::Nodes(vec![]),
            own_claim: Err("my pgsql-data-status is \"DISCONNECT\", not LATEST".into()),
        }) else {
            panic!("a probe of data that is not the cluster's must be refused")
        };
        assert!(r.is_rogue());
        assert!(r.reason().contains("not the cluster's"), "{}", r.reason());
        assert_eq!(
            probe(OthersPromoted::Nodes(vec![])),
            Gate::PrimaryPath { probe_score: true }
        );
        let g = probe(OthersPromoted::Nodes(vec!["node1".into()]));
        let Gate::Refused(r) = g else { panic!() };
        assert!(r.is_rogue());
        assert!(r.reason().contains("node1 holds the Promoted role"));
        for others in [
            OthersPromoted::Unreadable("crm_mon failed".into()),
            OthersPromoted::NotRead,
        ] {
            let Gate::Refused(r) = probe(others) else {
                panic!("unreadable must fail closed")
            };
            assert!(!r.is_rogue());
        }
    }
}
