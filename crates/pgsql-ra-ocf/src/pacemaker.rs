//! The [`Cluster`] port over Pacemaker. The cluster state is read once per
//! invocation and cached: in process, over the CIB manager's IPC channel
//! through libqb ([`crate::cib_ipc`]) or else through Pacemaker's client
//! library ([`crate::libcib`]), the whole CIB turned into crm_mon's view by
//! [`crate::cib_status`] (issue 16); else with
//! `crm_mon -1 --output-as=xml -A`. Reads come from the cache, writes go
//! through `crm_attribute` (only when the value changes) and update the
//! cache. A monitor in steady state therefore runs no program at all with
//! the library (the node name comes from Pacemaker's environment), and
//! `crm_mon` without it. A debug line says which path ran.
//!
//! Argument forms: Debian 12's Pacemaker 2.1.5 mis-parses
//! `crm_attribute -p <rsc> -v -INFINITY` (rc 105), so values are always
//! passed as `--update=<value>`, and every option in its `--long=value` form.

use std::time::Duration;

use pgsql_ra_core::ports::{
    Cluster, ClusterError, FailureRecord, Lifetime, NodeState, REFRESH_LIMIT,
};

use pgsql_ra_core::ports::{Log, LogLevel};

use crate::command::{self, Finished, Invocation};
use crate::crm_mon_xml::{self, Snapshot};
use crate::libcib;

/// How the cluster state is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CibRead {
    /// In process: the CIB manager's IPC channel, libcib when that path is
    /// unavailable, `crm_mon` when both are or the read fails.
    Library,
    /// libcib in process (the IPC channel is not tried), then `crm_mon`.
    Libcib,
    /// Always `crm_mon` (the library is not tried).
    CrmMon,
}

impl CibRead {
    /// `crm_mon` for the value `crm_mon`, [`CibRead::Libcib`] for `libcib`
    /// (case-insensitive), else the in-process path: the value of
    /// `PGSQL_RA_CIB_READ` (see `wiring`).
    pub fn from_setting(value: Option<&str>) -> CibRead {
        match value.map(str::trim) {
            Some(v) if v.eq_ignore_ascii_case("crm_mon") => CibRead::CrmMon,
            Some(v) if v.eq_ignore_ascii_case("libcib") => CibRead::Libcib,
            _ => CibRead::Library,
        }
    }

    /// The in-process path this setting starts with (`None`: crm_mon only).
    fn in_process(self) -> Option<libcib::Path> {
        match self {
            CibRead::Library => Some(libcib::Path::Ipc),
            CibRead::Libcib => Some(libcib::Path::Libcib),
            CibRead::CrmMon => None,
        }
    }
}

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

/// The part of the cluster-state read's limit `total` the in-process
/// query may use: a fifth, at least 1 s (libcib's call timeout is in whole
/// seconds), at most half; crm_mon gets what remains (attack on issue 16,
/// finding 4). A healthy CIB manager answers in milliseconds.
pub fn library_slice(total: Duration) -> Duration {
    (total / 5).max(Duration::from_secs(1)).min(total / 2)
}

/// The Pacemaker-backed cluster port.
pub struct CrmCluster {
    tools: CrmTools,
    local: Option<String>,
    snapshot: Option<Snapshot>,
    read: CibRead,
    sonames: (String, String),
    used: Option<CibRead>,
    via: Option<libcib::Path>,
    log: Option<Box<dyn Log>>,
    resource: Option<String>,
    pending: Option<libcib::PendingQuery>,
    /// This invocation's own writes, `(node, name) -> value` (`None`:
    /// deleted), laid over a snapshot read again after
    /// [`Cluster::refresh`]: attrd writes to the CIB a moment after it
    /// acknowledged, so a fresh read may not show them yet.
    written: std::collections::BTreeMap<(String, String), Option<String>>,
}

impl std::fmt::Debug for CrmCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrmCluster")
            .field("tools", &self.tools)
            .field("local", &self.local)
            .field("snapshot", &self.snapshot)
            .field("read", &self.read)
            .field("used", &self.used)
            .finish_non_exhaustive()
    }
}

