//! Node attribute writes with the stock agent's guards (§3):
//! - every write happens only when the value changes;
//! - another node's `<rsc>-status` only when that node is online and its
//!   current value is not `STOP`/`UNKNOWN` (its own agent declared it stopped);
//! - another node's score only when it already has one and is online;
//! - a `<rsc>-data-status` (forever) only for a node the cluster knows.
//!
//! The node list is read once per invocation (bug E) and handed in.
//!
//! No refusal is silent (issue 9 item 3): every write a guard refuses is
//! recorded with its reason, and the action's caller logs them at warn
//! ([`Attrs::take_refusals`]).

use std::cell::RefCell;

use serde::Serialize;

use crate::names::AttributeNames;
use crate::ports::{Cluster, ClusterError, InstanceState, Lifetime, NodeState};
use crate::score::Score;
use crate::status::{DataStatus, PgStatus};

/// What a guarded write did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum WriteResult {
    /// The value was written.
    Written,
    /// The attribute already had this value.
    Unchanged,
    /// A guard refused the write, with the reason.
    Skipped(String),
}

/// The attribute writer of one invocation.
#[derive(Debug, Clone)]
pub struct Attrs {
    /// Attribute names of the resource.
    pub names: AttributeNames,
    /// The local node.
    pub local: String,
    nodes: Vec<NodeState>,
    refusals: RefCell<Vec<String>>,
}

impl Attrs {
    /// A writer for `local` with the cluster's node list (read once).
    pub fn new(names: AttributeNames, local: &str, nodes: Vec<NodeState>) -> Attrs {
        Attrs {
            names,
            local: local.to_string(),
            nodes,
            refusals: RefCell::new(Vec::new()),
        }
    }

    /// The writes refused by a guard since the last call, in words
    /// (`not writing <attribute>=<value> on <node>: <reason>`).
    pub fn take_refusals(&self) -> Vec<String> {
        std::mem::take(&mut *self.refusals.borrow_mut())
    }

    fn refuse(&self, node: &str, name: &str, value: &str, reason: String) -> WriteResult {
        self.refusals
            .borrow_mut()
            .push(format!("not writing {name}={value} on {node}: {reason}"));
        WriteResult::Skipped(reason)
    }

    /// True for the local node and for nodes the cluster reports online.
    pub fn is_online(&self, node: &str) -> bool {
        node == self.local || self.nodes.iter().any(|n| n.name == node && n.online)
    }

    /// True for a node other than the local one that the cluster shows
    /// online with this resource's instance stopped (issue 11; an unknown
    /// instance state is not stopped).
    pub fn instance_stopped(&self, node: &str) -> bool {
        node != self.local
            && self
                .nodes
                .iter()
                .any(|n| n.name == node && n.online && n.instance == InstanceState::Stopped)
    }

    /// True for the local node and for nodes the cluster knows (online or not).
    pub fn exists(&self, node: &str) -> bool {
        node == self.local || self.nodes.iter().any(|n| n.name == node)
    }

    fn write_if_changed(
        &self,
        cluster: &mut dyn Cluster,
        node: &str,
        name: &str,
        value: &str,
        lifetime: Lifetime,
    ) -> Result<WriteResult, ClusterError> {
        if cluster.get_attr(node, name, lifetime)?.as_deref() == Some(value) {
            return Ok(WriteResult::Unchanged);
        }
        cluster.set_attr(node, name, value, lifetime)?;
        Ok(WriteResult::Written)
    }

    /// Sets `<rsc>-status` of `node` (guards: online; not overriding another
    /// node's `STOP`/`UNKNOWN`).
    pub fn set_status(
        &self,
        cluster: &mut dyn Cluster,
        node: &str,
        status: PgStatus,
    ) -> Result<WriteResult, ClusterError> {
        if !self.is_online(node) {
            return Ok(self.refuse(
                node,
                &self.names.status,
                status.as_str(),
                format!("{node} is not online"),
            ));
        }
        let current = cluster.get_attr(node, &self.names.status, Lifetime::Reboot)?;
        if current.as_deref() == Some(status.as_str()) {
            return Ok(WriteResult::Unchanged);
        }
        if node != self.local {
            if let Some(c @ ("STOP" | "UNKNOWN")) = current.as_deref() {
                return Ok(self.refuse(
                    node,
                    &self.names.status,
                    status.as_str(),
                    format!("its own agent set {c}, which only it may change"),
                ));
            }
        }
        cluster.set_attr(node, &self.names.status, status.as_str(), Lifetime::Reboot)?;
        Ok(WriteResult::Written)
    }

    /// Sets `<rsc>-data-status` of `node` (forever; guard: the node exists).
    pub fn set_data_status(
        &self,
        cluster: &mut dyn Cluster,
        node: &str,
        value: &DataStatus,
    ) -> Result<WriteResult, ClusterError> {
        if !self.exists(node) {
            return Ok(self.refuse(
                node,
                &self.names.data_status,
                &value.to_string(),
                format!("{node} is not a cluster node"),
            ));
        }
        self.write_if_changed(
            cluster,
            node,
            &self.names.data_status,
            &value.to_string(),
            Lifetime::Forever,
        )
    }

