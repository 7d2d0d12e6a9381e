//! Issue 10's crash rejoin through the agent on real PostgreSQL 15 servers
//! ("Real parts"): the `pgsql-ra` binary, called as Pacemaker would, with
//! the file-backed attribute store. node1 (127.0.0.2) is the primary, node2
//! (127.0.0.3) its sync standby, both reached by `master_ip` through the
//! stand-in VIP ([`common::vip::Vip`], 127.0.0.9) placed on the Promoted
//! node. node1 is killed with `kill -9`, node2 is promoted and written on,
//! then node1's `start` with `crash_rejoin` decides: follow, rewind or
//! refuse.
//!
//! node1's configuration file lives outside pgdata (`config`, as on
//! Debian): `pg_rewind` copies the primary's files into pgdata, and a
//! postgresql.conf inside pgdata would then carry node2's address.

mod common;

use std::time::Duration;

use common::agent::{attr, AgentEnv, Run};
use common::vip::{Vip, VIP};
use common::*;

const RUNNING: i32 = 0;
const NOT_RUNNING: i32 = 7;
const PROMOTED: i32 = 8;

/// A non-superuser rewind role with the grants of docs/rejoin.md ("Role and
/// grants for `rewind_user`"), on both nodes.
const REWIND_ROLE_SQL: &str = "create role rewinder login; \
     grant execute on function pg_catalog.pg_ls_dir(text, boolean, boolean) to rewinder; \
     grant execute on function pg_catalog.pg_stat_file(text, boolean) to rewinder; \
     grant execute on function pg_catalog.pg_read_binary_file(text) to rewinder; \
     grant execute on function pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) to rewinder; \
     grant pg_checkpoint to rewinder";

struct Pair {
    dir: TestDir,
    n1: PgNode,
    n2: PgNode,
    attrd: String,
    /// node1's configuration file, outside its pgdata.
    conf1: String,
}

impl Pair {
    /// Two nodes on one port; node2 is a base backup of node1 (both with
    /// `wal_log_hints = on` when `hints`); neither runs afterwards.
    fn new(tag: &str, hints: bool) -> Pair {
        let dir = TestDir::new(tag);
        let port = free_port();
        let n1 = PgNode::new(&dir, "node1", 1, port);
        let n2 = PgNode::new(&dir, "node2", 2, port);
        let attrd = dir.join("attrd");
        std::fs::create_dir_all(&attrd).expect("attrd dir");
        std::fs::write(format!("{attrd}/nodes"), "node1\nnode2\n").expect("nodes");
        n1.initdb();
        let inside = format!("{}/postgresql.conf", n1.pgdata);
        let mut text = std::fs::read_to_string(&inside).expect("postgresql.conf");
        text.push_str(if hints {
            "wal_log_hints = on\n"
        } else {
            "wal_log_hints = off\n"
        });
        std::fs::write(&inside, &text).expect("write postgresql.conf");
        n1.start_directly();
        n1.psql(REWIND_ROLE_SQL);
        n2.basebackup_from(&n1);
        n1.stop_cleanly();
        let conf1 = dir.join("node1.conf");
        std::fs::write(&conf1, &text).expect("node1.conf");
        chown_pgdba(std::path::Path::new(&conf1));
        Pair {
            dir,
            n1,
            n2,
            attrd,
            conf1,
        }
    }

