//! A multi-node simulator, like raft-rs's `Network`: several agents sharing
//! one [`MemCluster`] and [`SimNetwork`], each node with its own [`MemFs`],
//! driven step by step the way Pacemaker drives them. [`script`] reads the
//! transcript-style scenario files of `fixtures/`; [`strategy`] and
//! [`faults`] are the proptest strategies and the fault schedules (with
//! their runner) for property tests of this crate and of others (issue 18).

mod env;
pub mod faults;
mod pacemaker;
pub mod round_view;
pub mod script;
pub mod strategy;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::action::Action;
use crate::agent::Agent;
use crate::memory::{
    InstanceSpec, MemClock, MemCluster, MemFs, MemSystem, MemoryLog, SimNetwork, SimPostgres,
};
use crate::ocf::Outcome;
use crate::ports::{Lifetime, World};

pub use env::{NotifyEnv, OpEnv};
pub use pacemaker::{
    MonitorRoles, Op, PcmkRole, PromotionRecord, PROMOTED_INTERVAL_MS, UNPROMOTED_INTERVAL_MS,
};

/// The VIP (`master_ip`) standbys connect to; like a VIP colocated with the
/// Promoted role, it is placed on the Promoted instance after its promote and
/// removed after its demote (the seed orders the demote before the VIP
/// group's stop) and before its stop.
pub const VIP: &str = "192.168.2.3";
/// The data directory of every simulated node.
pub const PGDATA: &str = "/var/lib/pgsql/data";
/// The agent's `tmpdir` on every simulated node.
pub const TMPDIR: &str = "/var/lib/pgsql/tmp";
/// The resource (primitive) name.
pub const RESOURCE: &str = "pgsql";

/// How the simulated cluster is configured.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Node names, in `node_list` order.
    pub nodes: Vec<String>,
    /// Extra or overriding agent parameters (without `OCF_RESKEY_`).
    pub params: BTreeMap<String, String>,
    /// `server_version_num` of every node.
    pub version_num: u32,
    /// The clone's `notify` meta attribute.
    pub notify: bool,
    /// Pacemaker's `migration-threshold` (0: never move away).
    pub migration_threshold: u32,
    /// The `CRM_meta_role` values recurring monitors get.
    pub monitor_roles: MonitorRoles,
    /// The clone's `failure-timeout` in seconds (`None`: not set), reported
    /// through the cluster's failure record (`explain`, issue 10); the
    /// simulator does not expire failures by itself (`cleanup` stands for it).
    pub failure_timeout_s: Option<u64>,
    /// Issue 16: the recurring monitors of one step run at the same moment:
    /// each reads the node attributes as they were when the step's monitors
    /// began (its own writes aside) until it refreshes its read
    /// ([`round_view::RoundView`]), as the real port does. Off (the
    /// default, the scenario files): each monitor sees every earlier write.
    pub concurrent_monitors: bool,
}

impl SimConfig {
    /// A sync-mode cluster of the named nodes on PostgreSQL 15, notify on,
    /// migration-threshold 1 (the documented setup).
    pub fn new(nodes: &[&str]) -> SimConfig {
        let mut params = BTreeMap::new();
        params.insert("rep_mode".into(), "sync".into());
        params.insert("node_list".into(), nodes.join(" "));
        params.insert("master_ip".into(), VIP.into());
        params.insert(
            "restore_command".into(),
            "cp /var/lib/pgsql/pg_archive/%f %p".into(),
        );
        params.insert("pgdata".into(), PGDATA.into());
        params.insert("tmpdir".into(), TMPDIR.into());
        SimConfig {
            nodes: nodes.iter().map(|n| n.to_string()).collect(),
            params,
            version_num: 150004,
            notify: true,
            migration_threshold: 1,
            monitor_roles: MonitorRoles::Seed,
            failure_timeout_s: None,
            concurrent_monitors: false,
        }
    }
}

