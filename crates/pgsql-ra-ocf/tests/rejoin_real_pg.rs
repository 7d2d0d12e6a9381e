//! The real rejoin port (issue 10, [`pgsql_ra_ocf::data_dir::PgDataDir`])
//! against real PostgreSQL 15 servers run as `postgres`: `pg_controldata`
//! after a clean stop and after kill -9, the end of WAL after kill -9,
//! the primary's facts after a promotion, `pg_rewind` of a crashed old
//! primary, re-clone, and the refusals.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::*;
use pgsql_ra_core::ports::{DataDir, DbClusterState, PrimaryFacts, RewindOutcome, WalHoldings};
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

/// kill -9 of the postmaster and every child, then waits until they are
/// gone. The postmaster is frozen first (SIGSTOP): a postmaster that saw a
/// child killed before itself would start a crash restart, whose startup
/// process writes "in crash recovery" into pg_control (seen once with
/// children killed first, as `PgNode::signal_all` orders them).
fn kill_9(node: &PgNode) {
    let pm = node.postmaster_pid().expect("postmaster.pid");
    // SAFETY: signalling this test's own postmaster.
    unsafe {
        libc::kill(pm as libc::pid_t, libc::SIGSTOP);
    }
    let pids = node.server_pids();
    assert!(pids.contains(&pm), "{} is not running", node.name);
    for pid in pids
        .iter()
        .filter(|p| **p != pm)
        .chain(std::iter::once(&pm))
    {
        // SAFETY: signalling this test's own server processes.
        unsafe {
            libc::kill(*pid as libc::pid_t, libc::SIGKILL);
        }
    }
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

/// Appends `text` to `node`'s postgresql.conf.
fn append_conf(node: &PgNode, text: &str) {
    let conf = format!("{}/postgresql.conf", node.pgdata);
    let mut all = std::fs::read_to_string(&conf).expect("postgresql.conf");
    all.push('\n');
    all.push_str(text);
    all.push('\n');
    std::fs::write(&conf, all).expect("write postgresql.conf");
}

/// The node's own address, port and socket (after a rewind or a re-clone
/// its postgresql.conf, inside pgdata, is the primary's: the last setting
/// of a name wins).
fn own_settings(node: &PgNode) {
    append_conf(
        node,
        &format!(
            "port = {}\nlisten_addresses = '{}'\nunix_socket_directories = '{}'",
            node.port, node.host, node.socketdir
        ),
    );
}

/// Makes `node`'s (stopped) data directory a standby of `primary`.
fn follow(node: &PgNode, primary: &PgNode) {
    own_settings(node);
    append_conf(node, &follow_line(node, primary));
    standby_signal(node);
}

fn standby_signal(node: &PgNode) {
    let signal = format!("{}/standby.signal", node.pgdata);
    std::fs::write(&signal, "").expect("standby.signal");
    chown_pgdba(std::path::Path::new(&signal));
}

fn follow_line(node: &PgNode, primary: &PgNode) -> String {
    format!(
        "primary_conninfo = 'host={} port={} user={PGDBA} application_name={}'",
        primary.host, primary.port, node.name
    )
}

/// A streaming standby `node` of the running `primary`, caught up.
fn start_standby(node: &PgNode, primary: &PgNode) {
    node.basebackup_from(primary);
    follow(node, primary);
    node.start_directly();
    assert!(
        wait_for(Duration::from_secs(30), || streaming(primary, node)),
        "{} does not stream from {}",
        node.name,
        primary.name
    );
    catch_up(node, primary);
}

/// True when `primary` shows `standby` streaming in pg_stat_replication.
fn streaming(primary: &PgNode, standby: &PgNode) -> bool {
    primary.psql(&format!(
        "select count(*) from pg_stat_replication where application_name = '{}' and state = 'streaming'",
        standby.name
    )) == "1"
}

/// Waits until `standby` replayed everything `primary` wrote so far.
fn catch_up(standby: &PgNode, primary: &PgNode) {
    let target = lsn(&primary.psql("select pg_current_wal_lsn()"));
    let ok = wait_for(Duration::from_secs(30), || {
        lsn(&standby.psql("select coalesce(pg_last_wal_replay_lsn(), '0/0')")) >= target
    });
    assert!(
        ok,
        "{} did not replay up to {}",
        standby.name,
        target.to_pg()
    );
}

fn promote(node: &PgNode) {
    as_pgdba(
        &node.server_bin("pg_ctl"),
        &["-D", &node.pgdata, "-w", "-t", "60", "promote"],
    );
}

fn system_id(node: &PgNode) -> u64 {
    node.psql("select system_identifier from pg_control_system()")
        .parse()
        .expect("system id")
}

/// Rows by origin: (both, lost, new, total).
fn rows(node: &PgNode) -> String {
    node.psql(
        "select count(*) filter (where src = 'both') || ' ' || count(*) filter (where src = 'lost') \
         || ' ' || count(*) filter (where src = 'new') || ' ' || count(*) from t",
    )
}

/// Primary node1 (with `hints`), standby node2 stopped first, writes on
/// node1 that node2 never gets, kill -9 of node1, node2 promoted and
/// written on: the old primary's WAL went past the switch point.
fn diverge(dir: &TestDir, hints: bool) -> (PgNode, PgNode) {
    diverge_with(dir, hints, "select 1")
}

/// [`diverge`], running `setup` on node1 before the standby is made.
fn diverge_with(dir: &TestDir, hints: bool, setup: &str) -> (PgNode, PgNode) {
    let port = free_port();
    let n1 = PgNode::new(dir, "node1", 1, port);
    let n2 = PgNode::new(dir, "node2", 2, port);
    n1.initdb();
    if hints {
        append_conf(&n1, "wal_log_hints = on");
    }
    n1.start_directly();
    n1.psql("create table t(x int, src text); insert into t select g, 'both' from generate_series(1, 1000) g");
    n1.psql(setup);
    start_standby(&n2, &n1);
    n2.stop_cleanly();
    n1.psql("insert into t select g, 'lost' from generate_series(1, 500) g");
    kill_9(&n1);
    n2.start_directly();
    promote(&n2);
    n2.psql("insert into t select g, 'new' from generate_series(1, 700) g");
    (n1, n2)
}

/// The old primary follows the new one after its repair: it streams and
/// holds exactly the new primary's rows.
fn rejoins(n1: &PgNode, n2: &PgNode) {
    follow(n1, n2);
    n1.start_directly();
    streams_with_every_row(n1, n2);
}

/// `n1` streams from `n2` and holds exactly its rows.
fn streams_with_every_row(n1: &PgNode, n2: &PgNode) {
    assert!(
        wait_for(Duration::from_secs(60), || streaming(n2, n1)),
        "node1 does not stream from node2"
    );
    n2.psql("insert into t select g, 'new' from generate_series(1, 10) g");
    catch_up(n1, n2);
    assert_eq!(rows(n2), "1000 0 710 1710");
    assert_eq!(
        rows(n1),
        rows(n2),
        "every row of the new primary, none lost"
    );
}

/// The facts of a promoted standby: timeline 2 (from the WAL file name,
/// before any checkpoint), the history's switch point equal to the end of
/// the old primary's WAL after its clean stop, the same system; a standby
/// reached through master_ip is refused; another system differs.
#[test]
fn primary_facts_after_a_promotion() {
    let dir = TestDir::new("rejoin-facts");
    let port = free_port();
    let n1 = PgNode::new(&dir, "node1", 1, port);
    let n2 = PgNode::new(&dir, "node2", 2, port);
    let n3 = PgNode::new(&dir, "node3", 3, port);
    let _guard = ServerGuard(vec![n1.clone(), n2.clone(), n3.clone()]);
    n1.initdb();
    append_conf(&n1, "wal_log_hints = on");
    n1.start_directly();
    n1.psql("create table t(x int); insert into t select generate_series(1, 1000)");
    start_standby(&n2, &n1);

    let e = port_of(&n1, &n2.host)
        .primary_facts(Duration::from_secs(10))
        .unwrap_err();
    assert!(e.contains("in recovery"), "{e}");

    let sysid = system_id(&n1);
    n1.stop_cleanly();
    let mut port1 = port_of(&n1, &n2.host);
    let cd = port1.control_data().expect("control data");
    assert!(cd.state.is_clean_shutdown());
    let end1 = port1.wal_end(cd.timeline, cd.redo).expect("wal_end");
    // After a clean stop the shutdown checkpoint is the last record.
    assert!(end1 > cd.checkpoint);

    promote(&n2);
    n2.psql("insert into t select generate_series(1, 100)");
    let facts = port1
        .primary_facts(Duration::from_secs(10))
        .expect("the new primary's facts");
    eprintln!("old primary's WAL end {} facts {facts:?}", end1.to_pg());
    assert_eq!(facts.system_id, sysid);
    assert_eq!(facts.system_id, cd.system_id);
    assert_eq!(facts.timeline, 2);
    assert_eq!(facts.history.len(), 1);
    assert_eq!(facts.history[0].parent, 1);
    assert_eq!(
        facts.history[0].switch_point, end1,
        "the standby had everything up to the shutdown checkpoint"
    );
    assert!(facts.current_lsn > end1);
    assert!(facts.size_bytes > 1_000_000, "{}", facts.size_bytes);
    assert_wal_listing_matches(&facts, &n2);
    // pg_control_checkpoint() still says timeline 1 until a checkpoint.
    let checkpoint_tli = n2.psql("select timeline_id from pg_control_checkpoint()");
    eprintln!("pg_control_checkpoint().timeline_id right after promotion: {checkpoint_tli}");

    n3.initdb();
    n3.start_directly();
    let other = port_of(&n1, &n3.host)
        .primary_facts(Duration::from_secs(10))
        .expect("another system's facts");
    assert_ne!(other.system_id, cd.system_id);
    assert_eq!(other.timeline, 1);
    assert!(other.history.is_empty());

    // The old primary stopped cleanly before the promotion: its WAL ends
    // at the switch point, pg_rewind has nothing to do.
    let outcome = port1.rewind(Duration::from_secs(60)).expect("pg_rewind");
    assert_eq!(outcome, RewindOutcome::NotNeeded);
}

/// kill -9 of a primary holding writes its standby never got; the standby
/// is promoted and written on; pg_rewind brings the old primary onto the
/// new timeline: it streams again, the lost writes are gone, every row of
/// the new primary is there.
#[test]
fn rewind_a_crashed_old_primary() {
    let dir = TestDir::new("rejoin-rewind");
    let (n1, n2) = diverge(&dir, true);
    let _guard = ServerGuard(vec![n1.clone(), n2.clone()]);
    let mut port1 = port_of(&n1, &n2.host);
    let cd = port1.control_data().expect("control data");
    assert_eq!(cd.state, DbClusterState::InProduction);
    assert!(cd.rewindable());
    let end = port1.wal_end(cd.timeline, cd.redo).expect("wal_end");
    let facts = port1.primary_facts(Duration::from_secs(10)).expect("facts");
    let switch = facts.history[0].switch_point;
    assert!(end > switch, "the lost writes are past the switch point");

    let started = std::time::Instant::now();
    let outcome = port1.rewind(Duration::from_secs(120)).expect("pg_rewind");
    eprintln!(
        "pg_rewind took {:?}: {outcome:?}; switch point {}, local end {}",
        started.elapsed(),
        switch.to_pg(),
        end.to_pg()
    );
    assert_eq!(
        outcome,
        RewindOutcome::Rewound {
            diverged_at: Some(switch)
        }
    );
    rejoins(&n1, &n2);
}

/// No checksums and wal_log_hints off: not rewindable, pg_rewind refuses;
/// a re-clone works and keeps the old directory intact beside.
#[test]
fn without_hints_rewind_is_refused_and_reclone_works() {
    let dir = TestDir::new("rejoin-reclone");
    let (n1, n2) = diverge(&dir, false);
    let _guard = ServerGuard(vec![n1.clone(), n2.clone()]);
    let mut port1 = port_of(&n1, &n2.host);
    let cd = port1.control_data().expect("control data");
    assert!(!cd.rewindable());
    let e = port1.rewind(Duration::from_secs(60)).unwrap_err();
    eprintln!("pg_rewind refused: {e}");
    assert!(e.contains("wal_log_hints"), "{e}");

    let control_before =
        std::fs::read(format!("{}/global/pg_control", n1.pgdata)).expect("pg_control");
    let free = port1.free_bytes_beside_pgdata().expect("free space");
    let facts = port1.primary_facts(Duration::from_secs(10)).expect("facts");
    assert!(free > facts.size_bytes, "room for the clone");
    let started = std::time::Instant::now();
    let out = port1.reclone(Duration::from_secs(120)).expect("re-clone");
    eprintln!(
        "re-clone of {} bytes took {:?}: {out:?}",
        facts.size_bytes,
        started.elapsed()
    );
    let aside = &out.moved_aside;
    assert!(
        aside.starts_with(&format!("{}.aside-", n1.pgdata)),
        "{aside}"
    );
    assert_eq!(
        std::fs::read(format!("{aside}/global/pg_control")).expect("the old pg_control"),
        control_before,
        "the old directory is kept as it was"
    );
    assert!(no_clone_left(&n1));
    rejoins(&n1, &n2);
}

/// Paths `<pgdata>.clone-*` beside pgdata.
fn no_clone_left(node: &PgNode) -> bool {
    let data = std::path::Path::new(&node.pgdata);
    let name = data
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    std::fs::read_dir(data.parent().expect("parent"))
        .expect("list")
        .filter_map(|e| e.ok())
        .all(|e| {
            !e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{name}.clone-"))
        })
}

/// A listing of pgdata (name, size) and the bytes of pg_control.
fn snapshot(node: &PgNode) -> (Vec<(String, u64)>, Vec<u8>) {
    let mut files = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(&node.pgdata)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("list").filter_map(|e| e.ok()) {
            let m = e.metadata().expect("metadata");
            if m.is_dir() {
                stack.push(e.path());
            } else {
                files.push((e.path().to_string_lossy().into_owned(), m.len()));
            }
        }
    }
    files.sort();
    let control = std::fs::read(format!("{}/global/pg_control", node.pgdata)).expect("pg_control");
    (files, control)
}

