//! Builds the real ports for one invocation from the environment map, and
//! picks the cluster backend:
//!
//! - default: Pacemaker's tools ([`CrmCluster`]);
//! - `PGSQL_RA_ATTRD_DIR=<dir>`: the file-backed store ([`FileStore`]) in
//!   `<dir>`, with `PGSQL_RA_NODE=<name>` naming the local node (for
//!   embedding outside Pacemaker and for the integration tests).

use std::collections::BTreeMap;
use std::time::Duration;

use pgsql_ra_core::ports::{Cluster, World};
use pgsql_ra_core::{Action, Agent};

use crate::budget::Budget;
use crate::clock::SystemClock;
use crate::data_dir::PgDataDir;
use crate::db::{DbTarget, PgDatabase};
use crate::file_store::FileStore;
use crate::fs::RealFs;
use crate::log::{LogConfig, OcfLog, SharedLog};
use crate::pacemaker::{CibRead, CrmCluster, CrmTools};
use crate::pg_ctl::PgCtl;
use crate::system::RealSystem;

/// Environment variable selecting the file-backed attribute store.
pub const ATTRD_DIR_VAR: &str = "PGSQL_RA_ATTRD_DIR";
/// Environment variable naming the local node for the file-backed store.
pub const NODE_VAR: &str = "PGSQL_RA_NODE";
/// How the Pacemaker port reads the cluster state ([`CibRead::from_setting`]):
/// unset, over the CIB manager's IPC channel, libcib when that path is
/// unavailable, then crm_mon; `libcib`: libcib, then crm_mon; `crm_mon`:
/// crm_mon only (for benchmarks and as escape hatches).
pub const CIB_READ_VAR: &str = "PGSQL_RA_CIB_READ";
/// The local node's name as Pacemaker passes it to every operation.
pub const ON_NODE_VAR: &str = "OCF_RESKEY_CRM_meta_on_node";

/// The cluster backend the environment selects.
pub fn cluster_from_env(
    env: &BTreeMap<String, String>,
    agent: &Agent,
    budget: &Budget,
    log: &SharedLog,
) -> Box<dyn Cluster> {
    cluster_for(env, agent, budget, log, false)
}

/// [`cluster_from_env`], the Pacemaker port starting its read of the
/// cluster state at once when `prefetch` ([`CrmCluster::prefetch`]).
fn cluster_for(
    env: &BTreeMap<String, String>,
    agent: &Agent,
    budget: &Budget,
    log: &SharedLog,
    prefetch: bool,
) -> Box<dyn Cluster> {
    match env.get(ATTRD_DIR_VAR).filter(|d| !d.is_empty()) {
        Some(dir) => Box::new(FileStore::new(
            crate::bytes_path::path(dir),
            env.get(NODE_VAR).map(String::as_str).unwrap_or(""),
        )),
        None => Box::new(
            CrmCluster::new(CrmTools {
                sbin_dir: env.get("HA_SBIN_DIR").cloned(),
                timeout: budget.command,
                forever_timeout: Duration::from_secs(u64::from(
                    agent.params.crm_attr_timeout.max(1),
                )),
            })
            .with_local_node(env.get(ON_NODE_VAR).map(String::as_str))
            .with_resource(&agent.names.resource)
            .with_cib_read(CibRead::from_setting(
                env.get(CIB_READ_VAR).map(String::as_str),
            ))
            .with_log(Box::new(log.clone()))
            .prefetch_if(prefetch),
        ),
    }
}

/// True for the actions that read the cluster state in a replication mode
/// (issue 16: the read is started before the action runs).
pub fn reads_cluster_state(agent: &Agent, action: Action) -> bool {
    agent.params.rep_mode.is_replication()
        && matches!(
            action,
            Action::Start
                | Action::Stop
                | Action::Monitor
                | Action::Promote
                | Action::Demote
                | Action::Notify
        )
}

/// Every real port, owned; [`RealWorld::world`] lends them to the core.
pub struct RealWorld {
    db: PgDatabase,
    server: PgCtl,
    cluster: Box<dyn Cluster>,
    fs: RealFs,
    clock: SystemClock,
    system: RealSystem,
    log: SharedLog,
}

