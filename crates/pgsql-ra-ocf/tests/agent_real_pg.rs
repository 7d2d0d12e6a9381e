//! The real `pgsql-ra` binary driving two real PostgreSQL 15 servers ("node1"
//! on 127.0.0.2 and "node2" on 127.0.0.3, same port, so `primary_conninfo`
//! built from master_ip and the local pgport reaches the primary) with the
//! file-backed attribute store standing in for Pacemaker.

mod common;

use std::time::Duration;

use common::agent::{attr, AgentEnv};
use common::*;

const RUNNING: i32 = 0;
const NOT_RUNNING: i32 = 7;
const PROMOTED: i32 = 8;

struct Pair {
    dir: TestDir,
    n1: PgNode,
    n2: PgNode,
    attrd: String,
}

impl Pair {
    fn new(tag: &str) -> Pair {
        let dir = TestDir::new(tag);
        let port = free_port();
        let n1 = PgNode::new(&dir, "node1", 1, port);
        let n2 = PgNode::new(&dir, "node2", 2, port);
        let attrd = dir.join("attrd");
        std::fs::create_dir_all(&attrd).expect("attrd dir");
        std::fs::write(format!("{attrd}/nodes"), "node1\nnode2\n").expect("nodes");
        Pair { dir, n1, n2, attrd }
    }

    fn env(&self, node: &PgNode, master: &PgNode) -> AgentEnv {
        AgentEnv::new(node, &self.attrd, "node1 node2", &master.host)
    }

    fn set_promoted(&self, node: Option<&PgNode>) {
        let text = node
            .map(|n| format!("pgsql {}\n", n.name))
            .unwrap_or_default();
        std::fs::write(format!("{}/promoted", self.attrd), text).expect("promoted");
    }

    fn attr(&self, node: &PgNode, lifetime: &str, name: &str) -> Option<String> {
        attr(&self.attrd, &node.name, lifetime, name)
    }
}

/// node1 primary (started and promoted by the agent), node2 streaming standby.
fn bring_up(p: &Pair) -> (AgentEnv, AgentEnv) {
    p.n1.initdb();
    p.n1.start_directly();
    p.n2.basebackup_from(&p.n1);
    p.n1.stop_immediately();
    let a1 = p.env(&p.n1, &p.n1);
    let a2 = p.env(&p.n2, &p.n1);
    a1.expect("monitor", 0, NOT_RUNNING);
    a1.expect("start", 0, RUNNING);
    assert_eq!(
        p.attr(&p.n1, "reboot", "pgsql-status").as_deref(),
        Some("HS:alone")
    );
    a1.expect("promote", 0, RUNNING);
    p.set_promoted(Some(&p.n1));
    assert_eq!(
        p.attr(&p.n1, "reboot", "pgsql-status").as_deref(),
        Some("PRI")
    );
    a1.expect("monitor", 4000, PROMOTED);
    a2.expect("start", 0, RUNNING);
    (a1, a2)
}

#[test]
fn start_promote_and_sync_replication_are_reported() {
    let p = Pair::new("sync");
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let (a1, a2) = bring_up(&p);
    let streaming = wait_for(Duration::from_secs(30), || {
        a1.run("monitor", 4000).code == PROMOTED
            && p.attr(&p.n2, "forever", "pgsql-data-status").as_deref() == Some("STREAMING|SYNC")
    });
    assert!(
        streaming,
        "data-status of node2: {:?}",
        p.attr(&p.n2, "forever", "pgsql-data-status")
    );
    assert_eq!(
        p.attr(&p.n2, "reboot", "pgsql-status").as_deref(),
        Some("HS:sync")
    );
    assert_eq!(
        p.attr(&p.n1, "forever", "pgsql-data-status").as_deref(),
        Some("LATEST")
    );
    assert_eq!(
        p.attr(&p.n2, "reboot", "master-pgsql").as_deref(),
        Some("100")
    );
    a2.expect("monitor", 4000, RUNNING);
    let _ = &p.dir;
}

