//! The real `pgsql-ra` binary against every supported PostgreSQL major (10
//! to 18): Debian's 15, the others from `scripts/fetch-postgres.sh`'s cache
//! (server binaries only; psql and pg_basebackup are Debian's 15 client).
//!
//! Which majors: `PGSQL_RA_PG_MAJORS` ("10 11 … 18"; each listed major must
//! be there, else the test fails), or when unset 15 and every major in the
//! cache. `PGSQL_RA_PG_FULL_MAJORS` ("15 18"; default: every major) run the
//! full set; the others run the failover smoke only (the failover, then,
//! up to 15, the old primary rebuilt by Debian's pg_basebackup rejoins). A part not run for a
//! major is said on stderr, with why, and in the report.
//!
//! Each major writes its report (one `part|result|detail` line per part) to
//! `$PGSQL_RA_COMPAT_DIR/<major>.txt` when that variable is set;
//! `scripts/compat-table.sh` turns the reports into `docs/compatibility.md`.

mod common;

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use common::agent::{attr, AgentEnv};
use common::*;

const RUNNING: i32 = 0;
const NOT_RUNNING: i32 = 7;
const PROMOTED: i32 = 8;

/// Writes a line to the real stderr, past the test harness's capture, so a
/// skip is visible in `cargo test`'s output even when the test passes.
fn say(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

fn list(var: &str) -> Option<Vec<u32>> {
    std::env::var(var).ok().map(|v| {
        v.split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse()
                    .unwrap_or_else(|_| panic!("{var}: bad major {s:?}"))
            })
            .collect()
    })
}

/// The server binaries and version of `major`, or `None` (said on stderr)
/// when this run does not test it.
fn wanted(major: u32) -> Option<(String, String)> {
    match list("PGSQL_RA_PG_MAJORS") {
        Some(majors) if !majors.contains(&major) => {
            say(&format!(
                "PostgreSQL {major}: skipped: not in PGSQL_RA_PG_MAJORS={majors:?}"
            ));
            None
        }
        Some(_) => Some(server_bins(major).unwrap_or_else(|| {
            panic!(
                "PostgreSQL {major} is in PGSQL_RA_PG_MAJORS but not installed: run scripts/fetch-postgres.sh {major}"
            )
        })),
        None => {
            let found = server_bins(major);
            if found.is_none() {
                say(&format!(
                    "PostgreSQL {major}: skipped: not fetched (scripts/fetch-postgres.sh {major}) and PGSQL_RA_PG_MAJORS unset"
                ));
            }
            found
        }
    }
}

/// The parts of one major's run and their results.
struct Report {
    major: u32,
    lines: Vec<String>,
    failed: Vec<String>,
}

impl Report {
    fn part(&mut self, name: &str, f: impl FnOnce() -> String) {
        let t = Instant::now();
        let r = catch_unwind(AssertUnwindSafe(f));
        let secs = t.elapsed().as_secs_f64();
        match r {
            Ok(detail) => self.lines.push(format!("{name}|pass|{secs:.1} s{detail}")),
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                let first = msg.lines().next().unwrap_or("").replace('|', "/");
                say(&format!("PostgreSQL {}: {name} FAILED: {msg}", self.major));
                self.lines.push(format!("{name}|FAIL|{first}"));
                self.failed.push(name.to_string());
            }
        }
    }

    fn skip(&mut self, name: &str, why: &str) {
        say(&format!(
            "PostgreSQL {}: {name}: skipped: {why}",
            self.major
        ));
        self.lines.push(format!("{name}|skipped|{why}"));
    }
}

struct Pair {
    dir: TestDir,
    n1: PgNode,
    n2: PgNode,
    attrd: String,
}

