//! Issue 16: the database port's finality read (`Database::recovery_activity`)
//! on a real PostgreSQL 15 standby: streaming (a WAL receiver: not final),
//! replay paused with received WAL pending after its primary stopped (the
//! startup process is not waiting for WAL: not final), and, once resumed,
//! everything replayed with no primary (final, twice at the same position,
//! the agent's own location). Attack on issue 16, finding 1: a standby whose
//! WAL receiver hangs connecting to a silent upstream is never final, also
//! for a monitoring role without `pg_read_all_stats`; once the upstream
//! refuses connections, the retry sleeps still make it final.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use pgsql_ra_core::election::{final_mark, observed_final};
use pgsql_ra_core::ports::{Database, RecoveryActivity, UpstreamAnswer};
use pgsql_ra_core::{Lsn, Params};
use pgsql_ra_ocf::budget::Budget;
use pgsql_ra_ocf::db::{DbTarget, PgDatabase};

fn db(node: &PgNode) -> PgDatabase {
    db_as(node, None)
}

fn db_as(node: &PgNode, monitor_user: Option<&str>) -> PgDatabase {
    let mut m: BTreeMap<String, String> = [
        ("pgctl", pg_bin("pg_ctl")),
        ("pgdata", node.pgdata.clone()),
        ("pghost", node.host.clone()),
        ("pgport", node.port.to_string()),
        ("socketdir", node.socketdir.clone()),
        ("pgdb", "postgres".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(user) = monitor_user {
        m.insert("monitor_user".into(), user.into());
    }
    let (p, errors) = Params::parse(&m);
    assert!(errors.is_empty(), "{errors:?}");
    let budget = Budget {
        connect: Duration::from_secs(2),
        statement: Duration::from_secs(2),
        command: Duration::from_secs(30),
        database_total: None,
    };
    PgDatabase::new(DbTarget::from_params(&p), budget)
}

fn activity(db: &mut PgDatabase) -> RecoveryActivity {
    db.reset();
    db.recovery_activity()
        .expect("the finality read")
        .expect("known on PostgreSQL 15")
}

/// The location the agent publishes: the greater of replay and receive.
fn own_location(db: &mut PgDatabase) -> Lsn {
    let (replay, receive) = db.replay_and_receive_lsn().expect("standby LSNs");
    replay.max(receive).expect("a standby position")
}

#[test]
fn the_finality_read_on_a_streaming_a_paused_and_a_caught_up_standby() {
    let dir = TestDir::new("finality");
    let port = free_port();
    let n1 = PgNode::new(&dir, "node1", 1, port);
    let n2 = PgNode::new(&dir, "node2", 2, port);
    let _guard = ServerGuard(vec![n1.clone(), n2.clone()]);
    n1.initdb();
    n1.start_directly();
    let mut db1 = db(&n1);
    let a = activity(&mut db1);
    assert!(!a.in_recovery && !a.startup_waiting_for_wal, "{a:?}");

    n2.basebackup_from(&n1);
    std::fs::write(format!("{}/standby.signal", n2.pgdata), "").expect("standby.signal");
    let auto = format!("{}/postgresql.auto.conf", n2.pgdata);
    let mut text = std::fs::read_to_string(&auto).unwrap_or_default();
    text.push_str(&format!(
        "primary_conninfo = 'host={} port={} user=postgres application_name=node2'\n",
        n1.host, n1.port
    ));
    std::fs::write(&auto, text).expect("primary_conninfo");
    for f in ["standby.signal", "postgresql.auto.conf"] {
        chown_pgdba(std::path::Path::new(&format!("{}/{f}", n2.pgdata)));
    }
    n2.start_directly();
    let mut db2 = db(&n2);

    // 1. Streaming: a WAL receiver is there, never final.
    assert!(
        wait_for(Duration::from_secs(30), || n2.psql(
            "select count(*) from pg_stat_wal_receiver where status = 'streaming'"
        ) == "1"),
        "node2 streams"
    );
    n1.psql("create table t (x int); insert into t select generate_series(1, 1000)");
    let a = activity(&mut db2);
    assert!(a.in_recovery && a.receiver, "{a:?}");
    let lsn = own_location(&mut db2);
    assert_eq!(
        observed_final(Some(&a), lsn, UpstreamAnswer::Unknown),
        None,
        "{a:?}"
    );

    // 2. Replay paused, WAL received but not replayed, primary gone: no
    // receiver most of the time, yet the startup process is not waiting.
    n2.psql("select pg_wal_replay_pause()");
    n1.psql("insert into t select generate_series(1, 50000)");
    let ahead = wait_for(Duration::from_secs(30), || {
        n2.psql("select pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()") == "t"
    });
    assert!(ahead, "node2 received WAL it has not replayed");
    n1.stop_cleanly();
    let mut without_receiver = 0;
    for _ in 0..30 {
        let a = activity(&mut db2);
        assert!(a.in_recovery, "{a:?}");
        assert!(
            !a.startup_waiting_for_wal,
            "a paused replay is not waiting: {a:?}"
        );
        let lsn = own_location(&mut db2);
        assert_eq!(
            observed_final(Some(&a), lsn, UpstreamAnswer::Unknown),
            None,
            "{a:?}"
        );
        without_receiver += u32::from(!a.receiver);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        without_receiver > 0,
        "at least one read saw no WAL receiver (the startup clause decided)"
    );

    // 3. Resumed: everything replayed, no primary: two equal final
    // observations at the location the agent publishes.
    n2.psql("select pg_wal_replay_resume()");
    let mut previous: Option<Lsn> = None;
    let mut mark = None;
    let found = wait_for(Duration::from_secs(30), || {
        let a = activity(&mut db2);
        let lsn = own_location(&mut db2);
        let now = observed_final(Some(&a), lsn, UpstreamAnswer::Unknown);
        mark = final_mark(previous, now);
        previous = now;
        mark.is_some()
    });
    assert!(found, "node2 became final after replaying everything");
    let replayed = n2.psql("select pg_last_wal_replay_lsn()");
    assert_eq!(
        mark.map(|m| m.to_pg()),
        Some(replayed),
        "the mark is the replay position"
    );
}

/// The statement's wait-event names on every major 10 to 18 found (15 from
/// Debian, the others from `scripts/fetch-postgres.sh`'s cache; a missing
/// major is said on stderr and skipped, 15 is required): a standby without
/// any primary (no `primary_conninfo`) that replayed everything reads as in
/// recovery, no WAL receiver, the startup process waiting for WAL.
#[test]
fn a_standby_without_primary_waits_for_wal_on_every_major() {
    let seen = on_a_standby_of_every_major("finality", "", |n, version| {
        let mut db = db(n);
        let mut last = None;
        let waiting = wait_for(Duration::from_secs(20), || {
            let a = activity(&mut db);
            last = Some(a);
            a.in_recovery && !a.receiver && a.startup_waiting_for_wal && a.replay.is_some()
        });
        assert!(waiting, "PostgreSQL {version}: {last:?}");
    });
    eprintln!("waiting for WAL read on PostgreSQL {seen:?}");
}

/// Runs `check` on a started standby of every major 10 to 18 found (15
/// from Debian, the others from `scripts/fetch-postgres.sh`'s cache; a
/// missing major is said on stderr and skipped, 15 is required), with
/// `conninfo` (a `primary_conninfo` line, or nothing: no primary) in its
/// recovery configuration; returns the majors run.
fn on_a_standby_of_every_major(
    tag: &str,
    conninfo: &str,
    mut check: impl FnMut(&PgNode, &str),
) -> Vec<u32> {
    let mut seen = Vec::new();
    for major in 10..=18u32 {
        let Some((bin, version)) = server_bins(major) else {
            assert_ne!(major, 15, "PostgreSQL 15 is required");
            eprintln!("PostgreSQL {major}: not installed, skipped");
            continue;
        };
        let dir = TestDir::new(&format!("{tag}-{major}"));
        let n = PgNode::new(&dir, "node1", 1, free_port()).with_server(&bin, major);
        let _guard = ServerGuard(vec![n.clone()]);
        n.initdb();
        let (file, text) = if major >= 12 {
            ("standby.signal", String::new())
        } else {
            ("recovery.conf", format!("standby_mode = 'on'\n{conninfo}"))
        };
        let path = format!("{}/{file}", n.pgdata);
        std::fs::write(&path, text).expect("standby configuration");
        chown_pgdba(std::path::Path::new(&path));
        if major >= 12 && !conninfo.is_empty() {
            let auto = format!("{}/postgresql.auto.conf", n.pgdata);
            let mut text = std::fs::read_to_string(&auto).unwrap_or_default();
            text.push_str(conninfo);
            std::fs::write(&auto, text).expect("primary_conninfo");
            chown_pgdba(std::path::Path::new(&auto));
        }
        n.start_directly();
        check(&n, &version);
        seen.push(major);
    }
    seen
}

/// A TCP listener on loopback that accepts connections and never answers
/// (a hung upstream: libpq waits for the server's first message).
struct SilentUpstream {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SilentUpstream {
    fn start() -> SilentUpstream {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
        let port = listener.local_addr().expect("address").port();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(c) = conn {
                    held.push(c);
                }
            }
            // Dropping `held` and the listener: the receiver sees the
            // connection close, later attempts are refused.
        });
        SilentUpstream {
            port,
            stop,
            thread: Some(thread),
        }
    }

    /// Closes every held connection and the listening socket.
    fn close(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SilentUpstream {
    fn drop(&mut self) {
        self.close();
    }
}

#[test]
fn a_receiver_still_connecting_is_never_final() {
    let dir = TestDir::new("finality-connecting");
    let port = free_port();
    let n1 = PgNode::new(&dir, "node1", 1, port);
    let n2 = PgNode::new(&dir, "node2", 2, port);
    let _guard = ServerGuard(vec![n1.clone(), n2.clone()]);
    n1.initdb();
    n1.start_directly();
    // A login role with no statistics privileges, copied by the base backup.
    n1.psql("create role plain login");
    n2.basebackup_from(&n1);
    n1.psql("create table t (x int); insert into t select generate_series(1, 1000)");
    n1.stop_cleanly();
    let mut upstream = SilentUpstream::start();
    std::fs::write(format!("{}/standby.signal", n2.pgdata), "").expect("standby.signal");
    let auto = format!("{}/postgresql.auto.conf", n2.pgdata);
    let mut text = std::fs::read_to_string(&auto).unwrap_or_default();
    text.push_str(&format!(
        "primary_conninfo = 'host=127.0.0.1 port={} user=postgres application_name=node2'\n\
         wal_retrieve_retry_interval = '2s'\n",
        upstream.port
    ));
    std::fs::write(&auto, text).expect("primary_conninfo");
    for f in ["standby.signal", "postgresql.auto.conf"] {
        chown_pgdba(std::path::Path::new(&format!("{}/{f}", n2.pgdata)));
    }
    n2.start_directly();
    let mut db2 = db(&n2);
    let mut plain = db_as(&n2, Some("plain"));

    // 1. The receiver hangs connecting: PostgreSQL shows it in
    // pg_stat_activity only, never in pg_stat_wal_receiver.
    assert!(
        wait_for(Duration::from_secs(30), || n2.psql(
            "select count(*) from pg_stat_activity where backend_type = 'walreceiver'"
        ) == "1"),
        "node2 starts a WAL receiver"
    );
    let (mut previous, mut previous_plain) = (None, None);
    for i in 0..20 {
        assert_eq!(
            n2.psql("select count(*) from pg_stat_wal_receiver"),
            "0",
            "read {i}: still connecting, no pg_stat_wal_receiver row"
        );
        let a = activity(&mut db2);
        assert!(a.in_recovery && a.receiver, "read {i}: {a:?}");
        assert!(!a.startup_waiting_for_wal, "read {i}: {a:?}");
        // Issue 16, calling nobody: the read tells the receiver still
        // connecting and the startup process waiting for the stream; the
        // answer to its TCP connection decides. Here the listener accepted
        // it (the kernel's socket table says so): never final, nor when
        // nothing can be told.
        assert!(
            a.receiver_connecting && a.startup_waiting_for_stream,
            "read {i}: {a:?}"
        );
        let lsn = own_location(&mut db2);
        let pid = a.receiver_pid.expect("the receiver's pid");
        let answered = pgsql_ra_ocf::upstream_socket::connection_answer(pid);
        assert_eq!(answered, UpstreamAnswer::Answered, "read {i}");
        for link in [answered, UpstreamAnswer::Unknown] {
            assert_eq!(observed_final(Some(&a), lsn, link), None, "read {i}: {a:?}");
        }
        let now = observed_final(Some(&a), lsn, UpstreamAnswer::Unknown);
        assert_eq!(now, None, "read {i}: {a:?}");
        assert_eq!(final_mark(previous, now), None);
        previous = now;
        // Without pg_read_all_stats: neither process is visible, never final.
        let p = activity(&mut plain);
        if i == 0 {
            eprintln!("superuser reads {a:?}; a role without pg_read_all_stats reads {p:?}");
        }
        assert!(
            p.in_recovery && !p.startup_waiting_for_wal,
            "read {i}: {p:?}"
        );
        let now = observed_final(Some(&p), own_location(&mut plain), UpstreamAnswer::Unknown);
        assert_eq!(final_mark(previous_plain, now), None, "read {i}: {p:?}");
        previous_plain = now;
        std::thread::sleep(Duration::from_millis(500));
    }

    // 2. The upstream refuses connections: the receiver fails at once and the
    // startup process sleeps between attempts; two reads in that state, at
    // the same position, make the mark (a cold start still decides early).
    upstream.close();
    let mut previous: Option<Lsn> = None;
    let mut mark = None;
    let mut last = None;
    let found = wait_for(Duration::from_secs(60), || {
        let a = activity(&mut db2);
        last = Some(a);
        let now = observed_final(Some(&a), own_location(&mut db2), UpstreamAnswer::Unknown);
        mark = final_mark(previous, now);
        previous = now;
        mark.is_some()
    });
    assert!(found, "final once connections are refused: {last:?}");
    assert_eq!(
        mark.map(|m| m.to_pg()),
        Some(n2.psql("select pg_last_wal_replay_lsn()"))
    );
}

/// Issue 16, calling nobody: on every major 10 to 18 found, a standby whose
/// WAL receiver hangs connecting reads as "receiver connecting, the startup
/// process waiting for the stream" (`LibPQWalReceiverConnect`, and
/// `RecoveryWalAll` on 10-12 / `RecoveryWalStream` on 13+), which only
/// an unanswered link makes final.
#[test]
fn a_receiver_connecting_reads_the_same_on_every_major() {
    let upstream = SilentUpstream::start();
    let conninfo = format!(
        "primary_conninfo = 'host=127.0.0.1 port={} user=postgres application_name=node1'\n",
        upstream.port
    );
    let seen = on_a_standby_of_every_major("connecting", &conninfo, |n, version| {
        let mut db = db(n);
        let mut last = None;
        let calling = wait_for(Duration::from_secs(20), || {
            let a = activity(&mut db);
            last = Some(a);
            a.in_recovery
                && a.receiver
                && a.receiver_connecting
                && a.startup_waiting_for_stream
                && a.receiver_pid.is_some()
        });
        assert!(calling, "PostgreSQL {version}: {last:?}");
        let a = last.expect("a read");
        let lsn = a.replay.expect("a replay position");
        assert_eq!(
            observed_final(Some(&a), lsn, UpstreamAnswer::Unanswered),
            Some(lsn),
            "PostgreSQL {version}"
        );
        assert_eq!(
            observed_final(Some(&a), lsn, UpstreamAnswer::Answered),
            None
        );
        // The listener accepted the receiver's connection: the kernel says
        // answered, so it is not final.
        let pid = a.receiver_pid.expect("the receiver's pid");
        assert_eq!(
            pgsql_ra_ocf::upstream_socket::connection_answer(pid),
            UpstreamAnswer::Answered,
            "PostgreSQL {version}"
        );
    });
    eprintln!("a receiver connecting read on PostgreSQL {seen:?}");
}
