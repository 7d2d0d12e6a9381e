//! Issue 10 item 2 (case B2-01) on real PostgreSQL 15 servers, with the
//! `pgsql-ra` binary and the file-backed attribute store: a clean demote
//! continues as a hot standby, the candidate checks it received the old
//! primary's shutdown checkpoint, and the old primary streams from the new
//! one without a rewind. "node1" listens on 127.0.0.2, "node2" on
//! 127.0.0.3 (same port).
//!
//! `master_ip` is a stand-in for the VIP: [`Vip`] (`tests/common/vip.rs`)
//! forwards TCP connections to 127.0.0.9 (same port) to the node it is
//! placed on, and a move drops the connections it carried (as a VIP
//! leaving a node resets them). The
//! test places it as the seed's constraints do: on the Promoted node, left
//! there during the demote, removed after it, placed on the new primary
//! after its promote.

mod common;

use std::time::Duration;

use common::agent::{attr, AgentEnv};
use common::vip::{Vip, VIP};
use common::*;

const RUNNING: i32 = 0;
const PROMOTED: i32 = 8;

struct Pair {
    dir: TestDir,
    n1: PgNode,
    n2: PgNode,
    attrd: String,
}

impl Pair {
    fn new(tag: &str) -> Pair {
        let dir = TestDir::new(tag);
        let port = free_port();
        let n1 = PgNode::new(&dir, "node1", 1, port);
        let n2 = PgNode::new(&dir, "node2", 2, port);
        let attrd = dir.join("attrd");
        std::fs::create_dir_all(&attrd).expect("attrd dir");
        std::fs::write(format!("{attrd}/nodes"), "node1\nnode2\n").expect("nodes");
        Pair { dir, n1, n2, attrd }
    }

