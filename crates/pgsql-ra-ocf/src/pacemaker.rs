//! The [`Cluster`] port over Pacemaker's command-line tools. The cluster
//! state is read once per invocation (`crm_mon -1 --output-as=xml -A`) and
//! cached; reads come from the cache, writes go through `crm_attribute` (only
//! when the value changes) and update the cache. A monitor in steady state
//! therefore runs `crm_node -n` and `crm_mon`, nothing else.
//!
//! Argument forms: Debian 12's Pacemaker 2.1.5 mis-parses
//! `crm_attribute -p <rsc> -v -INFINITY` (rc 105), so values are always
//! passed as `--update=<value>`, and every option in its `--long=value` form.

use std::time::Duration;

use pgsql_ra_core::ports::{Cluster, ClusterError, FailureRecord, Lifetime, NodeState};

use crate::command::{self, Finished, Invocation};
use crate::crm_mon_xml::{self, Snapshot};

/// Where the tools are and how long they may run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmTools {
    /// Directory of the tools (`HA_SBIN_DIR`); `None`: found on `PATH`.
    pub sbin_dir: Option<String>,
    /// Limit for crm_node, crm_mon, transient writes and crm_resource.
    pub timeout: Duration,
    /// Limit for one permanent (`forever`) write (`crm_attr_timeout`).
    pub forever_timeout: Duration,
}

impl CrmTools {
    fn program(&self, name: &str) -> String {
        match &self.sbin_dir {
            Some(dir) if !dir.is_empty() => format!("{}/{name}", dir.trim_end_matches('/')),
            _ => name.to_string(),
        }
    }

    fn run(
        &self,
        name: &str,
        args: &[String],
        timeout: Duration,
    ) -> Result<Finished, ClusterError> {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let inv = Invocation::new(&self.program(name), &args, timeout);
        let done = command::run(&inv).map_err(|e| ClusterError(e.to_string()))?;
        if done.timed_out {
            return Err(ClusterError(format!(
                "{} killed after {}",
                inv.display(),
                pgsql_ra_core::quote::seconds(timeout)
            )));
        }
        Ok(done)
    }
}

fn lifetime_arg(l: Lifetime) -> &'static str {
    match l {
        Lifetime::Reboot => "--lifetime=reboot",
        Lifetime::Forever => "--lifetime=forever",
    }
}

/// `crm_attribute` arguments that write `name=value` on `node`.
pub fn update_args(node: &str, name: &str, value: &str, lifetime: Lifetime) -> Vec<String> {
    vec![
        format!("--node={node}"),
        format!("--name={name}"),
        lifetime_arg(lifetime).to_string(),
        format!("--update={value}"),
    ]
}

/// `crm_attribute` arguments that delete `name` on `node`.
pub fn delete_args(node: &str, name: &str, lifetime: Lifetime) -> Vec<String> {
    vec![
        format!("--node={node}"),
        format!("--name={name}"),
        lifetime_arg(lifetime).to_string(),
        "--delete".into(),
    ]
}

/// `crm_attribute` arguments that print the value of `name` on `node`.
pub fn query_args(node: &str, name: &str, lifetime: Lifetime) -> Vec<String> {
    vec![
        format!("--node={node}"),
        format!("--name={name}"),
        lifetime_arg(lifetime).to_string(),
        "--query".into(),
        "--quiet".into(),
    ]
}

/// True when crm_attribute's failure means "no such attribute".
fn is_absent(done: &Finished) -> bool {
    done.code == Some(105) || done.stderr.contains("No such device or address")
}

/// The Pacemaker-backed cluster port.
#[derive(Debug)]
pub struct CrmCluster {
    tools: CrmTools,
    local: Option<String>,
    snapshot: Option<Snapshot>,
}

impl CrmCluster {
    /// A port that will call the tools on first use.
    pub fn new(tools: CrmTools) -> CrmCluster {
        CrmCluster {
            tools,
            local: None,
            snapshot: None,
        }
    }

    /// Uses `node` as the local node name instead of asking `crm_node -n`.
    /// Pacemaker passes it to every operation as `OCF_RESKEY_CRM_meta_on_node`,
    /// which saves a process per invocation.
    pub fn with_local_node(mut self, node: Option<&str>) -> CrmCluster {
        self.local = node
            .map(|n| n.trim().to_lowercase())
            .filter(|n| !n.is_empty());
        self
    }

