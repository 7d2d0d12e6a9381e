//! Issue 11 item 1 (case B2-04) on real PostgreSQL 15 servers: the real
//! `pgsql-ra` binary with the file-backed attribute store, node1 primary on
//! 127.0.0.2, node2 synchronous standby on 127.0.0.3 (the harness of
//! `agent_real_pg.rs`), the standby with the seed's
//! `wal_receiver_status_interval = 2` and `standby_reply_timeout` at its
//! default (10 s).
//!
//! The standby's host "freezes": SIGSTOP of its postmaster and every child
//! (walreceiver included) — no TCP reset, so its walsender row on the
//! primary stays `streaming|sync` and a COMMIT on the primary blocks. The
//! primary's monitor, run every 4 s like a Promoted monitor, must drop it
//! once its `reply_time` is older than the bound: DISCONNECT/-INFINITY,
//! out of `synchronous_standby_names` (the blocked COMMIT returns), its
//! walsender terminated. The stall is measured and must stay below bound +
//! monitor interval + 2 s — a check of the mechanism (PostgreSQL's own
//! `wal_sender_timeout` would take 60 s), not of speed. Before that, a
//! healthy idle standby is watched for three bound periods and must not be
//! dropped.

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::agent::{attr, AgentEnv};
use common::*;

const RUNNING: i32 = 0;
const NOT_RUNNING: i32 = 7;
const PROMOTED: i32 = 8;
/// `standby_reply_timeout`'s default.
const BOUND: Duration = Duration::from_secs(10);
/// The Promoted monitor interval of these tests.
const INTERVAL: Duration = Duration::from_secs(4);

/// node1 primary (started and promoted by the agent), node2 a streaming
/// standby replying every 2 s (the seed's `wal_receiver_status_interval`).
fn bring_up(dir: &TestDir, n1: &PgNode, n2: &PgNode, attrd: &str) -> (AgentEnv, AgentEnv) {
    n1.initdb();
    n1.start_directly();
    n2.basebackup_from(n1);
    n1.stop_immediately();
    let conf = format!("{}/postgresql.conf", n2.pgdata);
    let mut text = std::fs::read_to_string(&conf).expect("postgresql.conf");
    text.push_str("wal_receiver_status_interval = 2\n");
    std::fs::write(&conf, text).expect("write postgresql.conf");
    let a1 = AgentEnv::new(n1, attrd, "node1 node2", &n1.host);
    let a2 = AgentEnv::new(n2, attrd, "node1 node2", &n1.host);
    a1.expect("monitor", 0, NOT_RUNNING);
    a1.expect("start", 0, RUNNING);
    a1.expect("promote", 0, RUNNING);
    std::fs::write(format!("{attrd}/promoted"), "pgsql node1\n").expect("promoted");
    a1.expect("monitor", 4000, PROMOTED);
    a2.expect("start", 0, RUNNING);
    let _ = dir;
    (a1, a2)
}