impl RealWorld {
    /// Builds the ports; nothing is contacted until the core calls a port.
    pub fn new(env: &BTreeMap<String, String>, agent: &Agent) -> RealWorld {
        RealWorld::build(env, agent, false)
    }

    /// [`RealWorld::new`] for `action`: when it reads the cluster state
    /// ([`reads_cluster_state`]), the read through Pacemaker's library is
    /// started at once, on its own thread.
    pub fn for_action(env: &BTreeMap<String, String>, agent: &Agent, action: Action) -> RealWorld {
        RealWorld::build(env, agent, reads_cluster_state(agent, action))
    }

    fn build(env: &BTreeMap<String, String>, agent: &Agent, prefetch: bool) -> RealWorld {
        let budget = Budget::from_timeout_ms(agent.context.timeout_ms);
        let log = SharedLog::new(OcfLog::new(LogConfig::from_env(env)));
        let pgdba = crate::users::by_name(&agent.params.pgdba);
        let passfile =
            crate::pgpass::file_path(env.get("PGPASSFILE").map(String::as_str), pgdba.as_ref());
        // The rejoin port (issue 10): pgctl's programs as pgdba; its SQL
        // session to the primary reads the same password file.
        let data_dir = PgDataDir::new(&agent.params, budget.command).with_password_file(
            passfile.clone(),
            pgdba.clone(),
            log.clone(),
        );
        let mut db = PgDatabase::new(DbTarget::from_params(&agent.params), budget)
            .with_password_file(passfile, pgdba.clone(), log.clone())
            .with_tls(
                crate::tls::TlsSettings::from_env(
                    env.get("PGSSLMODE").map(String::as_str),
                    env.get("PGSSLROOTCERT").map(String::as_str),
                    pgdba.as_ref().map(|a| a.home.as_str()),
                )
                .map(|t| t.read_as(pgdba.clone())),
            );
        if prefetch {
            // Before the cluster read's thread starts loading libraries.
            db.prepare_runtime();
        }
        RealWorld {
            db,
            server: PgCtl::new(&agent.params, budget.command).with_data_dir(data_dir),
            cluster: cluster_for(env, agent, &budget, &log, prefetch),
            fs: RealFs::new(&agent.params.pgdba),
            clock: SystemClock::new(),
            system: RealSystem,
            log,
        }
    }

    /// Opens the database's monitoring session now when `action` is a
    /// monitor whose server runs (`postmaster.pid` exists), overlapping the
    /// cluster state's read started by [`RealWorld::for_action`] (issue 16;
    /// see [`PgDatabase::connect_early`]).
    pub fn connect_early(&mut self, agent: &Agent, action: Action) {
        let pid_file = std::path::Path::new(&crate::bytes_path::path(&agent.params.pgdata))
            .join("postmaster.pid");
        if action == Action::Monitor && pid_file.exists() {
            self.db.connect_early();
        }
    }

    /// Replaces the cluster port with `wrap(port)` (the operator commands
    /// bound it in time and make it read-only, [`crate::bounded_cluster`]).
    pub fn map_cluster(self, wrap: impl FnOnce(Box<dyn Cluster>) -> Box<dyn Cluster>) -> RealWorld {
        RealWorld {
            cluster: wrap(self.cluster),
            ..self
        }
    }

    /// Logs the exit reason as `ocf_exit_reason` does (see
    /// [`crate::log::OcfLog::exit_reason`]).
    pub fn log_exit_reason(&self, reason: &str) {
        self.log.exit_reason(reason);
    }

    /// Logs an ERROR once, stderr included when it is the log (see
    /// [`crate::log::OcfLog::error_once`]).
    pub fn log_error_once(&self, reason: &str) {
        self.log.error_once(reason);
    }

    /// Logs one debug line (shown only with `HA_debug`).
    pub fn log_debug(&mut self, message: &str) {
        use pgsql_ra_core::ports::{Log, LogLevel};
        self.log.log(LogLevel::Debug, message);
    }

    /// The ports as the core's [`World`].
    pub fn world(&mut self) -> World<'_> {
        World {
            db: &mut self.db,
            server: &mut self.server,
            cluster: self.cluster.as_mut(),
            fs: &mut self.fs,
            clock: &mut self.clock,
            system: &mut self.system,
            log: &mut self.log,
        }
    }
}