    fn snapshot(&mut self) -> Result<&mut Snapshot, ClusterError> {
        if self.snapshot.is_none() {
            let args = [
                "-1".to_string(),
                "--output-as=xml".to_string(),
                "-A".to_string(),
            ];
            let done = self.tools.run("crm_mon", &args, self.tools.timeout)?;
            if !done.success() {
                return Err(ClusterError(format!(
                    "crm_mon failed ({}): {}",
                    done.status_text(),
                    done.output_line()
                )));
            }
            let snap = crm_mon_xml::parse(&done.stdout).map_err(|e| ClusterError(e.to_string()))?;
            self.snapshot = Some(snap);
        }
        self.snapshot
            .as_mut()
            .ok_or_else(|| ClusterError("no cluster snapshot".into()))
    }

    fn write_timeout(&self, lifetime: Lifetime) -> Duration {
        match lifetime {
            Lifetime::Reboot => self.tools.timeout,
            Lifetime::Forever => self.tools.forever_timeout,
        }
    }

    /// The cached value when crm_mon listed the node's attributes.
    fn cached(&mut self, node: &str, name: &str) -> Result<Option<Option<String>>, ClusterError> {
        let snap = self.snapshot()?;
        if !snap.has_attrs_of(node) {
            return Ok(None);
        }
        Ok(Some(
            snap.attrs.get(node).and_then(|a| a.get(name)).cloned(),
        ))
    }

    fn remember(&mut self, node: &str, name: &str, value: Option<&str>) {
        if let Some(snap) = self.snapshot.as_mut() {
            let attrs = snap.attrs.entry(node.to_string()).or_default();
            match value {
                Some(v) => attrs.insert(name.to_string(), v.to_string()),
                None => attrs.remove(name),
            };
        }
    }
}

impl Cluster for CrmCluster {
    fn local_node(&mut self) -> Result<String, ClusterError> {
        if let Some(n) = &self.local {
            return Ok(n.clone());
        }
        let done = self
            .tools
            .run("crm_node", &["-n".to_string()], self.tools.timeout)?;
        let name = done.stdout.trim().to_lowercase();
        if !done.success() || name.is_empty() {
            return Err(ClusterError(format!(
                "crm_node -n failed ({}): {}",
                done.status_text(),
                done.output_line()
            )));
        }
        self.local = Some(name.clone());
        Ok(name)
    }

    fn nodes(&mut self) -> Result<Vec<NodeState>, ClusterError> {
        Ok(self.snapshot()?.nodes.clone())
    }

    fn promoted_nodes(&mut self, resource: &str) -> Result<Vec<String>, ClusterError> {
        Ok(self.snapshot()?.promoted_nodes(resource))
    }

    fn get_attr(
        &mut self,
        node: &str,
        name: &str,
        lifetime: Lifetime,
    ) -> Result<Option<String>, ClusterError> {
        if let Some(value) = self.cached(node, name)? {
            return Ok(value);
        }
        let done = self.tools.run(
            "crm_attribute",
            &query_args(node, name, lifetime),
            self.tools.timeout,
        )?;
        if done.success() {
            let value = done.stdout.trim().to_string();
            return Ok(if value.is_empty() { None } else { Some(value) });
        }
        if is_absent(&done) {
            return Ok(None);
        }
        Err(ClusterError(format!(
            "reading {name} of {node} failed ({}): {}",
            done.status_text(),
            done.output_line()
        )))
    }

    fn set_attr(
        &mut self,
        node: &str,
        name: &str,
        value: &str,
        lifetime: Lifetime,
    ) -> Result<(), ClusterError> {
        if self.cached(node, name)?.flatten().as_deref() == Some(value) {
            return Ok(());
        }
        let done = self.tools.run(
            "crm_attribute",
            &update_args(node, name, value, lifetime),
            self.write_timeout(lifetime),
        )?;
        if !done.success() {
            return Err(ClusterError(format!(
                "setting {name}={value} on {node} failed ({}): {}",
                done.status_text(),
                done.output_line()
            )));
        }
        self.remember(node, name, Some(value));
        Ok(())
    }