impl CrmCluster {
    /// A port that will call the tools on first use.
    pub fn new(tools: CrmTools) -> CrmCluster {
        CrmCluster {
            tools,
            local: None,
            snapshot: None,
            read: CibRead::Library,
            sonames: (libcib::LIBCIB.into(), libcib::LIBCRMCOMMON.into()),
            used: None,
            via: None,
            log: None,
            resource: None,
            pending: None,
            written: std::collections::BTreeMap::new(),
        }
    }

    /// With `prefetch`, starts reading the cluster state through the library now, on its own
    /// thread, for the first call that needs it (issue 16: loading the
    /// libraries and the CIB query overlap what the action does before;
    /// the read keeps its limit, counted from now). Nothing when the
    /// library path is not chosen or a read was made or started already.
    pub fn prefetch_if(self, prefetch: bool) -> CrmCluster {
        if prefetch {
            self.prefetch()
        } else {
            self
        }
    }

    /// See [`CrmCluster::prefetch_if`].
    pub fn prefetch(mut self) -> CrmCluster {
        let Some(path) = self.read.in_process() else {
            return self;
        };
        if self.snapshot.is_none() && self.pending.is_none() {
            let limit = library_slice(self.tools.timeout);
            self.pending = libcib::start_query(&self.sonames.0, &self.sonames.1, path, limit).ok();
        }
        self
    }

    /// The resource (without the clone suffix) whose instance state
    /// [`Cluster::nodes`] reports on each node (issue 11); without it, the
    /// state is unknown everywhere.
    pub fn with_resource(mut self, resource: &str) -> CrmCluster {
        self.resource = Some(resource.to_string()).filter(|r| !r.is_empty());
        self
    }

    /// Chooses how the cluster state is read (default: the library first).
    pub fn with_cib_read(mut self, read: CibRead) -> CrmCluster {
        self.read = read;
        self
    }

    /// Loads the client libraries under other sonames (tests: another
    /// Pacemaker, or none, must fall back to crm_mon).
    #[doc(hidden)]
    pub fn with_library_sonames(mut self, libcib: &str, libcrmcommon: &str) -> CrmCluster {
        self.sonames = (libcib.to_string(), libcrmcommon.to_string());
        self
    }

    /// Logs (at debug level) which path read the cluster state, and why the
    /// library path was left.
    pub fn with_log(mut self, log: Box<dyn Log>) -> CrmCluster {
        self.log = Some(log);
        self
    }

    /// The path that gave the cached snapshot (`None` before the first
    /// read): [`CibRead::Library`] for either in-process path.
    pub fn cib_read_used(&self) -> Option<CibRead> {
        self.used
    }

    /// Which in-process path gave the last snapshot read in process.
    pub fn in_process_path(&self) -> Option<libcib::Path> {
        self.via
    }

    fn log_error(&mut self, message: &str) {
        if let Some(log) = self.log.as_mut() {
            log.log(LogLevel::Err, message);
        }
    }

    fn debug(&mut self, message: &str) {
        if let Some(log) = self.log.as_mut() {
            log.log(LogLevel::Debug, message);
        }
    }

