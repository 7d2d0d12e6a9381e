//! In-memory scaling bench for issue 6.
//!
//! For N = 2..=max, builds an N-node `rep_mode=sync` cluster with the
//! simulator of `pgsql_ra_core::sim` (the same in-memory ports the tests
//! use: `MemCluster`, `MemFs`, `MemClock`, `MemSystem`, `SimPostgres`),
//! drives it to a steady state (one primary at 1000, one sync standby at
//! 100, every other standby async at -INFINITY, all streaming), then runs
//! ONE monitor (through `Agent::run`, the entry point of the OCF binary) on
//! the primary and ONE on a standby, and counts the calls made to the
//! cluster port (`MemCluster`'s counters) and the SQL calls. The claim to
//! check: cluster-view reads (`nodes`, `promoted_nodes`, `local_node`) stay
//! flat in N; attribute reads may grow with N only where the agent has to
//! look at every standby (the primary's sync-standby choice).
//!
//! Output: a markdown table on stdout, and `--json FILE` for the report.
//! Exit status: 0 = measured and view reads flat, 1 = view reads grow with N
//! or the cluster did not reach its steady state, 2 = usage, 3 = monitor not
//! implemented yet in the core (nothing to count).

use pgsql_ra_core::lsn::Lsn;
use pgsql_ra_core::memory::{MemoryLog, SimPostgres};
use pgsql_ra_core::ports::{Database, DbError, ReplicationRow, World};
use pgsql_ra_core::sim::{
    OpEnv, PcmkRole, Sim, SimConfig, PROMOTED_INTERVAL_MS, UNPROMOTED_INTERVAL_MS,
};
use pgsql_ra_core::{Action, Agent, OcfExit};

/// Policy steps allowed to reach the steady state.
const MAX_STEPS: usize = 40;

/// Counts the SQL calls the agent makes on a node's simulated PostgreSQL.
struct CountingDb {
    inner: SimPostgres,
    calls: u64,
}

impl CountingDb {
    fn tick(&mut self) -> &mut SimPostgres {
        self.calls += 1;
        &mut self.inner
    }
}

impl Database for CountingDb {
    fn reset(&mut self) {
        self.inner.reset()
    }
    fn is_in_recovery(&mut self) -> Result<bool, DbError> {
        self.tick().is_in_recovery()
    }
    fn server_version_num(&mut self) -> Result<u32, DbError> {
        self.tick().server_version_num()
    }
    fn current_lsn(&mut self) -> Result<Lsn, DbError> {
        self.tick().current_lsn()
    }
    fn replay_and_receive_lsn(&mut self) -> Result<(Option<Lsn>, Option<Lsn>), DbError> {
        self.tick().replay_and_receive_lsn()
    }
    fn timeline(&mut self) -> Result<Option<u32>, DbError> {
        self.tick().timeline()
    }
    fn system_identifier(&mut self) -> Result<Option<u64>, DbError> {
        self.tick().system_identifier()
    }
    fn replication_rows(&mut self) -> Result<Vec<ReplicationRow>, DbError> {
        self.tick().replication_rows()
    }
    fn synchronous_standby_names(&mut self) -> Result<String, DbError> {
        self.tick().synchronous_standby_names()
    }
    fn slot_exists(&mut self, name: &str) -> Result<bool, DbError> {
        self.tick().slot_exists(name)
    }
    fn drop_slot(&mut self, name: &str) -> Result<(), DbError> {
        self.tick().drop_slot(name)
    }
    fn create_physical_slot(&mut self, name: &str) -> Result<(), DbError> {
        self.tick().create_physical_slot(name)
    }
    fn run_monitor_sql(&mut self, sql: &str) -> Result<(), DbError> {
        self.tick().run_monitor_sql(sql)
    }
    fn terminate_walsenders(&mut self, application_name: &str) -> Result<u32, DbError> {
        self.tick().terminate_walsenders(application_name)
    }
}

struct Row {
    n: usize,
    role: &'static str,
    rc: i32,
    nodes: u64,
    promoted_nodes: u64,
    local_node: u64,
    attr_reads: u64,
    attr_writes: u64,
    sql: u64,
    reason: Option<String>,
}

impl Row {
    fn view_reads(&self) -> u64 {
        self.nodes + self.promoted_nodes + self.local_node
    }
}

