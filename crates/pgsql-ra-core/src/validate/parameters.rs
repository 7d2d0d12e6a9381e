//! Level 0: the parameters alone and their combinations with the clone's
//! meta-attributes. Pure; every problem names the parameter and its value.

use crate::quote::quoted;
use std::collections::BTreeSet;

use crate::agent::Agent;
use crate::params::{ParamError, Params, RepMode};
use crate::slots::slot_name;

/// PostgreSQL's longest identifier (NAMEDATALEN − 1), which bounds slot names.
pub const MAX_SLOT_NAME_LEN: usize = 63;

/// Every level-0 problem, most fundamental first: the values that did not
/// parse, then the rules below in the order an operator would fix them.
pub fn parameter_problems(agent: &Agent) -> Vec<ParamError> {
    problems(agent, Some(agent.context.promotable))
}

/// The level-0 problems that do not depend on the clone's shape. This is what
/// `validate-all` checks at level 0, like the stock agent: a tool such as
/// `pcs resource create` may validate the resource while it is still a
/// primitive, before it is made a promotable clone. The shape rules
/// (sync/async need a promotable clone, slave must not be one) apply to every
/// other action and to `validate-all` at check level 10.
pub fn shape_free_parameter_problems(agent: &Agent) -> Vec<ParamError> {
    problems(agent, None)
}

/// `promotable` is `None` when the clone's shape is not to be checked.
fn problems(agent: &Agent, promotable: Option<bool>) -> Vec<ParamError> {
    let p = &agent.params;
    let mut problems = agent.param_errors.clone();
    check_paths(p, &mut problems);
    check_pgdba(p, &mut problems);
    check_monitor_credentials(p, &mut problems);
    match p.rep_mode {
        RepMode::Sync | RepMode::Async => check_replication(p, promotable, &mut problems),
        RepMode::Slave => check_slave(p, promotable, &mut problems),
        RepMode::None => {}
    }
    check_external_standbys(p, &mut problems);
    check_sync_quorum(p, &mut problems);
    check_slot_name(p, &mut problems);
    problems
}

fn check_paths(p: &Params, problems: &mut Vec<ParamError>) {
    if !p.pgdata.starts_with('/') {
        problems.push(ParamError::configured(
            "pgdata",
            format!(
                "pgdata={} must be an absolute path to the data directory",
                quoted(&p.pgdata)
            ),
        ));
    }
    if p.rep_mode.is_replication() && !p.tmpdir.starts_with('/') {
        problems.push(ParamError::configured(
            "tmpdir",
            format!(
                "tmpdir={} must be an absolute path when rep_mode={}",
                quoted(&p.tmpdir),
                p.rep_mode.as_str()
            ),
        ));
    }
}

/// pg_ctl refuses to run as root, so `pgdba=root` can never work (any
/// other account with uid 0 is refused by the machine check).
fn check_pgdba(p: &Params, problems: &mut Vec<ParamError>) {
    if p.pgdba == "root" {
        problems.push(ParamError::configured(
            "pgdba",
            "pgdba=\"root\": PostgreSQL (pg_ctl) can't run as root: set pgdba to the unprivileged owner of the data directory",
        ));
    }
}

fn check_monitor_credentials(p: &Params, problems: &mut Vec<ParamError>) {
    if !p.monitor_password.is_empty() && p.monitor_user.is_empty() {
        problems.push(ParamError::configured(
            "monitor_user",
            "monitor_user has to be set if monitor_password is set",
        ));
    }
}

fn check_replication(p: &Params, promotable: Option<bool>, problems: &mut Vec<ParamError>) {
    let mode = p.rep_mode.as_str();
    if promotable == Some(false) {
        problems.push(ParamError::configured(
            "rep_mode",
            format!(
                "rep_mode={mode} requires a promotable clone (promotable=true, promoted-max=1)"
            ),
        ));
    }
    if p.node_list.is_empty() {
        problems.push(ParamError::configured(
            "node_list",
            format!("node_list can't be empty when rep_mode={mode}: list every node of the clone"),
        ));
    }
    if let Some(twice) = first_duplicate(&p.node_list) {
        problems.push(ParamError::configured(
            "node_list",
            format!("node_list names node {} more than once", quoted(twice)),
        ));
    }
    if p.master_ip.trim().is_empty() {
        problems.push(ParamError::configured(
            "master_ip",
            format!("master_ip can't be empty when rep_mode={mode}"),
        ));
    }
    if p.xlog_check_count == 0 {
        problems.push(ParamError::configured(
            "xlog_check_count",
            "xlog_check_count=\"0\" must be at least 1",
        ));
    }
}