/// A re-clone that can't finish (no server at master_ip; a primary that
/// does not answer within a 1 s deadline) fails, leaves pgdata as it was
/// and no partial clone.
#[test]
fn a_reclone_that_cannot_finish_touches_nothing() {
    let dir = TestDir::new("rejoin-reclone-fail");
    let (n1, n2) = diverge(&dir, false);
    let _guard = ServerGuard(vec![n1.clone(), n2.clone()]);
    let before = snapshot(&n1);

    let e = port_of(&n1, "127.0.0.9")
        .reclone(Duration::from_secs(30))
        .unwrap_err();
    eprintln!("unreachable: {e}");
    assert!(
        e.contains("untouched") && e.contains("partial clone was removed"),
        "{e}"
    );
    assert_eq!(snapshot(&n1), before);
    assert!(no_clone_left(&n1));

    n2.signal_all(libc::SIGSTOP);
    let started = std::time::Instant::now();
    let e = port_of(&n1, &n2.host)
        .reclone(Duration::from_secs(1))
        .unwrap_err();
    let took = started.elapsed();
    n2.signal_all(libc::SIGCONT);
    eprintln!("stalled primary, 1 s deadline, failed after {took:?}: {e}");
    assert!(e.contains("killed at its deadline"), "{e}");
    assert!(took < Duration::from_secs(10));
    assert_eq!(snapshot(&n1), before);
    assert!(no_clone_left(&n1));
}

