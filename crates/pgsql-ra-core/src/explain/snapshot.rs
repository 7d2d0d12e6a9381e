//! What `explain` and `status` read, as plain data: the cluster's attributes
//! and roles, the local server, the local tmpdir. Filled by
//! [`super::gather::gather`] (through the ports) or by a test.

use serde::Serialize;

use crate::lsn::Lsn;
use crate::ports::{FailureRecord, InstanceState, ReplicationLag, ReplicationRow};

/// One node_list node's published attributes (raw text, as read).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NodeAttrs {
    /// The node name.
    pub node: String,
    /// Online in the cluster (`None`: the cluster did not list it).
    pub online: Option<bool>,
    /// Pacemaker reports its instance Promoted.
    pub promoted: bool,
    /// What Pacemaker shows of its instance (issue 11; not in the JSON
    /// output, whose schema is unchanged): the primary's monitor treats an
    /// online node whose instance is Stopped as gone, and so does explain.
    #[serde(skip)]
    pub instance: InstanceState,
    /// `<rsc>-status` (reboot).
    pub pgsql_status: Option<String>,
    /// `<rsc>-data-status` (forever).
    pub data_status: Option<String>,
    /// `master-<rsc>` (reboot).
    pub score: Option<String>,
    /// `<rsc>-xlog-loc` (reboot).
    pub xlog_loc: Option<String>,
    /// `<rsc>-xlog-tli` (reboot): `<timeline>:<system id>[:<switch point>]`.
    pub xlog_tli: Option<String>,
    /// `<rsc>-xlog-final` (reboot, issue 16): the position two of the
    /// node's own monitors proved final.
    pub xlog_final: Option<String>,
    /// `<rsc>-sync-baseline` (forever).
    pub sync_baseline: Option<String>,
    /// `<rsc>-primary-origin` (forever).
    pub primary_origin: Option<String>,
    /// `<rsc>-withheld-score` (reboot).
    pub withheld_score: Option<String>,
    /// `<rsc>-sync-quorum` (issue 11: the recorded quorum commit set).
    pub sync_quorum: Option<String>,
    /// Errors met reading this node's attributes, in words.
    pub errors: Vec<String>,
}

/// `<tmpdir>/PGSQL.lock` on the local node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockFact {
    /// Its path.
    pub path: String,
    /// Its modification time, seconds since the Unix epoch, when the
    /// caller could read it (the ports do not carry it; the shim fills it).
    pub since_epoch_s: Option<u64>,
}

/// The local server as it answered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServerFacts {
    /// A live postmaster was found.
    pub running: bool,
    /// `pg_is_in_recovery()` (`None`: did not answer).
    pub in_recovery: Option<bool>,
    /// The primary's `pg_current_wal_lsn()`, or the standby's greater of
    /// replay and receive.
    pub lsn: Option<Lsn>,
    /// The checkpoint timeline.
    pub timeline: Option<u32>,
    /// `pg_control_system()`'s identifier.
    pub system_id: Option<u64>,
    /// On a primary: `pg_stat_replication` (`None`: not read).
    pub replication: Option<Vec<ReplicationRow>>,
    /// On a primary: `sent_lsn` and the `*_lag` columns (`None`: not read).
    pub replication_lag: Option<Vec<ReplicationLag>>,
    /// On a primary: `synchronous_standby_names`.
    pub synchronous_standby_names: Option<String>,
    /// Errors met while asking it, in words.
    pub errors: Vec<String>,
}

/// Everything an explanation is computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// The resource (primitive) name.
    pub resource: String,
    /// The local node.
    pub local_node: String,
    /// node_list, in order, with attributes.
    pub nodes: Vec<NodeAttrs>,
    /// Why the Promoted list could not be read (`None`: it was).
    pub promoted_error: Option<String>,
    /// Why the local node's name or the cluster's node list could not be
    /// read, in words (issue 13: an unreadable cluster is an error).
    pub cluster_errors: Vec<String>,
    /// The local `PGSQL.lock` when present.
    pub lock: Option<LockFact>,
    /// With the lock present: Pacemaker's failure record of the resource on
    /// the local node (`None`: unknown; issue 10, whether Pacemaker calls
    /// `start` here again).
    pub failure: Option<FailureRecord>,
    /// The local server.
    pub server: ServerFacts,
    /// Names of the files in the local tmpdir (`xlog_note.*` count rounds).
    pub tmp_files: Vec<String>,
    /// The content of `xlog_note.<k>` for the completed rounds k, by k.
    pub notes: Vec<(u32, String)>,
    /// `<tmpdir>/rep_mode.conf` (sync mode).
    pub rep_mode_conf: Option<String>,
    /// `<tmpdir>/sync_baseline` (the primary's handover baseline).
    pub sync_baseline_file: Option<String>,
}

impl Snapshot {
    /// The node's attributes.
    pub fn node(&self, name: &str) -> Option<&NodeAttrs> {
        self.nodes.iter().find(|n| n.node == name)
    }

    /// Every error met reading the cluster's state (the local node's name,
    /// the node list, the Promoted list, any node's attributes), distinct,
    /// in the order met. Empty: the cluster's state was read whole.
    pub fn cluster_unreadable(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let all = self
            .cluster_errors
            .iter()
            .chain(self.promoted_error.iter())
            .chain(self.nodes.iter().flat_map(|n| n.errors.iter()));
        for e in all {
            if !out.contains(e) {
                out.push(e.clone());
            }
        }
        out
    }
}
