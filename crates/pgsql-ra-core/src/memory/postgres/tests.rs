use super::*;
use crate::ports::Filesystem;

const PGDATA: &str = "/var/lib/pgsql/data";
const TMP: &str = "/var/lib/pgsql/tmp";

fn node(net: &SimNetwork, name: &str) -> (SimPostgres, MemFs) {
    let fs = MemFs::new("postgres");
    fs.mkdir_p(TMP, "postgres", 0o700);
    let pg = net.add_node(name, fs.clone(), InstanceSpec::pg15(PGDATA));
    fs.put(
        &format!("{PGDATA}/postgresql.conf"),
        &format!("include '{TMP}/rep_mode.conf'\ninclude '{TMP}/recovery.conf'\n"),
        "postgres",
        0o600,
    );
    fs.put(
        &format!("{TMP}/rep_mode.conf"),
        "synchronous_standby_names = ''\n",
        "postgres",
        0o600,
    );
    fs.put(&format!("{TMP}/recovery.conf"), "", "postgres", 0o600);
    (pg, fs)
}

fn make_standby(fs: &MemFs, name: &str) {
    fs.put(
        &format!("{TMP}/recovery.conf"),
        &format!(
            "primary_conninfo = 'host=vip port=5432 user=postgres application_name={name} '\n"
        ),
        "postgres",
        0o600,
    );
    fs.put(&format!("{PGDATA}/standby.signal"), "", "postgres", 0o600);
}

#[test]
fn standby_streams_from_the_primary_and_sync_state_follows_rep_mode_conf() {
    let net = SimNetwork::new("vip");
    let (mut p1, fs1) = node(&net, "node1");
    let (mut p2, fs2) = node(&net, "node2");
    p1.start().unwrap();
    assert!(!p1.is_in_recovery().unwrap());
    make_standby(&fs2, "node2");
    p2.start().unwrap();
    assert!(p2.is_in_recovery().unwrap());
    assert_eq!(net.upstream("node2").as_deref(), Some("node1"));
    let rows = p1.replication_rows().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (
            rows[0].application_name.as_str(),
            rows[0].sync_state.as_str()
        ),
        ("node2", "ASYNC")
    );
    fs1.put(
        &format!("{TMP}/rep_mode.conf"),
        "synchronous_standby_names = '\"node2\"'\n",
        "postgres",
        0o600,
    );
    p1.reload().unwrap();
    assert_eq!(p1.replication_rows().unwrap()[0].sync_state, "SYNC");
    assert_eq!(net.write("node1", 3), Ok(WriteOutcome::Committed));
    assert_eq!(
        p2.replay_and_receive_lsn().unwrap(),
        (
            Some(Lsn(INITIAL_LSN.0 + 0x300)),
            Some(Lsn(INITIAL_LSN.0 + 0x300))
        )
    );
    let pid = p2.postmaster_pid().unwrap().unwrap();
    assert!(p2.wal_receiver_running(pid).unwrap());
    assert!(!p2.wal_receiver_running(pid + 1).unwrap());
}

#[test]
fn a_broken_link_blocks_sync_writes_until_the_primary_goes_async() {
    let net = SimNetwork::new("vip");
    let (mut p1, fs1) = node(&net, "node1");
    let (mut p2, fs2) = node(&net, "node2");
    fs1.put(
        &format!("{TMP}/rep_mode.conf"),
        "synchronous_standby_names = '\"node2\"'\n",
        "postgres",
        0o600,
    );
    p1.start().unwrap();
    make_standby(&fs2, "node2");
    p2.start().unwrap();
    net.set_link("node1", "node2", false);
    assert!(p1.replication_rows().unwrap().is_empty());
    assert_eq!(net.write("node1", 1), Ok(WriteOutcome::WaitingForSync));
    fs1.put(
        &format!("{TMP}/rep_mode.conf"),
        "synchronous_standby_names = ''\n",
        "postgres",
        0o600,
    );
    p1.reload().unwrap();
    assert_eq!(net.write("node1", 1), Ok(WriteOutcome::Committed));
    assert_eq!(net.lsn("node2"), INITIAL_LSN);
    net.set_link("node1", "node2", true);
    assert_eq!(net.lsn("node2"), net.lsn("node1"));
}