    /// The agent of `node` with `master_ip` = the VIP (node1 with its
    /// configuration outside pgdata and `crash_rejoin`).
    fn env(&self, node: &PgNode, crash_rejoin: &str) -> AgentEnv {
        let mut a = AgentEnv::new(node, &self.attrd, "node1 node2", VIP);
        if node.name == "node1" {
            a.set("OCF_RESKEY_config", &self.conf1);
        }
        a.set("OCF_RESKEY_crash_rejoin", crash_rejoin);
        a
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

    fn lock_exists(&self, node: &PgNode) -> bool {
        std::path::Path::new(&format!("{}/PGSQL.lock", node.tmpdir)).exists()
    }
}

/// node1 started and promoted by the agent (the VIP on it), node2 its sync
/// standby, table `t` with 1000 rows `both` on both.
fn bring_up(p: &Pair, a1: &AgentEnv, a2: &AgentEnv, vip: &Vip) {
    a1.expect("start", 0, RUNNING);
    a1.expect("promote", 0, RUNNING);
    p.set_promoted(Some(&p.n1));
    vip.place(Some(&p.n1));
    a1.expect("monitor", 4000, PROMOTED);
    a2.expect("start", 0, RUNNING);
    assert!(
        wait_for(Duration::from_secs(30), || {
            a1.run("monitor", 4000).code == PROMOTED
                && p.attr(&p.n2, "forever", "pgsql-data-status").as_deref()
                    == Some("STREAMING|SYNC")
        }),
        "node2 never became the sync standby"
    );
    p.n1.psql(
        "create table t(x int, src text); \
         insert into t select g, 'both' from generate_series(1, 1000) g",
    );
}

/// How node1 dies: with writes node2 never received (node2 stopped first,
/// node1 async once its monitor saw that), or right after a checkpoint and
/// one write acknowledged by the sync standby (node2 has all of node1's
/// WAL).
#[derive(Clone, Copy, PartialEq)]
enum Crash {
    WithLostWrites,
    CaughtUp,
}

/// kill -9 of node1 as `crash` says, then what Pacemaker does: node1's
/// monitor fails and it is stopped (the lock stays), node2 is promoted
/// (started first if it was stopped), the VIP moves to it, and 700 rows
/// `new` are written on it.
fn fail_over(p: &Pair, a1: &AgentEnv, a2: &AgentEnv, vip: &Vip, crash: Crash) {
    match crash {
        Crash::WithLostWrites => {
            a2.expect("stop", 0, RUNNING);
            a1.expect("monitor", 4000, PROMOTED);
            p.n1.psql("insert into t select g, 'lost' from generate_series(1, 500) g");
        }
        Crash::CaughtUp => {
            p.n1.psql("checkpoint");
            // Acknowledged by the sync standby: node2 flushed every record
            // up to this commit, the checkpoint's included.
            p.n1.psql("insert into t values (0, 'both')");
        }
    }
    p.n1.kill_9();
    a1.expect("monitor", 4000, NOT_RUNNING);
    a1.expect("stop", 0, RUNNING);
    p.set_promoted(None);
    vip.place(None);
    assert!(p.lock_exists(&p.n1), "the crashed primary keeps PGSQL.lock");
    if crash == Crash::WithLostWrites {
        a2.expect("start", 0, RUNNING);
    }
    a2.expect("promote", 0, RUNNING);
    p.set_promoted(Some(&p.n2));
    vip.place(Some(&p.n2));
    a2.expect("monitor", 4000, PROMOTED);
    p.n2.psql("insert into t select g, 'new' from generate_series(1, 700) g");
}

/// Rows by origin: "both lost new total".
fn rows(node: &PgNode) -> String {
    node.psql(
        "select count(*) filter (where src = 'both') || ' ' || count(*) filter (where src = 'lost') \
         || ' ' || count(*) filter (where src = 'new') || ' ' || count(*) from t",
    )
}

/// node1's `start`, timed.
fn start_node1(a1: &AgentEnv) -> Run {
    let r = a1.run("start", 0);
    eprintln!(
        "node1 start: exit {} in {:?}\n{}",
        r.code, r.elapsed, r.stderr
    );
    r
}

/// node1 streams from node2, holds exactly node2's rows (`both` rows
/// `both`, none lost), and the agents report it as the sync standby.
fn node1_follows_node2(p: &Pair, a1: &AgentEnv, a2: &AgentEnv, both: u32) {
    node1_follows_node2_on(p, a1, a2, both, "3");
}

/// [`node1_follows_node2`], node1 receiving on `timeline`.
fn node1_follows_node2_on(p: &Pair, a1: &AgentEnv, a2: &AgentEnv, both: u32, timeline: &str) {
    let streaming = || {
        p.n2.psql(
            "select count(*) from pg_stat_replication \
             where application_name = 'node1' and state = 'streaming'",
        ) == "1"
    };
    assert!(
        wait_for(Duration::from_secs(60), streaming),
        "node1 does not stream from node2: {}",
        p.n2.psql("select application_name, state from pg_stat_replication")
    );
    p.n2.psql("insert into t select g, 'new' from generate_series(1, 10) g");
    let want = format!("{both} 0 710 {}", both + 710);
    assert_eq!(rows(&p.n2), want);
    assert!(
        wait_for(Duration::from_secs(30), || rows(&p.n1) == want),
        "node1's rows {} (node2's {want})",
        rows(&p.n1)
    );
    assert_eq!(p.n1.psql("select pg_is_in_recovery()"), "t");
    assert_eq!(
        p.n1.psql("select received_tli from pg_stat_wal_receiver"),
        timeline
    );
    assert!(
        wait_for(Duration::from_secs(30), || {
            a2.run("monitor", 4000).code == PROMOTED
                && a1.run("monitor", 4000).code == RUNNING
                && p.attr(&p.n1, "forever", "pgsql-data-status").as_deref()
                    == Some("STREAMING|SYNC")
        }),
        "node1 never the sync standby: data-status {:?}",
        p.attr(&p.n1, "forever", "pgsql-data-status")
    );
    assert_eq!(
        p.attr(&p.n1, "reboot", "pgsql-status").as_deref(),
        Some("HS:sync")
    );
}

/// Item 1: kill -9 of the primary holding writes its standby never got;
/// the standby is promoted and written on; node1's start with
/// `crash_rejoin=rewind` (as the non-superuser `rewinder`) runs pg_rewind
/// and node1 follows node2 with none of the lost rows.
#[test]
fn kill_9_with_lost_writes_rejoins_by_rewind() {
    let p = Pair::new("crash-rewind", true);
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let vip = Vip::new(p.n1.port);
    let mut a1 = p.env(&p.n1, "rewind");
    a1.set("OCF_RESKEY_rewind_user", "rewinder");
    let a2 = p.env(&p.n2, "rewind");
    bring_up(&p, &a1, &a2, &vip);
    fail_over(&p, &a1, &a2, &vip, Crash::WithLostWrites);
    eprintln!(
        "node2 writes on timeline {}, its last checkpoint is on timeline {}",
        p.n2.psql("select substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)::int"),
        p.n2.psql("select timeline_id from pg_control_checkpoint()")
    );

    let r = start_node1(&a1);
    assert_eq!(r.code, RUNNING, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("crash rejoin: the local WAL on timeline 2 ends at")
            && r.stderr.contains(": pg_rewind"),
        "the log names the decision: {}",
        r.stderr
    );
    // In words, not Rust's debug text (issue 12, re-attack item 8).
    assert!(
        r.stderr
            .contains("pg_rewind ended: rewound (the servers diverged at 0/"),
        "{}",
        r.stderr
    );
    // The rewind checkpointed node2 first (pg_rewind 15 reads the source's
    // timeline from its control file).
    assert_eq!(
        p.n2.psql("select timeline_id from pg_control_checkpoint()"),
        "3"
    );
    assert!(!p.lock_exists(&p.n1), "PGSQL.lock removed");
    node1_follows_node2(&p, &a1, &a2, 1000);
    let _ = &p.dir;
}

/// Item 2: node2 had all of node1's WAL (sync, kill -9 right after an
/// acknowledged write): the start decides "follow", no pg_rewind.
#[test]
fn kill_9_of_a_caught_up_pair_rejoins_by_follow() {
    let p = Pair::new("crash-follow", true);
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let vip = Vip::new(p.n1.port);
    let a1 = p.env(&p.n1, "rewind");
    let a2 = p.env(&p.n2, "rewind");
    bring_up(&p, &a1, &a2, &vip);
    fail_over(&p, &a1, &a2, &vip, Crash::CaughtUp);

    let r = start_node1(&a1);
    assert_eq!(r.code, RUNNING, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("crash rejoin: the local WAL on timeline 2 ends at")
            && r.stderr.contains(": follow it"),
        "the log names the decision: {}",
        r.stderr
    );
    assert!(!r.stderr.contains("pg_rewind"), "{}", r.stderr);
    assert!(!p.lock_exists(&p.n1), "PGSQL.lock removed");
    node1_follows_node2(&p, &a1, &a2, 1001);
    let _ = &p.dir;
}

/// The entries of `after` not in `before` and of `before` not in `after`.
fn changes(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let gone = before.iter().filter(|e| !after.contains(e));
    let new = after.iter().filter(|e| !before.contains(e));
    gone.map(|e| format!("- {e:?}"))
        .chain(new.map(|e| format!("+ {e:?}")))
        .collect()
}

type Snapshot = Vec<(String, u64, std::time::SystemTime)>;

/// [`snapshot_dir`] of `node`'s pgdata without `standby.signal`: start
/// writes the standby configuration before it looks at the lock (the stock
/// order, actions/start.rs), the one file of pgdata a refused start may
/// change.
fn pgdata_without_standby_signal(node: &PgNode) -> Snapshot {
    snapshot_dir(&node.pgdata)
        .into_iter()
        .filter(|(path, _, _)| !path.ends_with("/standby.signal"))
        .collect()
}

/// Every file under `dir` with its size and modification time, sorted.
fn snapshot_dir(dir: &str) -> Snapshot {
    let mut out = Vec::new();
    let mut todo = vec![std::path::PathBuf::from(dir)];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let e = e.expect("entry");
            let m = e.metadata().expect("metadata");
            if m.is_dir() {
                todo.push(e.path());
            } else {
                let modified = m.modified().expect("mtime");
                out.push((e.path().display().to_string(), m.len(), modified));
            }
        }
    }
    out.sort();
    out
}