impl Pair {
    fn new(tag: &str, bin: &str, major: u32) -> Pair {
        let dir = TestDir::new(&format!("pg{major}-{tag}"));
        let port = free_port();
        let n1 = PgNode::new(&dir, "node1", 1, port).with_server(bin, major);
        let n2 = PgNode::new(&dir, "node2", 2, port).with_server(bin, major);
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

    /// Waits until the primary's monitor sees node2 streaming in sync.
    fn wait_sync(&self, a1: &AgentEnv) {
        let ok = wait_for(Duration::from_secs(60), || {
            a1.run("monitor", 4000).code == PROMOTED
                && self
                    .attr(&self.n2, "forever", "pgsql-data-status")
                    .as_deref()
                    == Some("STREAMING|SYNC")
        });
        assert!(
            ok,
            "node2 never STREAMING|SYNC: data-status {:?}",
            self.attr(&self.n2, "forever", "pgsql-data-status")
        );
    }
}

/// How node2's data directory is made: `pg_basebackup` of Debian's 15
/// client for servers up to 15, else a cold copy of the cleanly stopped
/// primary (the 15 client refuses newer servers).
fn standby_method(major: u32) -> &'static str {
    if major <= PG_BIN_MAJOR {
        "pg_basebackup 15"
    } else {
        "cold copy"
    }
}

