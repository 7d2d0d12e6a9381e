//! `pgsql-ra status`: one row per node_list node and, on the primary, its
//! replication rows (schema [`STATUS_SCHEMA`], docs/explain.md). Built from
//! the same [`Snapshot`] as the explanation; no decision is taken here.

use serde::Serialize;

use super::snapshot::Snapshot;
use crate::lsn::Lsn;

/// The JSON schema name and version of [`Status`].
pub const STATUS_SCHEMA: &str = "pgsql-ra/status/1";

/// One node_list node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeRow {
    /// The node name.
    pub node: String,
    /// Online in the cluster (`None`: not listed).
    pub online: Option<bool>,
    /// Pacemaker reports its instance Promoted.
    pub promoted: bool,
    /// `<rsc>-status`.
    pub pgsql_status: Option<String>,
    /// `<rsc>-data-status`.
    pub data_status: Option<String>,
    /// `master-<rsc>`.
    pub score: Option<String>,
    /// `<rsc>-xlog-loc` (published during an election), `X/Y` form.
    pub xlog_loc: Option<String>,
    /// `<rsc>-xlog-tli`: `<timeline>:<system id>[:<switch point>]`.
    pub xlog_tli: Option<String>,
    /// `<rsc>-primary-origin`: `<timeline>:<system id>` recorded when the
    /// cluster made it primary.
    pub primary_origin: Option<String>,
    /// Local node only: the path of `PGSQL.lock` when present.
    pub lock: Option<String>,
    /// Local node only: the lock's modification time (seconds since the epoch).
    pub lock_since_epoch_s: Option<u64>,
    /// Attribute read errors.
    pub errors: Vec<String>,
}

/// One row of the primary's `pg_stat_replication`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicationStatus {
    /// `application_name`.
    pub application_name: String,
    /// `state`.
    pub state: String,
    /// `sync_state`.
    pub sync_state: String,
    /// `sent_lsn` (`X/Y`).
    pub sent_lsn: Option<String>,
    /// `flush_lsn` (`X/Y`).
    pub flush_lsn: Option<String>,
    /// `replay_lsn` (`X/Y`).
    pub replay_lsn: Option<String>,
    /// Bytes between the primary's current WAL position and `sent_lsn`.
    pub sent_lag_bytes: Option<u64>,
    /// Bytes between the primary's current WAL position and `flush_lsn`.
    pub flush_lag_bytes: Option<u64>,
    /// Bytes between the primary's current WAL position and `replay_lsn`.
    pub replay_lag_bytes: Option<u64>,
    /// `write_lag` in milliseconds (PostgreSQL 10+; null when idle).
    pub write_lag_ms: Option<u64>,
    /// `flush_lag` in milliseconds.
    pub flush_lag_ms: Option<u64>,
    /// `replay_lag` in milliseconds.
    pub replay_lag_ms: Option<u64>,
}

/// The local server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalServer {
    /// A postmaster runs.
    pub running: bool,
    /// `pg_is_in_recovery()`.
    pub in_recovery: Option<bool>,
    /// Its WAL position (`X/Y`).
    pub lsn: Option<String>,
    /// Its checkpoint timeline.
    pub timeline: Option<u32>,
    /// Its system identifier (as text: it exceeds JSON's safe integers).
    pub system_id: Option<String>,
    /// Errors met asking it.
    pub errors: Vec<String>,
}

/// The whole status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// [`STATUS_SCHEMA`].
    pub schema: &'static str,
    /// The resource name.
    pub resource: String,
    /// The node it ran on.
    pub local_node: String,
    /// Why the Promoted list could not be read, if so.
    pub promoted_error: Option<String>,
    /// node_list, in order.
    pub nodes: Vec<NodeRow>,
    /// The local server.
    pub local_server: LocalServer,
    /// On a primary: its replication rows.
    pub replication: Option<Vec<ReplicationStatus>>,
    /// On a primary: `synchronous_standby_names`.
    pub synchronous_standby_names: Option<String>,
}

fn lag(current: Option<Lsn>, at: Option<Lsn>) -> Option<u64> {
    Some(current?.0.saturating_sub(at?.0))
}

