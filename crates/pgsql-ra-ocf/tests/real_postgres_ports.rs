//! The real ports against a real PostgreSQL 15 (no Pacemaker): PgDatabase
//! (version, recovery, LSNs, replication rows, slots, errors, deadlines with
//! a SIGSTOPped server) and PgCtl (start, promote, stop, WAL receiver,
//! postmaster liveness) as the `postgres` user.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use pgsql_ra_core::ports::{Database, DbErrorKind, Server, StopMode};
use pgsql_ra_core::Params;
use pgsql_ra_ocf::budget::Budget;
use pgsql_ra_ocf::db::{DbTarget, PgDatabase};
use pgsql_ra_ocf::pg_ctl::PgCtl;

fn params(node: &PgNode, extra: &[(&str, &str)]) -> Params {
    let port = node.port.to_string();
    let mut m: BTreeMap<String, String> = [
        ("pgctl", pg_bin("pg_ctl")),
        ("pgdata", node.pgdata.clone()),
        ("pghost", node.host.clone()),
        ("pgport", port),
        ("logfile", node.logfile.clone()),
        ("socketdir", node.socketdir.clone()),
        ("pgdb", "postgres".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in extra {
        m.insert(k.to_string(), v.to_string());
    }
    let (p, errors) = Params::parse(&m);
    assert!(errors.is_empty(), "{errors:?}");
    p
}

fn quick() -> Budget {
    Budget {
        connect: Duration::from_secs(2),
        statement: Duration::from_secs(2),
        command: Duration::from_secs(30),
        database_total: None,
    }
}

fn db_for(p: &Params) -> PgDatabase {
    PgDatabase::new(DbTarget::from_params(p), quick())
}

fn wait_connectable(db: &mut PgDatabase) {
    let mut last = String::new();
    let ok = wait_for(Duration::from_secs(30), || {
        db.reset();
        match db.server_version_num() {
            Ok(_) => true,
            Err(e) => {
                last = e.to_string();
                false
            }
        }
    });
    assert!(ok, "server did not accept connections: {last}");
}

#[test]
fn primary_and_standby_through_pg_ctl_and_the_database_port() {
    let dir = TestDir::new("ports");
    let port = free_port();
    let n1 = PgNode::new(&dir, "node1", 1, port);
    let n2 = PgNode::new(&dir, "node2", 2, port);
    let _guard = ServerGuard(vec![n1.clone(), n2.clone()]);
    n1.initdb();

    let p1 = params(&n1, &[]);
    let mut ctl1 = PgCtl::new(&p1, Duration::from_secs(30));
    assert_eq!(ctl1.postmaster_pid().expect("pid"), None);
    ctl1.start().expect("pg_ctl start as postgres");
    let mut db1 = db_for(&p1);
    wait_connectable(&mut db1);
    let pm1 = ctl1
        .postmaster_pid()
        .expect("pid")
        .expect("postmaster alive");
    assert_eq!(Some(pm1), n1.postmaster_pid());

    assert!(db1.server_version_num().expect("version") >= 150_000);
    assert!(!db1.is_in_recovery().expect("recovery"));
    let lsn = db1.current_lsn().expect("lsn");
    assert!(lsn.0 > 0);
    assert_eq!(db1.timeline().expect("tli"), Some(1));
    let sysid = db1.system_identifier().expect("sysid").expect("9.6+");
    assert_eq!(db1.synchronous_standby_names().expect("ssn"), "");
    assert!(db1.replication_rows().expect("rows").is_empty());
    db1.run_monitor_sql("select now(); select 1;")
        .expect("monitor sql");
    assert_eq!(
        db1.run_monitor_sql("select * from no_such_table")
            .unwrap_err()
            .kind,
        DbErrorKind::Query
    );

    // Slots, with a name that would break naive quoting.
    assert!(!db1.slot_exists("slot_node2").expect("slot query"));
    db1.create_physical_slot("slot_node2").expect("create slot");
    assert!(db1.slot_exists("slot_node2").expect("slot query"));
    assert!(!db1.slot_exists("x' or '1'='1").expect("parameterised"));
    db1.drop_slot("slot_node2").expect("drop slot");
    assert!(!db1.slot_exists("slot_node2").expect("slot query"));

    // A standby on its own address, same port, streaming from node1.
    n2.basebackup_from(&n1);
    std::fs::write(format!("{}/standby.signal", n2.pgdata), "").expect("standby.signal");
    let conninfo = format!(
        "\nprimary_conninfo = 'host={} port={} user=postgres application_name=node2'\n",
        n1.host, port
    );
    let conf = format!("{}/postgresql.conf", n2.pgdata);
    let mut text = std::fs::read_to_string(&conf).expect("conf");
    text.push_str(&conninfo);
    std::fs::write(&conf, text).expect("conf");
    let p2 = params(&n2, &[]);
    let mut ctl2 = PgCtl::new(&p2, Duration::from_secs(30));
    ctl2.start().expect("start standby");
    let mut db2 = db_for(&p2);
    wait_connectable(&mut db2);
    assert!(db2.is_in_recovery().expect("recovery"));
    assert_eq!(db2.system_identifier().expect("sysid"), Some(sysid));
    let pm2 = ctl2.postmaster_pid().expect("pid").expect("standby alive");
    assert!(wait_for(Duration::from_secs(20), || ctl2
        .wal_receiver_running(pm2)
        .unwrap_or(false)));
    assert!(
        !ctl1.wal_receiver_running(pm1).expect("scan"),
        "a primary has no WAL receiver"
    );
    assert!(wait_for(Duration::from_secs(20), || {
        db1.replication_rows()
            .map(|rows| {
                rows.iter()
                    .any(|r| r.application_name == "node2" && r.state == "STREAMING")
            })
            .unwrap_or(false)
    }));
    let row = db1
        .replication_rows()
        .expect("rows")
        .into_iter()
        .find(|r| r.application_name == "node2")
        .expect("row");
    assert_eq!(row.sync_state, "ASYNC");
    // Issue 16: the rows are read from the functions pg_stat_replication is
    // defined over; they are the view's.
    let view = n1.psql(
        "select application_name || '|' || upper(state) || '|' || upper(sync_state) \
         from pg_stat_replication order by 1",
    );
    let mut ours: Vec<String> = db1
        .replication_rows()
        .expect("rows")
        .iter()
        .map(|r| format!("{}|{}|{}", r.application_name, r.state, r.sync_state))
        .collect();
    ours.sort();
    assert_eq!(view.lines().map(str::to_string).collect::<Vec<_>>(), ours);
    let lag_names: Vec<String> = db1
        .replication_lag()
        .expect("lag rows")
        .into_iter()
        .map(|r| r.application_name)
        .collect();
    assert_eq!(lag_names, vec!["node2".to_string()]);
    n1.psql("create table t(x int); insert into t values (1)");
    let target = db1.current_lsn().expect("lsn");
    assert!(wait_for(Duration::from_secs(20), || {
        matches!(db2.replay_and_receive_lsn(), Ok((Some(replay), Some(_))) if replay >= target)
    }));

    // Promote node2, then stop both.
    ctl1.stop(StopMode::Fast).expect("stop primary");
    assert!(wait_for(Duration::from_secs(20), || ctl1
        .postmaster_pid()
        .ok()
        == Some(None)));
    ctl2.promote().expect("promote");
    assert!(wait_for(Duration::from_secs(20), || db2
        .is_in_recovery()
        .ok()
        == Some(false)));
    assert_eq!(db2.timeline().ok().flatten().map(|t| t >= 1), Some(true));
    ctl2.reload().expect("reload");
    ctl2.stop(StopMode::Immediate).expect("stop immediate");
    assert!(wait_for(Duration::from_secs(20), || ctl2
        .postmaster_pid()
        .ok()
        == Some(None)));
    // The pid file of a crashed (immediate-stopped) server is left behind? Either way removal is safe now.
    ctl2.remove_stale_pid_file().expect("no live postmaster");
}

#[test]
fn a_sigstopped_server_fails_calls_in_bounded_time() {
    let dir = TestDir::new("sigstop");
    let n1 = PgNode::new(&dir, "node1", 1, free_port());
    let _guard = ServerGuard(vec![n1.clone()]);
    n1.initdb();
    n1.start_directly();
    let p = params(&n1, &[]);
    let mut db = db_for(&p);
    wait_connectable(&mut db);

    // An open session whose backend (and postmaster) stop answering.
    n1.signal_all(libc::SIGSTOP);
    let t = Instant::now();
    let e = db.is_in_recovery().unwrap_err();
    assert_eq!(e.kind, DbErrorKind::Timeout, "{e}");
    assert!(
        t.elapsed() < Duration::from_secs(6),
        "took {:?}",
        t.elapsed()
    );

    // A new connection to a stopped postmaster: the kernel accepts, nobody answers.
    db.reset();
    let t = Instant::now();
    let e = db.server_version_num().unwrap_err();
    assert_eq!(e.kind, DbErrorKind::Timeout, "{e}");
    assert!(
        t.elapsed() < Duration::from_secs(6),
        "took {:?}",
        t.elapsed()
    );

    // Same over the unix socket.
    let p_sock = params(&n1, &[("pghost", "")]);
    let mut db_sock = db_for(&p_sock);
    let t = Instant::now();
    let e = db_sock.server_version_num().unwrap_err();
    assert_eq!(e.kind, DbErrorKind::Timeout, "{e}");
    assert!(
        t.elapsed() < Duration::from_secs(6),
        "took {:?}",
        t.elapsed()
    );

    // Retries cannot exceed the invocation's total database time.
    let total = Budget {
        database_total: Some(Duration::from_secs(3)),
        ..quick()
    };
    let mut bounded = PgDatabase::new(DbTarget::from_params(&p), total);
    let t = Instant::now();
    for _ in 0..5 {
        assert_eq!(
            bounded.is_in_recovery().unwrap_err().kind,
            DbErrorKind::Timeout
        );
    }
    assert!(
        t.elapsed() < Duration::from_millis(3500),
        "took {:?}",
        t.elapsed()
    );

    n1.signal_all(libc::SIGCONT);
    wait_connectable(&mut db);
}

/// Also issue 12 (attack finding 3): connection errors keep their cause
/// ("no password supplied", classified as authentication; "Connection
/// refused" without "(os error 111)"; the last cause once the database time
/// is used up).
#[test]
fn authentication_and_connection_errors_are_classified_without_leaking_the_password() {
    let dir = TestDir::new("auth");
    let n1 = PgNode::new(&dir, "node1", 1, free_port());
    let _guard = ServerGuard(vec![n1.clone()]);
    n1.initdb();
    n1.start_directly();
    n1.psql("create role monitor login password 'right-horse'");

    let secret = "wrong-battery-staple";
    let p = params(
        &n1,
        &[("monitor_user", "monitor"), ("monitor_password", secret)],
    );
    let mut db = db_for(&p);
    let e = db.is_in_recovery().unwrap_err();
    assert_eq!(e.kind, DbErrorKind::Auth, "{e}");
    assert!(!e.message.contains(secret));
    assert!(e.message.contains("monitor"), "{e}");

    let p = params(
        &n1,
        &[
            ("monitor_user", "monitor"),
            ("monitor_password", "right-horse"),
        ],
    );
    let mut db = db_for(&p);
    assert!(!db.is_in_recovery().expect("right password works"));

    // Peer-style access over the unix socket as pgdba (trust here, but the
    // connect runs with pgdba's effective identity).
    let mut db_sock = db_for(&params(&n1, &[("pghost", "")]));
    assert!(db_sock.server_version_num().expect("unix socket") >= 150_000);

    // Nothing listens on this port.
    let mut nobody = PgNode::new(&dir, "node9", 9, free_port());
    nobody.host = "127.0.0.10".into();
    let t = Instant::now();
    let e = db_for(&params(&nobody, &[])).is_in_recovery().unwrap_err();
    assert_eq!(e.kind, DbErrorKind::Connect, "{e}");
    assert!(t.elapsed() < Duration::from_secs(3));
    // Issue 12 (attack finding 3): the cause is kept, as libpq words it.
    assert!(e.message.contains("Connection refused"), "{e}");
    assert!(!e.message.contains("os error"), "{e}");

    // Issue 16: a monitor's early connect that fails is not retried: the
    // first call returns its failure; the next call connects again. A live
    // server's early session serves the first call.
    let mut db = db_for(&params(&nobody, &[]));
    db.connect_early();
    let e = db.is_in_recovery().unwrap_err();
    assert_eq!(e.kind, DbErrorKind::Connect, "{e}");
    assert!(e.message.contains("Connection refused"), "{e}");
    let e = db.is_in_recovery().unwrap_err();
    assert!(e.message.contains("Connection refused"), "{e}");
    let mut db = db_for(&params(&n1, &[]));
    db.connect_early();
    assert!(db.is_in_recovery().is_ok());

    // Once the invocation's database time is spent, the error still names
    // the cause of the failures before it.
    let total = Budget {
        database_total: Some(Duration::from_millis(600)),
        ..quick()
    };
    let mut db = PgDatabase::new(DbTarget::from_params(&params(&nobody, &[])), total);
    let mut used_up = None;
    for _ in 0..100 {
        match db.is_in_recovery() {
            Err(e) if e.message.contains("used up") => {
                used_up = Some(e);
                break;
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    let e = used_up.expect("the database time is used up");
    assert_eq!(e.kind, DbErrorKind::Timeout, "{e}");
    assert!(e.message.contains("used up"), "{e}");
    // The cause first: a 128-byte exit reason keeps its start (issue-12 attack).
    assert!(
        e.message.find("Connection refused") < e.message.find("used up"),
        "{e}"
    );

    // No password to send (scram asks for one): an authentication error
    // that says so, not "invalid configuration".
    let p = params(&n1, &[("monitor_user", "monitor")]);
    let e = db_for(&p).is_in_recovery().unwrap_err();
    assert_eq!(e.kind, DbErrorKind::Auth, "{e}");
    assert!(e.message.contains("no password supplied"), "{e}");
    assert!(!e.message.contains("invalid configuration"), "{e}");
}

#[test]
fn pg_ctl_failures_carry_clear_messages() {
    let dir = TestDir::new("pgctl");
    let n1 = PgNode::new(&dir, "node1", 1, free_port());
    let mut missing = PgCtl::new(
        &params(&n1, &[("pgctl", "/nonexistent/bin/pg_ctl")]),
        Duration::from_secs(5),
    );
    let e = missing.start().unwrap_err();
    assert!(e.message.contains("/nonexistent/bin/pg_ctl"), "{e}");
    assert_eq!(e.exit_code, None);

    // No data directory: pg_ctl runs (as postgres) and fails with its own words.
    let mut ctl = PgCtl::new(&params(&n1, &[]), Duration::from_secs(10));
    std::fs::create_dir_all(&n1.pgdata).expect("empty pgdata");
    chown_pgdba(std::path::Path::new(&n1.pgdata));
    let e = ctl.start().unwrap_err();
    assert!(e.exit_code.is_some_and(|c| c != 0), "{e}");
    assert!(e.message.contains("pg_ctl"), "{e}");

    let mut bad_user = PgCtl::new(
        &params(&n1, &[("pgdba", "no-such-user-x")]),
        Duration::from_secs(5),
    );
    assert!(bad_user
        .start()
        .unwrap_err()
        .message
        .contains("no-such-user-x"));
    // A stop never fails for a missing owner when no postmaster runs (issue
    // 17 item 3: a failed stop means fencing); with one running it is
    // signalled directly (tests/reliability.rs).
    assert!(bad_user.stop(StopMode::Fast).is_ok());
}
