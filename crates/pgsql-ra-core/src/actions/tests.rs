//! Action tests over the in-memory ports: a small cluster of simulated
//! nodes driven action by action, the way Pacemaker would.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::action::Action;
use crate::agent::Agent;
use crate::memory::{
    InstanceSpec, MemClock, MemCluster, MemClusterHandle, MemFs, MemSystem, SimNetwork,
    SimPostgres, SimRole,
};
use crate::ocf::{OcfExit, Outcome};
use crate::ports::{Lifetime, MemoryLog, World};

const PGDATA: &str = "/var/lib/pgsql/data";
const TMP: &str = "/var/lib/pgsql/tmp";

struct Node {
    name: String,
    fs: MemFs,
    pg: SimPostgres,
    cluster: MemClusterHandle,
    system: MemSystem,
    log: MemoryLog,
}

struct Lab {
    net: SimNetwork,
    cluster: MemCluster,
    clock: MemClock,
    nodes: Vec<Node>,
    params: Vec<(String, String)>,
}

impl Lab {
    fn new(names: &[&str], params: &[(&str, &str)]) -> Lab {
        let net = SimNetwork::new("vip");
        let cluster = MemCluster::new(names);
        let nodes = names
            .iter()
            .map(|n| {
                let fs = MemFs::new("postgres");
                fs.mkdir_p("/dev", "root", 0o755);
                fs.put("/dev/null", "", "root", 0o666);
                let pg = net.add_node(n, fs.clone(), InstanceSpec::pg15(PGDATA));
                Node {
                    name: n.to_string(),
                    fs,
                    pg,
                    cluster: cluster.handle(n),
                    system: MemSystem::standard(),
                    log: MemoryLog::default(),
                }
            })
            .collect();
        let mut all = vec![("pgdata", PGDATA), ("tmpdir", TMP)];
        all.extend_from_slice(params);
        Lab {
            net,
            cluster,
            clock: MemClock::new(),
            nodes,
            params: all
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn replication(names: &[&str], mode: &str) -> Lab {
        let list = names.join(" ");
        Lab::new(
            names,
            &[
                ("rep_mode", mode),
                ("node_list", &list),
                ("master_ip", "vip"),
                ("xlog_check_count", "1"),
            ],
        )
    }

    fn run_with(&mut self, node: &str, action: Action, extra: &[(&str, &str)]) -> Outcome {
        let mut env: BTreeMap<String, String> = self
            .params
            .iter()
            .map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.clone()))
            .collect();
        env.insert("OCF_RESOURCE_INSTANCE".into(), "pgsql:0".into());
        env.insert("OCF_RESKEY_CRM_meta_promotable".into(), "true".into());
        env.insert("OCF_RESKEY_CRM_meta_notify".into(), "true".into());
        env.insert("OCF_RESKEY_CRM_meta_timeout".into(), "60000".into());
        let interval = if action == Action::Monitor {
            "10000"
        } else {
            "0"
        };
        env.insert("OCF_RESKEY_CRM_meta_interval".into(), interval.into());
        for (k, v) in extra {
            env.insert(format!("OCF_RESKEY_CRM_meta_{k}"), v.to_string());
        }
        let agent = Agent::from_env_map(&env);
        let mut clock = self.clock.clone();
        let n = self
            .nodes
            .iter_mut()
            .find(|n| n.name == node)
            .expect("known node");
        let mut db = n.pg.clone();
        let mut server = n.pg.clone();
        let mut world = World {
            db: &mut db,
            server: &mut server,
            cluster: &mut n.cluster,
            fs: &mut n.fs,
            clock: &mut clock,
            system: &mut n.system,
            log: &mut n.log,
        };
        agent.run(action, &mut world)
    }

    fn run(&mut self, node: &str, action: Action) -> Outcome {
        self.run_with(node, action, &[])
    }

    fn attr(&self, node: &str, name: &str) -> Option<String> {
        let lifetime = if name.ends_with("data-status") {
            Lifetime::Forever
        } else {
            Lifetime::Reboot
        };
        self.cluster.attr(node, name, lifetime)
    }

    fn fs(&self, node: &str) -> &MemFs {
        &self
            .nodes
            .iter()
            .find(|n| n.name == node)
            .expect("known node")
            .fs
    }

    /// Starts both nodes, elects node1 (highest LSN) and promotes it.
    fn bring_up_two(&mut self) {
        let o = self.run("node1", Action::Start);
        assert_eq!(o.code, OcfExit::Success, "{o:?}");
        assert_eq!(self.run("node2", Action::Start).code, OcfExit::Success);
        for _ in 0..3 {
            for n in ["node1", "node2"] {
                assert_eq!(self.run(n, Action::Monitor).code, OcfExit::Success);
            }
        }
        assert_eq!(self.attr("node1", "master-pgsql").as_deref(), Some("1000"));
        assert_eq!(self.run("node1", Action::Promote).code, OcfExit::Success);
        self.cluster.set_promoted("pgsql", "node1", true);
    }
}

