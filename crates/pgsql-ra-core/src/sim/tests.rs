//! The simulated Pacemaker's stricter rules: the VIP follows the Promoted
//! instance, a Promoted instance whose score drops is demoted, monitor
//! roles are spelled as configured, and operator commands act outside the
//! cluster.

use super::script::execute;
use super::*;
use crate::memory::SimRole;

fn settled(nodes: &[&str]) -> Sim {
    let mut sim = Sim::new(SimConfig::new(nodes));
    sim.settle(8);
    sim.take_invocations();
    sim
}

fn promoted(sim: &Sim) -> Vec<String> {
    sim.node_names()
        .into_iter()
        .filter(|n| sim.pcmk_role(n) == PcmkRole::Promoted)
        .collect()
}

#[test]
fn the_vip_is_on_the_promoted_instance_and_nowhere_else() {
    let sim = settled(&["node1", "node2"]);
    let p = promoted(&sim);
    assert_eq!(p.len(), 1);
    assert_eq!(sim.net.vip_holder(), Some(p[0].clone()));
    assert_eq!(sim.net.vip_placement(), Some(p[0].clone()));
}

#[test]
fn a_primary_outside_the_cluster_does_not_get_the_vip() {
    let sim = settled(&["node1", "node2", "node3"]);
    let primary = promoted(&sim)[0].clone();
    let standby = sim
        .node_names()
        .into_iter()
        .find(|n| *n != primary)
        .unwrap();
    sim.net.pg_promote(&standby).unwrap();
    assert_eq!(sim.net.role(&standby), SimRole::Primary);
    assert_eq!(sim.net.vip_holder(), Some(primary.clone()));
    let rogue = sim.net.wal(&standby).unwrap();
    let legit = sim.net.wal(&primary).unwrap();
    assert!(rogue.forked_outside() && !legit.forked_outside());
    // Both sides write: neither holds the other's WAL any more.
    sim.net.write(&standby, 1).unwrap();
    sim.net.write(&primary, 1).unwrap();
    let (rogue, legit) = (
        sim.net.wal(&standby).unwrap(),
        sim.net.wal(&primary).unwrap(),
    );
    assert!(!rogue.includes(&legit) && !legit.includes(&rogue));
}

#[test]
fn a_promoted_instance_whose_score_drops_is_demoted_and_loses_the_vip() {
    let mut sim = settled(&["node1", "node2"]);
    let primary = promoted(&sim)[0].clone();
    sim.cluster.put_attr(
        &primary,
        "master-pgsql",
        "-INFINITY",
        crate::ports::Lifetime::Reboot,
    );
    sim.step();
    let invs = sim.take_invocations();
    let demote = invs
        .iter()
        .position(|i| i.node == primary && i.label == "demote");
    assert!(demote.is_some(), "{invs:#?}");
    assert_ne!(sim.pcmk_role(&primary), PcmkRole::Promoted);
    assert_ne!(sim.net.vip_placement(), Some(primary));
}

#[test]
fn a_promoted_instance_without_a_score_is_demoted() {
    let mut sim = settled(&["node1", "node2"]);
    let primary = promoted(&sim)[0].clone();
    sim.cluster
        .remove_attr(&primary, "master-pgsql", crate::ports::Lifetime::Reboot);
    sim.step();
    assert!(sim
        .take_invocations()
        .iter()
        .any(|i| i.node == primary && i.label == "demote"));
}

#[test]
fn monitor_roles_are_spelled_as_configured() {
    let config = SimConfig::new(&["node1", "node2"]);
    let env = |roles: MonitorRoles, promoted: bool| {
        let op = OpEnv {
            interval_ms: 4000,
            role: roles.meta_role(promoted).map(str::to_string),
            notify: None,
        };
        op.to_env(&config, "pgsql:0")
            .get("OCF_RESKEY_CRM_meta_role")
            .cloned()
    };
    assert_eq!(env(MonitorRoles::Seed, false), None);
    assert_eq!(env(MonitorRoles::Seed, true).as_deref(), Some("Master"));
    assert_eq!(env(MonitorRoles::Legacy, false).as_deref(), Some("Slave"));
    assert_eq!(env(MonitorRoles::Legacy, true).as_deref(), Some("Master"));
    assert_eq!(
        env(MonitorRoles::Pcs011, false).as_deref(),
        Some("Unpromoted")
    );
    assert_eq!(env(MonitorRoles::Pcs011, true).as_deref(), Some("Promoted"));
    assert_eq!(config.monitor_roles, MonitorRoles::Seed);
}