/// Item 3: `crash_rejoin=none` keeps the stock refusal; without checksums
/// and with `wal_log_hints=off`, `crash_rejoin=rewind` refuses with the
/// reason; pgdata is untouched by both. `rewind-or-clone` then re-clones,
/// the old directory moved aside intact, and node1 follows node2.
#[test]
fn refusals_leave_pgdata_untouched_and_reclone_moves_it_aside() {
    let p = Pair::new("crash-refused", false);
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let vip = Vip::new(p.n1.port);
    let a1 = p.env(&p.n1, "none");
    let a2 = p.env(&p.n2, "none");
    bring_up(&p, &a1, &a2, &vip);
    fail_over(&p, &a1, &a2, &vip, Crash::WithLostWrites);
    // start writes the standby configuration (standby.signal) before it
    // looks at the lock (the stock order, actions/start.rs): the one file
    // of pgdata a refused start may change; the data stays as it was.
    let snapshot = || pgdata_without_standby_signal(&p.n1);
    let before = snapshot();

    let r = start_node1(&a1);
    assert_ne!(r.code, RUNNING, "{}", r.stderr);
    assert!(r.stderr.contains("PGSQL.lock"), "{}", r.stderr);
    assert!(p.lock_exists(&p.n1));
    assert_eq!(
        changes(&before, &snapshot()),
        Vec::<String>::new(),
        "crash_rejoin=none"
    );

    let a1 = p.env(&p.n1, "rewind");
    let r = start_node1(&a1);
    assert_ne!(r.code, RUNNING, "{}", r.stderr);
    assert!(
        r.stderr.contains("rewind impossible") && r.stderr.contains("wal_log_hints"),
        "the reason is given: {}",
        r.stderr
    );
    assert!(!r.stderr.contains("pg_rewind ended"), "{}", r.stderr);
    assert!(p.lock_exists(&p.n1));
    assert_eq!(
        changes(&before, &snapshot()),
        Vec::<String>::new(),
        "crash_rejoin=rewind"
    );
    assert!(p
        .n1
        .postmaster_pid()
        .is_none_or(|pid| !pgsql_ra_ocf::procfs::signalable(pid)));
    a2.expect("monitor", 4000, PROMOTED);

    // rewind-or-clone: a new copy; the old directory is moved aside as it
    // was (standby.signal aside).
    let a1 = p.env(&p.n1, "rewind-or-clone");
    let r = start_node1(&a1);
    assert_eq!(r.code, RUNNING, "{}", r.stderr);
    assert!(r.stderr.contains(": re-clone ("), "{}", r.stderr);
    let aside: Vec<String> = std::fs::read_dir(p.dir.join("node1"))
        .expect("node1's directory")
        .filter_map(|e| e.ok())
        .map(|e| e.path().display().to_string())
        .filter(|path| path.contains("/data.aside-"))
        .collect();
    assert_eq!(aside.len(), 1, "one directory moved aside: {aside:?}");
    let moved: Snapshot = before
        .iter()
        .map(|(path, len, t)| (path.replacen(&p.n1.pgdata, &aside[0], 1), *len, *t))
        .collect();
    let kept: Snapshot = snapshot_dir(&aside[0])
        .into_iter()
        .filter(|(path, _, _)| !path.ends_with("/standby.signal"))
        .collect();
    assert_eq!(
        changes(&moved, &kept),
        Vec::<String>::new(),
        "the old directory is intact"
    );
    assert!(!p.lock_exists(&p.n1), "PGSQL.lock removed");
    node1_follows_node2(&p, &a1, &a2, 1000);
    let _ = &p.dir;
}