/// The free space beside pgdata is the filesystem's, as statvfs sees it.
#[test]
fn free_space_beside_pgdata() {
    let dir = TestDir::new("rejoin-df");
    let n1 = PgNode::new(&dir, "node1", 1, free_port());
    mkdir_pgdba(&n1.pgdata);
    let free = port_of(&n1, "127.0.0.9")
        .free_bytes_beside_pgdata()
        .expect("df");
    let parent = std::ffi::CString::new(dir.join("node1")).expect("path");
    // SAFETY: statvfs on a NUL-terminated path into a zeroed struct.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::statvfs(parent.as_ptr(), &mut st) }, 0);
    let avail = st.f_bavail as u64 * st.f_frsize as u64;
    eprintln!("df {free} statvfs {avail}");
    assert!(
        free.abs_diff(avail) < 256 << 20,
        "df {free} vs statvfs {avail}"
    );
}

/// The configuration file outside pgdata (as on Debian): after kill -9,
/// pg_rewind's single-user crash recovery finds it through
/// `--config-file`; the old primary then starts with it and rejoins.
#[test]
fn rewind_with_the_configuration_outside_pgdata() {
    let dir = TestDir::new("rejoin-rewind-conf");
    let (n1, n2) = diverge(&dir, true);
    let _guard = ServerGuard(vec![n1.clone(), n2.clone()]);
    let outside = dir.join("node1/postgresql.conf");
    std::fs::rename(format!("{}/postgresql.conf", n1.pgdata), &outside).expect("move the conf out");
    let p = params(&n1, &n2.host, &[("config", outside.as_str())]);
    let mut port1 = PgDataDir::new(&p, Duration::from_secs(30));
    let outcome = port1.rewind(Duration::from_secs(120)).expect("pg_rewind");
    assert!(
        matches!(
            outcome,
            RewindOutcome::Rewound {
                diverged_at: Some(_)
            }
        ),
        "{outcome:?}"
    );
    // pg_rewind copied the primary's postgresql.conf into pgdata; the
    // node's own file outside is the one it runs with.
    let mut conf = std::fs::read_to_string(&outside).expect("conf");
    conf.push_str(&format!("\n{}\n", follow_line(&n1, &n2)));
    std::fs::write(&outside, conf).expect("write conf");
    standby_signal(&n1);
    as_pgdba(
        &n1.server_bin("pg_ctl"),
        &[
            "-D",
            &n1.pgdata,
            "-l",
            &n1.logfile,
            "-o",
            &format!("-c config_file={outside}"),
            "-w",
            "-t",
            "60",
            "start",
        ],
    );
    streams_with_every_row(&n1, &n2);
}