/// One simulated node: its filesystem, machine, PostgreSQL and Pacemaker view.
#[derive(Debug)]
pub struct SimNode {
    /// The node's name.
    pub name: String,
    /// Its clone instance, e.g. `pgsql:0`.
    pub instance: String,
    /// Its filesystem.
    pub fs: MemFs,
    /// Its users and programs.
    pub system: MemSystem,
    /// Its PostgreSQL.
    pub pg: SimPostgres,
    /// What Pacemaker believes the instance is doing.
    pub role: PcmkRole,
    /// Pacemaker's fail count of the resource on this node.
    pub fail_count: u32,
    /// True when the last operation or monitor failed and recovery is due.
    pub failed: bool,
    /// Log lines of the last action run here.
    pub last_log: MemoryLog,
}

/// One agent invocation and its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The node it ran on.
    pub node: String,
    /// A label such as `start`, `monitor`, `probe` or `notify pre-promote`.
    pub label: String,
    /// The result.
    pub outcome: Outcome,
    /// Attribute changes, one line each (`node name: old -> new`).
    pub changes: Vec<String>,
    /// What the agent logged during it, every level, oldest first.
    pub log: Vec<(crate::ports::LogLevel, String)>,
}

/// The simulated cluster.
#[derive(Debug)]
pub struct Sim {
    /// The configuration.
    pub config: SimConfig,
    /// Pacemaker's shared attribute store and view.
    pub cluster: MemCluster,
    /// The PostgreSQL instances and their replication links.
    pub net: SimNetwork,
    /// Virtual time shared by every node.
    pub clock: MemClock,
    /// The nodes, by name.
    pub nodes: BTreeMap<String, SimNode>,
    /// Every invocation since the last [`Sim::take_invocations`].
    pub invocations: Vec<Invocation>,
    /// Every promote Pacemaker ran, with the servers' state when it decided
    /// (for oracles; drain it with `std::mem::take`).
    pub promotions: Vec<PromotionRecord>,
    /// The attributes when the current step's recurring monitors began,
    /// while they run with [`SimConfig::concurrent_monitors`].
    round_view: Option<BTreeMap<crate::memory::AttrKey, String>>,
}

fn describe(v: Option<&String>) -> String {
    v.cloned().unwrap_or_else(|| "(none)".to_string())
}

/// The lines describing how the attributes changed between two snapshots.
pub fn attr_changes(
    before: &BTreeMap<crate::memory::AttrKey, String>,
    after: &BTreeMap<crate::memory::AttrKey, String>,
) -> Vec<String> {
    let mut keys: Vec<&crate::memory::AttrKey> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| {
            let forever = if k.2 == Lifetime::Forever {
                " (forever)"
            } else {
                ""
            };
            format!(
                "{} {}{}: {} -> {}",
                k.0,
                k.1,
                forever,
                describe(before.get(k)),
                describe(after.get(k))
            )
        })
        .collect()
}

impl Sim {
    /// Builds the cluster: every node online, PostgreSQL stopped at the same
    /// LSN, data directories laid out, nothing probed yet.
    pub fn new(config: SimConfig) -> Sim {
        let names: Vec<&str> = config.nodes.iter().map(String::as_str).collect();
        let cluster = MemCluster::new(&names);
        let net = SimNetwork::new(VIP);
        net.place_vip(None);
        let mut nodes = BTreeMap::new();
        for (i, name) in config.nodes.iter().enumerate() {
            let fs = MemFs::new("postgres");
            fs.mkdir_p("/var/lib/pgsql", "postgres", 0o700);
            fs.put("/dev/null", "", "root", 0o666);
            let mut spec = InstanceSpec::pg15(PGDATA);
            spec.version_num = config.version_num;
            let pg = net.add_node(name, fs.clone(), spec);
            nodes.insert(
                name.clone(),
                SimNode {
                    name: name.clone(),
                    instance: format!("{RESOURCE}:{i}"),
                    fs,
                    system: MemSystem::standard(),
                    pg,
                    role: PcmkRole::Unknown,
                    fail_count: 0,
                    failed: false,
                    last_log: MemoryLog::default(),
                },
            );
        }
        let clock = MemClock::new();
        net.set_clock(clock.clone());
        cluster.set_failure_meta(Some(config.migration_threshold), config.failure_timeout_s);
        Sim {
            config,
            cluster,
            net,
            clock,
            nodes,
            invocations: Vec::new(),
            promotions: Vec::new(),
            round_view: None,
        }
    }

