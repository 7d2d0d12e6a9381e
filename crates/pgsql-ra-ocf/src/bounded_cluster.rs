//! The Cluster port as the operator subcommands use it (issue 13, operator
//! attack: hanging Pacemaker tools cost 20 × 30 s and gave a wrong answer
//! with exit 0).
//!
//! [`BoundedCluster`] wraps the real port for one `pgsql-ra status|explain`
//! invocation: after the first failed call (a tool that timed out, failed
//! or printed what cannot be parsed) no Pacemaker tool is run again — every
//! later call fails at once with that first error, since the real port
//! would run the same tool (`crm_mon`) again for every attribute; no call
//! starts after the deadline; and nothing is written (the operator
//! commands only read).

use std::time::Instant;

use pgsql_ra_core::ports::{Cluster, ClusterError, FailureRecord, Lifetime, NodeState};

/// A read-only, fail-once, deadline-bounded [`Cluster`].
pub struct BoundedCluster {
    inner: Box<dyn Cluster>,
    deadline: Instant,
    failed: Option<String>,
}

impl BoundedCluster {
    /// Wraps `inner`; no call starts at or after `deadline`.
    pub fn new(inner: Box<dyn Cluster>, deadline: Instant) -> BoundedCluster {
        BoundedCluster {
            inner,
            deadline,
            failed: None,
        }
    }

    /// `Err` with the remembered failure, or when the deadline has passed
    /// (which is then remembered).
    fn guard(&mut self) -> Result<(), ClusterError> {
        if self.failed.is_none() && Instant::now() >= self.deadline {
            self.failed = Some("the time allowed to read the cluster state ran out".into());
        }
        match &self.failed {
            Some(first) => Err(ClusterError(format!(
                "not asked: an earlier cluster read failed ({first})"
            ))),
            None => Ok(()),
        }
    }

    /// Remembers the first failure of a call.
    fn note<T>(&mut self, r: Result<T, ClusterError>) -> Result<T, ClusterError> {
        if let Err(e) = &r {
            self.failed.get_or_insert_with(|| e.0.clone());
        }
        r
    }
}

fn read_only() -> ClusterError {
    ClusterError("the operator commands write nothing".into())
}

impl Cluster for BoundedCluster {
    fn local_node(&mut self) -> Result<String, ClusterError> {
        self.guard()?;
        let r = self.inner.local_node();
        self.note(r)
    }

    fn nodes(&mut self) -> Result<Vec<NodeState>, ClusterError> {
        self.guard()?;
        let r = self.inner.nodes();
        self.note(r)
    }

    fn promoted_nodes(&mut self, resource: &str) -> Result<Vec<String>, ClusterError> {
        self.guard()?;
        let r = self.inner.promoted_nodes(resource);
        self.note(r)
    }

    fn get_attr(
        &mut self,
        node: &str,
        name: &str,
        lifetime: Lifetime,
    ) -> Result<Option<String>, ClusterError> {
        self.guard()?;
        let r = self.inner.get_attr(node, name, lifetime);
        self.note(r)
    }

    fn set_attr(&mut self, _: &str, _: &str, _: &str, _: Lifetime) -> Result<(), ClusterError> {
        Err(read_only())
    }

    fn refresh(&mut self) -> Result<(), ClusterError> {
        self.guard()?;
        let r = self.inner.refresh();
        self.note(r)
    }

    fn delete_attr(&mut self, _: &str, _: &str, _: Lifetime) -> Result<(), ClusterError> {
        Err(read_only())
    }

    fn ban(&mut self, _: &str, _: &str) -> Result<(), ClusterError> {
        Err(read_only())
    }

    fn failure_record(
        &mut self,
        resource: &str,
        node: &str,
    ) -> Result<Option<FailureRecord>, ClusterError> {
        // Optional (`explain` says nothing when it is unknown): its failure
        // is not remembered against the reads that follow.
        self.guard()?;
        self.inner.failure_record(resource, node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Counts calls; `get_attr` fails on the first call.
    struct Flaky {
        calls: std::rc::Rc<std::cell::Cell<usize>>,
    }

    impl Cluster for Flaky {
        fn local_node(&mut self) -> Result<String, ClusterError> {
            self.calls.set(self.calls.get() + 1);
            Ok("node1".into())
        }
        fn nodes(&mut self) -> Result<Vec<NodeState>, ClusterError> {
            self.calls.set(self.calls.get() + 1);
            Ok(Vec::new())
        }
        fn promoted_nodes(&mut self, _: &str) -> Result<Vec<String>, ClusterError> {
            self.calls.set(self.calls.get() + 1);
            Ok(Vec::new())
        }
        fn get_attr(
            &mut self,
            _: &str,
            _: &str,
            _: Lifetime,
        ) -> Result<Option<String>, ClusterError> {
            self.calls.set(self.calls.get() + 1);
            Err(ClusterError("crm_mon killed after 6s".into()))
        }
        fn set_attr(&mut self, _: &str, _: &str, _: &str, _: Lifetime) -> Result<(), ClusterError> {
            unreachable!("never written")
        }
        fn delete_attr(&mut self, _: &str, _: &str, _: Lifetime) -> Result<(), ClusterError> {
            unreachable!("never written")
        }
        fn ban(&mut self, _: &str, _: &str) -> Result<(), ClusterError> {
            unreachable!("never written")
        }
    }

    #[test]
    fn the_first_failure_is_remembered_and_nothing_is_written() {
        let calls = std::rc::Rc::new(std::cell::Cell::new(0));
        let inner = Box::new(Flaky {
            calls: calls.clone(),
        });
        let mut c = BoundedCluster::new(inner, Instant::now() + Duration::from_secs(60));
        assert_eq!(c.local_node().expect("name"), "node1");
        assert!(c.get_attr("node1", "a", Lifetime::Reboot).is_err());
        for _ in 0..20 {
            let e = c
                .get_attr("node2", "b", Lifetime::Forever)
                .expect_err("remembered");
            assert!(e.0.contains("crm_mon killed after 6s"), "{e}");
        }
        assert!(c.nodes().is_err());
        assert_eq!(calls.get(), 2, "no tool run after the failure");
        assert!(c.set_attr("node1", "a", "1", Lifetime::Reboot).is_err());
        assert!(c.delete_attr("node1", "a", Lifetime::Reboot).is_err());
        assert!(c.ban("pgsql", "node1").is_err());
    }

    #[test]
    fn no_call_starts_after_the_deadline() {
        let calls = std::rc::Rc::new(std::cell::Cell::new(0));
        let inner = Box::new(Flaky {
            calls: calls.clone(),
        });
        let mut c = BoundedCluster::new(inner, Instant::now());
        let e = c.local_node().expect_err("too late");
        assert!(e.0.contains("ran out"), "{e}");
        assert_eq!(calls.get(), 0);
    }
}