/// The primary's WAL files in `facts` (issue 10, rows W1–W5) are what
/// `primary`'s `pg_wal` holds: every complete segment file (`.partial`,
/// `.history` not counted), 16 MiB segments.
fn assert_wal_listing_matches(facts: &PrimaryFacts, primary: &PgNode) {
    let WalHoldings::Known(wal) = &facts.wal else {
        panic!("the WAL listing failed: {:?}", facts.wal);
    };
    assert_eq!(wal.segment_size, 16 << 20);
    let mut files: BTreeSet<(u32, u64)> = BTreeSet::new();
    for e in std::fs::read_dir(format!("{}/pg_wal", primary.pgdata)).expect("pg_wal") {
        let name = e.expect("entry").file_name().to_string_lossy().to_string();
        if name.len() != 24 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let tli = u32::from_str_radix(&name[..8], 16).expect("timeline");
        let seg = u64::from_str_radix(&name[8..16], 16).expect("log") * 256
            + u64::from_str_radix(&name[16..], 16).expect("segment");
        files.insert((tli, seg));
    }
    let listed: BTreeSet<(u32, u64)> = wal
        .runs
        .iter()
        .flat_map(|r| (r.first..=r.last).map(move |s| (r.timeline, s)))
        .collect();
    eprintln!("the primary's WAL: {:?}", wal.runs);
    assert!(!listed.is_empty());
    assert_eq!(listed, files);
}