/// Issue 10, found by `bench/rejoin_sync.sh` on the lab: with
/// `restart_on_promote` (the seed) both promotions are a standby started
/// without `standby.signal`: node2 KEEPS timeline 1 and writes on from the
/// end of the WAL it received, while node1 died holding 500 rows node2
/// never got. No history file marks the fork and `pg_rewind` would say "no
/// rewind required"; before the fix node1's start compared its end of WAL
/// with node2's current LSN (further on) and decided "follow": node1 then
/// replayed its own records and never streamed ("record with incorrect
/// prev-link"). Now node2's promote records where it began writing
/// (`pgsql-primary-origin` `1:<system>:<LSN>`), `crash_rejoin=rewind`
/// refuses with the reason (pgdata untouched), `rewind-or-clone` re-clones
/// and node1 follows node2 on timeline 1 without the lost rows.
#[test]
fn restart_on_promote_fork_is_refused_then_recloned() {
    let p = Pair::new("crash-fork", true);
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let vip = Vip::new(p.n1.port);
    let with_restart = |crash_rejoin: &str, node: &PgNode| {
        let mut a = p.env(node, crash_rejoin);
        a.set("OCF_RESKEY_restart_on_promote", "true");
        a
    };
    let a1 = with_restart("rewind", &p.n1);
    let a2 = with_restart("rewind", &p.n2);
    bring_up(&p, &a1, &a2, &vip);
    fail_over(&p, &a1, &a2, &vip, Crash::WithLostWrites);
    assert_eq!(
        p.n2.psql("select substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)::int"),
        "1",
        "restart_on_promote keeps the timeline"
    );
    let origin = p
        .attr(&p.n2, "forever", "pgsql-primary-origin")
        .unwrap_or_default();
    assert_eq!(
        origin.split(':').count(),
        3,
        "node2 recorded where it began writing: {origin:?}"
    );
    let snapshot = || pgdata_without_standby_signal(&p.n1);
    let before = snapshot();

    let r = start_node1(&a1);
    assert_ne!(r.code, RUNNING, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("where another node began writing on the same timeline number")
            && r.stderr.contains("cannot see a fork within one timeline"),
        "the reason is given: {}",
        r.stderr
    );
    assert!(!r.stderr.contains("pg_rewind ended"), "{}", r.stderr);
    assert!(p.lock_exists(&p.n1), "PGSQL.lock kept");
    assert_eq!(
        changes(&before, &snapshot()),
        Vec::<String>::new(),
        "a refused start leaves pgdata as it was"
    );
    assert!(p
        .n1
        .postmaster_pid()
        .is_none_or(|pid| !pgsql_ra_ocf::procfs::signalable(pid)));

    let a1 = with_restart("rewind-or-clone", &p.n1);
    let r = start_node1(&a1);
    assert_eq!(r.code, RUNNING, "{}", r.stderr);
    assert!(r.stderr.contains(": re-clone ("), "{}", r.stderr);
    assert!(!p.lock_exists(&p.n1), "PGSQL.lock removed");
    node1_follows_node2_on(&p, &a1, &a2, 1000, "1");
    let _ = &p.dir;
}

/// Issue 10, found by an operator attack on the fork rule: after the
/// failover above, node2 crashes too, comes back alone (the lone-primary
/// rule) and is promoted a second time on timeline 1. Each node kept only
/// its latest origin, so the second promotion erased node2's first fork
/// point and node1's start "followed" (exit 0, the lock removed, the 500
/// lost rows readable on a standby that never streamed). Every promotion by
/// restart now adds its point to `pgsql-primary-forks`: node1 is refused.
#[test]
fn a_second_promotion_on_the_same_timeline_keeps_the_first_fork() {
    let p = Pair::new("crash-refork", true);
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let vip = Vip::new(p.n1.port);
    let with_restart = |node: &PgNode| {
        let mut a = p.env(node, "rewind");
        a.set("OCF_RESKEY_restart_on_promote", "true");
        a
    };
    let (a1, a2) = (with_restart(&p.n1), with_restart(&p.n2));
    bring_up(&p, &a1, &a2, &vip);
    fail_over(&p, &a1, &a2, &vip, Crash::WithLostWrites);
    // node2 crashes, is stopped, starts alone and is promoted again.
    p.n2.kill_9();
    a2.expect("monitor", 4000, NOT_RUNNING);
    let _ = a2.run("demote", 0);
    a2.expect("stop", 0, RUNNING);
    p.set_promoted(None);
    vip.place(None);
    a2.expect("start", 0, RUNNING);
    a2.expect("promote", 0, RUNNING);
    p.set_promoted(Some(&p.n2));
    vip.place(Some(&p.n2));
    a2.expect("monitor", 4000, PROMOTED);
    let forks = p
        .attr(&p.n2, "forever", "pgsql-primary-forks")
        .unwrap_or_default();
    assert_eq!(
        forks.split(':').nth(2).map(|l| l.split(',').count()),
        Some(2),
        "both promotions of node2 are recorded: {forks:?}"
    );
    p.n2.psql("insert into t select g, 'new2' from generate_series(1, 10) g");

    let r = start_node1(&a1);
    assert_ne!(r.code, RUNNING, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("where another node began writing on the same timeline number"),
        "the first fork is still seen: {}",
        r.stderr
    );
    assert!(p.lock_exists(&p.n1), "PGSQL.lock kept");
    let _ = &p.dir;
}

