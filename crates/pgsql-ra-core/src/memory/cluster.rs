//! [`MemCluster`]: Pacemaker's attribute store and cluster view, shared by
//! every node of a simulated cluster; [`MemClusterHandle`] is one node's
//! view of it (what `crm_attribute`/`crm_mon` give the agent on that node).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use crate::ports::{Cluster, ClusterError, FailureRecord, InstanceState, Lifetime, NodeState};

/// How many calls of each kind the agents made (for scaling tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallCounters {
    /// `get_attr` calls.
    pub reads: u64,
    /// `set_attr`, `delete_attr` and `ban` calls.
    pub writes: u64,
    /// `nodes`, `promoted_nodes` and `local_node` calls.
    pub view_reads: u64,
}

/// The cluster-view reads of [`CallCounters::view_reads`], per method (for
/// benchmarks that report the breakdown). Reset with the other counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ViewReadCounters {
    /// `nodes` calls.
    pub nodes: u64,
    /// `promoted_nodes` calls.
    pub promoted_nodes: u64,
    /// `local_node` calls.
    pub local_node: u64,
}

/// The key of one attribute: node, name and lifetime.
pub type AttrKey = (String, String, Lifetime);

#[derive(Debug, Default)]
struct State {
    /// Node name → online.
    nodes: BTreeMap<String, bool>,
    /// Reboot attributes (attrd) and forever attributes (CIB), kept apart.
    attrs: BTreeMap<AttrKey, String>,
    /// Resource → nodes where it is promoted.
    promoted: BTreeMap<String, BTreeSet<String>>,
    /// Node → what Pacemaker shows of the instance of the resource under
    /// test there (issue 11); absent: unknown.
    instances: BTreeMap<String, InstanceState>,
    /// (instance, node) location bans.
    bans: BTreeSet<(String, String)>,
    counters: CallCounters,
    view_counters: ViewReadCounters,
    /// Calls still to fail (an unreachable CIB or attrd).
    fail_next: u32,
    /// (resource, node) → Pacemaker's fail-count there and the time of the
    /// last failure (seconds since the epoch, when known); absent: none.
    failures: BTreeMap<(String, String), (u32, Option<u64>)>,
    /// `migration-threshold` and `failure-timeout` (seconds) of the clone,
    /// as reported with every failure record; `None`: unknown/not set.
    failure_meta: (Option<u32>, Option<u64>),
}

/// The attribute store and cluster view shared by several nodes.
#[derive(Debug, Clone, Default)]
pub struct MemCluster {
    state: Rc<RefCell<State>>,
}

impl MemCluster {
    /// A cluster of online nodes (names lower-cased).
    pub fn new(nodes: &[&str]) -> MemCluster {
        let c = MemCluster::default();
        for n in nodes {
            c.add_node(n, true);
        }
        c
    }

    /// A handle for the agent running on `local`.
    pub fn handle(&self, local: &str) -> MemClusterHandle {
        MemClusterHandle {
            cluster: self.clone(),
            local: local.to_lowercase(),
        }
    }

    /// Adds (or updates) a node.
    pub fn add_node(&self, name: &str, online: bool) {
        self.state
            .borrow_mut()
            .nodes
            .insert(name.to_lowercase(), online);
    }

    /// Brings a node online or takes it offline. Going offline drops its
    /// reboot attributes and its promoted roles, like attrd and the CIB status do.
    pub fn set_online(&self, name: &str, online: bool) {
        let name = name.to_lowercase();
        let mut s = self.state.borrow_mut();
        s.nodes.insert(name.clone(), online);
        if !online {
            s.attrs
                .retain(|(n, _, l), _| !(n == &name && *l == Lifetime::Reboot));
            for nodes in s.promoted.values_mut() {
                nodes.remove(&name);
            }
        }
    }

    /// True when the node is known and online.
    pub fn is_online(&self, name: &str) -> bool {
        self.state
            .borrow()
            .nodes
            .get(&name.to_lowercase())
            .copied()
            .unwrap_or(false)
    }

    /// Sets or clears the Promoted role of `resource` on `node` (what Pacemaker records).
    pub fn set_promoted(&self, resource: &str, node: &str, promoted: bool) {
        let mut s = self.state.borrow_mut();
        let set = s.promoted.entry(resource.to_string()).or_default();
        if promoted {
            set.insert(node.to_lowercase());
        } else {
            set.remove(&node.to_lowercase());
        }
    }