/// The grants docs/rejoin.md gives a non-superuser rewind role, exactly.
const REWIND_ROLE_SQL: &str = "create role rewinder login; \
     grant execute on function pg_catalog.pg_ls_dir(text, boolean, boolean) to rewinder; \
     grant execute on function pg_catalog.pg_stat_file(text, boolean) to rewinder; \
     grant execute on function pg_catalog.pg_read_binary_file(text) to rewinder; \
     grant execute on function pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) to rewinder; \
     grant pg_checkpoint to rewinder";

/// rewind_user = a non-superuser with only the documented grants: the
/// primary's facts (history file included) and pg_rewind work.
#[test]
fn rewind_as_a_non_superuser_with_the_documented_grants() {
    let dir = TestDir::new("rejoin-rewind-role");
    let (n1, n2) = diverge_with(&dir, true, REWIND_ROLE_SQL);
    let _guard = ServerGuard(vec![n1.clone(), n2.clone()]);
    let p = params(&n1, &n2.host, &[("rewind_user", "rewinder")]);
    let mut port1 = PgDataDir::new(&p, Duration::from_secs(30));
    let facts = port1
        .primary_facts(Duration::from_secs(10))
        .expect("facts as rewinder");
    assert_eq!(facts.timeline, 2);
    assert_eq!(facts.history.len(), 1);
    // pg_ls_dir(text, boolean, boolean) suffices for the WAL listing.
    assert_wal_listing_matches(&facts, &n2);
    let outcome = port1
        .rewind(Duration::from_secs(120))
        .expect("pg_rewind as rewinder");
    assert_eq!(
        outcome,
        RewindOutcome::Rewound {
            diverged_at: Some(facts.history[0].switch_point)
        }
    );
    rejoins(&n1, &n2);
}