/// node2's timeline (8 hex digits) and the WAL file on it that holds the
/// switch point where its timeline began (its history file's last line):
/// the first file a node that stopped at or before that point requests.
fn switch_segment_file(n2: &PgNode) -> (String, String) {
    let tli = n2.psql("select substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)");
    let history = n2.psql(&format!("select pg_read_file('pg_wal/{tli}.history')"));
    let switch = history
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("node2's history {history:?}"))
        .to_string();
    let file = n2.psql(&format!("select pg_walfile_name('{switch}')"));
    eprintln!("node2 on timeline {tli} began at {switch}, in {file}");
    (tli, file)
}

fn holds(n2: &PgNode, file: &str) -> bool {
    n2.psql(&format!(
        "select count(*) from pg_ls_dir('pg_wal') as f where f = '{file}'"
    )) == "1"
}

/// `wal_keep_size = 0` on node2 (no slot: `replication_slot_name` unset),
/// then writes, `pg_switch_wal()` and `CHECKPOINT` until `file` is gone
/// from its `pg_wal` (PostgreSQL removes or recycles every segment before
/// the new checkpoint's REDO).
fn remove_wal_through(n2: &PgNode, file: &str) {
    n2.psql("alter system set wal_keep_size = 0");
    n2.psql("select pg_reload_conf()");
    n2.psql("create table if not exists fill(x int)");
    for _ in 0..12 {
        if !holds(n2, file) {
            break;
        }
        n2.psql("insert into fill select generate_series(1, 1000)");
        n2.psql("select pg_switch_wal()");
        n2.psql("checkpoint");
    }
    assert!(
        !holds(n2, file),
        "{file} is still in node2's pg_wal: {}",
        n2.psql("select string_agg(f, ' ' order by f) from pg_ls_dir('pg_wal') as f")
    );
    eprintln!(
        "node2's pg_wal now: {}",
        n2.psql("select string_agg(f, ' ' order by f) from pg_ls_dir('pg_wal') as f")
    );
}

/// Issue 10, "Precisions": node1 crashed (`crash`), node2 was promoted,
/// then node2 (`wal_keep_size = 0`, no slot, no shared archive) removed
/// the WAL node1 would request first. `crash_rejoin=rewind` refuses with
/// the reason (the LSN, the segment, the fixes), pgdata untouched and the
/// lock kept; `rewind-or-clone` re-clones and node1 streams again. Before,
/// the start succeeded and node1 sat there never streaming ("requested WAL
/// segment … has already been removed").
fn wal_gone_is_refused_then_recloned(tag: &str, crash: Crash, both: u32, step: &str) {
    let p = Pair::new(tag, true);
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let vip = Vip::new(p.n1.port);
    let mut a1 = p.env(&p.n1, "rewind");
    a1.set("OCF_RESKEY_rewind_user", "rewinder");
    let a2 = p.env(&p.n2, "rewind");
    bring_up(&p, &a1, &a2, &vip);
    fail_over(&p, &a1, &a2, &vip, crash);
    // Measured: after the promotion node2 holds the switch segment under
    // the new timeline's name (the walsender serves it from there) and,
    // archiving being off here, the old timeline's under its own name
    // (PostgreSQL renames it to .partial only when archiving is active).
    let (tli, file) = switch_segment_file(&p.n2);
    assert_eq!(tli, "00000003");
    assert!(holds(&p.n2, &file), "{file}");
    let old = format!("00000002{}", &file[8..]);
    assert!(
        holds(&p.n2, &old) && !holds(&p.n2, &format!("{old}.partial")),
        "{old}"
    );
    // pg_rewind's copy runs a CHECKPOINT on node2 first when its last one
    // is older than its timeline: do it now, so that the check sees what
    // the rewind would.
    p.n2.psql("checkpoint");
    remove_wal_through(&p.n2, &file);
    let snapshot = || pgdata_without_standby_signal(&p.n1);
    let before = snapshot();

    let r = start_node1(&a1);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(step)
            && r.stderr.contains(&format!(
                "the primary no longer holds WAL segment {file}, needed from 0/"
            ))
            && r.stderr.contains("wal_keep_size")
            && r.stderr.contains("restore_command")
            && r.stderr.contains("crash_rejoin=rewind-or-clone")
            && r.stderr
                .contains("re-clone not allowed by crash_rejoin=rewind"),
        "the reason is given: {}",
        r.stderr
    );
    assert!(!r.stderr.contains("pg_rewind ended"), "{}", r.stderr);
    assert!(p.lock_exists(&p.n1), "PGSQL.lock kept");
    assert_eq!(
        changes(&before, &snapshot()),
        Vec::<String>::new(),
        "a refused start leaves pgdata as it was"
    );
    assert!(p
        .n1
        .postmaster_pid()
        .is_none_or(|pid| !pgsql_ra_ocf::procfs::signalable(pid)));

    let mut a1 = p.env(&p.n1, "rewind-or-clone");
    a1.set("OCF_RESKEY_rewind_user", "rewinder");
    let r = start_node1(&a1);
    assert_eq!(r.code, RUNNING, "{}", r.stderr);
    assert!(r.stderr.contains(": re-clone ("), "{}", r.stderr);
    let aside = std::fs::read_dir(p.dir.join("node1"))
        .expect("node1's directory")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("data.aside-"))
        .count();
    assert_eq!(aside, 1, "the old directory is kept aside");
    assert!(!p.lock_exists(&p.n1), "PGSQL.lock removed");
    node1_follows_node2(&p, &a1, &a2, both);
    let _ = &p.dir;
}

