//! May `start` remove `PGSQL.lock` of a lone primary (issue 10 item 4,
//! case B2-05)? The standby node went down, then the lone primary's
//! PostgreSQL crashed: demote found it dead and kept the lock, and with
//! the stock rule the service stays down although this node holds the
//! newest data the cluster knows of.
//!
//! The lock goes only when the attributes prove it: own `<rsc>-data-status`
//! exactly `LATEST` (this node was the last primary), no other node
//! Promoted in Pacemaker's view, and every other `node_list` node's
//! data-status exactly `DISCONNECT` (the primary saw it leave, so it holds
//! no write this node lacks). An absent, unreadable or any other value
//! keeps the lock: absent means unknown (an operator may have deleted it;
//! issue 10, "Precisions"), a `STREAMING|SYNC` node may hold acknowledged
//! writes.
//!
//! | own data-status | other Promoted | other node_list nodes | lock |
//! |---|---|---|---|
//! | `LATEST` | none | all `DISCONNECT` | removed, then the normal start |
//! | anything else, absent or unreadable | – | – | kept |
//! | – | some, or unreadable | – | kept |
//! | – | – | one absent, unreadable or not `DISCONNECT` | kept |

use std::fmt;

use serde::Serialize;

/// One attribute as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "read", content = "value", rename_all = "snake_case")]
pub enum Reading {
    /// Not set.
    Absent,
    /// Its text.
    Value(String),
    /// The read failed (the error).
    Unreadable(String),
}

impl fmt::Display for Reading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reading::Absent => f.write_str("absent"),
            Reading::Value(v) => f.write_str(&crate::quote::quoted(v)),
            Reading::Unreadable(e) => write!(f, "unreadable ({e})"),
        }
    }
}

/// What the lone-primary rule looks at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LonePrimaryInput {
    /// The local node's `<rsc>-data-status`.
    pub own: Reading,
    /// The other nodes Pacemaker shows Promoted (`Err`: unreadable).
    pub others_promoted: Result<Vec<String>, String>,
    /// Every other `node_list` node with its `<rsc>-data-status`.
    pub others: Vec<(String, Reading)>,
}

/// Why the lock is removed or kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum LonePrimary {
    /// Every condition holds: remove the lock.
    Alone {
        /// The other nodes, all `DISCONNECT`.
        others: Vec<String>,
    },
    /// The local data-status is not exactly `LATEST`.
    NotLatest {
        /// What it is.
        own: Reading,
    },
    /// Another node is Promoted (or the view is unreadable).
    OtherPromoted {
        /// Who, or the read error.
        promoted: Result<Vec<String>, String>,
    },
    /// Another node's data-status is not exactly `DISCONNECT`.
    OtherNotDisconnected {
        /// The node.
        node: String,
        /// Its data-status.
        status: Reading,
    },
}

impl LonePrimary {
    /// True when the lock may be removed.
    pub fn releases(&self) -> bool {
        matches!(self, LonePrimary::Alone { .. })
    }
}

impl fmt::Display for LonePrimary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LonePrimary::Alone { others } if others.is_empty() => f.write_str(
                "this node was the last primary (data-status LATEST), no other node is Promoted and node_list has no other node",
            ),
            LonePrimary::Alone { others } => write!(
                f,
                "this node was the last primary (data-status LATEST), no other node is Promoted and {} left while it was primary (DISCONNECT): it holds the newest data",
                others.join(", ")
            ),
            LonePrimary::NotLatest { own } => {
                write!(f, "not a lone primary: own data-status is {own}, not LATEST")
            }
            LonePrimary::OtherPromoted { promoted: Ok(nodes) } => write!(
                f,
                "not a lone primary: {} is Promoted",
                nodes.join(", ")
            ),
            LonePrimary::OtherPromoted { promoted: Err(e) } => write!(
                f,
                "not a lone primary: the Promoted nodes could not be read ({e})"
            ),
            LonePrimary::OtherNotDisconnected { node, status } => write!(
                f,
                "not a lone primary: {node}'s data-status is {status}, not DISCONNECT"
            ),
        }
    }
}