    /// Sets (`Some`) or deletes (`None`) `<rsc>-sync-baseline` of `node`
    /// (forever; guard: the node exists). Reads first, writes only a change.
    pub fn set_sync_baseline(
        &self,
        cluster: &mut dyn Cluster,
        node: &str,
        value: Option<&str>,
    ) -> Result<WriteResult, ClusterError> {
        if !self.exists(node) {
            return Ok(self.refuse(
                node,
                &self.names.sync_baseline,
                value.unwrap_or("(delete)"),
                format!("{node} is not a cluster node"),
            ));
        }
        let name = &self.names.sync_baseline;
        match value {
            Some(v) => self.write_if_changed(cluster, node, name, v, Lifetime::Forever),
            None => {
                if cluster.get_attr(node, name, Lifetime::Forever)?.is_none() {
                    return Ok(WriteResult::Unchanged);
                }
                cluster.delete_attr(node, name, Lifetime::Forever)?;
                Ok(WriteResult::Written)
            }
        }
    }

    /// Reads `<rsc>-data-status` of `node`; an unparsable value reads as `None`.
    pub fn data_status(
        &self,
        cluster: &mut dyn Cluster,
        node: &str,
    ) -> Result<Option<DataStatus>, ClusterError> {
        Ok(cluster
            .get_attr(node, &self.names.data_status, Lifetime::Forever)?
            .and_then(|v| v.parse().ok()))
    }

    /// Sets the local promotion score.
    pub fn set_own_score(
        &self,
        cluster: &mut dyn Cluster,
        score: Score,
    ) -> Result<WriteResult, ClusterError> {
        let local = self.local.clone();
        self.write_if_changed(
            cluster,
            &local,
            &self.names.master_score,
            &score.to_string(),
            Lifetime::Reboot,
        )
    }

    /// Sets another node's promotion score (guards: it has a score already
    /// and is online).
    pub fn set_other_score(
        &self,
        cluster: &mut dyn Cluster,
        node: &str,
        score: Score,
    ) -> Result<WriteResult, ClusterError> {
        if !self.is_online(node) {
            return Ok(self.refuse(
                node,
                &self.names.master_score,
                &score.to_string(),
                format!("{node} is not online"),
            ));
        }
        match cluster.get_attr(node, &self.names.master_score, Lifetime::Reboot)? {
            None => Ok(self.refuse(
                node,
                &self.names.master_score,
                &score.to_string(),
                format!("{node} has no promotion score yet"),
            )),
            Some(v) if v == score.to_string() => Ok(WriteResult::Unchanged),
            Some(_) => {
                cluster.set_attr(
                    node,
                    &self.names.master_score,
                    &score.to_string(),
                    Lifetime::Reboot,
                )?;
                Ok(WriteResult::Written)
            }
        }
    }

    /// Sets a reboot-lifetime attribute of the local node (`xlog-loc`,
    /// `master-baseline`, `receiver-status`).
    pub fn set_own(
        &self,
        cluster: &mut dyn Cluster,
        name: &str,
        value: &str,
    ) -> Result<WriteResult, ClusterError> {
        let local = self.local.clone();
        self.write_if_changed(cluster, &local, name, value, Lifetime::Reboot)
    }

    /// Sets a forever-lifetime attribute of the local node (kept in the
    /// CIB's node section while the node is away: `demote-checkpoint`).
    pub fn set_own_forever(
        &self,
        cluster: &mut dyn Cluster,
        name: &str,
        value: &str,
    ) -> Result<WriteResult, ClusterError> {
        let local = self.local.clone();
        self.write_if_changed(cluster, &local, name, value, Lifetime::Forever)
    }

    /// Deletes a reboot-lifetime attribute of the local node.
    pub fn delete_own(&self, cluster: &mut dyn Cluster, name: &str) -> Result<(), ClusterError> {
        cluster.delete_attr(&self.local, name, Lifetime::Reboot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11: only another node, online, whose instance Pacemaker shows
    /// Stopped counts; Unknown, Active, offline and the local node do not.
    #[test]
    fn only_a_stopped_instance_on_another_online_node_counts() {
        let node = |name: &str, online: bool, instance: InstanceState| NodeState {
            instance,
            ..NodeState::new(name, online)
        };
        let attrs = Attrs::new(
            AttributeNames::for_instance("pgsql:0"),
            "node1",
            vec![
                node("node1", true, InstanceState::Stopped),
                node("node2", true, InstanceState::Stopped),
                node("node3", true, InstanceState::Unknown),
                node("node4", true, InstanceState::Active),
                node("node5", false, InstanceState::Stopped),
            ],
        );
        let stopped: Vec<&str> = ["node1", "node2", "node3", "node4", "node5", "node6"]
            .into_iter()
            .filter(|n| attrs.instance_stopped(n))
            .collect();
        assert_eq!(stopped, ["node2"]);
    }
}