#[test]
fn crash_leaves_the_pid_file_and_promotion_forks_the_timeline() {
    let net = SimNetwork::new("vip");
    let (mut p1, fs1) = node(&net, "node1");
    let (mut p2, fs2) = node(&net, "node2");
    p1.start().unwrap();
    make_standby(&fs2, "node2");
    p2.start().unwrap();
    net.write("node1", 1).unwrap();
    net.crash("node1");
    assert!(fs1.exists(&format!("{PGDATA}/postmaster.pid")));
    assert_eq!(p1.postmaster_pid().unwrap(), None);
    assert_eq!(p1.is_in_recovery().unwrap_err().kind, DbErrorKind::Connect);
    p2.promote().unwrap();
    assert_eq!(net.timeline("node2"), 2);
    assert!(!fs2.exists(&format!("{PGDATA}/standby.signal")));
    net.write("node2", 1).unwrap();
    // The old primary wrote more than the fork point on timeline 1: it cannot follow...
    net.write("node2", 0).unwrap();
    make_standby(&fs1, "node1");
    p1.remove_stale_pid_file().unwrap();
    net.set_position("node1", Lsn(net.lsn("node1").0 + 0x100), 1);
    p1.start().unwrap();
    assert_eq!(net.upstream("node1"), None);
    // ...until it is rebuilt from the new primary.
    p1.stop(StopMode::Fast).unwrap();
    net.rebuild_from("node1", "node2").unwrap();
    p1.start().unwrap();
    assert_eq!(net.upstream("node1").as_deref(), Some("node2"));
    assert_eq!(net.timeline("node1"), 2);
}

#[test]
fn a_standby_behind_the_fork_point_follows_the_new_timeline() {
    let net = SimNetwork::new("vip");
    let (mut p1, _fs1) = node(&net, "node1");
    let (mut p2, fs2) = node(&net, "node2");
    let (mut p3, fs3) = node(&net, "node3");
    p1.start().unwrap();
    make_standby(&fs2, "node2");
    make_standby(&fs3, "node3");
    p2.start().unwrap();
    p3.start().unwrap();
    net.crash("node1");
    p2.promote().unwrap();
    assert_eq!(net.upstream("node3").as_deref(), Some("node2"));
    assert_eq!(net.timeline("node3"), 2);
    assert_eq!(p3.timeline().unwrap(), Some(2));
}

#[test]
fn hung_servers_time_out_and_ignore_fast_stop() {
    let net = SimNetwork::new("vip");
    let (mut p1, _) = node(&net, "node1");
    p1.start().unwrap();
    net.set_hung("node1", true);
    assert_eq!(p1.is_in_recovery().unwrap_err().kind, DbErrorKind::Timeout);
    p1.stop(StopMode::Fast).unwrap();
    assert!(p1.postmaster_pid().unwrap().is_some());
    p1.stop(StopMode::Immediate).unwrap();
    assert_eq!(p1.postmaster_pid().unwrap(), None);
    assert!(p1.stop(StopMode::Fast).is_err());
}

#[test]
fn failing_queries_slots_and_start_errors() {
    let net = SimNetwork::new("vip");
    let (mut p1, mut fs1) = node(&net, "node1");
    fs1.write(
        &format!("{PGDATA}/recovery.conf"),
        "standby_mode = 'on'",
        crate::ports::FileOwner::Pgdba,
        0o600,
    )
    .unwrap();
    assert!(p1.start().unwrap_err().message.contains("not supported"));
    fs1.remove(&format!("{PGDATA}/recovery.conf")).unwrap();
    p1.start().unwrap();
    assert!(p1.start().is_err());
    net.fail_next_queries("node1", 1);
    assert_eq!(p1.current_lsn().unwrap_err().kind, DbErrorKind::Query);
    assert_eq!(p1.current_lsn().unwrap(), INITIAL_LSN);
    p1.create_physical_slot("s_node2").unwrap();
    assert!(p1.create_physical_slot("s_node2").is_err());
    assert!(p1.slot_exists("s_node2").unwrap());
    p1.drop_slot("s_node2").unwrap();
    assert!(p1.drop_slot("s_node2").is_err());
}