#[test]
fn primary_switches_to_async_when_the_standby_stops_and_back() {
    let p = Pair::new("async");
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let (a1, a2) = bring_up(&p);
    assert!(wait_for(Duration::from_secs(30), || {
        a1.run("monitor", 4000).code == PROMOTED
            && p.attr(&p.n2, "forever", "pgsql-data-status").as_deref() == Some("STREAMING|SYNC")
    }));
    a2.expect("stop", 0, RUNNING);
    a2.expect("monitor", 0, NOT_RUNNING);
    a1.expect("monitor", 4000, PROMOTED);
    assert_eq!(
        p.attr(&p.n2, "forever", "pgsql-data-status").as_deref(),
        Some("DISCONNECT")
    );
    // Writes keep succeeding: synchronous_standby_names was emptied.
    let t = std::time::Instant::now();
    p.n1.psql("create table after_stop(x int); insert into after_stop values (1)");
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(p.n1.psql("show synchronous_standby_names"), "");

    a2.expect("start", 0, RUNNING);
    assert!(wait_for(Duration::from_secs(30), || {
        a1.run("monitor", 4000).code == PROMOTED
            && p.attr(&p.n2, "forever", "pgsql-data-status").as_deref() == Some("STREAMING|SYNC")
    }));
    assert!(p
        .n1
        .psql("show synchronous_standby_names")
        .contains("node2"));
    p.n1.psql("insert into after_stop values (2)");
}

#[test]
fn switchover_demote_then_promote_the_standby() {
    let p = Pair::new("switch");
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let (a1, a2) = bring_up(&p);
    assert!(wait_for(Duration::from_secs(30), || {
        a1.run("monitor", 4000).code == PROMOTED
            && p.attr(&p.n2, "forever", "pgsql-data-status").as_deref() == Some("STREAMING|SYNC")
    }));
    p.n1.psql("create table sw(x int); insert into sw values (42)");
    a1.expect("demote", 0, RUNNING);
    // Issue 10: a clean demote continues as a hot standby (the rejoin
    // through a moving VIP is tested in switchover_real_pg.rs).
    p.set_promoted(None);
    a1.expect("monitor", 4000, RUNNING);
    a2.expect("promote", 0, RUNNING);
    p.set_promoted(Some(&p.n2));
    a2.expect("monitor", 4000, PROMOTED);
    assert_eq!(p.n2.psql("select x from sw"), "42");
    assert_eq!(
        p.attr(&p.n2, "reboot", "pgsql-status").as_deref(),
        Some("PRI")
    );
    assert_eq!(
        p.attr(&p.n2, "forever", "pgsql-data-status").as_deref(),
        Some("LATEST")
    );
    assert_eq!(
        p.attr(&p.n1, "forever", "pgsql-data-status").as_deref(),
        Some("DISCONNECT")
    );
    assert_eq!(
        p.attr(&p.n1, "reboot", "master-pgsql").as_deref(),
        Some("-INFINITY")
    );
}

/// The standby streamed (the primary's monitor saw it: `STREAMING|SYNC`),
/// so it may hold every acknowledged write: the crashed primary's lock
/// refuses start as with the stock agent (the lone-primary rule of issue 10
/// does not apply).
#[test]
fn a_crashed_primary_leaves_a_lock_that_refuses_start() {
    let p = Pair::new("lock");
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let (a1, _a2) = bring_up(&p);
    let lock = format!("{}/PGSQL.lock", p.n1.tmpdir);
    assert!(
        std::path::Path::new(&lock).exists(),
        "a primary holds PGSQL.lock"
    );
    let streaming = wait_for(Duration::from_secs(30), || {
        a1.run("monitor", 4000).code == PROMOTED
            && p.attr(&p.n2, "forever", "pgsql-data-status").as_deref() == Some("STREAMING|SYNC")
    });
    assert!(streaming, "node2 never seen streaming");
    p.n1.stop_immediately();
    a1.expect("monitor", 4000, NOT_RUNNING);
    let r = a1.run("start", 0);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("PGSQL.lock"), "{}", r.stderr);
    assert!(p
        .n1
        .postmaster_pid()
        .is_none_or(|pid| !pgsql_ra_ocf::procfs::signalable(pid)));
}

/// B2-05 (issue 10): the primary's monitor never saw the standby streaming
/// (its data-status stays `DISCONNECT`), nobody else is Promoted, and the
/// primary crashes: start removes the lone primary's lock and starts a hot
/// standby, which the election may promote again.
#[test]
fn a_lone_primary_crash_removes_the_lock_and_starts() {
    let p = Pair::new("lone");
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let (a1, _a2) = bring_up(&p);
    let lock = format!("{}/PGSQL.lock", p.n1.tmpdir);
    assert_eq!(
        p.attr(&p.n2, "forever", "pgsql-data-status").as_deref(),
        Some("DISCONNECT")
    );
    p.n1.stop_immediately();
    a1.expect("monitor", 4000, NOT_RUNNING);
    p.set_promoted(None);
    let r = a1.run("start", 0);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("this node was the last primary"),
        "{}",
        r.stderr
    );
    assert!(!std::path::Path::new(&lock).exists(), "the lock is gone");
    assert_eq!(
        p.attr(&p.n1, "reboot", "pgsql-status").as_deref(),
        Some("HS:alone")
    );
}

