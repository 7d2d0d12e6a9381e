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
use pgsql_ra_core::Params;
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
    let written = pgsql_ra_core::Lsn::parse_pg(&written).expect("LSN");
    assert!(crashed.checkpoint < written, "{crashed:?} vs {written}");
}
