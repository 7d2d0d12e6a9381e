//! In-memory scaling bench for issue 6.
//!
//! Runs the core's `monitor` (through `Agent::run`, the same entry point the
//! OCF binary uses) on the primary and on one standby of a healthy simulated
//! cluster with N = 2..=16 nodes in `node_list`, and counts the calls made to
//! the cluster-state and attribute port (`Cluster`), per method. The claim
//! to check: cluster-view reads (`nodes`, `promoted_nodes`, `local_node`)
//! stay flat in N; per-node attribute reads may grow with N only where the
//! agent has to look at every standby (the primary's sync-standby choice).
//!
//! Self-contained fakes for every port (only the traits of `pgsql-ra-core`
//! are used), so the bench does not depend on the simulator's internals.
//!
//! Output: a markdown table on stdout, and `--json FILE` for the report.
//! Exit status: 0 = measured and view reads flat, 1 = view reads grow with N,
//! 2 = usage, 3 = monitor not implemented yet in the core (nothing to count).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::time::Duration;

use pgsql_ra_core::lsn::Lsn;
use pgsql_ra_core::ports::{
    Clock, Cluster, ClusterError, Database, DbError, FileMeta, FileOwner, Filesystem, FsError,
    Lifetime, MemoryLog, NodeState, ProcessError, ReplicationRow, Server, StopMode, System,
    UserInfo, World,
};
use pgsql_ra_core::{Action, Agent, OcfExit};

// ------------------------------------------------------------------ counting cluster

#[derive(Debug, Default, Clone)]
struct Counts {
    calls: BTreeMap<&'static str, u64>,
}

impl Counts {
    fn get(&self, k: &str) -> u64 {
        self.calls.get(k).copied().unwrap_or(0)
    }
    fn view_reads(&self) -> u64 {
        self.get("local_node") + self.get("nodes") + self.get("promoted_nodes")
    }
    fn attr_reads(&self) -> u64 {
        self.get("get_attr")
    }
    fn writes(&self) -> u64 {
        self.get("set_attr") + self.get("delete_attr") + self.get("ban")
    }
}

#[derive(Default)]
struct ClusterState {
    nodes: Vec<String>,
    promoted: Vec<String>,
    attrs: HashMap<(String, String, Lifetime), String>,
    counts: Counts,
}

struct CountingCluster {
    state: Rc<RefCell<ClusterState>>,
    local: String,
}

impl CountingCluster {
    fn tick(&self, k: &'static str) {
        *self.state.borrow_mut().counts.calls.entry(k).or_default() += 1;
    }
}

impl Cluster for CountingCluster {
    fn local_node(&mut self) -> Result<String, ClusterError> {
        self.tick("local_node");
        Ok(self.local.clone())
    }
    fn nodes(&mut self) -> Result<Vec<NodeState>, ClusterError> {
        self.tick("nodes");
        Ok(self
            .state
            .borrow()
            .nodes
            .iter()
            .map(|n| NodeState {
                name: n.clone(),
                online: true,
            })
            .collect())
    }
    fn promoted_nodes(&mut self, _resource: &str) -> Result<Vec<String>, ClusterError> {
        self.tick("promoted_nodes");
        Ok(self.state.borrow().promoted.clone())
    }
    fn get_attr(
        &mut self,
        node: &str,
        name: &str,
        lifetime: Lifetime,
    ) -> Result<Option<String>, ClusterError> {
        self.tick("get_attr");
        Ok(self
            .state
            .borrow()
            .attrs
            .get(&(node.to_string(), name.to_string(), lifetime))
            .cloned())
    }
    fn set_attr(
        &mut self,
        node: &str,
        name: &str,
        value: &str,
        lifetime: Lifetime,
    ) -> Result<(), ClusterError> {
        self.tick("set_attr");
        self.state.borrow_mut().attrs.insert(
            (node.to_string(), name.to_string(), lifetime),
            value.to_string(),
        );
        Ok(())
    }
    fn delete_attr(
        &mut self,
        node: &str,
        name: &str,
        lifetime: Lifetime,
    ) -> Result<(), ClusterError> {
        self.tick("delete_attr");
        self.state
            .borrow_mut()
            .attrs
            .remove(&(node.to_string(), name.to_string(), lifetime));
        Ok(())
    }
    fn ban(&mut self, _instance: &str, _node: &str) -> Result<(), ClusterError> {
        self.tick("ban");
        Ok(())
    }
}

