//! The simulated rejoin: the facts the decision sees and the repairs'
//! effect on the true WAL history.

use super::super::{InstanceSpec, MemFs, SimNetwork, SimRole};
use super::*;
use crate::ports::{Server, StopMode};

const PGDATA: &str = "/var/lib/pgsql/data";
const TMP: &str = "/var/lib/pgsql/tmp";
const SEC: Duration = Duration::from_secs(1);

fn node(net: &SimNetwork, name: &str) -> (SimPostgres, MemFs) {
    let fs = MemFs::new("postgres");
    fs.mkdir_p(TMP, "postgres", 0o700);
    let pg = net.add_node(name, fs.clone(), InstanceSpec::pg15(PGDATA));
    fs.put(
        &format!("{PGDATA}/postgresql.conf"),
        &format!("include '{TMP}/recovery.conf'\n"),
        "postgres",
        0o600,
    );
    fs.put(&format!("{TMP}/recovery.conf"), "", "postgres", 0o600);
    (pg, fs)
}

fn make_standby(fs: &MemFs) {
    fs.put(
        &format!("{TMP}/recovery.conf"),
        "primary_conninfo = 'host=vip port=5432 user=postgres'\n",
        "postgres",
        0o600,
    );
    fs.put(&format!("{PGDATA}/standby.signal"), "", "postgres", 0o600);
}

/// node1 primary with node2 streaming; node2 misses `missed` writes, then
/// node1 is killed and node2 promoted. Returns both handles.
fn failover(missed: u64) -> (SimNetwork, SimPostgres, SimPostgres, MemFs) {
    let net = SimNetwork::new("vip");
    let (mut p1, fs1) = node(&net, "node1");
    let (mut p2, fs2) = node(&net, "node2");
    p1.start().unwrap();
    make_standby(&fs2);
    p2.start().unwrap();
    net.write("node1", 2).unwrap();
    net.set_link("node1", "node2", false);
    net.write("node1", missed).unwrap();
    net.crash("node1");
    p1.remove_stale_pid_file().unwrap();
    p2.promote().unwrap();
    net.place_vip(Some("node2"));
    net.set_link("node1", "node2", true);
    make_standby(&fs1);
    (net, p1, p2, fs1)
}

#[test]
fn a_crash_reads_as_in_production_and_the_end_of_wal_is_exact() {
    let (net, mut p1, _p2, _) = failover(3);
    let c = p1.control_data().unwrap();
    assert_eq!(c.state, DbClusterState::InProduction);
    assert_eq!(c.timeline, 1);
    assert!(c.rewindable());
    assert_eq!(p1.wal_end(1, c.redo).unwrap(), net.lsn("node1"));
    let f = p1.primary_facts(SEC).unwrap();
    assert_eq!(f.timeline, 2);
    assert_eq!(f.history.len(), 1);
    assert_eq!(f.history[0].parent, 1);
    assert_eq!(
        f.history[0].switch_point.0 + 3 * crate::memory::WAL_PER_WRITE,
        net.lsn("node1").0,
        "node1 holds three writes past the switch point"
    );
}

#[test]
fn a_fast_stop_of_a_primary_ends_with_its_shutdown_checkpoint() {
    let net = SimNetwork::new("vip");
    let (mut p1, _) = node(&net, "node1");
    p1.start().unwrap();
    net.write("node1", 1).unwrap();
    p1.stop(StopMode::Fast).unwrap();
    let c = p1.control_data().unwrap();
    assert_eq!(c.state, DbClusterState::ShutDown);
    assert_eq!(c.checkpoint.0 + SHUTDOWN_CHECKPOINT_LEN, net.lsn("node1").0);
    p1.start().unwrap();
    p1.stop(StopMode::Immediate).unwrap();
    assert_eq!(
        p1.control_data().unwrap().state,
        DbClusterState::InProduction
    );
}

#[test]
fn rewind_throws_away_the_diverged_wal_and_adopts_the_primary_history() {
    let (net, mut p1, _p2, fs1) = failover(3);
    let before = net.wal("node1").unwrap();
    let out = p1.rewind(SEC).unwrap();
    let primary = net.wal("node2").unwrap();
    assert_eq!(
        out,
        RewindOutcome::Rewound {
            diverged_at: Some(primary.past[0].1)
        }
    );
    let after = net.wal("node1").unwrap();
    assert!(primary.includes(&after) && !primary.includes(&before));
    assert!(
        !fs1.exists(&format!("{PGDATA}/standby.signal")),
        "pg_rewind removes the files only the target has"
    );
    assert_eq!(p1.rewind(SEC).unwrap(), RewindOutcome::NotNeeded);
    // Once configured as a standby again it streams from the primary.
    make_standby(&fs1);
    p1.start().unwrap();
    assert_eq!(net.upstream("node1").as_deref(), Some("node2"));
}

#[test]
fn rewind_refuses_without_checksums_a_running_target_or_another_system() {
    let (net, mut p1, _p2, _) = failover(1);
    net.set_rewindable("node1", false);
    let e = p1.rewind(SEC).unwrap_err();
    assert!(e.contains("wal_log_hints"), "{e}");
    net.set_rewindable("node1", true);
    net.set_system_id("node1", 42);
    assert!(p1.rewind(SEC).unwrap_err().contains("different systems"));
    net.set_system_id("node1", crate::memory::SYSTEM_ID);
    p1.start().unwrap();
    assert!(p1.rewind(SEC).unwrap_err().contains("shut down"));
    assert_eq!(net.role("node1"), SimRole::Standby);
}

#[test]
fn reclone_moves_the_old_directory_aside_and_checks_the_space() {
    let (net, mut p1, _p2, fs1) = failover(2);
    net.set_free_bytes("node1", DATABASE_SIZE - 1);
    let before = net.wal("node1").unwrap();
    assert!(p1.reclone(SEC).unwrap_err().contains("No space left"));
    assert_eq!(net.wal("node1").unwrap(), before, "nothing touched");
    net.set_free_bytes("node1", DATABASE_SIZE);
    let out = p1.reclone(SEC).unwrap();
    assert_eq!(out.moved_aside, format!("{PGDATA}.rejoin-1"));
    assert!(fs1.exists(&out.moved_aside));
    let st = net.data_dir("node1").unwrap();
    assert_eq!(st.moved_aside, vec![out.moved_aside.clone()]);
    assert_eq!(st.free_bytes, 0);
    assert!(net
        .wal("node2")
        .unwrap()
        .includes(&net.wal("node1").unwrap()));
}

#[test]
fn no_primary_facts_without_a_serving_vip_or_link() {
    let (net, mut p1, _p2, _) = failover(0);
    net.set_link("node1", "node2", false);
    assert!(p1.primary_facts(SEC).is_err());
    net.set_link("node1", "node2", true);
    net.place_vip(None);
    assert!(p1.primary_facts(SEC).is_err());
    assert!(p1.primary_facts(Duration::ZERO).is_err());
}
