/// How long a node attribute lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lifetime {
    /// Transient (attrd): gone when the node leaves the cluster.
    Reboot,
    /// Permanent (CIB nodes section): survives restarts.
    Forever,
}

/// A node known to the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeState {
    /// Node name, lower-cased.
    pub name: String,
    /// True when the node is online (a cluster member running Pacemaker).
    pub online: bool,
}

/// A failed cluster call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ClusterError(pub String);

/// Pacemaker's attribute store and view of the cluster. The real
/// implementation reads the cluster state once per invocation and caches it,
/// updating the cache on its own writes.
pub trait Cluster {
    /// The local node's name, lower-cased.
    fn local_node(&mut self) -> Result<String, ClusterError>;
    /// Every node known to the cluster.
    fn nodes(&mut self) -> Result<Vec<NodeState>, ClusterError>;
    /// Nodes where an instance of `resource` is in the Promoted role.
    fn promoted_nodes(&mut self, resource: &str) -> Result<Vec<String>, ClusterError>;
    /// Reads a node attribute.
    fn get_attr(
        &mut self,
        node: &str,
        name: &str,
        lifetime: Lifetime,
    ) -> Result<Option<String>, ClusterError>;
    /// Writes a node attribute (promotion scores are `master-<rsc>`, reboot).
    fn set_attr(
        &mut self,
        node: &str,
        name: &str,
        value: &str,
        lifetime: Lifetime,
    ) -> Result<(), ClusterError>;
    /// Deletes a node attribute (absent is not an error).
    fn delete_attr(
        &mut self,
        node: &str,
        name: &str,
        lifetime: Lifetime,
    ) -> Result<(), ClusterError>;
    /// Bans `instance` from `node` (a `cli-ban` location constraint).
    fn ban(&mut self, instance: &str, node: &str) -> Result<(), ClusterError>;
}