/// The primary and the standbys (in `node_list` order) once the cluster is
/// in its steady state, or what is still wrong.
fn steady(sim: &Sim) -> Result<(String, Vec<String>), String> {
    let names = sim.node_names();
    let promoted: Vec<&String> = names
        .iter()
        .filter(|n| sim.pcmk_role(n) == PcmkRole::Promoted)
        .collect();
    let [primary] = promoted[..] else {
        return Err(format!("{} promoted instances", promoted.len()));
    };
    let expect = |node: &str, what: &str, got: Option<String>, want: &str| {
        if got.as_deref() == Some(want) {
            Ok(())
        } else {
            Err(format!("{node} {what} is {got:?}, not {want}"))
        }
    };
    expect(primary, "score", sim.score(primary), "1000")?;
    expect(primary, "status", sim.status(primary), "PRI")?;
    let standbys: Vec<String> = names.iter().filter(|n| *n != primary).cloned().collect();
    let mut sync = 0;
    for s in &standbys {
        if sim.pcmk_role(s) != PcmkRole::Unpromoted {
            return Err(format!("{s} is {}", sim.pcmk_role(s).as_str()));
        }
        if sim.status(s).as_deref() == Some("HS:sync") {
            sync += 1;
            expect(s, "score", sim.score(s), "100")?;
            expect(s, "data-status", sim.data_status(s), "STREAMING|SYNC")?;
        } else {
            expect(s, "status", sim.status(s), "HS:async")?;
            expect(s, "score", sim.score(s), "-INFINITY")?;
            expect(s, "data-status", sim.data_status(s), "STREAMING|ASYNC")?;
        }
    }
    if sync != 1 {
        return Err(format!("{sync} sync standbys"));
    }
    Ok((primary.clone(), standbys))
}

/// Brings up an N-node sync cluster and drives it to its steady state.
fn steady_cluster(n: usize) -> Result<(Sim, String, String), String> {
    let names: Vec<String> = (1..=n).map(|i| format!("node{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut config = SimConfig::new(&refs);
    config
        .params
        .insert("restart_on_promote".into(), "true".into());
    let mut sim = Sim::new(config);
    let mut last = String::new();
    for _ in 0..MAX_STEPS {
        sim.step();
        match steady(&sim) {
            Ok((primary, standbys)) => {
                // One more step: the steady state must hold across monitors.
                sim.step();
                steady(&sim)?;
                return Ok((sim, primary, standbys[0].clone()));
            }
            Err(e) => last = e,
        }
    }
    Err(format!("no steady state after {MAX_STEPS} steps: {last}"))
}

/// Runs one recurring monitor on `node` and counts the calls it makes.
fn count_monitor(sim: &mut Sim, n: usize, node: &str, primary: bool) -> Row {
    let (interval_ms, role) = if primary {
        (PROMOTED_INTERVAL_MS, "Promoted")
    } else {
        (UNPROMOTED_INTERVAL_MS, "Unpromoted")
    };
    let op = OpEnv {
        interval_ms,
        role: Some(role.to_string()),
        notify: None,
    };
    let sim_node = sim.nodes.get_mut(node).expect("node of the cluster");
    let agent = Agent::from_env_map(&op.to_env(&sim.config, &sim_node.instance));
    let mut db = CountingDb {
        inner: sim_node.pg.clone(),
        calls: 0,
    };
    let mut server = sim_node.pg.clone();
    let mut cluster = sim.cluster.handle(node);
    let mut fs = sim_node.fs.clone();
    let mut clock = sim.clock.clone();
    let mut log = MemoryLog::default();
    sim.cluster.reset_counters();
    let out = agent.run(
        Action::Monitor,
        &mut World {
            db: &mut db,
            server: &mut server,
            cluster: &mut cluster,
            fs: &mut fs,
            clock: &mut clock,
            system: &mut sim_node.system,
            log: &mut log,
        },
    );
    let calls = sim.cluster.counters();
    let views = sim.cluster.view_read_counters();
    Row {
        n,
        role: if primary { "primary" } else { "standby" },
        rc: out.code.code(),
        nodes: views.nodes,
        promoted_nodes: views.promoted_nodes,
        local_node: views.local_node,
        attr_reads: calls.reads,
        attr_writes: calls.writes,
        sql: db.calls,
        reason: out.reason,
    }
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
        let (mut sim, primary, standby) = match steady_cluster(n) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("N={n}: {e}");
                std::process::exit(1);
            }
        };
        rows.push(count_monitor(&mut sim, n, &primary, true));
        rows.push(count_monitor(&mut sim, n, &standby, false));
    }
    println!("| N | role | rc | view reads (nodes/promoted/local) | attr reads | attr writes | SQL calls |");
    println!("|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} ({}/{}/{}) | {} | {} | {} |",
            r.n,
            r.role,
            r.rc,
            r.view_reads(),
            r.nodes,
            r.promoted_nodes,
            r.local_node,
            r.attr_reads,
            r.attr_writes,
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
            .map(Row::view_reads)
            .collect();
        v.windows(2).all(|w| w[0] == w[1])
    });
    if let Some(path) = json_out {
        let json_rows: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "n": r.n,
                    "role": r.role,
                    "rc": r.rc,
                    "view_reads": r.view_reads(),
                    "nodes": r.nodes,
                    "promoted_nodes": r.promoted_nodes,
                    "local_node": r.local_node,
                    "attr_reads": r.attr_reads,
                    "attr_writes": r.attr_writes,
                    "sql": r.sql,
                })
            })
            .collect();
        let reason = rows
            .first()
            .and_then(|r| r.reason.clone())
            .unwrap_or_default();
        let s = format!(
            "{}\n",
            serde_json::json!({
                "rows": json_rows,
                "unimplemented": unimplemented,
                "view_reads_flat": flat,
                "first_reason": reason,
            })
        );
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