/// A caught-up pair: node1 would follow, from the switch segment.
#[test]
fn follow_with_the_wal_gone_is_refused_then_recloned() {
    wal_gone_is_refused_then_recloned(
        "wal-gone-follow",
        Crash::CaughtUp,
        1001,
        "to follow (streaming from the end of the local WAL)",
    );
}

/// Writes node2 never got: node1 would be rewound, then replay its own WAL
/// (kept by pg_rewind) up to the switch point and node2's from there.
#[test]
fn rewind_with_the_wal_gone_is_refused_then_recloned() {
    wal_gone_is_refused_then_recloned(
        "wal-gone-rewind",
        Crash::WithLostWrites,
        1000,
        "after pg_rewind (the local WAL up to the divergence, then the primary's from the switch point)",
    );
}

/// The control: the same setting (`wal_keep_size = 0`, no slot) with the
/// segment still on node2: node1 follows as before.
#[test]
fn follow_with_the_wal_still_held_and_no_wal_keep_size() {
    let p = Pair::new("wal-held-follow", true);
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let vip = Vip::new(p.n1.port);
    let mut a1 = p.env(&p.n1, "rewind");
    a1.set("OCF_RESKEY_rewind_user", "rewinder");
    let a2 = p.env(&p.n2, "rewind");
    bring_up(&p, &a1, &a2, &vip);
    fail_over(&p, &a1, &a2, &vip, Crash::CaughtUp);
    let (_, file) = switch_segment_file(&p.n2);
    p.n2.psql("alter system set wal_keep_size = 0");
    p.n2.psql("select pg_reload_conf()");
    assert!(holds(&p.n2, &file), "{file}");

    let r = start_node1(&a1);
    assert_eq!(r.code, RUNNING, "{}", r.stderr);
    assert!(r.stderr.contains(": follow it"), "{}", r.stderr);
    assert!(!r.stderr.contains("no longer holds"), "{}", r.stderr);
    assert!(!p.lock_exists(&p.n1), "PGSQL.lock removed");
    node1_follows_node2(&p, &a1, &a2, 1001);
    let _ = &p.dir;
}

/// Row W5 on real servers: node2, promoted moments ago, has not completed
/// a checkpoint since (the promotion only requests one, spread), holds
/// every WAL file when node1's start decides to rewind, but `pg_rewind`'s
/// preparation runs `CHECKPOINT` on it, which removes the segments before
/// its REDO (`wal_keep_size = 0`), the new timeline's switch segment
/// included. node1 replays its own old-timeline WAL (pg_rewind keeps it up
/// to the divergence) but needs that switch segment from node2, which no
/// longer holds it (nor did pg_rewind copy it: the CHECKPOINT came first).
/// The second decision reads the start in node1's `backup_label`, counts
/// node1's kept files and refuses (`rewind`) naming the switch segment:
/// the lock kept.
/// The next start with `rewind-or-clone` (the directory left rewound, the
/// label still there) re-clones, and node1 streams.
#[test]
fn the_rewind_s_checkpoint_removing_the_wal_is_caught_after_the_rewind() {
    let p = Pair::new("wal-gone-after-rewind", true);
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let vip = Vip::new(p.n1.port);
    let mut a1 = p.env(&p.n1, "rewind");
    a1.set("OCF_RESKEY_rewind_user", "rewinder");
    let a2 = p.env(&p.n2, "rewind");
    bring_up(&p, &a1, &a2, &vip);
    fail_over(&p, &a1, &a2, &vip, Crash::WithLostWrites);
    let (_, file) = switch_segment_file(&p.n2);
    p.n2.psql("alter system set wal_keep_size = 0");
    p.n2.psql("select pg_reload_conf()");
    p.n2.psql("create table fill(x int)");
    for _ in 0..4 {
        p.n2.psql("insert into fill select generate_series(1, 1000)");
        p.n2.psql("select pg_switch_wal()");
    }
    // The precondition: no checkpoint on node2 since its promotion, the
    // segment still there.
    assert_eq!(
        p.n2.psql("select timeline_id from pg_control_checkpoint()"),
        "2",
        "node2 already checkpointed since its promotion: the case is not reached"
    );
    assert!(holds(&p.n2, &file), "{file}");

    let r = start_node1(&a1);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("where the primary's timeline 3 left it: pg_rewind"),
        "the first decision rewinds: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains("pg_rewind ended: rewound"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("after pg_rewind: the primary no longer holds WAL segment ")
            && r.stderr.contains("needed from 0/")
            && r.stderr
                .contains("re-clone not allowed by crash_rejoin=rewind"),
        "the second decision names it: {}",
        r.stderr
    );
    assert!(
        !holds(&p.n2, &file),
        "the rewind's CHECKPOINT removed {file}"
    );
    assert!(p.lock_exists(&p.n1), "PGSQL.lock kept");
    let label = std::fs::read_to_string(format!("{}/backup_label", p.n1.pgdata))
        .expect("pg_rewind's backup_label");
    eprintln!("node1's backup_label:\n{label}");

    let mut a1 = p.env(&p.n1, "rewind-or-clone");
    a1.set("OCF_RESKEY_rewind_user", "rewinder");
    let r = start_node1(&a1);
    assert_eq!(r.code, RUNNING, "{}", r.stderr);
    assert!(r.stderr.contains(": re-clone ("), "{}", r.stderr);
    assert!(!p.lock_exists(&p.n1), "PGSQL.lock removed");
    node1_follows_node2(&p, &a1, &a2, 1000);
    let _ = &p.dir;
}