    /// Records what Pacemaker shows of the instance of the resource under
    /// test on `node` (reported as [`NodeState::instance`]; unknown until set).
    pub fn set_instance(&self, node: &str, state: InstanceState) {
        self.state
            .borrow_mut()
            .instances
            .insert(node.to_lowercase(), state);
    }

    /// Nodes where `resource` is promoted, sorted.
    pub fn promoted(&self, resource: &str) -> Vec<String> {
        self.state
            .borrow()
            .promoted
            .get(resource)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Reads an attribute without counting the call.
    pub fn attr(&self, node: &str, name: &str, lifetime: Lifetime) -> Option<String> {
        self.state
            .borrow()
            .attrs
            .get(&(node.to_lowercase(), name.to_string(), lifetime))
            .cloned()
    }

    /// Writes an attribute without counting the call (scenario setup).
    pub fn put_attr(&self, node: &str, name: &str, value: &str, lifetime: Lifetime) {
        self.state.borrow_mut().attrs.insert(
            (node.to_lowercase(), name.to_string(), lifetime),
            value.to_string(),
        );
    }

    /// Deletes an attribute without counting the call (operator cleanup).
    pub fn remove_attr(&self, node: &str, name: &str, lifetime: Lifetime) {
        self.state
            .borrow_mut()
            .attrs
            .remove(&(node.to_lowercase(), name.to_string(), lifetime));
    }

    /// Every attribute, sorted by node, name and lifetime.
    pub fn attributes(&self) -> BTreeMap<AttrKey, String> {
        self.state.borrow().attrs.clone()
    }

    /// Every location ban as (instance, node).
    pub fn bans(&self) -> Vec<(String, String)> {
        self.state.borrow().bans.iter().cloned().collect()
    }

    /// Adds a ban without counting the call (migration-threshold reached).
    pub fn put_ban(&self, instance: &str, node: &str) {
        self.state
            .borrow_mut()
            .bans
            .insert((instance.to_string(), node.to_lowercase()));
    }

    /// Removes every ban of `node` (operator `crm_resource --clear`).
    pub fn clear_bans(&self, node: &str) {
        let node = node.to_lowercase();
        self.state.borrow_mut().bans.retain(|(_, n)| *n != node);
    }

    /// True when some instance of `resource` is banned from `node`.
    pub fn is_banned(&self, resource: &str, node: &str) -> bool {
        let node = node.to_lowercase();
        self.state
            .borrow()
            .bans
            .iter()
            .any(|(i, n)| *n == node && crate::names::resource_name(i) == resource)
    }

    /// The call counters so far.
    pub fn counters(&self) -> CallCounters {
        self.state.borrow().counters
    }

    /// The cluster-view reads so far, per method (their sum is
    /// [`CallCounters::view_reads`]).
    pub fn view_read_counters(&self) -> ViewReadCounters {
        self.state.borrow().view_counters
    }

    /// Resets the call counters (including the per-method view reads).
    pub fn reset_counters(&self) {
        let mut s = self.state.borrow_mut();
        s.counters = CallCounters::default();
        s.view_counters = ViewReadCounters::default();
    }

    /// Makes the next `n` calls of any handle fail (CIB or attrd unreachable).
    pub fn fail_next_calls(&self, n: u32) {
        self.state.borrow_mut().fail_next = n;
    }

    /// Sets the clone's `migration-threshold` and `failure-timeout`
    /// (seconds) that [`Cluster::failure_record`] reports with every
    /// record, the ones already there included. Reported only: the
    /// simulator's Pacemaker expires nothing by itself (scripts stand for
    /// the expiry with `cleanup`).
    pub fn set_failure_meta(
        &self,
        migration_threshold: Option<u32>,
        failure_timeout_s: Option<u64>,
    ) {
        self.state.borrow_mut().failure_meta = (migration_threshold, failure_timeout_s);
    }

    /// Records `resource`'s fail-count on `node` ([`FailureRecord::INFINITY`]
    /// for INFINITY) and when the last failure happened, if known; a count
    /// of 0 forgets the record (`crm_resource --cleanup`).
    pub fn set_fail_count(
        &self,
        resource: &str,
        node: &str,
        fail_count: u32,
        last_failure_epoch_s: Option<u64>,
    ) {
        let mut s = self.state.borrow_mut();
        let key = (resource.to_string(), node.to_lowercase());
        if fail_count == 0 {
            s.failures.remove(&key);
            return;
        }
        s.failures.insert(key, (fail_count, last_failure_epoch_s));
    }

    /// All node names, sorted.
    pub fn node_names(&self) -> Vec<String> {
        self.state.borrow().nodes.keys().cloned().collect()
    }
}

/// One node's handle on the shared [`MemCluster`]; implements [`Cluster`].
#[derive(Debug, Clone)]
pub struct MemClusterHandle {
    cluster: MemCluster,
    local: String,
}

impl MemClusterHandle {
    /// The shared store behind this handle.
    pub fn cluster(&self) -> &MemCluster {
        &self.cluster
    }

