//! The real rejoin port (issue 10, [`pgsql_ra_ocf::data_dir::PgDataDir`])
//! against real PostgreSQL 15 servers run as `postgres`: `pg_controldata`
//! after a clean stop and after kill -9, the end of WAL after kill -9,
//! the primary's facts after a promotion, `pg_rewind` of a crashed old
//! primary, re-clone, and the refusals.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use pgsql_ra_core::ports::{DataDir, DbClusterState};
use pgsql_ra_core::{Lsn, Params};
use pgsql_ra_ocf::data_dir::PgDataDir;

/// The agent's parameters for `node`, following the primary at `master`.
fn params(node: &PgNode, master: &str, extra: &[(&str, &str)]) -> Params {
    let mut m: BTreeMap<String, String> = [
        ("pgctl", pg_bin("pg_ctl")),
        ("pgdata", node.pgdata.clone()),
        ("pghost", node.host.clone()),
        ("pgport", node.port.to_string()),
        ("logfile", node.logfile.clone()),
        ("socketdir", node.socketdir.clone()),
        ("master_ip", master.to_string()),
        ("repuser", PGDBA.to_string()),
        ("rep_mode", "async".to_string()),
        ("node_list", "node1 node2".to_string()),
        ("tmpdir", node.tmpdir.clone()),
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

fn port_of(node: &PgNode, master: &str) -> PgDataDir {
    PgDataDir::new(&params(node, master, &[]), Duration::from_secs(30))
}

/// kill -9 of the postmaster and every child, then waits until they are gone.
fn kill_9(node: &PgNode) {
    let pids = node.server_pids();
    assert!(!pids.is_empty(), "{} is not running", node.name);
    node.signal_all(libc::SIGKILL);
    let gone = wait_for(Duration::from_secs(20), || {
        pids.iter()
            .all(|p| !std::path::Path::new(&format!("/proc/{p}")).exists())
    });
    assert!(gone, "{}'s processes survived SIGKILL", node.name);
}

#[test]
fn control_data_after_a_clean_stop_and_after_kill_9() {
    let dir = TestDir::new("rejoin-cd");
    let n1 = PgNode::new(&dir, "node1", 1, free_port());
    let _guard = ServerGuard(vec![n1.clone()]);
    n1.initdb();
    n1.start_directly();
    n1.psql("create table t(x int); insert into t select generate_series(1, 10000)");
    let sysid: u64 = n1
        .psql("select system_identifier from pg_control_system()")
        .parse()
        .expect("system id");
    n1.stop_cleanly();

    let mut port = port_of(&n1, "127.0.0.9");
    let clean = port.control_data().expect("pg_controldata after -m fast");
    assert_eq!(clean.state, DbClusterState::ShutDown);
    assert!(clean.state.is_clean_shutdown());
    assert_eq!(clean.system_id, sysid);
    assert_eq!(clean.timeline, 1);
    // A shutdown checkpoint's REDO is the checkpoint record itself.
    assert_eq!(clean.redo, clean.checkpoint);
    // initdb without --data-checksums, wal_log_hints off: not rewindable.
    assert!(!clean.rewindable());

    n1.start_directly();
    n1.psql("insert into t select generate_series(1, 10000)");
    let written: String = n1.psql("select pg_current_wal_insert_lsn()");
    kill_9(&n1);
    let crashed = port.control_data().expect("pg_controldata after kill -9");
    assert_eq!(crashed.state, DbClusterState::InProduction);
    assert!(!crashed.state.is_clean_shutdown());
    assert_eq!(crashed.system_id, sysid);
    // After the crash the checkpoint is older than the last write.
    let written = lsn(&written);
    assert!(crashed.checkpoint < written, "{crashed:?} vs {written}");
}

fn lsn(text: &str) -> Lsn {
    Lsn::parse_pg(text.trim()).expect("an LSN")
}

/// The insert and flush LSNs of a running primary, in that order.
fn insert_and_flush(node: &PgNode) -> (Lsn, Lsn) {
    let row = node.psql("select pg_current_wal_insert_lsn(), pg_current_wal_flush_lsn()");
    let (i, f) = row.split_once('|').expect("two columns");
    (lsn(i), lsn(f))
}

/// After kill -9 right after committed writes, the end of valid WAL is
/// the insert (= flush) position read just before the kill, and lies past
/// the latest checkpoint.
#[test]
fn wal_end_after_kill_9_is_where_the_primary_stopped_writing() {
    let dir = TestDir::new("rejoin-walend");
    let n1 = PgNode::new(&dir, "node1", 1, free_port());
    let _guard = ServerGuard(vec![n1.clone()]);
    n1.initdb();
    n1.start_directly();
    n1.psql("create table t(x int, pad text)");
    let mut port = port_of(&n1, "127.0.0.9");
    for round in 0..3 {
        n1.psql("insert into t select g, repeat('x', 200) from generate_series(1, 20000) g");
        // Committed with synchronous_commit=on: flushed up to the commit record.
        let (insert, flush) = insert_and_flush(&n1);
        kill_9(&n1);
        let cd = port.control_data().expect("control data");
        let end = port.wal_end(cd.timeline, cd.redo).expect("wal_end");
        eprintln!(
            "round {round}: checkpoint {} redo {} flush {} insert {} wal_end {}",
            cd.checkpoint.to_pg(),
            cd.redo.to_pg(),
            flush.to_pg(),
            insert.to_pg(),
            end.to_pg()
        );
        assert!(
            end > cd.checkpoint,
            "the crash left WAL after the checkpoint"
        );
        assert_eq!(end, insert, "nothing was written after the query");
        assert_eq!(insert, flush);
        n1.start_directly();
    }
}

/// pg_switch_wal() then kill -9: the next segment file does not exist yet,
/// so pg_waldump stops on a missing file and the end is computed from the
/// last record (the switch, which fills its segment). The flush LSN is the
/// segment boundary; the insert LSN is past the next page's long header.
#[test]
fn wal_end_after_a_segment_switch_and_kill_9() {
    let dir = TestDir::new("rejoin-walend-switch");
    let n1 = PgNode::new(&dir, "node1", 1, free_port());
    let _guard = ServerGuard(vec![n1.clone()]);
    n1.initdb();
    n1.start_directly();
    n1.psql("create table t(x int); insert into t select generate_series(1, 1000)");
    n1.psql("select pg_switch_wal()");
    let (insert, flush) = insert_and_flush(&n1);
    kill_9(&n1);
    let mut port = port_of(&n1, "127.0.0.9");
    let cd = port.control_data().expect("control data");
    let end = port.wal_end(cd.timeline, cd.redo).expect("wal_end");
    eprintln!(
        "checkpoint {} flush {} insert {} wal_end {}",
        cd.checkpoint.to_pg(),
        flush.to_pg(),
        insert.to_pg(),
        end.to_pg()
    );
    assert_eq!(end.0 % (16 << 20), 0, "a segment boundary");
    assert_eq!(end, flush);
    assert_eq!(insert.0, end.0 + 40, "the long page header");
}