/// Issue 10, attack finding 1 (measured on 15.20): `pg_rewind` keeps the
/// target's own WAL files from the last common checkpoint up to the
/// divergence (PostgreSQL, `src/bin/pg_rewind/filemap.c`, `keepwal`).
/// node1 checkpoints, then writes over three segments before it dies
/// holding writes node2 never got; node2 (`wal_keep_size = 0`, promoted,
/// no checkpoint since) loses the old timeline's files before its REDO in
/// the rewind's own `CHECKPOINT`. node1 replays them from its own `pg_wal`
/// and needs only node2's files from the switch point: the rewound node
/// follows. Before the fix the second decision refused ("the primary no
/// longer holds WAL segment 00000002…03", exit 1) and `rewind-or-clone`
/// re-cloned for nothing.
#[test]
fn a_rewound_node_replays_the_wal_pg_rewind_kept() {
    let p = Pair::new("wal-kept-by-rewind", true);
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let vip = Vip::new(p.n1.port);
    let mut a1 = p.env(&p.n1, "rewind");
    a1.set("OCF_RESKEY_rewind_user", "rewinder");
    let a2 = p.env(&p.n2, "rewind");
    bring_up(&p, &a1, &a2, &vip);
    p.n1.psql("checkpoint");
    let redo_file =
        p.n1.psql("select pg_walfile_name(redo_lsn) from pg_control_checkpoint()");
    p.n1.psql("create table fill1(x int)");
    for _ in 0..3 {
        p.n1.psql("insert into fill1 select generate_series(1, 1000)");
        p.n1.psql("select pg_switch_wal()");
    }
    fail_over(&p, &a1, &a2, &vip, Crash::WithLostWrites);
    let (_, file) = switch_segment_file(&p.n2);
    assert!(
        redo_file < format!("00000002{}", &file[8..]),
        "{redo_file} {file}"
    );
    p.n2.psql("alter system set wal_keep_size = 0");
    p.n2.psql("select pg_reload_conf()");

    let r = start_node1(&a1);
    assert_eq!(r.code, RUNNING, "{}", r.stderr);
    assert!(
        r.stderr.contains("pg_rewind ended: rewound"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("no longer holds"), "{}", r.stderr);
    // What makes the case: node2 no longer holds the file node1 replays
    // from first; node1's own copy (kept by pg_rewind) is there.
    assert!(
        !holds(&p.n2, &redo_file),
        "node2 still holds {redo_file}: the case is not reached"
    );
    assert!(
        std::path::Path::new(&format!("{}/pg_wal/{redo_file}", p.n1.pgdata)).exists(),
        "pg_rewind kept {redo_file} in node1's pg_wal"
    );
    assert!(!p.lock_exists(&p.n1), "PGSQL.lock removed");
    node1_follows_node2(&p, &a1, &a2, 1000);
    let _ = &p.dir;
}

/// Copies node2's complete segment files (those before its current one)
/// into `archive` (owned by `pgdba`): an archive_command's work.
fn archive_complete_segments(n2: &PgNode, archive: &str) {
    // The segment being written (`+ 1`: at a segment's very start, as after
    // pg_switch_wal(), pg_walfile_name names the previous one).
    let current = n2.psql("select pg_walfile_name(pg_current_wal_lsn() + 1)");
    for e in std::fs::read_dir(format!("{}/pg_wal", n2.pgdata)).expect("pg_wal") {
        let name = e.expect("entry").file_name().to_string_lossy().to_string();
        if name.len() != 24 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        if name[8..] >= current[8..] || name[..8] != current[..8] {
            continue;
        }
        let to = format!("{archive}/{name}");
        if !std::path::Path::new(&to).exists() {
            std::fs::copy(format!("{}/pg_wal/{name}", n2.pgdata), &to).expect("archive copy");
            chown_pgdba(std::path::Path::new(&to));
        }
    }
}

/// [`remove_wal_through`], archiving node2's complete segments into
/// `archive` before each checkpoint.
fn remove_wal_archiving(n2: &PgNode, file: &str, archive: &str) {
    n2.psql("alter system set wal_keep_size = 0");
    n2.psql("select pg_reload_conf()");
    n2.psql("create table if not exists fill(x int)");
    for _ in 0..12 {
        if !holds(n2, file) {
            break;
        }
        n2.psql("insert into fill select generate_series(1, 1000)");
        n2.psql("select pg_switch_wal()");
        archive_complete_segments(n2, archive);
        n2.psql("checkpoint");
    }
    assert!(!holds(n2, file), "{file} is still in node2's pg_wal");
}

/// Issue 10, attack finding 2: the seed's `restore_command` reads each
/// node's OWN archive directory (`cp …/pg_archive/%f %p`), which lacks
/// node2's files. Before the fix "restore_command is set" turned the check
/// off: exit 0, and node1 never streamed ("requested WAL segment … has
/// already been removed"). Now the agent runs the restore_command for the
/// first missing file: it fails, `rewind` refuses naming the file and the
/// restore_command's failure (pgdata untouched, lock kept),
/// `rewind-or-clone` re-clones and node1 streams.
#[test]
fn a_local_archive_without_the_wal_is_refused_then_recloned() {
    let p = Pair::new("wal-archive-lacks", true);
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let vip = Vip::new(p.n1.port);
    let archive = p.dir.join("node1/pg_archive");
    mkdir_pgdba(&archive);
    let restore = format!("cp {archive}/%f %p");
    let mut a1 = p.env(&p.n1, "rewind");
    a1.set("OCF_RESKEY_rewind_user", "rewinder");
    a1.set("OCF_RESKEY_restore_command", &restore);
    let a2 = p.env(&p.n2, "rewind");
    bring_up(&p, &a1, &a2, &vip);
    fail_over(&p, &a1, &a2, &vip, Crash::CaughtUp);
    let (_, file) = switch_segment_file(&p.n2);
    p.n2.psql("checkpoint");
    remove_wal_through(&p.n2, &file);
    let before = pgdata_without_standby_signal(&p.n1);

    let r = start_node1(&a1);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "the primary no longer holds WAL segment {file}, needed from 0/"
        )) && r.stderr.contains(
            "restore_command did not provide it (restore_command exit code 1: cp: cannot stat"
        ) && r
            .stderr
            .contains("re-clone not allowed by crash_rejoin=rewind"),
        "the reason is given: {}",
        r.stderr
    );
    assert!(p.lock_exists(&p.n1), "PGSQL.lock kept");
    assert_eq!(
        changes(&before, &pgdata_without_standby_signal(&p.n1)),
        Vec::<String>::new()
    );
    let scratch: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .expect("tmp")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("pgsql-ra-restore-"))
        .collect();
    assert!(scratch.is_empty(), "scratch directories left: {scratch:?}");

    let mut a1 = p.env(&p.n1, "rewind-or-clone");
    a1.set("OCF_RESKEY_rewind_user", "rewinder");
    a1.set("OCF_RESKEY_restore_command", &restore);
    let r = start_node1(&a1);
    assert_eq!(r.code, RUNNING, "{}", r.stderr);
    assert!(
        r.stderr.contains("restore_command did not provide it")
            && r.stderr.contains(": re-clone ("),
        "{}",
        r.stderr
    );
    node1_follows_node2(&p, &a1, &a2, 1001);
    let _ = &p.dir;
}

