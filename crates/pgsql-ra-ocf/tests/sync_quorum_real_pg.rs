//! Issue 11 (case B2-07) on real PostgreSQL 15 servers, with the real
//! `pgsql-ra` binary and the file-backed attribute store (the harness of
//! `agent_real_pg.rs`): node1 on 127.0.0.2, node2 on 127.0.0.3.
//!
//! * Bug H: a start refused because the operator set
//!   `synchronous_standby_names` on the standby (ALTER SYSTEM) stops the
//!   PostgreSQL it started (the stock agent left it running).
//! * Quorum commit (`sync_quorum=1`): the primary runs with `ANY 1
//!   ("node2")`, PostgreSQL reports `sync_state = quorum`, the agent shows
//!   `STREAMING|QUORUM`/`HS:quorum`/-INFINITY and records the set; a commit
//!   waits for the member.

mod common;

use std::time::{Duration, Instant};

use common::agent::{attr, AgentEnv};
use common::*;

const RUNNING: i32 = 0;
const NOT_RUNNING: i32 = 7;
const PROMOTED: i32 = 8;
const ERR_CONFIGURED: i32 = 6;

struct Pair {
    _dir: TestDir,
    n1: PgNode,
    n2: PgNode,
    attrd: String,
}

fn pair(tag: &str) -> Pair {
    let dir = TestDir::new(tag);
    let port = free_port();
    let n1 = PgNode::new(&dir, "node1", 1, port);
    let n2 = PgNode::new(&dir, "node2", 2, port);
    let attrd = dir.join("attrd");
    std::fs::create_dir_all(&attrd).expect("attrd dir");
    std::fs::write(format!("{attrd}/nodes"), "node1\nnode2\n").expect("nodes");
    Pair {
        _dir: dir,
        n1,
        n2,
        attrd,
    }
}

/// node1 primary (started and promoted by the agent); node2's data copied
/// but not started. `extra` parameters for both agents.
fn primary_up(p: &Pair, extra: &[(&str, &str)]) -> (AgentEnv, AgentEnv) {
    p.n1.initdb();
    p.n1.start_directly();
    p.n2.basebackup_from(&p.n1);
    p.n1.stop_immediately();
    let mut a1 = AgentEnv::new(&p.n1, &p.attrd, "node1 node2", &p.n1.host);
    let mut a2 = AgentEnv::new(&p.n2, &p.attrd, "node1 node2", &p.n1.host);
    for (k, v) in extra {
        a1.set(&format!("OCF_RESKEY_{k}"), v);
        a2.set(&format!("OCF_RESKEY_{k}"), v);
    }
    a1.expect("monitor", 0, NOT_RUNNING);
    a1.expect("start", 0, RUNNING);
    a1.expect("promote", 0, RUNNING);
    std::fs::write(format!("{}/promoted", p.attrd), "pgsql node1\n").expect("promoted");
    a1.expect("monitor", 4000, PROMOTED);
    (a1, a2)
}

#[test]
fn a_start_refused_for_synchronous_standby_names_stops_what_it_started() {
    let p = pair("bugh");
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let (_a1, a2) = primary_up(&p, &[]);
    // The operator's own quorum setting on the standby (ALTER SYSTEM).
    std::fs::write(
        format!("{}/postgresql.auto.conf", p.n2.pgdata),
        "synchronous_standby_names = 'ANY 1 (node1)'\n",
    )
    .expect("auto.conf");
    let r = a2.expect("start", 0, ERR_CONFIGURED);
    assert!(
        r.stderr
            .contains("Invalid synchronous_standby_names is set in postgresql.conf."),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("PostgreSQL was stopped again"),
        "{}",
        r.stderr
    );
    let gone = wait_for(Duration::from_secs(5), || !alive(&p.n2));
    assert!(
        gone,
        "node2's PostgreSQL must be stopped after the refused start"
    );
    a2.expect("monitor", 0, NOT_RUNNING);
}

/// True while the node's postmaster (from postmaster.pid) runs.
fn alive(n: &PgNode) -> bool {
    n.postmaster_pid()
        .is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
}

#[test]
fn quorum_commit_on_a_real_primary() {
    let p = pair("quorum");
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let (a1, a2) = primary_up(&p, &[("sync_quorum", "1")]);
    a2.expect("start", 0, RUNNING);
    let data_status = || attr(&p.attrd, "node2", "forever", "pgsql-data-status");
    let member = wait_for(Duration::from_secs(30), || {
        a1.run("monitor", 4000).code == PROMOTED
            && data_status().as_deref() == Some("STREAMING|QUORUM")
    });
    assert!(member, "node2 data-status {:?}", data_status());
    assert_eq!(
        p.n1.psql("show synchronous_standby_names"),
        "ANY 1 (\"node2\")"
    );
    assert_eq!(
        p.n1.psql("select sync_state from pg_stat_replication where application_name = 'node2'"),
        "quorum"
    );
    assert_eq!(
        attr(&p.attrd, "node2", "reboot", "pgsql-status").as_deref(),
        Some("HS:quorum")
    );
    assert_eq!(
        attr(&p.attrd, "node2", "reboot", "master-pgsql").as_deref(),
        Some("-INFINITY")
    );
    for n in ["node1", "node2"] {
        assert_eq!(
            attr(&p.attrd, n, "forever", "pgsql-sync-quorum").as_deref(),
            Some("1 node2"),
            "the quorum set recorded on {n}"
        );
    }
    // A commit is acknowledged by the member.
    let t = Instant::now();
    p.n1.psql("create table q(i int); insert into q values (1)");
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(p.n2.psql("select count(*) from q"), "1");
}