fn check_slave(p: &Params, promotable: Option<bool>, problems: &mut Vec<ParamError>) {
    if p.master_ip.trim().is_empty() {
        problems.push(ParamError::configured(
            "master_ip",
            "master_ip can't be empty when rep_mode=slave",
        ));
    }
    if promotable == Some(true) {
        problems.push(ParamError::configured(
            "rep_mode",
            "rep_mode=slave does not support a promotable clone: use a plain clone or primitive",
        ));
    }
}

fn check_external_standbys(p: &Params, problems: &mut Vec<ParamError>) {
    let external = &p.external_standby_node_list;
    if external.is_empty() {
        return;
    }
    if p.rep_mode != RepMode::Sync {
        problems.push(ParamError::configured(
            "external_standby_node_list",
            format!(
                "external_standby_node_list is only supported with rep_mode=sync, not rep_mode={}",
                p.rep_mode.as_str()
            ),
        ));
    }
    if let Some(twice) = first_duplicate(external) {
        problems.push(ParamError::configured(
            "external_standby_node_list",
            format!(
                "external_standby_node_list names {} more than once",
                quoted(twice)
            ),
        ));
    }
    if let Some(both) = external.iter().find(|n| p.node_list.contains(n)) {
        problems.push(ParamError::configured(
            "external_standby_node_list",
            format!(
                "external_standby_node_list names {}, which is already in node_list",
                quoted(both)
            ),
        ));
    }
}

/// `sync_quorum` (issue 11): quorum commit needs rep_mode=sync and is
/// managed by the agent alone (not with external standbys).
fn check_sync_quorum(p: &Params, problems: &mut Vec<ParamError>) {
    if p.sync_quorum == 0 {
        return;
    }
    if p.rep_mode != RepMode::Sync {
        problems.push(ParamError::configured(
            "sync_quorum",
            format!(
                "sync_quorum is only supported with rep_mode=sync, not rep_mode={}",
                p.rep_mode.as_str()
            ),
        ));
    }
    if !p.external_standby_node_list.is_empty() {
        problems.push(ParamError::configured(
            "sync_quorum",
            "sync_quorum can't be combined with external_standby_node_list",
        ));
    }
}

fn check_slot_name(p: &Params, problems: &mut Vec<ParamError>) {
    let prefix = &p.replication_slot_name;
    if prefix.is_empty() {
        return;
    }
    if !is_slot_text(prefix) {
        problems.push(ParamError::configured(
            "replication_slot_name",
            format!(
                "Invalid replication_slot_name={}: only lower-case letters, digits and '_' are allowed",
                crate::quote::quoted(prefix)
            ),
        ));
        return;
    }
    for node in &p.node_list {
        let slot = slot_name(prefix, node);
        if !is_slot_text(&slot) || slot.len() > MAX_SLOT_NAME_LEN {
            problems.push(ParamError::configured(
                "replication_slot_name",
                format!(
                    "replication_slot_name={} gives slot {} for node {}: \
                     slot names need [a-z0-9_] and at most {MAX_SLOT_NAME_LEN} characters",
                    quoted(prefix),
                    quoted(&slot),
                    quoted(node)
                ),
            ));
            return;
        }
    }
}

fn is_slot_text(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn first_duplicate(names: &[String]) -> Option<&String> {
    let mut seen = BTreeSet::new();
    names.iter().find(|n| !seen.insert(n.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn agent(pairs: &[(&str, &str)]) -> Agent {
        let env: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.to_string()))
            .collect();
        Agent::from_env_map(&env)
    }

    #[test]
    fn root_is_never_pgdba() {
        let p = shape_free_parameter_problems(&agent(&[("pgdba", "root")]));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].message.starts_with("pgdba="), "{}", p[0].message);
        assert!(shape_free_parameter_problems(&agent(&[("pgdba", "postgres")])).is_empty());
    }
}
