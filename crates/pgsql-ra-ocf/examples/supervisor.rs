//! A small supervisor that embeds `pgsql-ra-core` the way another HA tool
//! would (issue 18): it plays Pacemaker's part itself over the file-backed
//! attribute store (`docs/embedding.md`) and runs the core's actions
//! in-process with the shim's real ports, reused as a library
//! ([`pgsql_ra_ocf::wiring::RealWorld`]: the PostgreSQL client, `pg_ctl` as
//! the database owner, the filesystem, the clock), on two real PostgreSQL
//! servers: start of node1 → election → promote of node1 → start of node2,
//! its sync standby → an acknowledged write → `kill -9` of node1 → node1's
//! monitor (not running) and stop → the choice of node2 by its promotion
//! score, with `explain`'s account of the election → promote of node2.
//! Each step prints the action's outcome, the decisions the agent recorded
//! in its journal (with their reasons) and the supervisor's own choice of
//! whom to promote (and why).
//!
//! Run it as root on a machine with PostgreSQL 15 (Debian's
//! `/usr/lib/postgresql/15/bin`, `PG_BIN` to change it) and a `postgres`
//! user:
//!
//! ```text
//! cargo run -p pgsql-ra-ocf --example supervisor
//! ```
//!
//! Each node has its own loopback address (node1 127.0.0.2, node2
//! 127.0.0.3) on one shared port, as in the integration tests; `master_ip`
//! is node1's address (a real deployment moves a virtual IP with the
//! Promoted role; nothing needs to reach the new primary here). Everything
//! lives in a temporary directory removed at the end; both servers are
//! stopped (`-m immediate`) even when a step fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use pgsql_ra_core::explain::explain;
use pgsql_ra_core::explain::gather::gather;
use pgsql_ra_core::ports::{Cluster, Lifetime};
use pgsql_ra_core::{journal, Action, Agent, OcfExit, Outcome};
use pgsql_ra_ocf::command::{self, Invocation};
use pgsql_ra_ocf::file_store::FileStore;
use pgsql_ra_ocf::users::{self, Account};
use pgsql_ra_ocf::wiring::RealWorld;