/// node1 primary (started and promoted by the agent), node2 streaming standby.
fn bring_up(p: &Pair) -> (AgentEnv, AgentEnv) {
    p.n1.initdb();
    p.n1.start_directly();
    if standby_method(p.n1.major) == "cold copy" {
        p.n1.stop_cleanly();
        p.n2.cold_copy_from(&p.n1);
    } else {
        p.n2.basebackup_from(&p.n1);
        p.n1.stop_immediately();
    }
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

/// The agent's recovery configuration on a standby of `major`.
fn check_recovery_config(n: &PgNode) -> String {
    let in_pgdata = std::path::Path::new(&format!("{}/recovery.conf", n.pgdata)).exists();
    let signal = std::path::Path::new(&format!("{}/standby.signal", n.pgdata)).exists();
    if n.major < 12 {
        assert!(
            in_pgdata && !signal,
            "PostgreSQL {}: recovery.conf in pgdata, no standby.signal",
            n.major
        );
        ": recovery.conf".into()
    } else {
        assert!(
            !in_pgdata && signal,
            "PostgreSQL {}: standby.signal, no recovery.conf in pgdata",
            n.major
        );
        ": standby.signal".into()
    }
}

fn with_notify(a: &AgentEnv, kind: &str, op: &str, promote: &str, promoted: &str) -> AgentEnv {
    let mut n = AgentEnv {
        vars: a.vars.clone(),
    };
    n.set("OCF_RESKEY_CRM_meta_notify_type", kind)
        .set("OCF_RESKEY_CRM_meta_notify_operation", op)
        .set("OCF_RESKEY_CRM_meta_notify_promote_uname", promote)
        .set("OCF_RESKEY_CRM_meta_notify_master_uname", promoted)
        .set("OCF_RESKEY_CRM_meta_notify_promoted_uname", promoted);
    n
}

/// The full set: start, monitor, promote, sync replication, notify, the
/// switch to async and back, demote, promote of the standby, stop.
fn full_set(r: &mut Report, bin: &str, major: u32) {
    let p = Pair::new("full", bin, major);
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let mut up = None;
    r.part("start, promote, monitor", || {
        up = Some(bring_up(&p));
        format!(" ({})", standby_method(major))
    });
    let Some((a1, a2)) = up else { return };
    r.part("sync streaming", || {
        p.wait_sync(&a1);
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
        String::new()
    });
    r.part("recovery configuration", || check_recovery_config(&p.n2));
    r.part("notify (post-start on the primary)", || {
        with_notify(&a1, "post", "start", "", "node1").expect("notify", 0, RUNNING);
        a1.expect("monitor", 4000, PROMOTED);
        String::new()
    });
    r.part("standby stop: async, then sync again", || {
        a2.expect("stop", 0, RUNNING);
        a2.expect("monitor", 0, NOT_RUNNING);
        a1.expect("monitor", 4000, PROMOTED);
        assert_eq!(
            p.attr(&p.n2, "forever", "pgsql-data-status").as_deref(),
            Some("DISCONNECT")
        );
        let t = Instant::now();
        p.n1.psql("create table after_stop(x int); insert into after_stop values (1)");
        assert!(t.elapsed() < Duration::from_secs(5));
        assert_eq!(p.n1.psql("show synchronous_standby_names"), "");
        a2.expect("start", 0, RUNNING);
        p.wait_sync(&a1);
        assert!(p
            .n1
            .psql("show synchronous_standby_names")
            .contains("node2"));
        String::new()
    });
    r.part("switchover: demote, notify, promote the standby", || {
        p.n1.psql("create table sw(x int); insert into sw values (42)");
        let demote = a1.expect("demote", 0, RUNNING);
        p.set_promoted(None);
        // Issue 10: a clean demote continues as a hot standby; without
        // pg_controldata (the npm packages of the other majors lack it) it
        // cannot tell a clean shutdown and keeps the stock behaviour.
        let controldata = std::path::Path::new(&format!("{bin}/pg_controldata")).exists();
        let (expected, note) = if controldata {
            (RUNNING, "")
        } else {
            (
                NOT_RUNNING,
                " (no pg_controldata beside pg_ctl: demote stopped, stock)",
            )
        };
        let m = a1.run("monitor", 4000);
        assert_eq!(
            m.code, expected,
            "demote: {} monitor: {}",
            demote.stderr, m.stderr
        );
        if !controldata {
            assert!(
                demote.stderr.contains("can't read the control data"),
                "{}",
                demote.stderr
            );
        }
        with_notify(&a2, "pre", "promote", "node2", "").expect("notify", 0, RUNNING);
        a2.expect("promote", 0, RUNNING);
        p.set_promoted(Some(&p.n2));
        with_notify(&a2, "post", "promote", "node2", "node2").expect("notify", 0, RUNNING);
        a2.expect("monitor", 4000, PROMOTED);
        assert_eq!(p.n2.psql("select x from sw"), "42");
        assert_eq!(
            p.attr(&p.n2, "reboot", "pgsql-status").as_deref(),
            Some("PRI")
        );
        assert_eq!(
            p.attr(&p.n1, "reboot", "master-pgsql").as_deref(),
            Some("-INFINITY")
        );
        note.to_string()
    });
    r.part("stop", || {
        a2.expect("stop", 0, RUNNING);
        a2.expect("monitor", 0, NOT_RUNNING);
        a1.expect("stop", 0, RUNNING);
        String::new()
    });
    let _ = &p.dir;
}

/// No primary anywhere: both nodes start as standbys, their monitors publish
/// their LSN (`pgsql-xlog-loc`, read with the version's function names) and
/// the one(s) with the highest get 1000; the winner is promoted.
fn election(r: &mut Report, bin: &str, major: u32) {
    let p = Pair::new("elect", bin, major);
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    r.part("election without a primary", || {
        p.n1.initdb();
        p.n1.start_directly();
        p.n1.psql("create table el(x int); insert into el values (1)");
        if standby_method(major) == "cold copy" {
            p.n1.stop_cleanly();
            p.n2.cold_copy_from(&p.n1);
        } else {
            p.n2.basebackup_from(&p.n1);
            p.n1.stop_cleanly();
        }
        let a1 = p.env(&p.n1, &p.n1);
        let a2 = p.env(&p.n2, &p.n1);
        a1.expect("start", 0, RUNNING);
        a2.expect("start", 0, RUNNING);
        let score = |n: &PgNode| p.attr(n, "reboot", "master-pgsql");
        let decided = wait_for(Duration::from_secs(30), || {
            a1.expect("monitor", 4000, RUNNING);
            a2.expect("monitor", 4000, RUNNING);
            score(&p.n1).as_deref() == Some("1000") || score(&p.n2).as_deref() == Some("1000")
        });
        assert!(
            decided,
            "no winner: scores {:?} {:?}",
            score(&p.n1),
            score(&p.n2)
        );
        for n in [&p.n1, &p.n2] {
            let loc = p.attr(n, "reboot", "pgsql-xlog-loc").unwrap_or_default();
            assert!(
                loc.len() == 16 && loc != "0000000000000000",
                "{}: xlog-loc {loc:?}",
                n.name
            );
        }
        let (winner, a) = if score(&p.n1).as_deref() == Some("1000") {
            (&p.n1, &a1)
        } else {
            (&p.n2, &a2)
        };
        a.expect("promote", 0, RUNNING);
        p.set_promoted(Some(winner));
        a.expect("monitor", 4000, PROMOTED);
        assert_eq!(winner.psql("select pg_is_in_recovery()"), "f");
        format!(": {} elected and promoted", winner.name)
    });
}

/// restart_on_promote with replication slots and the WAL receiver check:
/// the slot name goes into recovery.conf (10, 11) or the included file.
fn options(r: &mut Report, bin: &str, major: u32) {
    let p = Pair::new("options", bin, major);
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    r.part(
        "restart_on_promote, replication slots, check_wal_receiver",
        || {
            p.n1.initdb();
            p.n1.start_directly();
            if standby_method(major) == "cold copy" {
                p.n1.stop_cleanly();
                p.n2.cold_copy_from(&p.n1);
            } else {
                p.n2.basebackup_from(&p.n1);
                p.n1.stop_immediately();
            }
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
            assert_eq!(
                p.n1.psql("select slot_name from pg_replication_slots order by 1"),
                "pgsql_slot_node2",
                "the primary creates a slot per other node"
            );
            a2.expect("start", 0, RUNNING);
            p.wait_sync(&a1);
            assert_eq!(p.n1.psql("select active from pg_replication_slots"), "t");
            assert!(wait_for(Duration::from_secs(10), || {
                a2.run("monitor", 4000).code == RUNNING
                    && p.attr(&p.n2, "reboot", "pgsql-receiver-status").as_deref() == Some("normal")
            }));
            assert_eq!(
                p.attr(&p.n1, "reboot", "pgsql-receiver-status").as_deref(),
                Some("normal (master)")
            );
            String::new()
        },
    );
}

/// The failover: the primary's postmaster is killed (-9), Pacemaker stops
/// it and promotes the sync standby with notifications; the committed row
/// is there and the crashed node's lock refuses its start.
fn failover(r: &mut Report, bin: &str, major: u32) {
    let p = Pair::new("failover", bin, major);
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let mut after = None;
    r.part("failover (kill -9 of the primary)", || {
        let (a1, a2) = bring_up(&p);
        p.wait_sync(&a1);
        p.n1.psql("create table fo(x int); insert into fo values (7)");
        let pm = p.n1.postmaster_pid().expect("postmaster");
        // SAFETY: killing a test server's postmaster.
        unsafe {
            libc::kill(pm as libc::pid_t, libc::SIGKILL);
        }
        assert!(wait_for(Duration::from_secs(20), || {
            !pgsql_ra_ocf::procfs::signalable(pm)
        }));
        let m = a1.run("monitor", 4000);
        assert!(
            m.code != PROMOTED && m.code != RUNNING,
            "monitor {}: {}",
            m.code,
            m.stderr
        );
        a1.expect("stop", 0, RUNNING);
        p.set_promoted(None);
        with_notify(&a2, "pre", "promote", "node2", "").expect("notify", 0, RUNNING);
        a2.expect("promote", 0, RUNNING);
        p.set_promoted(Some(&p.n2));
        with_notify(&a2, "post", "promote", "node2", "node2").expect("notify", 0, RUNNING);
        a2.expect("monitor", 4000, PROMOTED);
        assert_eq!(p.n2.psql("select x from fo"), "7");
        assert_eq!(p.n2.psql("select pg_is_in_recovery()"), "f");
        let s = a1.run("start", 0);
        assert_eq!(s.code, 1, "the crashed primary's start: {}", s.stderr);
        assert!(s.stderr.contains("PGSQL.lock"), "{}", s.stderr);
        after = Some(a2);
        String::new()
    });
    let rejoin = "rejoin: the old primary rebuilt by pg_basebackup streams on the new timeline";
    let Some(a2) = after else {
        r.skip(rejoin, "the failover failed");
        return;
    };
    if major > PG_BIN_MAJOR {
        r.skip(
            rejoin,
            "Debian's pg_basebackup 15 refuses servers of a newer major (\"incompatible server version\") and the npm package has no client tools",
        );
        return;
    }
    // The operator's rebuild (as lab/e2e.sh does it on 15): a base backup of
    // the new primary, the lock removed, then the agent starts it.
    r.part(rejoin, || {
        std::fs::remove_dir_all(&p.n1.pgdata).expect("remove the old pgdata");
        p.n1.basebackup_from(&p.n2);
        std::fs::remove_file(format!("{}/PGSQL.lock", p.n1.tmpdir)).expect("remove PGSQL.lock");
        let a1 = p.env(&p.n1, &p.n2);
        a1.expect("start", 0, RUNNING);
        let ok = wait_for(Duration::from_secs(60), || {
            a2.run("monitor", 4000).code == PROMOTED
                && p.attr(&p.n1, "forever", "pgsql-data-status").as_deref()
                    == Some("STREAMING|SYNC")
        });
        assert!(
            ok,
            "node1 never STREAMING|SYNC: {:?}",
            p.attr(&p.n1, "forever", "pgsql-data-status")
        );
        a1.expect("monitor", 4000, RUNNING);
        p.n2.psql("insert into fo values (8)");
        assert!(wait_for(Duration::from_secs(10), || p
            .n1
            .psql("select count(*) from fo")
            == "2"));
        let tli = p.n1.psql("select timeline_id from pg_control_checkpoint()");
        format!(": timeline {tli}")
    });
}

fn run_major(major: u32) {
    let Some((bin, version)) = wanted(major) else {
        return;
    };
    let full = list("PGSQL_RA_PG_FULL_MAJORS").is_none_or(|l| l.contains(&major));
    let start = Instant::now();
    let mut r = Report {
        major,
        lines: Vec::new(),
        failed: Vec::new(),
    };
    r.lines.push(format!("version|{version}|{bin}"));
    if full {
        full_set(&mut r, &bin, major);
        election(&mut r, &bin, major);
        options(&mut r, &bin, major);
    } else {
        let why = "not in PGSQL_RA_PG_FULL_MAJORS (CI budget): failover smoke only";
        for part in [
            "start, promote, monitor",
            "sync streaming",
            "recovery configuration",
            "notify (post-start on the primary)",
            "standby stop: async, then sync again",
            "switchover: demote, notify, promote the standby",
            "stop",
            "election without a primary",
            "restart_on_promote, replication slots, check_wal_receiver",
        ] {
            r.skip(part, why);
        }
    }
    failover(&mut r, &bin, major);
    r.skip(
        "pg_rewind of the old primary",
        "the agent never runs pg_rewind, and the npm packages have no pg_rewind",
    );
    let secs = start.elapsed().as_secs_f64();
    r.lines.push(format!("duration|{secs:.1} s|"));
    say(&format!(
        "PostgreSQL {major} ({version}): {} in {secs:.1} s",
        if r.failed.is_empty() {
            "passed"
        } else {
            "FAILED"
        }
    ));
    if let Ok(dir) = std::env::var("PGSQL_RA_COMPAT_DIR") {
        std::fs::create_dir_all(&dir).expect("PGSQL_RA_COMPAT_DIR");
        std::fs::write(format!("{dir}/{major}.txt"), r.lines.join("\n") + "\n").expect("report");
    }
    assert!(
        r.failed.is_empty(),
        "PostgreSQL {major}: failed: {:?}",
        r.failed
    );
}

macro_rules! majors {
    ($($name:ident = $major:expr),*) => {$(
        #[test]
        fn $name() {
            run_major($major);
        }
    )*};
}

majors!(
    pg10 = 10,
    pg11 = 11,
    pg12 = 12,
    pg13 = 13,
    pg14 = 14,
    pg15 = 15,
    pg16 = 16,
    pg17 = 17,
    pg18 = 18
);

/// A data directory of a major outside 10..=18 is refused by the binary as
/// not installed (5) with the supported range, for start, probe and
/// validate-all (OCF_CHECK_LEVEL=10); stop of a server that does not run still succeeds.
#[test]
fn an_unsupported_major_is_refused_with_the_supported_range() {
    let dir = TestDir::new("unsupported");
    let port = free_port();
    let n = PgNode::new(&dir, "node1", 1, port);
    mkdir_pgdba(&n.pgdata);
    let attrd = dir.join("attrd");
    std::fs::create_dir_all(&attrd).expect("attrd dir");
    std::fs::write(format!("{attrd}/nodes"), "node1\nnode2\n").expect("nodes");
    std::fs::write(format!("{}/postgresql.conf", n.pgdata), "port = 5432\n").expect("conf");
    chown_pgdba(std::path::Path::new(&format!(
        "{}/postgresql.conf",
        n.pgdata
    )));
    let mut a = AgentEnv::new(&n, &attrd, "node1 node2", &n.host);
    // validate-all reads the machine (PG_VERSION) at check level 10 only.
    a.set("OCF_CHECK_LEVEL", "10");
    for version in ["9.6", "19"] {
        std::fs::write(format!("{}/PG_VERSION", n.pgdata), format!("{version}\n"))
            .expect("PG_VERSION");
        for (action, interval) in [("validate-all", 0), ("start", 0), ("monitor", 0)] {
            let r = a.run(action, interval);
            assert_eq!(r.code, 5, "{version} {action}: {}", r.stderr);
            assert!(
                r.stderr
                    .contains(&format!("PostgreSQL {version} is not supported"))
                    && r.stderr.contains("supports PostgreSQL 10 to 18"),
                "{version} {action}: {}",
                r.stderr
            );
        }
        a.expect("stop", 0, RUNNING);
    }
}

/// A running server whose data directory reads as an unsupported major
/// (PG_VERSION rewritten under it) is still stopped by `stop`.
#[test]
fn stop_stops_a_running_server_of_an_unsupported_major() {
    let dir = TestDir::new("unsupported-stop");
    let n = PgNode::new(&dir, "node1", 1, free_port());
    let _guard = ServerGuard(vec![n.clone()]);
    n.initdb();
    n.start_directly();
    let pid = n.postmaster_pid().expect("running");
    let attrd = dir.join("attrd");
    std::fs::create_dir_all(&attrd).expect("attrd dir");
    std::fs::write(format!("{attrd}/nodes"), "node1\nnode2\n").expect("nodes");
    std::fs::write(format!("{}/PG_VERSION", n.pgdata), "9.6\n").expect("PG_VERSION");
    let a = AgentEnv::new(&n, &attrd, "node1 node2", &n.host);
    let m = a.run("monitor", 0);
    assert_eq!(m.code, 5, "{}", m.stderr);
    let r = a.expect("stop", 0, RUNNING);
    assert!(
        r.stderr.contains("PostgreSQL 9.6 is not supported"),
        "{}",
        r.stderr
    );
    assert!(wait_for(Duration::from_secs(10), || {
        !pgsql_ra_ocf::procfs::signalable(pid)
    }));
}