    /// The snapshot read in process within `limit`, `Ok(None)` (after a
    /// debug line) when that path is not available, fails, or declines the
    /// CIB; `Err` when the CIB manager's channel is served by an impostor
    /// or by nobody ([`libcib::LibCibError::is_final`]: crm_mon is not run
    /// then).
    fn snapshot_from_library(&mut self, limit: Duration) -> Result<Option<Snapshot>, ClusterError> {
        let path = self.read.in_process().unwrap_or(libcib::Path::Ipc);
        let (started, answer) = match self.pending.take() {
            Some(p) => (p.started(), p.wait()),
            None => (
                std::time::Instant::now(),
                libcib::query_cib_from(&self.sonames.0, &self.sonames.1, path, limit),
            ),
        };
        if let Err(e) = &answer {
            if e.is_final() {
                let message = e.to_string();
                if matches!(e, libcib::LibCibError::Impostor(_)) {
                    self.log_error(&message);
                } else {
                    self.debug(&format!("{message}; crm_mon not run"));
                }
                return Err(ClusterError(message));
            }
        }
        let parsed = answer.map_err(|e| e.to_string()).and_then(|a| {
            let snap = crate::cib_status::parse_clear(&a.xml).map_err(|e| e.to_string())?;
            Ok((snap, a.via, a.ipc_declined))
        });
        match parsed {
            Ok((snap, via, ipc_declined)) => {
                let through = match via {
                    libcib::Path::Ipc => {
                        format!("the CIB manager's IPC channel ({})", crate::cib_ipc::LIBQB)
                    }
                    libcib::Path::Libcib => self.sonames.0.clone(),
                };
                let declined = ipc_declined
                    .map(|why| format!("; IPC channel not used: {why}"))
                    .unwrap_or_default();
                self.debug(&format!(
                    "cluster state read in process through {through} ({} ms){declined}",
                    started.elapsed().as_millis()
                ));
                self.via = Some(via);
                Ok(Some(snap))
            }
            Err(e) => {
                self.debug(&format!("{e}; reading the cluster state with crm_mon"));
                Ok(None)
            }
        }
    }