#[test]
fn operator_commands_run_without_errors() {
    let mut slot = None;
    let run = |slot: &mut Option<Sim>, c: &str| {
        let out = execute(slot, c);
        assert!(out.iter().all(|l| !l.starts_with("error:")), "{c}: {out:?}");
        out
    };
    run(&mut slot, "setup nodes=node1,node2 roles=pcs011");
    run(&mut slot, "pacemaker 8");
    let out = run(&mut slot, "write-vip 2");
    assert!(out[0].starts_with("via VIP to "), "{out:?}");
    let sim = slot.as_ref().unwrap();
    let standby = sim
        .node_names()
        .into_iter()
        .find(|n| sim.net.role(n) == SimRole::Standby)
        .unwrap();
    run(&mut slot, &format!("restart {standby}"));
    assert_eq!(slot.as_ref().unwrap().net.role(&standby), SimRole::Standby);
    run(
        &mut slot,
        &format!("del-attr {standby} pgsql-data-status forever"),
    );
    run(&mut slot, &format!("pg-promote {standby}"));
    assert_eq!(slot.as_ref().unwrap().net.role(&standby), SimRole::Primary);
    run(&mut slot, "wal");
    run(&mut slot, "vip");
    assert!(execute(&mut slot, "setup roles=nope")[0].starts_with("error:"));
}

#[test]
fn nodes_restart_in_the_chosen_order_after_a_full_stop() {
    let mut sim = settled(&["node1", "node2"]);
    for n in ["node1", "node2"] {
        sim.node_down(n);
    }
    assert!(sim.net.running_primaries().is_empty());
    sim.node_up("node2");
    sim.settle(6);
    assert!(sim.cluster.is_online("node2") && !sim.cluster.is_online("node1"));
    assert_ne!(sim.pcmk_role("node2"), PcmkRole::Unknown);
    sim.node_up("node1");
    sim.settle(6);
    assert_ne!(sim.pcmk_role("node1"), PcmkRole::Unknown);
}

/// Issue 11: the Cluster port reports each node's instance as Pacemaker
/// records it: Active while it runs, Stopped once Pacemaker stopped it (a
/// ban; a failed monitor at migration-threshold), Unknown before the probe.
#[test]
fn the_cluster_view_reports_each_instance_state() {
    use crate::ports::{Cluster, InstanceState};
    let instance = |sim: &Sim, node: &str| {
        sim.cluster
            .handle("node1")
            .nodes()
            .unwrap()
            .into_iter()
            .find(|n| n.name == node)
            .map(|n| n.instance)
    };
    let fresh = Sim::new(SimConfig::new(&["node1", "node2"]));
    assert_eq!(instance(&fresh, "node2"), Some(InstanceState::Unknown));

    // SimConfig's default migration-threshold is 1.
    let mut sim = settled(&["node1", "node2", "node3"]);
    let primary = promoted(&sim)[0].clone();
    let standbys: Vec<String> = sim
        .node_names()
        .into_iter()
        .filter(|n| *n != primary)
        .collect();
    for n in sim.node_names() {
        assert_eq!(instance(&sim, &n), Some(InstanceState::Active), "{n}");
    }
    // A ban: Pacemaker stops the instance; the node stays online.
    let banned = sim.nodes[&standbys[0]].instance.clone();
    sim.cluster.put_ban(&banned, &standbys[0]);
    sim.step();
    assert_eq!(sim.pcmk_role(&standbys[0]), PcmkRole::Stopped);
    assert!(sim.cluster.is_online(&standbys[0]));
    assert_eq!(instance(&sim, &standbys[0]), Some(InstanceState::Stopped));
    // A failed monitor at migration-threshold 1: stopped, not restarted.
    sim.net.crash(&standbys[1]);
    sim.step();
    assert_eq!(sim.pcmk_role(&standbys[1]), PcmkRole::Stopped);
    assert_eq!(instance(&sim, &standbys[1]), Some(InstanceState::Stopped));
    assert_eq!(instance(&sim, &primary), Some(InstanceState::Active));
}