    fn begin(
        &self,
        count: impl FnOnce(&mut CallCounters),
    ) -> Result<std::cell::RefMut<'_, State>, ClusterError> {
        self.begin_view(count, |_| {})
    }

    /// Like `begin`, also counting a cluster-view read per method.
    fn begin_view(
        &self,
        count: impl FnOnce(&mut CallCounters),
        view: impl FnOnce(&mut ViewReadCounters),
    ) -> Result<std::cell::RefMut<'_, State>, ClusterError> {
        let mut s = self.cluster.state.borrow_mut();
        count(&mut s.counters);
        view(&mut s.view_counters);
        if s.fail_next > 0 {
            s.fail_next -= 1;
            return Err(ClusterError(
                "could not connect to the cluster (simulated failure)".into(),
            ));
        }
        Ok(s)
    }

    fn known(s: &State, node: &str) -> Result<String, ClusterError> {
        let node = node.to_lowercase();
        if s.nodes.contains_key(&node) {
            Ok(node)
        } else {
            Err(ClusterError(format!("Could not map name={node} to a UUID")))
        }
    }
}

impl Cluster for MemClusterHandle {
    fn local_node(&mut self) -> Result<String, ClusterError> {
        self.begin_view(|c| c.view_reads += 1, |v| v.local_node += 1)?;
        Ok(self.local.clone())
    }

    fn nodes(&mut self) -> Result<Vec<NodeState>, ClusterError> {
        let s = self.begin_view(|c| c.view_reads += 1, |v| v.nodes += 1)?;
        Ok(s.nodes
            .iter()
            .map(|(name, online)| NodeState {
                name: name.clone(),
                online: *online,
                instance: s.instances.get(name).copied().unwrap_or_default(),
            })
            .collect())
    }

    fn promoted_nodes(&mut self, resource: &str) -> Result<Vec<String>, ClusterError> {
        let s = self.begin_view(|c| c.view_reads += 1, |v| v.promoted_nodes += 1)?;
        Ok(s.promoted
            .get(resource)
            .map(|n| n.iter().cloned().collect())
            .unwrap_or_default())
    }

    fn get_attr(
        &mut self,
        node: &str,
        name: &str,
        lifetime: Lifetime,
    ) -> Result<Option<String>, ClusterError> {
        let s = self.begin(|c| c.reads += 1)?;
        let node = Self::known(&s, node)?;
        Ok(s.attrs.get(&(node, name.to_string(), lifetime)).cloned())
    }

    fn set_attr(
        &mut self,
        node: &str,
        name: &str,
        value: &str,
        lifetime: Lifetime,
    ) -> Result<(), ClusterError> {
        let mut s = self.begin(|c| c.writes += 1)?;
        let node = Self::known(&s, node)?;
        s.attrs
            .insert((node, name.to_string(), lifetime), value.to_string());
        Ok(())
    }

    fn delete_attr(
        &mut self,
        node: &str,
        name: &str,
        lifetime: Lifetime,
    ) -> Result<(), ClusterError> {
        let mut s = self.begin(|c| c.writes += 1)?;
        let node = Self::known(&s, node)?;
        s.attrs.remove(&(node, name.to_string(), lifetime));
        Ok(())
    }

    fn ban(&mut self, instance: &str, node: &str) -> Result<(), ClusterError> {
        let mut s = self.begin(|c| c.writes += 1)?;
        let node = Self::known(&s, node)?;
        s.bans.insert((instance.to_string(), node));
        Ok(())
    }