// ------------------------------------------------------------------ other fakes

const PGDATA: &str = "/var/lib/pgsql/data";
const TMPDIR: &str = "/var/lib/pgsql/tmp";
const LSN: u64 = 0x3000060;

struct FakeDb {
    primary: bool,
    standbys: Vec<String>,
    sql_calls: u64,
}

impl FakeDb {
    fn tick(&mut self) {
        self.sql_calls += 1;
    }
}

impl Database for FakeDb {
    fn reset(&mut self) {}
    fn is_in_recovery(&mut self) -> Result<bool, DbError> {
        self.tick();
        Ok(!self.primary)
    }
    fn server_version_num(&mut self) -> Result<u32, DbError> {
        self.tick();
        Ok(150010)
    }
    fn current_lsn(&mut self) -> Result<Lsn, DbError> {
        self.tick();
        Ok(Lsn(LSN))
    }
    fn replay_and_receive_lsn(&mut self) -> Result<(Option<Lsn>, Option<Lsn>), DbError> {
        self.tick();
        Ok((Some(Lsn(LSN)), Some(Lsn(LSN))))
    }
    fn timeline(&mut self) -> Result<Option<u32>, DbError> {
        self.tick();
        Ok(Some(1))
    }
    fn system_identifier(&mut self) -> Result<Option<u64>, DbError> {
        self.tick();
        Ok(Some(7_300_000_000_000_000_000))
    }
    fn replication_rows(&mut self) -> Result<Vec<ReplicationRow>, DbError> {
        self.tick();
        if !self.primary {
            return Ok(vec![]);
        }
        Ok(self
            .standbys
            .iter()
            .enumerate()
            .map(|(i, n)| ReplicationRow {
                application_name: n.clone(),
                state: "streaming".into(),
                sync_state: if i == 0 { "sync" } else { "potential" }.into(),
                flush_lsn: Some(Lsn(LSN)),
                replay_lsn: Some(Lsn(LSN)),
            })
            .collect())
    }
    fn synchronous_standby_names(&mut self) -> Result<String, DbError> {
        self.tick();
        Ok(if self.primary {
            self.standbys
                .iter()
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(",")
        } else {
            String::new()
        })
    }
    fn slot_exists(&mut self, _name: &str) -> Result<bool, DbError> {
        self.tick();
        Ok(true)
    }
    fn drop_slot(&mut self, _name: &str) -> Result<(), DbError> {
        self.tick();
        Ok(())
    }
    fn create_physical_slot(&mut self, _name: &str) -> Result<(), DbError> {
        self.tick();
        Ok(())
    }
    fn run_monitor_sql(&mut self, _sql: &str) -> Result<(), DbError> {
        self.tick();
        Ok(())
    }
}

struct FakeServer;
impl Server for FakeServer {
    fn postmaster_pid(&mut self) -> Result<Option<u32>, ProcessError> {
        Ok(Some(4242))
    }
    fn remove_stale_pid_file(&mut self) -> Result<(), ProcessError> {
        Ok(())
    }
    fn start(&mut self) -> Result<(), ProcessError> {
        Ok(())
    }
    fn stop(&mut self, _mode: StopMode) -> Result<(), ProcessError> {
        Ok(())
    }
    fn promote(&mut self) -> Result<(), ProcessError> {
        Ok(())
    }
    fn reload(&mut self) -> Result<(), ProcessError> {
        Ok(())
    }
    fn wal_receiver_running(&mut self, _pid: u32) -> Result<bool, ProcessError> {
        Ok(true)
    }
}