    fn delete_attr(
        &mut self,
        node: &str,
        name: &str,
        lifetime: Lifetime,
    ) -> Result<(), ClusterError> {
        if self.cached(node, name)? == Some(None) {
            return Ok(());
        }
        let done = self.tools.run(
            "crm_attribute",
            &delete_args(node, name, lifetime),
            self.write_timeout(lifetime),
        )?;
        if !done.success() && !is_absent(&done) {
            return Err(ClusterError(format!(
                "deleting {name} on {node} failed ({}): {}",
                done.status_text(),
                done.output_line()
            )));
        }
        self.remember(node, name, None);
        Ok(())
    }

    fn ban(&mut self, instance: &str, node: &str) -> Result<(), ClusterError> {
        let args = [
            "--ban".to_string(),
            format!("--resource={instance}"),
            format!("--node={node}"),
            "--quiet".to_string(),
        ];
        let done = self.tools.run("crm_resource", &args, self.tools.timeout)?;
        if done.success() {
            Ok(())
        } else {
            Err(ClusterError(format!(
                "banning {instance} from {node} failed ({}): {}",
                done.status_text(),
                done.output_line()
            )))
        }
    }

    /// The whole CIB (`cibadmin --query`, bounded like the other tools),
    /// read by [`crate::cib_failures`]; only `explain` asks (issue 10).
    fn failure_record(
        &mut self,
        resource: &str,
        node: &str,
    ) -> Result<Option<FailureRecord>, ClusterError> {
        let done = self
            .tools
            .run("cibadmin", &["--query".to_string()], self.tools.timeout)?;
        if !done.success() {
            return Err(ClusterError(format!(
                "cibadmin --query failed ({}): {}",
                done.status_text(),
                done.output_line()
            )));
        }
        crate::cib_failures::failure_record(&done.stdout, resource, node)
            .map(Some)
            .map_err(ClusterError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pacemaker's `CRM_meta_on_node` names the node without running a tool:
    /// the tools directory here does not exist, so any call would fail.
    #[test]
    fn the_node_name_from_pacemaker_needs_no_crm_node() {
        let tools = || CrmTools {
            sbin_dir: Some("/nonexistent-sbin".to_string()),
            timeout: Duration::from_secs(1),
            forever_timeout: Duration::from_secs(1),
        };
        let mut given = CrmCluster::new(tools()).with_local_node(Some(" Node1 "));
        assert_eq!(given.local_node().unwrap(), "node1");
        let mut missing = CrmCluster::new(tools()).with_local_node(Some(""));
        assert!(missing.local_node().is_err());
    }

    /// Issue 12: no Rust debug text (`Some(102)`) in messages: a failed
    /// tool is described by its exit code.
    #[test]
    fn a_failed_tool_is_described_without_debug_text() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("crm-fake-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let tool = dir.join("crm_node");
        std::fs::write(&tool, "#!/bin/sh\necho boom >&2\nexit 102\n").expect("fake tool");
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let tools = CrmTools {
            sbin_dir: Some(dir.to_string_lossy().into_owned()),
            timeout: Duration::from_secs(5),
            forever_timeout: Duration::from_secs(5),
        };
        let e = CrmCluster::new(tools)
            .local_node()
            .expect_err("crm_node fails")
            .to_string();
        std::fs::remove_dir_all(&dir).expect("cleanup");
        assert!(!e.contains("Some(") && !e.contains("None"), "{e}");
        assert!(e.contains("exit code 102") && e.contains("boom"), "{e}");
    }

    #[test]
    fn values_are_attached_to_their_option() {
        let a = update_args("n1", "master-pgsql", "-INFINITY", Lifetime::Reboot);
        assert_eq!(
            a,
            vec![
                "--node=n1",
                "--name=master-pgsql",
                "--lifetime=reboot",
                "--update=-INFINITY"
            ]
        );
        assert_eq!(
            delete_args("n1", "x", Lifetime::Forever)[2],
            "--lifetime=forever"
        );
        assert_eq!(
            query_args("n1", "x", Lifetime::Reboot)
                .last()
                .map(String::as_str),
            Some("--quiet")
        );
    }
}