#[test]
fn a_stopped_process_makes_the_monitor_fail_in_bounded_time() {
    let p = Pair::new("hang");
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let (mut a1, _a2) = bring_up(&p);
    a1.set("OCF_RESKEY_CRM_meta_timeout", "8000");
    p.n1.signal_all(libc::SIGSTOP);
    let r = a1.run("monitor", 4000);
    p.n1.signal_all(libc::SIGCONT);
    assert!(
        r.elapsed < Duration::from_secs(8),
        "monitor took {:?}: {}",
        r.elapsed,
        r.stderr
    );
    assert!(
        r.code != PROMOTED && r.code != RUNNING,
        "code {}: {}",
        r.code,
        r.stderr
    );
    a1.expect("monitor", 4000, PROMOTED);
}

#[test]
fn stop_escalates_to_immediate_when_fast_does_not_finish() {
    let p = Pair::new("escalate");
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let (mut a1, _a2) = bring_up(&p);
    a1.set("OCF_RESKEY_stop_escalate", "2");
    // An open transaction does not block a fast stop, but a stopped checkpointer does.
    let checkpointer =
        p.n1.server_pids()
            .into_iter()
            .find(|pid| {
                pgsql_ra_ocf::procfs::cmdline(std::path::Path::new("/proc"), *pid)
                    .contains("checkpointer")
            })
            .expect("checkpointer");
    // SAFETY: stopping a test server's checkpointer.
    unsafe {
        libc::kill(checkpointer as libc::pid_t, libc::SIGSTOP);
    }
    let r = a1.expect("stop", 0, RUNNING);
    assert!(
        r.elapsed < Duration::from_secs(20),
        "stop took {:?}",
        r.elapsed
    );
    assert!(
        r.stderr.to_lowercase().contains("immediate"),
        "{}",
        r.stderr
    );
    a1.expect("monitor", 0, NOT_RUNNING);
}

#[test]
fn wrong_password_and_missing_binaries_give_clear_ocf_codes() {
    let p = Pair::new("errors");
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let (a1, _a2) = bring_up(&p);
    p.n1.psql("create role monitor login password 'right-horse'");
    let mut bad = p.env(&p.n1, &p.n1);
    bad.set("OCF_RESKEY_monitor_user", "monitor")
        .set("OCF_RESKEY_monitor_password", "wrong-battery-staple");
    let r = bad.run("monitor", 4000);
    assert!(r.code != PROMOTED && r.code != RUNNING, "{}", r.stderr);
    assert!(!r.stderr.contains("wrong-battery-staple"), "{}", r.stderr);
    assert!(r.stderr.contains("ocf-exit-reason:"), "{}", r.stderr);

    let mut good = p.env(&p.n1, &p.n1);
    good.set("OCF_RESKEY_monitor_user", "monitor")
        .set("OCF_RESKEY_monitor_password", "right-horse");
    good.expect("monitor", 4000, PROMOTED);

    let mut missing = p.env(&p.n1, &p.n1);
    missing.set("OCF_RESKEY_pgctl", "/nonexistent/pg_ctl");
    let r = missing.run("start", 0);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("/nonexistent/pg_ctl"), "{}", r.stderr);
    a1.expect("monitor", 4000, PROMOTED);
}

#[test]
fn restart_on_promote_with_slots_and_wal_receiver_check() {
    let p = Pair::new("options");
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    p.n1.initdb();
    p.n1.start_directly();
    p.n2.basebackup_from(&p.n1);
    p.n1.stop_immediately();
    let mut a1 = p.env(&p.n1, &p.n1);
    let mut a2 = p.env(&p.n2, &p.n1);
    for a in [&mut a1, &mut a2] {
        a.set("OCF_RESKEY_restart_on_promote", "true")
            .set("OCF_RESKEY_replication_slot_name", "pgsql_slot")
            .set("OCF_RESKEY_check_wal_receiver", "true");
    }
    a1.expect("start", 0, RUNNING);
    let pid_before = p.n1.postmaster_pid().expect("running");
    a1.expect("promote", 0, RUNNING);
    p.set_promoted(Some(&p.n1));
    let pid_after = p.n1.postmaster_pid().expect("running");
    assert_ne!(
        pid_before, pid_after,
        "restart_on_promote restarts the server"
    );
    assert_eq!(p.n1.psql("select pg_is_in_recovery()"), "f");
    assert!(
        !std::path::Path::new(&format!("{}/standby.signal", p.n1.pgdata)).exists(),
        "no standby.signal was written into a running primary"
    );
    assert_eq!(
        p.n1.psql("select slot_name from pg_replication_slots order by 1"),
        "pgsql_slot_node2",
        "the primary creates a slot per other node"
    );
    a2.expect("start", 0, RUNNING);
    assert!(wait_for(Duration::from_secs(30), || {
        a1.run("monitor", 4000).code == PROMOTED
            && p.attr(&p.n2, "forever", "pgsql-data-status").as_deref() == Some("STREAMING|SYNC")
    }));
    assert_eq!(p.n1.psql("select active from pg_replication_slots"), "t");
    assert!(wait_for(Duration::from_secs(10), || {
        a2.run("monitor", 4000).code == RUNNING
            && p.attr(&p.n2, "reboot", "pgsql-receiver-status").as_deref() == Some("normal")
    }));
    assert_eq!(
        p.attr(&p.n1, "reboot", "pgsql-receiver-status").as_deref(),
        Some("normal (master)")
    );
}