/// A permissive filesystem: PGDATA and tmpdir exist, owned by postgres.
#[derive(Default)]
struct FakeFs {
    files: BTreeMap<String, String>,
}
impl Filesystem for FakeFs {
    fn read(&mut self, path: &str) -> Result<Option<String>, FsError> {
        Ok(self.files.get(path).cloned())
    }
    fn write(&mut self, path: &str, contents: &str, _o: FileOwner, _m: u32) -> Result<(), FsError> {
        self.files.insert(path.to_string(), contents.to_string());
        Ok(())
    }
    fn append_line(&mut self, path: &str, line: &str) -> Result<(), FsError> {
        let f = self.files.entry(path.to_string()).or_default();
        f.push_str(line);
        f.push('\n');
        Ok(())
    }
    fn remove(&mut self, path: &str) -> Result<bool, FsError> {
        Ok(self.files.remove(path).is_some())
    }
    fn metadata(&mut self, path: &str) -> Result<Option<FileMeta>, FsError> {
        let is_dir = !self.files.contains_key(path);
        if is_dir
            && !(path.starts_with("/var/lib/pgsql")
                || path.starts_with("/var/run")
                || path.starts_with("/usr"))
        {
            return Ok(None);
        }
        Ok(Some(FileMeta {
            is_dir,
            owner: Some("postgres".into()),
            mode: if is_dir { 0o700 } else { 0o600 },
        }))
    }
    fn create_dir_all(&mut self, _p: &str, _o: FileOwner, _m: u32) -> Result<(), FsError> {
        Ok(())
    }
    fn list_dir(&mut self, path: &str) -> Result<Vec<String>, FsError> {
        let pre = format!("{}/", path.trim_end_matches('/'));
        Ok(self
            .files
            .keys()
            .filter_map(|k| k.strip_prefix(&pre))
            .filter(|k| !k.contains('/'))
            .map(String::from)
            .collect())
    }
    fn writable_by(&mut self, _path: &str, _user: &str) -> Result<bool, FsError> {
        Ok(true)
    }
}

struct FakeSystem;
impl System for FakeSystem {
    fn find_program(&mut self, program: &str) -> Option<String> {
        Some(if program.starts_with('/') {
            program.to_string()
        } else {
            format!("/usr/bin/{program}")
        })
    }
    fn user(&mut self, name: &str) -> Option<UserInfo> {
        Some(UserInfo {
            name: name.to_string(),
            uid: 26,
            gid: 26,
        })
    }
    fn current_user(&mut self) -> String {
        "root".into()
    }
}

struct FakeClock(Duration);
impl Clock for FakeClock {
    fn now(&mut self) -> Duration {
        self.0
    }
    fn sleep(&mut self, d: Duration) {
        self.0 += d;
    }
}

// ------------------------------------------------------------------ scenario

fn node_names(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("node{i}")).collect()
}