    fn snapshot_from_crm_mon(&mut self, limit: Duration) -> Result<Snapshot, ClusterError> {
        if limit.is_zero() {
            return Err(ClusterError(
                "no time left to read the cluster state with crm_mon".into(),
            ));
        }
        // crm_mon connects to `pacemakerd`, then to the CIB manager
        // (reviews of issue 16's IPC read), whichever path led here.
        if let Err(e) = crate::cib_ipc::refuse_impostors(&["pacemakerd", "cib_ro"]) {
            let message = e.to_string();
            self.log_error(&message);
            return Err(ClusterError(message));
        }
        let args = [
            "-1".to_string(),
            "--output-as=xml".to_string(),
            "-A".to_string(),
        ];
        let done = self.tools.run("crm_mon", &args, limit)?;
        if !done.success() {
            return Err(ClusterError(format!(
                "crm_mon failed ({}): {}",
                done.status_text(),
                done.output_line()
            )));
        }
        let snap = crm_mon_xml::parse(&done.stdout).map_err(|e| ClusterError(e.to_string()))?;
        self.debug("cluster state read with crm_mon");
        Ok(snap)
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

    /// Reads the cluster state once: the library path and its crm_mon
    /// fallback share one limit, `tools.timeout` (attack on issue 16,
    /// finding 4: a hung CIB manager must end the read within the same
    /// bound as crm_mon alone), the library getting [`library_slice`] of it.
    fn snapshot(&mut self) -> Result<&mut Snapshot, ClusterError> {
        if self.snapshot.is_none() {
            // A read started ahead ([`CrmCluster::prefetch`]) counts from
            // its own start: still one limit for the library and crm_mon.
            let started = self
                .pending
                .as_ref()
                .map_or_else(std::time::Instant::now, |p| p.started());
            let from_library = if self.library_path() {
                self.snapshot_from_library(library_slice(self.tools.timeout))?
            } else {
                None
            };
            let (mut snap, used) = match from_library {
                Some(snap) => (snap, CibRead::Library),
                None => {
                    let rest = self.tools.timeout.saturating_sub(started.elapsed());
                    (self.snapshot_from_crm_mon(rest)?, CibRead::CrmMon)
                }
            };
            self.lay_own_writes(&mut snap);
            self.snapshot = Some(snap);
            self.used = Some(used);
        }
        self.snapshot
            .as_mut()
            .ok_or_else(|| ClusterError("no cluster snapshot".into()))
    }

    /// True when the cluster state is read through the library: chosen,
    /// and not left for crm_mon by an earlier read of this invocation (a
    /// read again after [`Cluster::refresh`] takes the path that answered
    /// the first time).
    fn library_path(&self) -> bool {
        self.read != CibRead::CrmMon && self.used != Some(CibRead::CrmMon)
    }

    /// Lays this invocation's own writes over `snap` (a read again may not
    /// show them yet: attrd writes to the CIB after it acknowledged).
    fn lay_own_writes(&self, snap: &mut Snapshot) {
        for ((node, name), value) in &self.written {
            let attrs = snap.attrs.entry(node.clone()).or_default();
            match value {
                Some(v) => attrs.insert(name.clone(), v.clone()),
                None => attrs.remove(name),
            };
        }
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
        self.written.insert(
            (node.to_string(), name.to_string()),
            value.map(str::to_string),
        );
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
        let resource = self.resource.clone();
        Ok(self.snapshot()?.nodes_for(resource.as_deref()))
    }

    fn promoted_nodes(&mut self, resource: &str) -> Result<Vec<String>, ClusterError> {
        Ok(self.snapshot()?.promoted_nodes(resource))
    }

    /// Reads the cluster state again now, through the path that answered
    /// first (library or crm_mon), within [`REFRESH_LIMIT`], this
    /// invocation's own writes laid over it. On failure the snapshot read
    /// before stays (the review of issue 16's read-again: a CIB manager
    /// stalling after the first read must not cost the later reads of the
    /// action a full limit each).
    fn refresh(&mut self) -> Result<(), ClusterError> {
        if self.snapshot.is_none() {
            // Nothing read yet: a read started ahead is as old as the
            // invocation, so it is dropped and the next read starts anew.
            self.pending = None;
            return Ok(());
        }
        let limit = REFRESH_LIMIT.min(self.tools.timeout);
        let mut fresh = if self.library_path() {
            self.snapshot_from_library(limit)?
                .ok_or_else(|| ClusterError("the cluster state could not be read again".into()))?
        } else {
            self.snapshot_from_crm_mon(limit)?
        };
        self.lay_own_writes(&mut fresh);
        self.snapshot = Some(fresh);
        Ok(())
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
    fn the_library_gets_a_slice_of_the_read_limit() {
        let s = |ms: u64| library_slice(Duration::from_millis(ms)).as_millis();
        assert_eq!(s(5_000), 1_000);
        assert_eq!(s(10_000), 2_000);
        assert_eq!(s(30_000), 6_000);
        assert_eq!(s(1_000), 500);
        assert_eq!(s(0), 0);
    }

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

    /// Issue 16 (review of the read-again): a CIB that stalls after the
    /// first read fails the read again within [`REFRESH_LIMIT`] and keeps
    /// the first snapshot, so the action's later reads cost nothing more.
    #[test]
    fn a_failed_read_again_keeps_the_first_snapshot() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("crm-stall-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let once = dir.join("answered");
        let tool = dir.join("crm_mon");
        std::fs::write(
            &tool,
            format!(
                "#!/bin/sh\n[ -e {o} ] && exec sleep 30\ntouch {o}\n\
                 echo '<crm_mon><nodes><node name=\"node1\" online=\"true\"/></nodes>\
                 <node_attributes><node name=\"node1\"><attribute name=\"pgsql-xlog-final\" value=\"5\"/>\
                 </node></node_attributes></crm_mon>'\n",
                o = once.display()
            ),
        )
        .expect("fake crm_mon");
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let mut c = CrmCluster::new(CrmTools {
            sbin_dir: Some(dir.to_string_lossy().into_owned()),
            timeout: Duration::from_secs(20),
            forever_timeout: Duration::from_secs(20),
        })
        .with_cib_read(CibRead::CrmMon)
        .with_local_node(Some("node1"));
        assert!(c.promoted_nodes("pgsql").expect("first read").is_empty());
        let t = std::time::Instant::now();
        assert!(c.refresh().is_err(), "the CIB stalls");
        let spent = t.elapsed();
        let t = std::time::Instant::now();
        let value = c.get_attr("node1", "pgsql-xlog-final", Lifetime::Reboot);
        let later = t.elapsed();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            spent < REFRESH_LIMIT + Duration::from_millis(500),
            "{spent:?}"
        );
        assert_eq!(value.expect("cached").as_deref(), Some("5"));
        assert!(later < Duration::from_millis(100), "{later:?}");
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