    /// Node names in `node_list` order.
    pub fn node_names(&self) -> Vec<String> {
        self.config.nodes.clone()
    }

    /// Runs one action on one node with the environment `op` and records it.
    pub fn run(&mut self, node: &str, action: Action, op: &OpEnv, label: &str) -> Outcome {
        let Some(n) = self.nodes.get_mut(node) else {
            return Outcome::fail(crate::ocf::OcfExit::ErrArgs, format!("no node {node}"));
        };
        let env = op.to_env(&self.config, &n.instance);
        let agent = Agent::from_env_map(&env);
        n.system
            .set_connection_answer(self.net.receiver_answer(node));
        let before = self.cluster.attributes();
        let mut db = n.pg.clone();
        let mut server = n.pg.clone();
        let handle = self.cluster.handle(node);
        let mut cluster: Box<dyn crate::ports::Cluster> = match &self.round_view {
            Some(frozen) if action == Action::Monitor => {
                Box::new(round_view::RoundView::new(handle, frozen.clone()))
            }
            _ => Box::new(handle),
        };
        let mut fs = n.fs.clone();
        let mut clock = self.clock.clone();
        let mut log = MemoryLog::default();
        let outcome = {
            let mut world = World {
                db: &mut db,
                server: &mut server,
                cluster: cluster.as_mut(),
                fs: &mut fs,
                clock: &mut clock,
                system: &mut n.system,
                log: &mut log,
            };
            agent.run(action, &mut world)
        };
        let lines = log.lines.clone();
        n.last_log = log;
        let changes = attr_changes(&before, &self.cluster.attributes());
        self.invocations.push(Invocation {
            node: node.to_string(),
            label: label.to_string(),
            outcome: outcome.clone(),
            changes,
            log: lines,
        });
        outcome
    }

    /// What `pgsql-ra explain` would say on `node`: a snapshot read through
    /// that node's ports (reads only, no invocation recorded), explained by
    /// [`crate::explain::explain`]. `None` for an unknown node.
    pub fn explain(&mut self, node: &str) -> Option<crate::explain::Explanation> {
        let op = self.action_env(&self.role_lists());
        let n = self.nodes.get_mut(node)?;
        let env = op.to_env(&self.config, &n.instance);
        let agent = Agent::from_env_map(&env);
        let mut db = n.pg.clone();
        let mut server = n.pg.clone();
        let mut cluster = self.cluster.handle(node);
        let mut fs = n.fs.clone();
        let mut clock = self.clock.clone();
        let mut log = MemoryLog::default();
        let mut world = World {
            db: &mut db,
            server: &mut server,
            cluster: &mut cluster,
            fs: &mut fs,
            clock: &mut clock,
            system: &mut n.system,
            log: &mut log,
        };
        let snap = crate::explain::gather::gather(&agent.params, &agent.names, &mut world);
        Some(crate::explain::explain(&agent.params, &snap))
    }

    /// Takes the recorded invocations.
    pub fn take_invocations(&mut self) -> Vec<Invocation> {
        std::mem::take(&mut self.invocations)
    }

    /// Moves virtual time forward.
    pub fn advance(&self, d: Duration) {
        self.clock.advance(d);
    }

    /// The promotion score of a node, as text.
    pub fn score(&self, node: &str) -> Option<String> {
        self.cluster
            .attr(node, &format!("master-{RESOURCE}"), Lifetime::Reboot)
    }

    /// The `<rsc>-data-status` of a node.
    pub fn data_status(&self, node: &str) -> Option<String> {
        self.cluster
            .attr(node, &format!("{RESOURCE}-data-status"), Lifetime::Forever)
    }

    /// The `<rsc>-status` of a node.
    pub fn status(&self, node: &str) -> Option<String> {
        self.cluster
            .attr(node, &format!("{RESOURCE}-status"), Lifetime::Reboot)
    }
}
