//! `validate-all` and the checks run before every action: level 0 (the
//! parameters and their combinations) and level 10 (the local machine, through
//! the [`World`] ports). Checks only: no file is created or edited here (the
//! include lines and `tmpdir` belong to the start action).
//!
//! Codes: 6 (`OCF_ERR_CONFIGURED`) for a configuration that can never work,
//! 5 (`OCF_ERR_INSTALLED`) for something missing on this machine, 4
//! (`OCF_ERR_PERM`) for permissions. Every reason names the parameter.

mod cluster;
mod machine;
mod parameters;
mod pgconf;
mod rewind;

pub use cluster::{cluster_problems, start_refusal, ClusterProblem};
pub use machine::{
    is_supported, parse_pg_version, MAX_SUPPORTED_MAJOR, MIN_REPLICATION_VERSION, MIN_SLOT_VERSION,
    MIN_SOCKET_DIRECTORIES_VERSION, MIN_SUPPORTED_MAJOR,
};
pub use parameters::{parameter_problems, shape_free_parameter_problems, MAX_SLOT_NAME_LEN};
pub use pgconf::{config_value, config_values};
pub use rewind::{rewindable_problem, role_problems, RoleJudgement, PG_CHECKPOINT_SINCE};

use crate::agent::Agent;
use crate::ocf::Outcome;
use crate::params::ParamError;
use crate::ports::World;

/// What the machine checks learned, for the actions to use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineFacts {
    /// The version from `<pgdata>/PG_VERSION` as `server_version_num / 100`
    /// (15 → 1500, 9.6 → 906), if readable. Compare with 1200 for "≥ 12".
    pub pg_version: Option<u32>,
    /// True when the configuration file could be read.
    pub config_readable: bool,
}

/// Level 0: the parameters alone (see [`parameter_problems`]). `Err` carries
/// the code of the first problem and a reason naming it and how many more
/// there are ([`summarize`]); the caller logs each of them
/// ([`parameter_problems`]).
pub fn check_parameters(agent: &Agent) -> Result<(), Outcome> {
    summarize(&parameter_problems(agent))
}

/// How many bytes of an exit reason Pacemaker keeps.
pub const EXIT_REASON_MAX: usize = 128;

/// `Err` with the first problem's code and message, followed by `(and N more
/// problem(s), see the log)` when there are others; `Ok` for none. With
/// others, the first message is cut (`...`) so that the count stays within
/// [`EXIT_REASON_MAX`] bytes: each problem has its own log line then.
pub fn summarize(problems: &[crate::params::ParamError]) -> Result<(), Outcome> {
    let Some(first) = problems.first() else {
        return Ok(());
    };
    let suffix = match problems.len() - 1 {
        0 => return Err(Outcome::fail(first.code, first.message.clone())),
        1 => " (and 1 more problem, see the log)".to_string(),
        n => format!(" (and {n} more problems, see the log)"),
    };
    let room = EXIT_REASON_MAX.saturating_sub(suffix.len());
    let mut head = first.message.clone();
    if head.len() > room {
        let mut end = room.saturating_sub(3);
        while !head.is_char_boundary(end) {
            end -= 1;
        }
        head.truncate(end);
        head.push_str("...");
    }
    Err(Outcome::fail(first.code, format!("{head}{suffix}")))
}

/// Level 10: the local machine (pgdba user, pgctl and psql, PG_VERSION, the
/// config file and `unix_socket_directories`, pgdata writability, version
/// requirements of replication and slots). `probe` relaxes the checks that
/// depend on storage that may not be mounted on this node: a missing config
/// file is not an error (`config_readable` is false) and pgdata is not tested
/// for writability.
pub fn check_machine(
    agent: &Agent,
    world: &mut World<'_>,
    probe: bool,
) -> Result<MachineFacts, Outcome> {
    machine::check_machine(agent, world, probe)
}

/// sync/async: `tmpdir` exists as a directory or can be created (see
/// `machine::check_tmpdir_creatable`); 4 naming `tmpdir` otherwise.
pub fn check_tmpdir(agent: &Agent, world: &mut World<'_>) -> Result<(), Outcome> {
    machine::check_tmpdir_creatable(agent, world).map_err(|e| Outcome::fail(e.code, e.message))
}

/// [`check_tmpdir`] as a problem to collect with the others.
pub fn tmpdir_problem(agent: &Agent, world: &mut World<'_>) -> Option<ParamError> {
    machine::check_tmpdir_creatable(agent, world).err()
}

/// Every level-10 problem (see `machine::machine_problems`): the facts
/// learned and the problems, each naming its parameter.
pub fn machine_problems(
    agent: &Agent,
    world: &mut World<'_>,
    probe: bool,
) -> (MachineFacts, Vec<ParamError>) {
    machine::machine_problems(agent, world, probe)
}

/// Stock check B1 (basic): the `pgdba` user exists (5) and is not root (6).
pub fn pgdba_problem(agent: &Agent, world: &mut World<'_>) -> Option<ParamError> {
    machine::pgdba_problem(agent, world)
}

/// `first` followed by those of `more` whose parameter `first` does not
/// already name (a parameter with a bad value is checked on the machine with
/// its default, which says nothing about the value the operator set).
pub fn merge_problems(first: &[ParamError], more: Vec<ParamError>) -> Vec<ParamError> {
    let mut all = first.to_vec();
    all.extend(
        more.into_iter()
            .filter(|m| !first.iter().any(|f| f.param == m.param)),
    );
    all
}

/// The facts a `stop` of a running server goes on with when
/// [`check_machine`] failed (see `machine::stop_facts`).
pub fn stop_facts(agent: &Agent, world: &mut World<'_>) -> MachineFacts {
    machine::stop_facts(agent, world)
}

/// Level 10 with crash rejoin enabled (see `rewind`): `pg_rewind`'s
/// prerequisites, the rewind role's on the primary through `master_ip`
/// (one session bounded by `timeout`) and, with `crash_rejoin=rewind`, the
/// local data directory's. Returns the problems and the notes of what could
/// not be checked (no primary answering, `pg_controldata` unreadable); a
/// note is not a failure. Nothing is checked with `crash_rejoin=none` or
/// outside sync/async mode.
pub fn rewind_prerequisite_problems(
    agent: &Agent,
    world: &mut World<'_>,
    timeout: std::time::Duration,
) -> (Vec<ParamError>, Vec<String>) {
    let p = &agent.params;
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    if p.crash_rejoin == crate::params::CrashRejoin::None || !p.rep_mode.is_replication() {
        return (problems, notes);
    }
    let role = if p.rewind_user.is_empty() {
        &p.pgdba
    } else {
        &p.rewind_user
    };
    let answer = if p.master_ip.is_empty() {
        Err(crate::ports::RewindRoleError::Unreachable(
            "master_ip is not set".into(),
        ))
    } else {
        world.server.rewind_role_facts(timeout)
    };
    match role_problems(role, &p.master_ip, p.pgport, &answer) {
        Ok(found) => problems.extend(found),
        Err(note) => notes.push(format!("rewind_user's grants not checked: {note}")),
    }
    let control = world.server.control_data();
    match rewindable_problem(p.crash_rejoin, &p.pgdata, &control) {
        Ok(found) => problems.extend(found),
        Err(note) => notes.push(note),
    }
    (problems, notes)
}
