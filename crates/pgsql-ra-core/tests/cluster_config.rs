//! Start refuses a replication configuration that the cluster shows to be
//! wrong (issue 9 item 3; stock §8.2 S and T): a `node_list` name that is
//! not a cluster node, or a clone without `notify=true`. `OCF_ERR_CONFIGURED`
//! naming the parameter, nothing written; monitors only warn.

use pgsql_ra_core::action::Action;
use pgsql_ra_core::ocf::OcfExit;
use pgsql_ra_core::ports::LogLevel;
use pgsql_ra_core::sim::{Op, Sim, SimConfig};

fn sim(notify: bool, node_list: Option<&str>) -> Sim {
    let mut config = SimConfig::new(&["node1", "node2"]);
    config.notify = notify;
    if let Some(list) = node_list {
        config.params.insert("node_list".into(), list.into());
    }
    Sim::new(config)
}

/// Starts `node` and returns the start's code, reason and attribute changes.
fn start(sim: &mut Sim, node: &str) -> (OcfExit, String, Vec<String>) {
    sim.operate(Op::Start, &[node.to_string()]);
    let inv = sim
        .take_invocations()
        .into_iter()
        .rev()
        .find(|i| i.label == "start")
        .expect("a start ran");
    (
        inv.outcome.code,
        inv.outcome.reason.unwrap_or_default(),
        inv.changes,
    )
}

fn warnings(sim: &Sim, node: &str) -> Vec<String> {
    sim.nodes[node]
        .last_log
        .lines
        .iter()
        .filter(|(l, _)| *l == LogLevel::Warn)
        .map(|(_, m)| m.clone())
        .collect()
}

#[test]
fn start_refuses_a_clone_without_notify() {
    let mut s = sim(false, None);
    let (code, reason, changes) = start(&mut s, "node1");
    assert_eq!(code, OcfExit::ErrConfigured);
    assert!(
        reason.contains("meta attribute notify is not true"),
        "{reason}"
    );
    assert!(changes.is_empty(), "nothing written: {changes:?}");
}

#[test]
fn start_refuses_a_node_list_name_the_cluster_does_not_know() {
    let mut s = sim(true, Some("node1 node2 Node3"));
    let (code, reason, changes) = start(&mut s, "node1");
    assert_eq!(code, OcfExit::ErrConfigured);
    assert_eq!(
        reason,
        "node_list names node3, which is not a node of the cluster"
    );
    assert!(changes.is_empty(), "nothing written: {changes:?}");
}

#[test]
fn both_problems_are_named_at_once() {
    let mut s = sim(false, Some("node1 nodex"));
    let (code, reason, _) = start(&mut s, "node1");
    assert_eq!(code, OcfExit::ErrConfigured);
    assert!(reason.starts_with("node_list names nodex"), "{reason}");
    assert!(
        reason.contains("; the clone's meta attribute notify"),
        "{reason}"
    );
}

#[test]
fn a_good_configuration_starts() {
    let mut s = sim(true, None);
    let (code, reason, _) = start(&mut s, "node1");
    assert_eq!(code, OcfExit::Success, "{reason}");
}

#[test]
fn monitors_only_warn() {
    let mut s = sim(true, None);
    assert_eq!(start(&mut s, "node1").0, OcfExit::Success);
    // The configuration changes under a running standby.
    s.config.notify = false;
    s.config
        .params
        .insert("node_list".into(), "node1 node2 nodex".into());
    let code = s.monitor("node1");
    assert_eq!(code, Some(OcfExit::Success), "a monitor never returns 6");
    let w = warnings(&s, "node1");
    assert!(
        w.iter().any(|m| m.starts_with("node_list names nodex")),
        "{w:?}"
    );
    assert!(w.iter().any(|m| m.contains("notify is not true")), "{w:?}");
    // With a good configuration, no such warning.
    s.config.notify = true;
    s.config
        .params
        .insert("node_list".into(), "node1 node2".into());
    s.monitor("node1");
    let w = warnings(&s, "node1");
    assert!(!w.iter().any(|m| m.contains("start refuses")), "{w:?}");
}

#[test]
fn modes_without_replication_are_not_checked() {
    let mut s = sim(false, Some("nodex"));
    s.config.params.insert("rep_mode".into(), "none".into());
    let env = s.action_env(&s.role_lists());
    let outcome = s.run("node1", Action::Start, &env, "start");
    assert_eq!(outcome.code, OcfExit::Success, "{outcome:?}");
}