#[test]
fn a_frozen_sync_standby_is_dropped_within_one_monitor_after_the_bound() {
    let dir = TestDir::new("frozen");
    let port = free_port();
    let n1 = PgNode::new(&dir, "node1", 1, port);
    let n2 = PgNode::new(&dir, "node2", 2, port);
    let attrd = dir.join("attrd");
    std::fs::create_dir_all(&attrd).expect("attrd dir");
    std::fs::write(format!("{attrd}/nodes"), "node1\nnode2\n").expect("nodes");
    let _guard = ServerGuard(vec![n1.clone(), n2.clone()]);
    let (a1, _a2) = bring_up(&dir, &n1, &n2, &attrd);
    let data_status = || attr(&attrd, "node2", "forever", "pgsql-data-status");
    let score = || attr(&attrd, "node2", "reboot", "master-pgsql");
    assert!(
        wait_for(Duration::from_secs(30), || {
            a1.run("monitor", 4000).code == PROMOTED
                && data_status().as_deref() == Some("STREAMING|SYNC")
                && score().as_deref() == Some("100")
        }),
        "node2 becomes the promotable sync standby: {:?} {:?}",
        data_status(),
        score()
    );
    assert!(n1.psql("show synchronous_standby_names").contains("node2"));
    n1.psql("create table t(i int); insert into t values (0)");

    // A healthy idle standby over three bound periods: never dropped.
    let idle = Instant::now();
    while idle.elapsed() < 3 * BOUND {
        std::thread::sleep(INTERVAL);
        a1.expect("monitor", 4000, PROMOTED);
        assert_eq!(data_status().as_deref(), Some("STREAMING|SYNC"));
        assert_eq!(score().as_deref(), Some("100"));
    }
    let ages = n1.psql("select round(extract(epoch from clock_timestamp() - reply_time)::numeric, 1) from pg_stat_replication where application_name = 'node2'");
    eprintln!(
        "idle standby watched for {:.0} s: never dropped (last reply age {ages} s)",
        idle.elapsed().as_secs_f64()
    );

    // Freeze node2's host: SIGSTOP, no TCP reset.
    n2.signal_all(libc::SIGSTOP);
    let frozen = Instant::now();
    let (tx, rx) = mpsc::channel();
    let writer = n1.clone();
    std::thread::spawn(move || {
        let started = Instant::now();
        writer.psql("insert into t values (1)");
        let _ = tx.send(started.elapsed());
    });
    // The COMMIT waits for the frozen standby.
    assert!(
        rx.recv_timeout(Duration::from_secs(3)).is_err(),
        "the write must block while node2 is frozen and synchronous"
    );
    // The Promoted monitor, every INTERVAL, until the write returns.
    let mut stall = None;
    let mut dropped_after = None;
    while frozen.elapsed() < BOUND + 6 * INTERVAL {
        if let Ok(s) = rx.recv_timeout(INTERVAL) {
            stall = Some(s);
            break;
        }
        a1.expect("monitor", 4000, PROMOTED);
        if dropped_after.is_none() && data_status().as_deref() == Some("DISCONNECT") {
            dropped_after = Some(frozen.elapsed());
        }
    }
    let stall = stall.expect("the blocked COMMIT returns once node2 is dropped");
    eprintln!(
        "B2-04 on PostgreSQL 15: write stall {:.1} s (node2 marked DISCONNECT {:.1} s after the freeze; bound {} s, monitor interval {} s)",
        stall.as_secs_f64(),
        dropped_after.map_or(f64::NAN, |d| d.as_secs_f64()),
        BOUND.as_secs(),
        INTERVAL.as_secs()
    );
    assert!(
        stall < BOUND + INTERVAL + Duration::from_secs(2),
        "stall {stall:?} must stay below bound + monitor interval + 2 s"
    );
    // A COMMIT was waiting, so the first monitor after the 3 s check above
    // drops node2 by the waiting-commit rule (replication::SYNC_WAIT_GRACE),
    // not after the 10 s bound: the stall ends before the bound does.
    assert!(
        stall < Duration::from_secs(3) + INTERVAL + Duration::from_secs(2) && stall < BOUND,
        "stall {stall:?}: a waiting commit must end it within one monitor, before standby_reply_timeout"
    );
    assert_eq!(data_status().as_deref(), Some("DISCONNECT"));
    assert_eq!(score().as_deref(), Some("-INFINITY"));
    assert!(!n1.psql("show synchronous_standby_names").contains("node2"));
    assert_eq!(
        n1.psql("select count(*) from pg_stat_replication where application_name = 'node2'"),
        "0",
        "node2's walsender is terminated"
    );
    // Writes no longer wait.
    let t = Instant::now();
    n1.psql("insert into t values (2)");
    assert!(t.elapsed() < Duration::from_secs(3));
    n2.signal_all(libc::SIGCONT);
}