fn code(o: &Outcome) -> i32 {
    o.code.code()
}

#[test]
fn sync_cluster_comes_up_and_the_standby_becomes_synchronous() {
    let mut lab = Lab::replication(&["node1", "node2"], "sync");
    lab.bring_up_two();
    assert_eq!(lab.net.role("node1"), SimRole::Primary);
    assert!(lab.fs("node1").exists(&format!("{TMP}/PGSQL.lock")));
    assert_eq!(lab.attr("node1", "pgsql-status").as_deref(), Some("PRI"));
    assert_eq!(
        lab.attr("node1", "pgsql-data-status").as_deref(),
        Some("LATEST")
    );
    assert_eq!(
        lab.attr("node2", "pgsql-data-status").as_deref(),
        Some("DISCONNECT")
    );
    // node2 restarts to follow the new primary (the stock demote/start cycle is not needed: it is a standby).
    assert_eq!(code(&lab.run("node1", Action::Monitor)), 8);
    assert_eq!(lab.net.upstream("node2").as_deref(), Some("node1"));
    assert_eq!(
        lab.attr("node2", "pgsql-data-status").as_deref(),
        Some("STREAMING|SYNC")
    );
    assert_eq!(lab.attr("node2", "master-pgsql").as_deref(), Some("100"));
    assert_eq!(
        lab.attr("node2", "pgsql-status").as_deref(),
        Some("HS:sync")
    );
    let conf = lab
        .fs("node1")
        .file(&format!("{TMP}/rep_mode.conf"))
        .unwrap_or_default();
    assert_eq!(conf, "synchronous_standby_names = '\"node2\"'\n");
    let pgconf = lab
        .fs("node1")
        .file(&format!("{PGDATA}/postgresql.conf"))
        .unwrap_or_default();
    assert_eq!(pgconf.matches("# added by pgsql RA").count(), 2, "{pgconf}");
    assert_eq!(code(&lab.run("node2", Action::Monitor)), 0);
}

#[test]
fn failover_promotes_the_sync_standby_and_the_old_primary_is_locked_out() {
    let mut lab = Lab::replication(&["node1", "node2"], "sync");
    lab.bring_up_two();
    assert_eq!(code(&lab.run("node1", Action::Monitor)), 8);
    lab.net.crash("node1");
    lab.cluster.set_promoted("pgsql", "node1", false);
    assert_eq!(code(&lab.run("node1", Action::Monitor)), 7);
    assert_eq!(code(&lab.run("node2", Action::Promote)), 0);
    lab.cluster.set_promoted("pgsql", "node2", true);
    assert_eq!(lab.net.role("node2"), SimRole::Primary);
    assert_eq!(
        lab.attr("node1", "pgsql-data-status").as_deref(),
        Some("DISCONNECT")
    );
    assert_eq!(code(&lab.run("node1", Action::Stop)), 0);
    let start = lab.run("node1", Action::Start);
    assert_eq!(code(&start), 1);
    assert!(start
        .reason
        .unwrap_or_default()
        .contains("My data may be inconsistent"));
    assert_eq!(lab.net.running_primaries(), vec!["node2".to_string()]);
}

#[test]
fn demote_stops_the_primary_and_removes_the_lock_only_without_standbys() {
    let mut lab = Lab::replication(&["node1", "node2"], "sync");
    lab.bring_up_two();
    let lock = format!("{TMP}/PGSQL.lock");
    assert_eq!(
        code(&lab.run_with("node1", Action::Demote, &[("notify_slave_uname", "node2")])),
        0
    );
    assert_eq!(lab.net.role("node1"), SimRole::Stopped);
    assert!(lab.fs("node1").exists(&lock));
    assert_eq!(lab.attr("node1", "pgsql-status").as_deref(), Some("STOP"));
    assert_eq!(
        lab.attr("node1", "master-pgsql").as_deref(),
        Some("-INFINITY")
    );

    let mut lab = Lab::replication(&["node1", "node2"], "sync");
    lab.bring_up_two();
    assert_eq!(
        code(&lab.run_with("node1", Action::Demote, &[("notify_slave_uname", " ")])),
        0
    );
    assert!(!lab.fs("node1").exists(&lock));
}