impl Status {
    /// The status of a snapshot.
    pub fn of(snap: &Snapshot) -> Status {
        let current = snap.server.lsn;
        Status {
            schema: STATUS_SCHEMA,
            resource: snap.resource.clone(),
            local_node: snap.local_node.clone(),
            promoted_error: snap.promoted_error.clone(),
            nodes: snap
                .nodes
                .iter()
                .map(|n| {
                    let local = n.node == snap.local_node;
                    let lock = snap.lock.as_ref().filter(|_| local);
                    NodeRow {
                        node: n.node.clone(),
                        online: n.online,
                        promoted: n.promoted,
                        pgsql_status: n.pgsql_status.clone(),
                        data_status: n.data_status.clone(),
                        score: n.score.clone(),
                        xlog_loc: n
                            .xlog_loc
                            .as_deref()
                            .map(|v| Lsn::parse_attr(v).map_or_else(|_| v.to_string(), Lsn::to_pg)),
                        xlog_tli: n.xlog_tli.clone(),
                        primary_origin: n.primary_origin.clone(),
                        lock: lock.map(|l| l.path.clone()),
                        lock_since_epoch_s: lock.and_then(|l| l.since_epoch_s),
                        errors: n.errors.clone(),
                    }
                })
                .collect(),
            local_server: LocalServer {
                running: snap.server.running,
                in_recovery: snap.server.in_recovery,
                lsn: current.map(Lsn::to_pg),
                timeline: snap.server.timeline,
                system_id: snap.server.system_id.map(|s| s.to_string()),
                errors: snap.server.errors.clone(),
            },
            replication: snap.server.replication.as_ref().map(|rows| {
                let lags = snap.server.replication_lag.as_deref().unwrap_or_default();
                rows.iter()
                    .map(|r| {
                        let l = lags
                            .iter()
                            .find(|l| l.application_name == r.application_name)
                            .cloned()
                            .unwrap_or_default();
                        ReplicationStatus {
                            application_name: r.application_name.clone(),
                            state: r.state.clone(),
                            sync_state: r.sync_state.clone(),
                            sent_lsn: l.sent_lsn.map(Lsn::to_pg),
                            flush_lsn: r.flush_lsn.map(Lsn::to_pg),
                            replay_lsn: r.replay_lsn.map(Lsn::to_pg),
                            sent_lag_bytes: lag(current, l.sent_lsn),
                            flush_lag_bytes: lag(current, r.flush_lsn),
                            replay_lag_bytes: lag(current, r.replay_lsn),
                            write_lag_ms: l.write_lag_ms,
                            flush_lag_ms: l.flush_lag_ms,
                            replay_lag_ms: l.replay_lag_ms,
                        }
                    })
                    .collect()
            }),
            synchronous_standby_names: snap.server.synchronous_standby_names.clone(),
        }
    }

    /// The text form: a table of nodes, then the local server and, on a
    /// primary, its replication rows.
    pub fn render_text(&self) -> String {
        let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        let mut out = format!(
            "resource {} (on {})\n{:<12} {:<8} {:<9} {:<14} {:<16} {:<10} {:<12} {}\n",
            self.resource,
            self.local_node,
            "node",
            "online",
            "role",
            "pgsql-status",
            "data-status",
            "score",
            "xlog-loc",
            "xlog-tli / lock"
        );
        for n in &self.nodes {
            let online = match n.online {
                Some(true) => "yes",
                Some(false) => "no",
                None => "?",
            };
            let role = if n.promoted { "Promoted" } else { "-" };
            let mut tail = dash(&n.xlog_tli);
            if let Some(l) = &n.lock {
                tail.push_str(&format!(" lock {l}"));
                if let Some(s) = n.lock_since_epoch_s {
                    tail.push_str(&format!(" since {}", super::outcomes::utc(s)));
                }
            }
            out.push_str(&format!(
                "{:<12} {:<8} {:<9} {:<14} {:<16} {:<10} {:<12} {}\n",
                n.node,
                online,
                role,
                dash(&n.pgsql_status),
                dash(&n.data_status),
                dash(&n.score),
                dash(&n.xlog_loc),
                tail
            ));
        }
        let s = &self.local_server;
        let what = match (s.running, s.in_recovery) {
            (false, _) => "not running".to_string(),
            (true, Some(true)) => "standby".to_string(),
            (true, Some(false)) => "primary".to_string(),
            (true, None) => "running, not answering".to_string(),
        };
        out.push_str(&format!(
            "local server: {what}, lsn {}, timeline {}, system id {}\n",
            dash(&s.lsn),
            s.timeline.map_or("-".into(), |t| t.to_string()),
            dash(&s.system_id)
        ));
        if let Some(rows) = &self.replication {
            out.push_str(&format!(
                "synchronous_standby_names = '{}'\n",
                self.synchronous_standby_names.as_deref().unwrap_or("")
            ));
            let bytes = |b: Option<u64>| b.map_or("-".into(), |b| format!("{b} B"));
            let ms = |m: Option<u64>| m.map_or("-".into(), |m| format!("{m} ms"));
            for r in rows {
                out.push_str(&format!(
                    "  {} {}|{} sent {} ({}) flush {} ({}, {}) replay {} ({}, {})\n",
                    r.application_name,
                    r.state,
                    r.sync_state,
                    dash(&r.sent_lsn),
                    bytes(r.sent_lag_bytes),
                    dash(&r.flush_lsn),
                    bytes(r.flush_lag_bytes),
                    ms(r.flush_lag_ms),
                    dash(&r.replay_lsn),
                    bytes(r.replay_lag_bytes),
                    ms(r.replay_lag_ms),
                ));
            }
        }
        for e in s.errors.iter().chain(self.promoted_error.iter()) {
            out.push_str(&format!("error: {e}\n"));
        }
        out
    }
}