/// Every attribute file of the file store, by name (a snapshot).
fn attr_files(p: &Pair) -> std::collections::BTreeMap<String, String> {
    let mut files = std::collections::BTreeMap::new();
    for e in std::fs::read_dir(format!("{}/attrs", p.attrd)).expect("attrs dir") {
        let e = e.expect("dir entry");
        let text = std::fs::read_to_string(e.path()).expect("attr file");
        files.insert(e.file_name().to_string_lossy().into_owned(), text);
    }
    files
}

/// B2-08 (issue 12): `start` on an instance that is already running. A
/// streaming hot standby: 0, and nothing changes (its status, its score,
/// the other node's attributes, the replication). A primary (with and
/// without `PGSQL.lock`): an error that names the primary, and no attribute
/// of any node is touched.
#[test]
fn start_of_a_running_instance_keeps_a_standby_and_refuses_a_primary() {
    let p = Pair::new("startrun");
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let (a1, a2) = bring_up(&p);
    assert!(wait_for(Duration::from_secs(30), || {
        a1.run("monitor", 4000).code == PROMOTED
            && p.attr(&p.n2, "forever", "pgsql-data-status").as_deref() == Some("STREAMING|SYNC")
    }));
    assert_eq!(
        p.attr(&p.n2, "reboot", "pgsql-status").as_deref(),
        Some("HS:sync")
    );
    let standby_pid = p.n2.postmaster_pid();
    let before = attr_files(&p);

    let r = a2.expect("start", 0, RUNNING);
    assert!(!r.stderr.contains("ocf-exit-reason"), "{}", r.stderr);
    assert_eq!(
        attr_files(&p),
        before,
        "start of a running standby changed attributes"
    );
    assert_eq!(
        p.n2.postmaster_pid(),
        standby_pid,
        "the standby was not restarted"
    );
    assert_eq!(
        p.n1.psql("select count(*) from pg_stat_replication where application_name = 'node2' and state = 'streaming'"),
        "1"
    );
    a2.expect("monitor", 4000, RUNNING);
    a1.expect("monitor", 4000, PROMOTED);
    assert_eq!(
        p.attr(&p.n2, "reboot", "pgsql-status").as_deref(),
        Some("HS:sync")
    );

    // The primary, first with its PGSQL.lock (the normal case; issue 12,
    // attack finding 10), then without it: the same refusal, no advice to
    // remove the lock of a live primary, no attribute changed.
    let lock = format!("{}/PGSQL.lock", p.n1.tmpdir);
    assert!(
        std::path::Path::new(&lock).exists(),
        "a primary has its lock"
    );
    let before = attr_files(&p);
    let primary_pid = p.n1.postmaster_pid();
    for with_lock in [true, false] {
        if !with_lock {
            std::fs::remove_file(&lock).expect("remove the lock");
        }
        let r = a1.run("start", 0);
        assert_eq!(r.code, 1, "lock {with_lock}: {}", r.stderr);
        assert!(
            r.stderr.contains("already running as a primary"),
            "lock {with_lock}: {}",
            r.stderr
        );
        assert!(
            !r.stderr.contains("remove"),
            "lock {with_lock}: {}",
            r.stderr
        );
        assert_eq!(
            attr_files(&p),
            before,
            "start of a running primary changed attributes (lock {with_lock})"
        );
    }
    assert_eq!(
        p.n1.postmaster_pid(),
        primary_pid,
        "the primary was left alone"
    );
    assert_eq!(p.n1.psql("select pg_is_in_recovery()"), "f");
    assert!(
        !std::path::Path::new(&format!("{}/standby.signal", p.n1.pgdata)).exists(),
        "no standby.signal was written into a running primary"
    );
}
