/// How long a node attribute lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lifetime {
    /// Transient (attrd): gone when the node leaves the cluster.
    Reboot,
    /// Permanent (CIB nodes section): survives restarts.
    Forever,
}

/// What Pacemaker shows of this resource's instance on one node (issue 11
/// item 1: a standby whose instance Pacemaker stopped, its node staying
/// online, is gone for the primary even if a server there still streams).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InstanceState {
    /// Pacemaker shows the instance running there (Unpromoted or Promoted,
    /// failed or not).
    Active,
    /// Pacemaker shows it stopped there: its last operation a successful
    /// stop, a probe that found it not running, or no history at all.
    Stopped,
    /// The reader cannot tell (an operation pending, an implementation that
    /// does not read instances). Never a reason to drop a standby.
    #[default]
    Unknown,
}

/// A node known to the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeState {
    /// Node name, lower-cased.
    pub name: String,
    /// True when the node is online (a cluster member running Pacemaker).
    pub online: bool,
    /// The state of the agent's own resource's instance on the node, as the
    /// port's implementation was told which resource that is
    /// ([`InstanceState::Unknown`] when it was not, or cannot tell).
    pub instance: InstanceState,
}

impl NodeState {
    /// A node whose instance state is not known.
    pub fn new(name: &str, online: bool) -> NodeState {
        NodeState {
            name: name.to_string(),
            online,
            instance: InstanceState::Unknown,
        }
    }
}

/// Pacemaker's failure record of a resource on one node and the meta
/// attributes that decide when the node may run it again (issue 10: a
/// crashed old primary's crash rejoin runs only when Pacemaker calls
/// `start` there again). Pacemaker keeps an instance stopped on a node whose
/// fail-count reached `migration-threshold`, until `failure-timeout` after
/// the last failure (at a cluster recheck) or `crm_resource --cleanup`
/// (Pacemaker Explained, "Failure Response").
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FailureRecord {
    /// The fail-count, summed over the resource's operations on the node;
    /// [`FailureRecord::INFINITY`] for INFINITY (a failed start with
    /// `start-failure-is-fatal`). 0: no failure recorded.
    pub fail_count: u32,
    /// The last failure, seconds since the Unix epoch, when known.
    pub last_failure_epoch_s: Option<u64>,
    /// `migration-threshold`: 0 disables it (Pacemaker's 0), `INFINITY`
    /// (Pacemaker's default) blocks at a fail-count of INFINITY only;
    /// `None`: unknown.
    pub migration_threshold: Option<u32>,
    /// `failure-timeout` in seconds (the primitive's, else the clone's, else
    /// the resource defaults'); `None` or 0: not set, failures never expire.
    pub failure_timeout_s: Option<u64>,
}

impl FailureRecord {
    /// Pacemaker's INFINITY (1000000) as a count or threshold.
    pub const INFINITY: u32 = u32::MAX;

    /// True when the fail-count keeps the resource off the node:
    /// `migration-threshold` set (not 0) and reached (an unknown threshold
    /// counts as Pacemaker's default, INFINITY).
    pub fn blocks(&self) -> bool {
        let threshold = self.migration_threshold.unwrap_or(Self::INFINITY);
        self.fail_count > 0 && threshold != 0 && self.fail_count >= threshold
    }
}

/// The longest a [`Cluster::refresh`] may take (issue 16: an election
/// monitor waits at most 1 s for the other nodes' marks, and checks that
/// its operation has this much time left before it reads again).
pub const REFRESH_LIMIT: std::time::Duration = std::time::Duration::from_secs(1);

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
    /// Reads the cluster state again, within [`REFRESH_LIMIT`], so that
    /// later reads see what other nodes wrote since; this invocation's own
    /// writes still read back as written (issue 16: an election monitor
    /// re-reads the round while the other nodes' monitors publish their
    /// marks). An implementation whose reads are always fresh does nothing
    /// (the default).
    ///
    /// # Errors
    /// The state could not be read again; the earlier read then stays.
    fn refresh(&mut self) -> Result<(), ClusterError> {
        Ok(())
    }
    /// Bans `instance` from `node` (a `cli-ban` location constraint).
    fn ban(&mut self, instance: &str, node: &str) -> Result<(), ClusterError>;
    /// Pacemaker's failure record of `resource` (the primitive) on `node`
    /// (see [`FailureRecord`]), for `explain` (issue 10). `Ok(None)`:
    /// unknown, the default of an implementation that cannot read it.
    ///
    /// # Errors
    /// The cluster could not be asked.
    fn failure_record(
        &mut self,
        resource: &str,
        node: &str,
    ) -> Result<Option<FailureRecord>, ClusterError> {
        let _ = (resource, node);
        Ok(None)
    }
}
