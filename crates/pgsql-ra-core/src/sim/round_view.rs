//! Issue 16: recurring monitors that run at the same moment. Pacemaker runs
//! every node's recurring monitor on its own schedule, so on a cold start
//! they run together; the real cluster port reads the CIB once, at the
//! start of an invocation ([`crate::ports::Cluster`]), and sees its own
//! writes but not the other nodes' writes of the same moment. The
//! simulator runs actions one after another; with
//! [`crate::sim::SimConfig::concurrent_monitors`] the recurring monitors of
//! one step read the node attributes as they were when the step's
//! monitors began ([`RoundView`]), until they ask again
//! ([`crate::ports::Cluster::refresh`]).

use std::collections::BTreeMap;

use crate::memory::{AttrKey, MemClusterHandle};
use crate::ports::{Cluster, ClusterError, FailureRecord, Lifetime, NodeState};

/// A node's cluster port during a step's recurring monitors: attribute reads
/// from `frozen` (the state when the step's monitors began, or when this
/// invocation last refreshed), its own writes laid over it, every call
/// still going through the node's live handle (so that injected failures
/// and call counters behave as without the view). Membership, roles and
/// failures are read live (the simulator changes them only between the
/// monitors and the transition).
pub struct RoundView {
    live: MemClusterHandle,
    frozen: BTreeMap<AttrKey, String>,
    written: BTreeMap<AttrKey, Option<String>>,
}

impl RoundView {
    /// `live`'s port reading attributes from `frozen`.
    pub fn new(live: MemClusterHandle, frozen: BTreeMap<AttrKey, String>) -> RoundView {
        RoundView {
            live,
            frozen,
            written: BTreeMap::new(),
        }
    }
}

fn key(node: &str, name: &str, lifetime: Lifetime) -> AttrKey {
    (node.to_lowercase(), name.to_string(), lifetime)
}

impl Cluster for RoundView {
    fn local_node(&mut self) -> Result<String, ClusterError> {
        self.live.local_node()
    }

    fn nodes(&mut self) -> Result<Vec<NodeState>, ClusterError> {
        self.live.nodes()
    }

    fn promoted_nodes(&mut self, resource: &str) -> Result<Vec<String>, ClusterError> {
        self.live.promoted_nodes(resource)
    }

    fn get_attr(
        &mut self,
        node: &str,
        name: &str,
        lifetime: Lifetime,
    ) -> Result<Option<String>, ClusterError> {
        self.live.get_attr(node, name, lifetime)?;
        let k = key(node, name, lifetime);
        Ok(match self.written.get(&k) {
            Some(v) => v.clone(),
            None => self.frozen.get(&k).cloned(),
        })
    }

    fn set_attr(
        &mut self,
        node: &str,
        name: &str,
        value: &str,
        lifetime: Lifetime,
    ) -> Result<(), ClusterError> {
        self.live.set_attr(node, name, value, lifetime)?;
        self.written
            .insert(key(node, name, lifetime), Some(value.to_string()));
        Ok(())
    }

    fn delete_attr(
        &mut self,
        node: &str,
        name: &str,
        lifetime: Lifetime,
    ) -> Result<(), ClusterError> {
        self.live.delete_attr(node, name, lifetime)?;
        self.written.insert(key(node, name, lifetime), None);
        Ok(())
    }

    fn refresh(&mut self) -> Result<(), ClusterError> {
        self.live.refresh()?;
        self.frozen = self.live.cluster().attributes();
        Ok(())
    }

    fn ban(&mut self, instance: &str, node: &str) -> Result<(), ClusterError> {
        self.live.ban(instance, node)
    }

    fn failure_record(
        &mut self,
        resource: &str,
        node: &str,
    ) -> Result<Option<FailureRecord>, ClusterError> {
        self.live.failure_record(resource, node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemCluster;

    #[test]
    fn other_writes_show_only_after_a_refresh_own_writes_at_once() {
        let c = MemCluster::new(&["node1", "node2"]);
        c.put_attr("node2", "a", "old", Lifetime::Reboot);
        let mut view = RoundView::new(c.handle("node1"), c.attributes());
        c.put_attr("node2", "a", "new", Lifetime::Reboot);
        assert_eq!(
            view.get_attr("node2", "a", Lifetime::Reboot).unwrap(),
            Some("old".into())
        );
        view.set_attr("node1", "b", "mine", Lifetime::Reboot)
            .unwrap();
        assert_eq!(
            view.get_attr("node1", "b", Lifetime::Reboot).unwrap(),
            Some("mine".into())
        );
        assert_eq!(c.attr("node1", "b", Lifetime::Reboot), Some("mine".into()));
        view.refresh().unwrap();
        assert_eq!(
            view.get_attr("Node2", "a", Lifetime::Reboot).unwrap(),
            Some("new".into())
        );
        // An own delete reads back as absent, before and after a refresh.
        view.delete_attr("node2", "a", Lifetime::Reboot).unwrap();
        assert_eq!(view.get_attr("node2", "a", Lifetime::Reboot).unwrap(), None);
        c.put_attr("node2", "a", "again", Lifetime::Reboot);
        view.refresh().unwrap();
        assert_eq!(view.get_attr("node2", "a", Lifetime::Reboot).unwrap(), None);
        // Unknown nodes still fail through the live handle.
        assert!(view.get_attr("node9", "a", Lifetime::Reboot).is_err());
    }
}