/// Decides (the table in the module doc).
pub fn lone_primary(input: &LonePrimaryInput) -> LonePrimary {
    if input.own != Reading::Value("LATEST".into()) {
        return LonePrimary::NotLatest {
            own: input.own.clone(),
        };
    }
    match &input.others_promoted {
        Ok(nodes) if nodes.is_empty() => {}
        other => {
            return LonePrimary::OtherPromoted {
                promoted: other.clone(),
            }
        }
    }
    for (node, status) in &input.others {
        if *status != Reading::Value("DISCONNECT".into()) {
            return LonePrimary::OtherNotDisconnected {
                node: node.clone(),
                status: status.clone(),
            };
        }
    }
    LonePrimary::Alone {
        others: input.others.iter().map(|(n, _)| n.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Reading {
        Reading::Value(s.into())
    }

    fn input(
        own: Reading,
        promoted: Result<Vec<&str>, &str>,
        others: &[(&str, Reading)],
    ) -> LonePrimaryInput {
        LonePrimaryInput {
            own,
            others_promoted: promoted
                .map(|p| p.into_iter().map(String::from).collect())
                .map_err(String::from),
            others: others
                .iter()
                .map(|(n, r)| (n.to_string(), r.clone()))
                .collect(),
        }
    }

    #[test]
    fn the_table() {
        let disc = v("DISCONNECT");
        let rows: Vec<(LonePrimaryInput, bool, &str)> = vec![
            (
                input(v("LATEST"), Ok(vec![]), &[("node2", disc.clone())]),
                true,
                "node2 left while it was primary",
            ),
            (
                input(
                    v("LATEST"),
                    Ok(vec![]),
                    &[("node2", disc.clone()), ("node3", disc.clone())],
                ),
                true,
                "node2, node3",
            ),
            (input(v("LATEST"), Ok(vec![]), &[]), true, "no other node"),
            (
                input(Reading::Absent, Ok(vec![]), &[("node2", disc.clone())]),
                false,
                "own data-status is absent",
            ),
            (
                input(v("DISCONNECT"), Ok(vec![]), &[("node2", disc.clone())]),
                false,
                "\"DISCONNECT\", not LATEST",
            ),
            (
                input(v("latest"), Ok(vec![]), &[("node2", disc.clone())]),
                false,
                "not LATEST",
            ),
            (
                input(Reading::Unreadable("timeout".into()), Ok(vec![]), &[]),
                false,
                "unreadable (timeout)",
            ),
            (
                input(v("LATEST"), Ok(vec!["node2"]), &[("node2", disc.clone())]),
                false,
                "node2 is Promoted",
            ),
            (
                input(
                    v("LATEST"),
                    Err("crm_mon failed"),
                    &[("node2", disc.clone())],
                ),
                false,
                "could not be read (crm_mon failed)",
            ),
            (
                input(v("LATEST"), Ok(vec![]), &[("node2", Reading::Absent)]),
                false,
                "node2's data-status is absent",
            ),
            (
                input(v("LATEST"), Ok(vec![]), &[("node2", v("STREAMING|SYNC"))]),
                false,
                "\"STREAMING|SYNC\", not DISCONNECT",
            ),
            (
                input(
                    v("LATEST"),
                    Ok(vec![]),
                    &[("node2", disc.clone()), ("node3", v("LATEST"))],
                ),
                false,
                "node3's data-status is \"LATEST\"",
            ),
            (
                input(
                    v("LATEST"),
                    Ok(vec![]),
                    &[("node2", Reading::Unreadable("x".into()))],
                ),
                false,
                "unreadable (x)",
            ),
        ];
        for (i, want, says) in rows {
            let d = lone_primary(&i);
            assert_eq!(d.releases(), want, "{i:?}: {d}");
            assert!(d.to_string().contains(says), "{d} lacks {says:?}");
        }
    }
}