/// The control of the one above: the archive holds node2's files (copied
/// there as an archive_command would): the agent's restore_command run
/// provides the first missing one, node1 follows, restores the rest from
/// the archive and streams.
#[test]
fn an_archive_holding_the_wal_lets_the_node_follow() {
    let p = Pair::new("wal-archive-holds", true);
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let vip = Vip::new(p.n1.port);
    let archive = p.dir.join("node1/pg_archive");
    mkdir_pgdba(&archive);
    let restore = format!("cp {archive}/%f %p");
    let mut a1 = p.env(&p.n1, "rewind");
    a1.set("OCF_RESKEY_rewind_user", "rewinder");
    a1.set("OCF_RESKEY_restore_command", &restore);
    let a2 = p.env(&p.n2, "rewind");
    bring_up(&p, &a1, &a2, &vip);
    fail_over(&p, &a1, &a2, &vip, Crash::CaughtUp);
    let (_, file) = switch_segment_file(&p.n2);
    p.n2.psql("checkpoint");
    remove_wal_archiving(&p.n2, &file, &archive);
    assert!(std::path::Path::new(&format!("{archive}/{file}")).exists());

    let r = start_node1(&a1);
    assert_eq!(r.code, RUNNING, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "the primary no longer holds WAL segment {file} (needed from 0/"
        )) && r.stderr.contains("but restore_command provided it")
            && r.stderr.contains(&format!(
                "the archive holds {file} (restore_command exit code 0, 16777216 bytes)"
            )),
        "{}",
        r.stderr
    );
    assert!(!p.lock_exists(&p.n1), "PGSQL.lock removed");
    node1_follows_node2(&p, &a1, &a2, 1001);
    let _ = &p.dir;
}

/// Issue 10, attack finding 4: a file missing in the middle of node2's
/// `pg_wal` (the oldest still there). Before the fix only the oldest file
/// per timeline was checked: "follow", exit 0, and node1 never streamed.
/// Now every segment up to node2's current one is checked: refused with
/// `rewind`, re-cloned with `rewind-or-clone`.
#[test]
fn a_gap_in_the_primary_s_pg_wal_is_refused_then_recloned() {
    let p = Pair::new("wal-gap", true);
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let vip = Vip::new(p.n1.port);
    let mut a1 = p.env(&p.n1, "rewind");
    a1.set("OCF_RESKEY_rewind_user", "rewinder");
    let a2 = p.env(&p.n2, "rewind");
    bring_up(&p, &a1, &a2, &vip);
    fail_over(&p, &a1, &a2, &vip, Crash::CaughtUp);
    let (_, file) = switch_segment_file(&p.n2);
    p.n2.psql("create table fill(x int)");
    for _ in 0..3 {
        p.n2.psql("insert into fill select generate_series(1, 1000)");
        p.n2.psql("select pg_switch_wal()");
    }
    p.n2.psql("checkpoint");
    let seg = u64::from_str_radix(&file[16..], 16).expect("segment") + 1;
    let victim = format!("{}{seg:08X}", &file[..16]);
    assert!(
        holds(&p.n2, &file) && holds(&p.n2, &victim),
        "{file} {victim}"
    );
    std::fs::remove_file(format!("{}/pg_wal/{victim}", p.n2.pgdata)).expect("rm");

    let r = start_node1(&a1);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "the primary no longer holds WAL segment {victim}, needed from 0/"
        )) && r
            .stderr
            .contains(&format!("the oldest it holds of that timeline is {file}")),
        "{}",
        r.stderr
    );
    assert!(p.lock_exists(&p.n1), "PGSQL.lock kept");

    let mut a1 = p.env(&p.n1, "rewind-or-clone");
    a1.set("OCF_RESKEY_rewind_user", "rewinder");
    let r = start_node1(&a1);
    assert_eq!(r.code, RUNNING, "{}", r.stderr);
    assert!(r.stderr.contains(": re-clone ("), "{}", r.stderr);
    node1_follows_node2(&p, &a1, &a2, 1001);
    let _ = &p.dir;
}