fn env_for(nodes: &[String], primary: bool) -> BTreeMap<String, String> {
    let mut e: BTreeMap<String, String> = [
        ("OCF_ROOT", "/usr/lib/ocf"),
        (
            "OCF_RESOURCE_INSTANCE",
            if primary { "pgsql:0" } else { "pgsql:1" },
        ),
        ("OCF_RESOURCE_TYPE", "pgsql"),
        ("OCF_RESKEY_pgctl", "/usr/lib/postgresql/15/bin/pg_ctl"),
        ("OCF_RESKEY_psql", "/usr/bin/psql"),
        ("OCF_RESKEY_pgdata", PGDATA),
        ("OCF_RESKEY_socketdir", "/var/run/postgresql"),
        ("OCF_RESKEY_tmpdir", TMPDIR),
        ("OCF_RESKEY_rep_mode", "sync"),
        ("OCF_RESKEY_master_ip", "10.231.0.100"),
        (
            "OCF_RESKEY_restore_command",
            "cp /var/lib/pgsql/pg_archive/%f %p",
        ),
        ("OCF_RESKEY_restart_on_promote", "true"),
        (
            "OCF_RESKEY_CRM_meta_interval",
            if primary { "3000" } else { "4000" },
        ),
        (
            "OCF_RESKEY_CRM_meta_role",
            if primary { "Promoted" } else { "Unpromoted" },
        ),
        ("OCF_RESKEY_CRM_meta_timeout", "60000"),
        ("OCF_RESKEY_CRM_meta_notify", "true"),
        ("OCF_RESKEY_CRM_meta_promotable", "true"),
        ("OCF_RESKEY_CRM_meta_promoted_max", "1"),
        ("OCF_RESKEY_crm_feature_set", "3.16.2"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    e.insert(
        "OCF_RESKEY_CRM_meta_clone_max".into(),
        nodes.len().to_string(),
    );
    e.insert("OCF_RESKEY_node_list".into(), nodes.join(" "));
    e
}

fn seed_cluster(nodes: &[String]) -> Rc<RefCell<ClusterState>> {
    let mut s = ClusterState {
        nodes: nodes.to_vec(),
        promoted: vec![nodes[0].clone()],
        ..Default::default()
    };
    let lsn = format!("{:016X}", LSN);
    for (i, n) in nodes.iter().enumerate() {
        let (st, ds, score) = match i {
            0 => ("PRI", "LATEST", "1000"),
            1 => ("HS:sync", "STREAMING|SYNC", "100"),
            _ => ("HS:potential", "STREAMING|POTENTIAL", "-INFINITY"),
        };
        let mut put = |k: &str, v: &str, l| {
            s.attrs.insert((n.clone(), k.to_string(), l), v.to_string());
        };
        put("pgsql-status", st, Lifetime::Reboot);
        put("pgsql-data-status", ds, Lifetime::Forever);
        put("master-pgsql", score, Lifetime::Reboot);
        put("pgsql-xlog-loc", &lsn, Lifetime::Reboot);
        put(
            "pgsql-receiver-status",
            if i == 0 { "ERROR" } else { "normal" },
            Lifetime::Reboot,
        );
        if i == 0 {
            put("pgsql-master-baseline", &lsn, Lifetime::Reboot);
        }
    }
    Rc::new(RefCell::new(s))
}

fn fs_for(primary: bool, nodes: &[String]) -> FakeFs {
    let mut fs = FakeFs::default();
    let mut f = |p: &str, c: &str| {
        fs.files.insert(p.to_string(), c.to_string());
    };
    f(&format!("{PGDATA}/PG_VERSION"), "15\n");
    f(
        &format!("{PGDATA}/postmaster.pid"),
        "4242\n/var/lib/pgsql/data\n1700000000\n5432\n/var/run/postgresql\n*\n  1 2\nready\n",
    );
    f(&format!("{PGDATA}/postgresql.conf"), &format!("include '{TMPDIR}/recovery.conf' # added by pgsql RA\ninclude '{TMPDIR}/rep_mode.conf' # added by pgsql RA\n"));
    f(
        &format!("{TMPDIR}/rep_mode.conf"),
        &format!("synchronous_standby_names = '\"{}\"'\n", nodes[1]),
    );
    if !primary {
        f(&format!("{PGDATA}/standby.signal"), "");
        f(&format!("{TMPDIR}/recovery.conf"), "primary_conninfo = 'host=10.231.0.100 port=5432 user=postgres application_name=node2'\n");
    } else {
        f(&format!("{TMPDIR}/PGSQL.lock"), "");
    }
    fs
}

struct Row {
    n: usize,
    role: &'static str,
    rc: i32,
    counts: Counts,
    sql: u64,
    reason: Option<String>,
}

fn run_one(n: usize, primary: bool) -> Row {
    let nodes = node_names(n);
    let state = seed_cluster(&nodes);
    let local = if primary {
        nodes[0].clone()
    } else {
        nodes[1].clone()
    };
    let mut cluster = CountingCluster {
        state: state.clone(),
        local,
    };
    let standbys: Vec<String> = nodes[1..].to_vec();
    let mut db = FakeDb {
        primary,
        standbys,
        sql_calls: 0,
    };
    let mut server = FakeServer;
    let mut fs = fs_for(primary, &nodes);
    let mut clock = FakeClock(Duration::from_secs(1_700_000_000));
    let mut system = FakeSystem;
    let mut log = MemoryLog::default();
    let agent = Agent::from_env_map(&env_for(&nodes, primary));
    // A first monitor brings the attributes to the agent's own steady state;
    // the second one is the steady-state monitor that is counted.
    for round in 0..2 {
        if round == 1 {
            state.borrow_mut().counts = Counts::default();
            db.sql_calls = 0;
        }
        let mut world = World {
            db: &mut db,
            server: &mut server,
            cluster: &mut cluster,
            fs: &mut fs,
            clock: &mut clock,
            system: &mut system,
            log: &mut log,
        };
        let out = agent.run(Action::Monitor, &mut world);
        if round == 1 {
            let counts = state.borrow().counts.clone();
            return Row {
                n,
                role: if primary { "primary" } else { "standby" },
                rc: out.code.code(),
                counts,
                sql: db.sql_calls,
                reason: out.reason,
            };
        }
    }
    unreachable!()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut json_out = None;
    let mut max_n = 16usize;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--json" if i + 1 < args.len() => {
                json_out = Some(args[i + 1].clone());
                i += 1;
            }
            "--max" if i + 1 < args.len() => {
                max_n = args[i + 1].parse().unwrap_or(16).clamp(2, 64);
                i += 1;
            }
            _ => {
                eprintln!("usage: pgsql-ra-bench-scaling [--max N] [--json FILE]");
                std::process::exit(2);
            }
        }
        i += 1;
    }
    let mut rows = Vec::new();
    for n in 2..=max_n {
        for primary in [true, false] {
            rows.push(run_one(n, primary));
        }
    }
    println!("| N | role | rc | view reads (nodes/promoted/local) | attr reads | attr writes | SQL calls |");
    println!("|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} ({}/{}/{}) | {} | {} | {} |",
            r.n,
            r.role,
            r.rc,
            r.counts.view_reads(),
            r.counts.get("nodes"),
            r.counts.get("promoted_nodes"),
            r.counts.get("local_node"),
            r.counts.attr_reads(),
            r.counts.writes(),
            r.sql
        );
    }
    let unimplemented = rows
        .iter()
        .all(|r| r.rc == OcfExit::ErrUnimplemented.code());
    let flat = ["primary", "standby"].iter().all(|role| {
        let v: Vec<u64> = rows
            .iter()
            .filter(|r| r.role == *role)
            .map(|r| r.counts.view_reads())
            .collect();
        v.windows(2).all(|w| w[0] == w[1])
    });
    if let Some(path) = json_out {
        let mut s = String::from("{\"rows\":[");
        for (k, r) in rows.iter().enumerate() {
            if k > 0 {
                s.push(',');
            }
            s.push_str(&format!(
                "{{\"n\":{},\"role\":\"{}\",\"rc\":{},\"view_reads\":{},\"nodes\":{},\"promoted_nodes\":{},\"local_node\":{},\"attr_reads\":{},\"attr_writes\":{},\"sql\":{}}}",
                r.n,
                r.role,
                r.rc,
                r.counts.view_reads(),
                r.counts.get("nodes"),
                r.counts.get("promoted_nodes"),
                r.counts.get("local_node"),
                r.counts.attr_reads(),
                r.counts.writes(),
                r.sql
            ));
        }
        s.push_str(&format!(
            "],\"unimplemented\":{unimplemented},\"view_reads_flat\":{flat}"
        ));
        let reason = rows
            .first()
            .and_then(|r| r.reason.clone())
            .unwrap_or_default();
        s.push_str(&format!(",\"first_reason\":{:?}}}\n", reason));
        if let Err(e) = std::fs::write(&path, s) {
            eprintln!("cannot write {path}: {e}");
            std::process::exit(2);
        }
    }
    if unimplemented {
        eprintln!("monitor is not implemented in pgsql-ra-core yet: nothing to count");
        std::process::exit(3);
    }
    if !flat {
        eprintln!("cluster-view reads grow with N");
        std::process::exit(1);
    }
    println!("cluster-view reads per monitor are flat in N (2..={max_n})");
}