/// kill -9 of a standby while its primary writes: the end of its valid
/// WAL lies between what it had replayed before the kill and what the
/// primary had flushed after it (the last record received may be cut in
/// two: it does not count).
#[test]
fn wal_end_of_a_standby_killed_while_streaming() {
    let dir = TestDir::new("rejoin-walend-standby");
    let port = free_port();
    let n1 = PgNode::new(&dir, "node1", 1, port);
    let n2 = PgNode::new(&dir, "node2", 2, port);
    let _guard = ServerGuard(vec![n1.clone(), n2.clone()]);
    n1.initdb();
    n1.start_directly();
    n1.psql("create table t(x int, pad text)");
    start_standby(&n2, &n1);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (n1, stop) = (n1.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut rounds = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                n1.psql("insert into t select g, repeat('x', 300) from generate_series(1, 2000) g");
                rounds += 1;
            }
            rounds
        })
    };
    std::thread::sleep(Duration::from_millis(1000));
    let replayed = lsn(&n2.psql("select pg_last_wal_replay_lsn()"));
    kill_9(&n2);
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let rounds = writer.join().expect("writer");
    assert!(rounds > 1, "the primary wrote during the kill");
    let flushed = lsn(&n1.psql("select pg_current_wal_flush_lsn()"));
    let mut port2 = port_of(&n2, &n1.host);
    let cd = port2.control_data().expect("control data");
    assert_eq!(cd.state, DbClusterState::InArchiveRecovery);
    let end = port2.wal_end(cd.timeline, cd.redo).expect("wal_end");
    eprintln!(
        "standby: redo {} replayed {} wal_end {} primary flushed {}",
        cd.redo.to_pg(),
        replayed.to_pg(),
        end.to_pg(),
        flushed.to_pg()
    );
    assert!(end >= replayed, "replayed records are complete");
    assert!(end <= flushed, "nothing the primary did not write");
}
