//! Issue 12 (re-attack items 2 and 3): `start` on a single node whose
//! primary is alive but does not answer, or refuses the agent's login. Real
//! PostgreSQL 15; the file-backed attribute store stands in for Pacemaker.
//!
//! * A SIGSTOPped primary with its `PGSQL.lock`: start fails in bounded
//!   time, the lock stays, no attribute changes, no `standby.signal` is
//!   written (before: the lone-primary rule removed the live primary's lock
//!   and the attributes changed).
//! * A login the server refuses for good (role does not exist, wrong
//!   password, database does not exist: SQLSTATE 28000/28P01/3D000): 6 at
//!   once naming the parameter, with the lock present and after `pg_ctl
//!   start` (before: the start polled ~20 times a second until its timeout).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::agent::{attr, AgentEnv};
use common::*;

const PROMOTED: i32 = 8;

/// Every attribute file of the file store, by name.
fn attr_files(attrd: &str) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for e in std::fs::read_dir(format!("{attrd}/attrs")).expect("attrs dir") {
        let e = e.expect("dir entry");
        let text = std::fs::read_to_string(e.path()).expect("attr file");
        files.insert(e.file_name().to_string_lossy().into_owned(), text);
    }
    files
}

#[test]
fn start_never_takes_the_lock_path_for_a_live_postmaster_and_stops_on_a_refused_login() {
    let dir = TestDir::new("startrefuse");
    let n1 = PgNode::new(&dir, "node1", 1, free_port());
    let _guard = ServerGuard(vec![n1.clone()]);
    let attrd = dir.join("attrd");
    std::fs::create_dir_all(&attrd).expect("attrd");
    std::fs::write(format!("{attrd}/nodes"), "node1\n").expect("nodes");
    n1.initdb();
    let mut a1 = AgentEnv::new(&n1, &attrd, "node1", &n1.host);
    a1.set("OCF_RESKEY_CRM_meta_clone_max", "1");
    a1.expect("start", 0, 0);
    a1.expect("promote", 0, 0);
    std::fs::write(format!("{attrd}/promoted"), "pgsql node1\n").expect("promoted");
    a1.expect("monitor", 4000, PROMOTED);
    n1.psql("create role monitor login password 'right-horse'");
    let lock = format!("{}/PGSQL.lock", n1.tmpdir);
    let standby_signal = format!("{}/standby.signal", n1.pgdata);
    assert!(
        std::path::Path::new(&lock).exists(),
        "a primary has its lock"
    );
    let before = attr_files(&attrd);
    let pid = n1.postmaster_pid();

    // Item 2: a SIGSTOPped primary. Bounded, 1, nothing changed.
    a1.set("OCF_RESKEY_CRM_meta_timeout", "10000");
    n1.signal_all(libc::SIGSTOP);
    let r = a1.run("start", 0);
    n1.signal_all(libc::SIGCONT);
    eprintln!("SIGSTOP: {:?} {}", r.elapsed, r.stderr);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.elapsed < Duration::from_secs(10), "took {:?}", r.elapsed);
    assert!(r.stderr.contains("alive but not answering"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("Removed"),
        "nothing may be removed: {}",
        r.stderr
    );
    assert!(std::path::Path::new(&lock).exists(), "the lock stays");
    assert_eq!(attr_files(&attrd), before, "start changed attributes");
    assert!(
        !std::path::Path::new(&standby_signal).exists(),
        "no standby.signal in a live primary"
    );
    assert_eq!(n1.postmaster_pid(), pid);
    a1.expect("monitor", 4000, PROMOTED);

    // Item 3: logins the server refuses for good, with the lock present:
    // 4 (OCF_ERR_PERM) at once, naming what to check; nothing changed.
    for (vars, names) in [
        (
            vec![("OCF_RESKEY_monitor_user", "nosuchrole")],
            "monitor_user",
        ),
        (
            vec![
                ("OCF_RESKEY_monitor_user", "monitor"),
                ("OCF_RESKEY_monitor_password", "wrong-battery-staple"),
            ],
            "monitor_password",
        ),
        (vec![("OCF_RESKEY_pgdb", "nosuchdb")], "pgdb"),
    ] {
        let mut bad = AgentEnv::new(&n1, &attrd, "node1", &n1.host);
        bad.set("OCF_RESKEY_CRM_meta_clone_max", "1");
        for (k, v) in &vars {
            bad.set(k, v);
        }
        let r = bad.run("start", 0);
        eprintln!("{vars:?}: {:?} {}", r.elapsed, r.stderr);
        assert_eq!(r.code, 4, "{vars:?}: {}", r.stderr);
        assert!(
            r.elapsed < Duration::from_secs(5),
            "{vars:?}: {:?}",
            r.elapsed
        );
        let reason = r
            .stderr
            .lines()
            .find_map(|l| l.strip_prefix("ocf-exit-reason:"))
            .expect("an exit reason");
        assert!(reason.contains(names), "{vars:?}: {reason}");
        assert!(reason.len() <= 128, "{reason}");
        assert!(!r.stderr.contains("wrong-battery-staple"), "{}", r.stderr);
        assert!(std::path::Path::new(&lock).exists(), "the lock stays");
        assert_eq!(attr_files(&attrd), before, "{vars:?} changed attributes");
    }

    // After `pg_ctl start` (no lock, the server down): a refused login ends
    // the wait at once instead of polling until the 30 s timeout.
    n1.stop_immediately();
    std::fs::remove_file(&lock).expect("remove the lock");
    let mut bad = AgentEnv::new(&n1, &attrd, "node1", &n1.host);
    bad.set("OCF_RESKEY_CRM_meta_clone_max", "1")
        .set("OCF_RESKEY_monitor_user", "monitor")
        .set("OCF_RESKEY_monitor_password", "wrong-battery-staple");
    let r = bad.run("start", 0);
    eprintln!("after pg_ctl start: {:?} {}", r.elapsed, r.stderr);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.elapsed < Duration::from_secs(10), "took {:?}", r.elapsed);
    assert!(
        r.stderr.contains("password authentication failed"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("wrong-battery-staple"), "{}", r.stderr);
    assert_eq!(
        attr(&attrd, "node1", "reboot", "pgsql-status").as_deref(),
        Some("STOP")
    );
}