/// The OS user that owns the data directories and runs the servers.
const PGDBA: &str = "postgres";
/// The resource name: attributes are `pgsql-status`, `master-pgsql`, ….
const RESOURCE: &str = "pgsql";
/// The deadline of every program the supervisor runs itself.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the supervisor waits for a state (sync standby, election).
const WAIT: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let bin = std::env::var("PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into());
    let mut print = |line: &str| println!("{line}");
    match run_scenario(&bin, &mut print) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("supervisor: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One PostgreSQL node: its directories, address and port.
#[derive(Debug, Clone)]
struct Node {
    name: String,
    host: String,
    port: u16,
    pgdata: String,
    socketdir: String,
    tmpdir: String,
    logfile: String,
}

/// The supervisor: the nodes, the file-backed attribute store standing in
/// for Pacemaker's, and where each node's journal was read up to.
struct Supervisor<'p> {
    bin: String,
    attrd: String,
    nodes: Vec<Node>,
    journal_read: BTreeMap<String, usize>,
    print: &'p mut dyn FnMut(&str),
}

/// Plays the whole scenario in a fresh temporary directory, printing each
/// line through `print`.
///
/// # Errors
/// The first step that did not end as expected, in words.
pub fn run_scenario(bin: &str, print: &mut dyn FnMut(&str)) -> Result<(), String> {
    let pgdba = users::by_name(PGDBA).ok_or("the postgres user is required")?;
    let dir = Scratch::new(&pgdba)?;
    let port = free_port()?;
    let nodes: Vec<Node> = ["node1", "node2"]
        .iter()
        .enumerate()
        .map(|(i, name)| Node::new(&dir.path, name, i as u8 + 2, port))
        .collect();
    for n in &nodes {
        for d in [&n.socketdir, &n.tmpdir] {
            mkdir_owned(d, &pgdba)?;
        }
    }
    let _servers = Servers {
        bin: bin.to_string(),
        nodes: nodes.clone(),
    };
    let attrd = dir.path.join("attrd").to_string_lossy().into_owned();
    std::fs::create_dir_all(&attrd).map_err(|e| format!("{attrd}: {e}"))?;
    std::fs::write(format!("{attrd}/nodes"), "node1\nnode2\n").map_err(|e| e.to_string())?;
    let mut sup = Supervisor {
        bin: bin.to_string(),
        attrd,
        nodes,
        journal_read: BTreeMap::new(),
        print,
    };
    sup.set_up_servers()?;
    sup.scenario()
}

impl Supervisor<'_> {
    fn say(&mut self, line: &str) {
        (self.print)(line);
    }

    fn node(&self, name: &str) -> Node {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .cloned()
            .unwrap_or_else(|| self.nodes[0].clone())
    }

    /// node1 initdb'ed, node2 a base backup of it; neither runs afterwards.
    fn set_up_servers(&mut self) -> Result<(), String> {
        let (n1, n2) = (self.node("node1"), self.node("node2"));
        let bin = self.bin.clone();
        as_pgdba(
            &format!("{bin}/initdb"),
            &["-D", &n1.pgdata, "-U", PGDBA, "--auth=trust", "--no-sync"],
        )?;
        append(&format!("{}/postgresql.conf", n1.pgdata), &n1.settings())?;
        std::fs::write(
            format!("{}/pg_hba.conf", n1.pgdata),
            "local all all trust\nhost all all 127.0.0.0/8 trust\n\
             host replication all 127.0.0.0/8 trust\n",
        )
        .map_err(|e| e.to_string())?;
        as_pgdba(
            &format!("{bin}/pg_ctl"),
            &[
                "-D",
                &n1.pgdata,
                "-l",
                &n1.logfile,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )?;
        let port = n1.port.to_string();
        as_pgdba(
            &format!("{bin}/pg_basebackup"),
            &[
                "-h",
                &n1.host,
                "-p",
                &port,
                "-U",
                PGDBA,
                "-D",
                &n2.pgdata,
                "-X",
                "stream",
                "--no-sync",
            ],
        )?;
        append(&format!("{}/postgresql.conf", n2.pgdata), &n2.settings())?;
        as_pgdba(
            &format!("{bin}/pg_ctl"),
            &["-D", &n1.pgdata, "-m", "fast", "-w", "-t", "60", "stop"],
        )?;
        self.say("set up: node1 initdb'ed, node2 a base backup of it, both stopped");
        Ok(())
    }

    fn scenario(&mut self) -> Result<(), String> {
        // node1 first: `master_ip` is its address, which node2 streams from.
        self.expect("node1", Action::Start, 0, OcfExit::Success)?;
        let first = self.elect(&["node1"])?;
        self.promote(&first)?;
        let standby = "node2";
        self.expect(standby, Action::Start, 0, OcfExit::Success)?;
        self.wait_for_sync_standby(&first, standby)?;
        self.psql(
            &first,
            "create table acknowledged(x int); insert into acknowledged values (42)",
        )?;
        self.say(&format!(
            "write: one row committed on {first} (acknowledged by the sync standby {standby})"
        ));

        kill_9(&self.node(&first))?;
        self.say(&format!("kill -9: {first}'s postmaster and every child"));
        // What Pacemaker does with a Promoted instance whose monitor fails:
        // recover it (stop), then promote the best remaining instance.
        let monitor = self.run(&first, Action::Monitor, 3000)?;
        if monitor.code == OcfExit::Success || monitor.code == OcfExit::RunningPromoted {
            return Err(format!("{first}'s monitor still reports it running"));
        }
        self.expect(&first, Action::Stop, 0, OcfExit::Success)?;
        self.set_promoted(None)?;
        let second = self.elect(&[standby])?;
        self.explain(&second);
        self.promote(&second)?;
        let rows = self.psql(&second, "select count(*) from acknowledged where x = 42")?;
        self.say(&format!(
            "outcome: {second} is the primary; the acknowledged write is there: {}",
            if rows == "1" { "yes" } else { "NO" }
        ));
        if rows != "1" {
            return Err(format!("the acknowledged write is missing on {second}"));
        }
        Ok(())
    }

    /// The OCF environment of `node`'s agent for one action.
    fn env(&self, node: &Node, interval_ms: u64) -> BTreeMap<String, String> {
        let dir = Path::new(&node.tmpdir)
            .parent()
            .unwrap_or(Path::new("/tmp"));
        let promoted = self.promoted().as_deref() == Some(node.name.as_str());
        let mut env: BTreeMap<String, String> = [
            ("OCF_RESOURCE_INSTANCE", RESOURCE.to_string()),
            ("OCF_RESKEY_CRM_meta_timeout", "30000".into()),
            ("OCF_RESKEY_CRM_meta_interval", interval_ms.to_string()),
            ("OCF_RESKEY_CRM_meta_notify", "true".into()),
            ("OCF_RESKEY_CRM_meta_promotable", "true".into()),
            ("OCF_RESKEY_CRM_meta_promoted_max", "1".into()),
            ("OCF_RESKEY_CRM_meta_clone_max", "2".into()),
            ("OCF_RESKEY_pgctl", format!("{}/pg_ctl", self.bin)),
            ("OCF_RESKEY_psql", format!("{}/psql", self.bin)),
            ("OCF_RESKEY_pgdata", node.pgdata.clone()),
            ("OCF_RESKEY_pghost", node.host.clone()),
            ("OCF_RESKEY_pgport", node.port.to_string()),
            ("OCF_RESKEY_socketdir", node.socketdir.clone()),
            ("OCF_RESKEY_logfile", node.logfile.clone()),
            ("OCF_RESKEY_tmpdir", node.tmpdir.clone()),
            ("OCF_RESKEY_rep_mode", "sync".into()),
            ("OCF_RESKEY_node_list", "node1 node2".into()),
            ("OCF_RESKEY_master_ip", self.node("node1").host),
            ("OCF_RESKEY_repuser", PGDBA.into()),
            ("OCF_RESKEY_xlog_check_count", "1".into()),
            ("OCF_RESKEY_stop_escalate", "5".into()),
            // The file-backed store instead of Pacemaker (docs/embedding.md).
            ("PGSQL_RA_ATTRD_DIR", self.attrd.clone()),
            ("PGSQL_RA_NODE", node.name.clone()),
            // The agent's log lines go to a file, not to this output.
            ("HA_LOGFACILITY", "none".into()),
            (
                "HA_LOGFILE",
                dir.join("agent.log").to_string_lossy().into_owned(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        if promoted && interval_ms > 0 {
            env.insert("OCF_RESKEY_CRM_meta_role".into(), "Promoted".into());
        }
        env
    }

    /// Runs one action of the core on `node` over the shim's real ports,
    /// prints its outcome and the decisions it journaled.
    fn run(&mut self, name: &str, action: Action, interval_ms: u64) -> Result<Outcome, String> {
        let node = self.node(name);
        let env = self.env(&node, interval_ms);
        let agent = Agent::from_env_map(&env);
        let mut ports = RealWorld::new(&env, &agent);
        let outcome = agent.run(action, &mut ports.world());
        let what = if action == Action::Monitor && interval_ms == 0 {
            "probe".to_string()
        } else {
            action.as_str().to_string()
        };
        let reason = outcome
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        self.say(&format!(
            "{name} {what}: {} ({}){reason}",
            outcome.code.code(),
            outcome.code.name()
        ));
        self.print_new_decisions(&node);
        Ok(outcome)
    }

    fn expect(
        &mut self,
        name: &str,
        action: Action,
        interval_ms: u64,
        code: OcfExit,
    ) -> Result<Outcome, String> {
        let o = self.run(name, action, interval_ms)?;
        if o.code != code {
            return Err(format!(
                "{name} {}: expected {code}, got {} {:?}",
                action.as_str(),
                o.code,
                o.reason
            ));
        }
        Ok(o)
    }

    /// The journal entries `node`'s agent added since the last look.
    fn print_new_decisions(&mut self, node: &Node) {
        let path = format!("{}/{}", node.tmpdir, journal::FILE);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let entries = journal::parse(&text).entries;
        let seen = self.journal_read.entry(node.name.clone()).or_insert(0);
        // A rotation (the file restarted) makes it shorter: read it all.
        let from = if *seen > entries.len() { 0 } else { *seen };
        *seen = entries.len();
        for e in &entries[from..] {
            let line = format!("  decision: {}", journal::render_text(e));
            self.say(&line);
        }
    }

    /// Pacemaker's choice: monitors every candidate's instance until one
    /// has a positive promotion score (`master-pgsql`, set by the core's
    /// election or by the primary's view of a sync standby), then picks
    /// the highest (node_list order breaks ties).
    fn elect(&mut self, candidates: &[&str]) -> Result<String, String> {
        let start = Instant::now();
        while start.elapsed() < WAIT {
            for c in candidates {
                self.run(c, Action::Monitor, 3000)?;
            }
            let mut store = FileStore::new(&self.attrd, "");
            let mut best: Option<(i64, String)> = None;
            let mut seen = Vec::new();
            for c in candidates {
                let score = store
                    .get_attr(c, &format!("master-{RESOURCE}"), Lifetime::Reboot)
                    .map_err(|e| e.to_string())?;
                seen.push(format!("{c}={}", score.as_deref().unwrap_or("(none)")));
                let value = score.and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
                let beaten = best.as_ref().filter(|(b, _)| *b >= value).is_none();
                if value > 0 && beaten {
                    best = Some((value, c.to_string()));
                }
            }
            if let Some((score, winner)) = best {
                self.say(&format!(
                    "supervisor: promote {winner}: the highest promotion score ({}; {score} wins)",
                    seen.join(", ")
                ));
                return Ok(winner);
            }
            self.say(&format!(
                "supervisor: nobody to promote yet ({})",
                seen.join(", ")
            ));
            std::thread::sleep(Duration::from_secs(1));
        }
        Err(format!(
            "no candidate among {candidates:?} got a promotion score"
        ))
    }

    /// Why `name` has its score and data-status, in the words of
    /// `pgsql-ra explain` (the core's decisions re-run on a snapshot read
    /// through the node's ports; reads only).
    fn explain(&mut self, name: &str) {
        let node = self.node(name);
        let env = self.env(&node, 0);
        let agent = Agent::from_env_map(&env);
        let mut ports = RealWorld::new(&env, &agent);
        let snapshot = gather(&agent.params, &agent.names, &mut ports.world());
        let text = explain(&agent.params, &snapshot).render_text(Some(name));
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            self.say(&format!("  explain: {}", line.trim()));
        }
    }

    fn promote(&mut self, name: &str) -> Result<(), String> {
        self.expect(name, Action::Promote, 0, OcfExit::Success)?;
        self.set_promoted(Some(name))?;
        self.expect(name, Action::Monitor, 3000, OcfExit::RunningPromoted)?;
        Ok(())
    }

    /// Monitors the primary until `standby`'s data-status is `STREAMING|SYNC`.
    fn wait_for_sync_standby(&mut self, primary: &str, standby: &str) -> Result<(), String> {
        let start = Instant::now();
        while start.elapsed() < WAIT {
            self.run(primary, Action::Monitor, 3000)?;
            self.run(standby, Action::Monitor, 3000)?;
            let mut store = FileStore::new(&self.attrd, "");
            let ds = store
                .get_attr(
                    standby,
                    &format!("{RESOURCE}-data-status"),
                    Lifetime::Forever,
                )
                .map_err(|e| e.to_string())?;
            if ds.as_deref() == Some("STREAMING|SYNC") {
                self.say(&format!(
                    "supervisor: {standby} is the sync standby of {primary}"
                ));
                return Ok(());
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        Err(format!("{standby} never became the sync standby"))
    }

    /// The node the store records as Promoted, if any.
    fn promoted(&self) -> Option<String> {
        let text = std::fs::read_to_string(format!("{}/promoted", self.attrd)).ok()?;
        text.lines().find_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some(RESOURCE)).then(|| w.next().map(str::to_string))?
        })
    }

    /// Records where the resource is Promoted (Pacemaker's CIB status).
    fn set_promoted(&self, node: Option<&str>) -> Result<(), String> {
        let text = node
            .map(|n| format!("{RESOURCE} {n}\n"))
            .unwrap_or_default();
        std::fs::write(format!("{}/promoted", self.attrd), text).map_err(|e| e.to_string())
    }

    fn psql(&self, name: &str, sql: &str) -> Result<String, String> {
        let n = self.node(name);
        let port = n.port.to_string();
        let done = as_pgdba(
            &format!("{}/psql", self.bin),
            &[
                "-h",
                &n.socketdir,
                "-p",
                &port,
                "-d",
                "postgres",
                "-Atc",
                sql,
            ],
        )?;
        Ok(done.trim().to_string())
    }
}

impl Node {
    fn new(base: &Path, name: &str, last_octet: u8, port: u16) -> Node {
        let dir = base.join(name).to_string_lossy().into_owned();
        Node {
            name: name.to_string(),
            host: format!("127.0.0.{last_octet}"),
            port,
            pgdata: format!("{dir}/data"),
            socketdir: format!("{dir}/sock"),
            tmpdir: format!("{dir}/tmp"),
            logfile: format!("{dir}/postgresql.log"),
        }
    }

    /// Appended to postgresql.conf.
    fn settings(&self) -> String {
        format!(
            "port = {}\nunix_socket_directories = '{}'\nlisten_addresses = '{}'\n\
             wal_level = replica\nmax_wal_senders = 10\nhot_standby = on\n\
             wal_keep_size = 64MB\nfsync = off\nshared_buffers = 16MB\n\
             wal_receiver_status_interval = 1\nwal_retrieve_retry_interval = 1s\n",
            self.port, self.socketdir, self.host
        )
    }
}

/// Runs a program as `postgres` within [`COMMAND_TIMEOUT`]; its stdout.
fn as_pgdba(program: &str, args: &[&str]) -> Result<String, String> {
    let mut inv = Invocation::new(program, args, COMMAND_TIMEOUT);
    inv.run_as = users::by_name(PGDBA);
    inv.cwd = Some("/tmp".into());
    let done = command::run(&inv).map_err(|e| e.to_string())?;
    if !done.success() {
        return Err(format!(
            "{}: {}: {}",
            inv.display(),
            done.status_text(),
            done.output_line()
        ));
    }
    Ok(done.stdout)
}

fn append(path: &str, text: &str) -> Result<(), String> {
    let mut all = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    all.push_str(text);
    std::fs::write(path, all).map_err(|e| format!("{path}: {e}"))
}

fn mkdir_owned(path: &str, owner: &Account) -> Result<(), String> {
    std::fs::create_dir_all(path).map_err(|e| format!("{path}: {e}"))?;
    std::os::unix::fs::chown(path, Some(owner.uid), Some(owner.gid))
        .map_err(|e| format!("chown {path}: {e}"))
}

/// A free TCP port on the nodes' addresses.
fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.2:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// `kill -9` of a node's postmaster and every child (a crash): the
/// postmaster is frozen first, so that it does not start a crash restart
/// when it sees a child die.
fn kill_9(node: &Node) -> Result<(), String> {
    let pidfile = format!("{}/postmaster.pid", node.pgdata);
    let text = std::fs::read_to_string(&pidfile).map_err(|e| format!("{pidfile}: {e}"))?;
    let pm: u32 = text
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| format!("{pidfile}: no PID"))?;
    signal(pm, libc::SIGSTOP);
    let proc = Path::new("/proc");
    let children: Vec<u32> = pgsql_ra_ocf::procfs::pids(proc)
        .into_iter()
        .filter(|p| pgsql_ra_ocf::procfs::stat(proc, *p).is_some_and(|s| s.ppid == pm))
        .collect();
    for pid in children.iter().chain(std::iter::once(&pm)) {
        signal(*pid, libc::SIGKILL);
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if !Path::new(&format!("/proc/{pm}")).exists() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("{}'s postmaster survived SIGKILL", node.name))
}

fn signal(pid: u32, sig: i32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) with a PID read from this example's own server.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// The scratch directory, owned by `postgres`, removed on drop.
struct Scratch {
    path: PathBuf,
}

impl Scratch {
    fn new(owner: &Account) -> Result<Scratch, String> {
        let path = std::env::temp_dir().join(format!("pgsql-ra-supervisor-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        mkdir_owned(&path.to_string_lossy(), owner)?;
        for n in ["node1", "node2"] {
            mkdir_owned(&path.join(n).to_string_lossy(), owner)?;
        }
        Ok(Scratch { path })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Stops both servers (`-m immediate`, after SIGCONT) when dropped, also
/// when a step failed.
struct Servers {
    bin: String,
    nodes: Vec<Node>,
}

impl Drop for Servers {
    fn drop(&mut self) {
        for n in &self.nodes {
            if let Some(pm) = std::fs::read_to_string(format!("{}/postmaster.pid", n.pgdata))
                .ok()
                .and_then(|t| t.lines().next().and_then(|l| l.trim().parse().ok()))
            {
                signal(pm, libc::SIGCONT);
            }
            let _ = as_pgdba(
                &format!("{}/pg_ctl", self.bin),
                &["-D", &n.pgdata, "-m", "immediate", "-w", "-t", "20", "stop"],
            );
        }
    }
}