    fn failure_record(
        &mut self,
        resource: &str,
        node: &str,
    ) -> Result<Option<FailureRecord>, ClusterError> {
        // Not counted: only `explain` reads it, never an action.
        let s = self.begin_view(|_| {}, |_| {})?;
        let node = Self::known(&s, node)?;
        let (migration_threshold, failure_timeout_s) = s.failure_meta;
        let (fail_count, last_failure_epoch_s) = s
            .failures
            .get(&(resource.to_string(), node))
            .copied()
            .unwrap_or((0, None));
        Ok(Some(FailureRecord {
            fail_count,
            last_failure_epoch_s,
            migration_threshold,
            failure_timeout_s,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_records_carry_the_current_meta_and_a_cleanup_forgets_them() {
        let c = MemCluster::new(&["node1", "node2"]);
        let mut h = c.handle("node2");
        c.set_failure_meta(Some(1), None);
        c.set_fail_count("pgsql", "Node1", 1, Some(42));
        let r = h.failure_record("pgsql", "node1").unwrap().unwrap();
        assert_eq!((r.fail_count, r.last_failure_epoch_s), (1, Some(42)));
        assert!(r.blocks());
        c.set_failure_meta(Some(1), Some(10));
        let r = h.failure_record("pgsql", "node1").unwrap().unwrap();
        assert_eq!(r.failure_timeout_s, Some(10));
        assert_eq!(
            h.failure_record("pgsql", "node2")
                .unwrap()
                .unwrap()
                .fail_count,
            0
        );
        c.set_fail_count("pgsql", "node1", 0, None);
        assert!(!h
            .failure_record("pgsql", "node1")
            .unwrap()
            .unwrap()
            .blocks());
        assert!(h.failure_record("pgsql", "node9").is_err());
    }

    #[test]
    fn handles_share_one_store_and_count_calls() {
        let c = MemCluster::new(&["Node1", "node2"]);
        let mut h1 = c.handle("node1");
        let mut h2 = c.handle("node2");
        h1.set_attr("node2", "pgsql-status", "HS:sync", Lifetime::Reboot)
            .unwrap();
        h1.set_attr(
            "node2",
            "pgsql-data-status",
            "STREAMING|SYNC",
            Lifetime::Forever,
        )
        .unwrap();
        assert_eq!(
            h2.get_attr("node2", "pgsql-status", Lifetime::Reboot)
                .unwrap()
                .as_deref(),
            Some("HS:sync")
        );
        assert_eq!(
            h2.get_attr("node2", "pgsql-status", Lifetime::Forever)
                .unwrap(),
            None
        );
        assert_eq!(h2.local_node().unwrap(), "node2");
        assert!(h1.set_attr("node9", "x", "1", Lifetime::Reboot).is_err());
        assert_eq!(
            c.counters(),
            CallCounters {
                reads: 2,
                writes: 3,
                view_reads: 1
            }
        );
        assert_eq!(c.view_read_counters().local_node, 1);
        c.reset_counters();
        assert_eq!(c.view_read_counters(), ViewReadCounters::default());
    }

    #[test]
    fn going_offline_drops_reboot_attributes_and_roles() {
        let c = MemCluster::new(&["node1", "node2"]);
        c.put_attr("node1", "master-pgsql", "1000", Lifetime::Reboot);
        c.put_attr("node1", "pgsql-data-status", "LATEST", Lifetime::Forever);
        c.set_promoted("pgsql", "node1", true);
        c.set_online("node1", false);
        assert_eq!(c.attr("node1", "master-pgsql", Lifetime::Reboot), None);
        assert_eq!(
            c.attr("node1", "pgsql-data-status", Lifetime::Forever)
                .as_deref(),
            Some("LATEST")
        );
        assert!(c.promoted("pgsql").is_empty());
        let mut h = c.handle("node2");
        assert_eq!(
            h.nodes().unwrap()[0],
            NodeState {
                name: "node1".into(),
                online: false,
                instance: InstanceState::Unknown,
            }
        );
        c.set_instance("Node1", InstanceState::Stopped);
        assert_eq!(h.nodes().unwrap()[0].instance, InstanceState::Stopped);
    }

    #[test]
    fn simulated_failures_and_bans() {
        let c = MemCluster::new(&["node1"]);
        let mut h = c.handle("node1");
        c.fail_next_calls(1);
        assert!(h.get_attr("node1", "x", Lifetime::Reboot).is_err());
        assert!(h.get_attr("node1", "x", Lifetime::Reboot).is_ok());
        h.ban("pgsql:0", "node1").unwrap();
        assert!(c.is_banned("pgsql", "node1"));
        c.clear_bans("node1");
        assert!(c.bans().is_empty());
    }
}