    fn env(&self, node: &PgNode, master_ip: &str) -> AgentEnv {
        AgentEnv::new(node, &self.attrd, "node1 node2", master_ip)
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

/// node1 primary (started and promoted by the agent), node2 a sync standby
/// streaming from `master_ip`.
fn bring_up(p: &Pair, a1: &AgentEnv, a2: &AgentEnv, vip: Option<&Vip>) {
    p.n1.initdb();
    p.n1.start_directly();
    p.n2.basebackup_from(&p.n1);
    p.n1.stop_cleanly();
    a1.expect("start", 0, RUNNING);
    a1.expect("promote", 0, RUNNING);
    p.set_promoted(Some(&p.n1));
    if let Some(v) = vip {
        v.place(Some(&p.n1));
    }
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
}

/// `<timeline>:<16 hex digits>` → (timeline, LSN).
fn parse_checkpoint(v: &str) -> (u32, u64) {
    let (t, l) = v.split_once(':').expect("<timeline>:<LSN>");
    assert_eq!(l.len(), 16, "{v}");
    (
        t.parse().expect("timeline"),
        u64::from_str_radix(l, 16).expect("LSN"),
    )
}

/// `X/Y` → u64.
fn lsn(text: &str) -> u64 {
    let (hi, lo) = text.trim().split_once('/').expect("X/Y");
    (u64::from_str_radix(hi, 16).expect("hi") << 32) | u64::from_str_radix(lo, 16).expect("lo")
}

#[test]
fn a_clean_switchover_keeps_the_old_primary_as_a_standby_of_the_new_one() {
    let p = Pair::new("switch-rejoin");
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let vip = Vip::new(p.n1.port);
    let a1 = p.env(&p.n1, VIP);
    let a2 = p.env(&p.n2, VIP);
    bring_up(&p, &a1, &a2, Some(&vip));
    p.n1.psql("create table sw(x int); insert into sw values (42), (43)");

    // Demote: the VIP stays on node1 until the demote is done.
    let r = a1.expect("demote", 0, RUNNING);
    p.set_promoted(None);
    assert_eq!(p.n1.psql("select pg_is_in_recovery()"), "t", "{}", r.stderr);
    assert!(!p.lock_exists(&p.n1), "PGSQL.lock removed: {}", r.stderr);
    assert_eq!(
        p.attr(&p.n1, "reboot", "pgsql-status").as_deref(),
        Some("HS:alone")
    );
    let published = p
        .attr(&p.n1, "forever", "pgsql-demote-checkpoint")
        .expect("the demote checkpoint is published");
    let (ckpt_tli, ckpt_lsn) = parse_checkpoint(&published);
    assert_eq!(ckpt_tli, 2, "node1 was promoted once: timeline 2");

    // Meanwhile master_ip still leads to node1 itself: its walreceiver
    // connects to its own walsender; the Unpromoted monitor ends that.
    let own_walsender = || {
        p.n1.psql("select count(*) from pg_stat_replication where application_name = 'node1'")
            == "1"
    };
    assert!(
        wait_for(Duration::from_secs(20), own_walsender),
        "node1's walreceiver never reached itself through the VIP"
    );
    let r = a1.expect("monitor", 4000, RUNNING);
    assert!(
        r.stderr.contains("terminated 1 walsender"),
        "monitor log: {}",
        r.stderr
    );

    // The VIP leaves node1 after the demote; node2 checks the checkpoint
    // and is promoted; the VIP follows it.
    vip.place(None);
    let r = a2.expect("promote", 0, RUNNING);
    assert!(
        r.stderr.contains("I received the shutdown checkpoint"),
        "{}",
        r.stderr
    );
    p.set_promoted(Some(&p.n2));
    vip.place(Some(&p.n2));
    assert_eq!(p.attr(&p.n1, "forever", "pgsql-demote-checkpoint"), None);
    // node2's timeline 2 ends past node1's shutdown checkpoint record.
    let history = std::fs::read_to_string(format!("{}/pg_wal/00000003.history", p.n2.pgdata))
        .expect("node2's timeline 3 history");
    let switch = history
        .lines()
        .find(|l| l.starts_with("2\t"))
        .and_then(|l| l.split('\t').nth(1))
        .map(lsn)
        .expect("switch point from timeline 2");
    assert!(
        switch > ckpt_lsn,
        "switch point {switch:X} after checkpoint {ckpt_lsn:X}"
    );
    eprintln!(
        "shutdown checkpoint at {ckpt_lsn:X}, timeline 3 begins at {switch:X}: the record takes {} bytes",
        switch - ckpt_lsn
    );

    // node1 follows node2's new timeline without a rewind and is sync again.
    assert!(
        wait_for(Duration::from_secs(60), || {
            a2.run("monitor", 4000).code == PROMOTED
                && a1.run("monitor", 4000).code == RUNNING
                && p.attr(&p.n1, "forever", "pgsql-data-status").as_deref()
                    == Some("STREAMING|SYNC")
        }),
        "node1 never streamed from node2: data-status {:?}, node2's replication: {}",
        p.attr(&p.n1, "forever", "pgsql-data-status"),
        p.n2.psql("select application_name, state from pg_stat_replication")
    );
    assert_eq!(
        p.n2.psql("select state from pg_stat_replication where application_name = 'node1'"),
        "streaming"
    );
    assert_eq!(
        p.n1.psql("select received_tli from pg_stat_wal_receiver"),
        "3"
    );
    assert_eq!(
        p.attr(&p.n1, "reboot", "pgsql-status").as_deref(),
        Some("HS:sync")
    );
    assert_eq!(
        p.attr(&p.n1, "reboot", "master-pgsql").as_deref(),
        Some("100")
    );
    assert!(!p.lock_exists(&p.n1));
    assert_eq!(
        p.n2.psql("select string_agg(x::text, ',' order by x) from sw"),
        "42,43"
    );
    assert_eq!(
        p.n1.psql("select string_agg(x::text, ',' order by x) from sw"),
        "42,43"
    );
    // A write on the new primary is on the old one (synchronously).
    p.n2.psql("insert into sw values (44)");
    assert_eq!(p.n1.psql("select count(*) from sw where x = 44"), "1");
    let _ = &p.dir;
}

#[test]
fn a_standby_that_missed_the_shutdown_checkpoint_refuses_the_promotion() {
    let p = Pair::new("switch-refused");
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let a1 = p.env(&p.n1, &p.n1.host);
    let a2 = p.env(&p.n2, &p.n1.host);
    bring_up(&p, &a1, &a2, None);
    p.n1.psql("create table sw(x int); insert into sw values (1)");
    // The standby stops, node1 writes on (async once its monitor saw node2
    // leave), and node2 comes back pointing nowhere: it never receives
    // those writes nor node1's shutdown checkpoint.
    a2.expect("stop", 0, RUNNING);
    a1.expect("monitor", 4000, PROMOTED);
    p.n1.psql("insert into sw values (2)");
    let mut nowhere = p.env(&p.n2, "127.0.0.10");
    nowhere.set("OCF_RESKEY_master_ip", "127.0.0.10");
    nowhere.expect("start", 0, RUNNING);
    a1.expect("demote", 0, RUNNING);
    p.set_promoted(None);
    let published = p
        .attr(&p.n1, "forever", "pgsql-demote-checkpoint")
        .expect("the demote checkpoint is published");
    let r = nowhere.run("promote", 0);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("Refusing to promote: node1 was demoted cleanly")
            && r.stderr.contains("did not receive it"),
        "{}",
        r.stderr
    );
    // Nothing changed: node2 is still a standby without the lock, node1 is
    // not marked DISCONNECT and keeps its checkpoint.
    assert_eq!(p.n2.psql("select pg_is_in_recovery()"), "t");
    assert!(!p.lock_exists(&p.n2));
    assert_eq!(
        p.attr(&p.n1, "forever", "pgsql-data-status").as_deref(),
        Some("LATEST")
    );
    assert_eq!(
        p.attr(&p.n1, "forever", "pgsql-demote-checkpoint"),
        Some(published)
    );
    // node1, with the newest WAL and no lock, can be promoted again.
    a1.expect("promote", 0, RUNNING);
    p.set_promoted(Some(&p.n1));
    assert_eq!(p.n1.psql("select count(*) from sw"), "2");
    assert_eq!(p.attr(&p.n1, "forever", "pgsql-demote-checkpoint"), None);
    let _ = &p.dir;
}