#[test]
fn pg11_reads_recovery_conf_in_pgdata() {
    let net = SimNetwork::new("vip");
    let fs = MemFs::new("postgres");
    let mut spec = InstanceSpec::pg15(PGDATA);
    spec.version_num = 110010;
    let mut p = net.add_node("node1", fs.clone(), spec);
    assert_eq!(
        fs.file(&format!("{PGDATA}/PG_VERSION")).as_deref(),
        Some("11\n")
    );
    fs.put(
        &format!("{PGDATA}/recovery.conf"),
        "primary_conninfo = 'host=vip application_name=node1'\nstandby_mode = 'on'\n",
        "postgres",
        0o600,
    );
    p.start().unwrap();
    assert!(p.is_in_recovery().unwrap());
    assert_eq!(
        p.replay_and_receive_lsn().unwrap(),
        (Some(INITIAL_LSN), None)
    );
    p.promote().unwrap();
    assert!(fs.exists(&format!("{PGDATA}/recovery.done")));
}

#[test]
fn sync_state_parsing() {
    let c = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let s = sync_states("FIRST 1 (\"a\", \"b\")", &c(&["b", "a", "x"]));
    assert_eq!((s["a"], s["b"], s["x"]), ("SYNC", "POTENTIAL", "ASYNC"));
    let s = sync_states("ANY 1 (a, b)", &c(&["b"]));
    assert_eq!(s["b"], "QUORUM");
    let s = sync_states("", &c(&["b"]));
    assert_eq!(s["b"], "ASYNC");
    let s = sync_states("*", &c(&["b", "c"]));
    assert_eq!((s["b"], s["c"]), ("SYNC", "POTENTIAL"));
    assert_eq!(quorum_count("ANY 2 (\"a\", \"b\")"), Some(2));
    assert_eq!(quorum_count("any 1 (a)"), Some(1));
    assert_eq!(quorum_count("FIRST 1 (a)"), None);
    assert_eq!(quorum_count("\"a\""), None);
}

/// Issue 10: a fast stop of a primary writes its shutdown checkpoint and
/// delivers it to every connected standby that is not lagging; the control
/// data tells a clean shutdown from a crash.
#[test]
fn a_fast_stop_delivers_the_shutdown_checkpoint_to_connected_standbys() {
    use crate::ports::{DataDir, DbClusterState};
    let net = SimNetwork::new("vip");
    let (mut p1, _fs1) = node(&net, "node1");
    let (mut p2, fs2) = node(&net, "node2");
    let (mut p3, fs3) = node(&net, "node3");
    p1.start().unwrap();
    for (p, fs, n) in [(&mut p2, &fs2, "node2"), (&mut p3, &fs3, "node3")] {
        make_standby(fs, n);
        p.start().unwrap();
    }
    net.write("node1", 2).unwrap();
    net.set_lagging("node3", true);
    net.write("node1", 1).unwrap();
    let end = net.lsn("node1");
    assert_eq!(
        p1.control_data().unwrap().state,
        DbClusterState::InProduction
    );
    p1.stop(StopMode::Fast).unwrap();
    let cd = p1.control_data().unwrap();
    assert_eq!(cd.state, DbClusterState::ShutDown);
    assert_eq!(cd.checkpoint, end);
    assert_eq!(cd.timeline, 1);
    assert!(cd.rewindable());
    let after = Lsn(end.0 + SHUTDOWN_CHECKPOINT_BYTES);
    assert_eq!(net.lsn("node1"), after);
    assert_eq!(net.lsn("node2"), after, "connected: received it");
    assert!(net.lsn("node3") < end, "lagging: did not");
    p2.stop(StopMode::Fast).unwrap();
    assert_eq!(
        p2.control_data().unwrap().state,
        DbClusterState::ShutDownInRecovery
    );
    p3.stop(StopMode::Immediate).unwrap();
    assert_eq!(
        p3.control_data().unwrap().state,
        DbClusterState::InArchiveRecovery
    );
    p1.start().unwrap();
    net.crash("node1");
    assert_eq!(
        p1.control_data().unwrap().state,
        DbClusterState::InProduction
    );
    net.set_rewindable("node1", false);
    assert!(!p1.control_data().unwrap().rewindable());
}
