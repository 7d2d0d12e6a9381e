//! Drives the real `pgsql-ra` binary for one test "node" with OCF
//! environment variables and the file-backed attribute store.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use super::{pg_bin, PgNode};

/// The OCF environment of one node's agent.
pub struct AgentEnv {
    /// Variables passed to the binary (nothing else is inherited but PATH).
    pub vars: BTreeMap<String, String>,
}

/// What one agent run returned.
#[derive(Debug)]
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// stderr (log lines and the exit reason).
    pub stderr: String,
    /// How long it took.
    pub elapsed: Duration,
}

impl AgentEnv {
    /// A 2-node sync replication resource `pgsql` on `node`, primary at `master_ip`.
    pub fn new(node: &PgNode, attrd_dir: &str, node_list: &str, master_ip: &str) -> AgentEnv {
        let mut vars = BTreeMap::new();
        let mut set = |k: &str, v: &str| {
            vars.insert(k.to_string(), v.to_string());
        };
        set("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        set("OCF_ROOT", "/usr/lib/ocf");
        set("OCF_RESOURCE_INSTANCE", "pgsql");
        set("OCF_RESKEY_CRM_meta_timeout", "30000");
        set("OCF_RESKEY_CRM_meta_notify", "true");
        set("OCF_RESKEY_CRM_meta_promotable", "true");
        set("OCF_RESKEY_CRM_meta_promoted_max", "1");
        set("OCF_RESKEY_CRM_meta_clone_max", "2");
        set("OCF_RESKEY_pgctl", &node.server_bin("pg_ctl"));
        set("OCF_RESKEY_psql", &pg_bin("psql"));
        set("OCF_RESKEY_pgdata", &node.pgdata);
        set("OCF_RESKEY_pghost", &node.host);
        set("OCF_RESKEY_pgport", &node.port.to_string());
        set("OCF_RESKEY_socketdir", &node.socketdir);
        set("OCF_RESKEY_logfile", &node.logfile);
        set("OCF_RESKEY_tmpdir", &node.tmpdir);
        set("OCF_RESKEY_pgdb", "postgres");
        set("OCF_RESKEY_rep_mode", "sync");
        set("OCF_RESKEY_node_list", node_list);
        set("OCF_RESKEY_master_ip", master_ip);
        set("OCF_RESKEY_repuser", "postgres");
        set("OCF_RESKEY_primary_conninfo_opt", "keepalives_idle=60");
        set("OCF_RESKEY_stop_escalate", "5");
        set("OCF_RESKEY_stop_escalate_in_slave", "5");
        set("OCF_RESKEY_xlog_check_count", "1");
        set("PGSQL_RA_ATTRD_DIR", attrd_dir);
        set("PGSQL_RA_NODE", &node.name);
        AgentEnv { vars }
    }

    /// Sets (or replaces) a variable.
    pub fn set(&mut self, key: &str, value: &str) -> &mut AgentEnv {
        self.vars.insert(key.to_string(), value.to_string());
        self
    }

    /// Runs one action (monitor with the given interval in ms; 0 = probe).
    pub fn run(&self, action: &str, interval_ms: u64) -> Run {
        let start = Instant::now();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pgsql-ra"));
        cmd.arg(action)
            .env_clear()
            .envs(&self.vars)
            .env("OCF_RESKEY_CRM_meta_interval", interval_ms.to_string());
        // Like Pacemaker with the documented setup: the recurring monitor of
        // the instance the (file-backed) cluster records as Promoted carries
        // role=Master; the Unpromoted monitor carries none.
        if action == "monitor" && interval_ms > 0 && self.is_promoted() {
            cmd.env("OCF_RESKEY_CRM_meta_role", "Master");
        }
        let out = cmd.output().expect("the agent binary runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed: start.elapsed(),
        }
    }

    /// True when the file store's `promoted` file lists this node.
    fn is_promoted(&self) -> bool {
        let (Some(dir), Some(node)) = (
            self.vars.get("PGSQL_RA_ATTRD_DIR"),
            self.vars.get("PGSQL_RA_NODE"),
        ) else {
            return false;
        };
        std::fs::read_to_string(format!("{dir}/promoted")).is_ok_and(|t| {
            t.lines()
                .any(|l| l.split_whitespace().nth(1) == Some(node.as_str()))
        })
    }

    /// Runs an action and asserts its exit code.
    pub fn expect(&self, action: &str, interval_ms: u64, code: i32) -> Run {
        let r = self.run(action, interval_ms);
        assert_eq!(
            r.code, code,
            "{action} on {}: {}",
            self.vars["PGSQL_RA_NODE"], r.stderr
        );
        r
    }
}

/// Reads an attribute of the file store.
pub fn attr(attrd_dir: &str, node: &str, lifetime: &str, name: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("{attrd_dir}/attrs/{node}.{lifetime}")).ok()?;
    pgsql_ra_ocf::file_store::parse_attrs(&text).remove(name)
}