#[test]
fn the_standby_behind_loses_the_election_and_is_marked_disconnect() {
    let mut lab = Lab::replication(&["node1", "node2"], "async");
    assert_eq!(code(&lab.run("node1", Action::Start)), 0);
    assert_eq!(code(&lab.run("node2", Action::Start)), 0);
    lab.net
        .set_position("node1", crate::lsn::Lsn(0x0400_0000), 1);
    for _ in 0..3 {
        for n in ["node1", "node2"] {
            assert_eq!(code(&lab.run(n, Action::Monitor)), 0);
        }
    }
    assert_eq!(lab.attr("node1", "master-pgsql").as_deref(), Some("1000"));
    assert_eq!(
        lab.attr("node2", "master-pgsql").as_deref(),
        Some("-INFINITY")
    );
    assert_eq!(
        lab.attr("node2", "pgsql-data-status").as_deref(),
        Some("DISCONNECT")
    );
    assert_eq!(
        lab.attr("node1", "pgsql-xlog-loc").as_deref(),
        Some("0000000004000000")
    );
}

#[test]
fn transient_sql_failures_on_the_primary_are_retried_within_the_budget() {
    let mut lab = Lab::replication(&["node1", "node2"], "sync");
    lab.bring_up_two();
    for failures in [1, 2] {
        lab.net.fail_next_queries("node1", failures);
        let o = lab.run("node1", Action::Monitor);
        assert_eq!(code(&o), 8, "{failures} failures: {o:?}");
    }
    lab.net.fail_next_queries("node1", 3);
    assert_eq!(
        code(&lab.run("node1", Action::Monitor)),
        1,
        "a persistent failure still fails"
    );
}

#[test]
fn stop_with_a_bad_parameter_still_stops_the_server() {
    let mut lab = Lab::new(&["node1"], &[]);
    assert_eq!(code(&lab.run("node1", Action::Start)), 0);
    assert_eq!(lab.net.role("node1"), SimRole::Primary);
    lab.params.push(("stop_escalate".into(), "soon".into()));
    assert_eq!(code(&lab.run("node1", Action::Stop)), 0);
    assert_eq!(lab.net.role("node1"), SimRole::Stopped);
    assert_eq!(
        code(&lab.run("node1", Action::Stop)),
        0,
        "stopping a stopped server succeeds"
    );
}

#[test]
fn start_after_a_crash_removes_only_the_stale_pid_file() {
    let mut lab = Lab::new(&["node1"], &[]);
    assert_eq!(code(&lab.run("node1", Action::Start)), 0);
    lab.net.crash("node1");
    assert_eq!(code(&lab.run("node1", Action::Monitor)), 7);
    assert_eq!(code(&lab.run("node1", Action::Start)), 0);
    assert_eq!(lab.net.role("node1"), SimRole::Primary);
    assert_eq!(code(&lab.run("node1", Action::Status)), 0);
}

#[test]
fn a_hung_server_is_stopped_by_escalation_within_the_timeout() {
    let mut lab = Lab::new(&["node1"], &[("stop_escalate", "5")]);
    assert_eq!(code(&lab.run("node1", Action::Start)), 0);
    lab.net.set_hung("node1", true);
    let before = lab.clock.elapsed();
    assert_eq!(code(&lab.run("node1", Action::Stop)), 0);
    let took = lab.clock.elapsed() - before;
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_secs(7),
        "{took:?}"
    );
    assert_eq!(lab.net.role("node1"), SimRole::Stopped);
}

#[test]
fn promote_and_demote_need_a_replication_mode() {
    let mut lab = Lab::new(&["node1"], &[]);
    assert_eq!(code(&lab.run("node1", Action::Promote)), 6);
    assert_eq!(code(&lab.run("node1", Action::Demote)), 6);
    assert_eq!(code(&lab.run("node1", Action::Notify)), 0);
}

#[test]
fn pre_promote_bans_a_standby_newer_than_the_promotee() {
    let mut lab = Lab::replication(&["node1", "node2", "node3"], "sync");
    for (n, lsn) in [("node2", "0000000003000100"), ("node3", "0000000003000200")] {
        lab.cluster
            .put_attr(n, "pgsql-master-baseline", lsn, Lifetime::Reboot);
    }
    let extra = [
        ("notify_type", "pre"),
        ("notify_operation", "promote"),
        ("notify_promote_uname", "node2"),
    ];
    let o = lab.run_with("node3", Action::Notify, &extra);
    assert_eq!(code(&o), 1);
    assert!(o
        .reason
        .unwrap_or_default()
        .contains("newer than new master"));
    assert_eq!(lab.cluster.bans().len(), 1);
    assert_eq!(
        code(&lab.run_with("node1", Action::Notify, &extra)),
        0,
        "no baseline: no ban"
    );
}
