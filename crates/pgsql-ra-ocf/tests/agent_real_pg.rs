//! The real `pgsql-ra` binary driving two real PostgreSQL 15 servers ("node1"
//! on 127.0.0.2 and "node2" on 127.0.0.3, same port, so `primary_conninfo`
//! built from master_ip and the local pgport reaches the primary) with the
//! file-backed attribute store standing in for Pacemaker.

mod common;

use std::time::Duration;

use common::agent::{attr, AgentEnv};
use common::*;

const RUNNING: i32 = 0;
const NOT_RUNNING: i32 = 7;
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
}

/// node1 primary (started and promoted by the agent), node2 streaming standby.
fn bring_up(p: &Pair) -> (AgentEnv, AgentEnv) {
    p.n1.initdb();
    p.n1.start_directly();
    p.n2.basebackup_from(&p.n1);
    p.n1.stop_immediately();
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

#[test]
fn start_promote_and_sync_replication_are_reported() {
    let p = Pair::new("sync");
    let _guard = ServerGuard(vec![p.n1.clone(), p.n2.clone()]);
    let (a1, a2) = bring_up(&p);
    let streaming = wait_for(Duration::from_secs(30), || {
        a1.run("monitor", 4000).code == PROMOTED
            && p.attr(&p.n2, "forever", "pgsql-data-status").as_deref() == Some("STREAMING|SYNC")
    });
    assert!(
        streaming,
        "data-status of node2: {:?}",
        p.attr(&p.n2, "forever", "pgsql-data-status")
    );
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
    let _ = &p.dir;
}
