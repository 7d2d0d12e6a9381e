//! Level 10: the local machine, through the ports. Cheap enough for every
//! monitor: one user lookup, two program lookups, two file reads and (not on
//! probes) one writability test. Checks only; nothing is created or edited.

use super::pgconf::config_values;
use super::MachineFacts;
use crate::agent::Agent;
use crate::ocf::{OcfExit, Outcome};
use crate::params::ParamError;
use crate::ports::World;
use crate::quote::{param_path, quoted, short_path};

/// The oldest supported major (`recovery.conf`, `pg_*_wal_lsn` functions).
pub const MIN_SUPPORTED_MAJOR: u32 = 10;
/// The newest supported major.
pub const MAX_SUPPORTED_MAJOR: u32 = 18;
/// First version with streaming replication (9.1).
pub const MIN_REPLICATION_VERSION: u32 = 901;
/// First version with `unix_socket_directories` (9.3).
pub const MIN_SOCKET_DIRECTORIES_VERSION: u32 = 903;
/// First version with replication slots (9.4).
pub const MIN_SLOT_VERSION: u32 = 904;

/// Reads `PG_VERSION` text as `major * 100 + minor`: `"15"` → 1500,
/// `"9.6"` → 906. `None` for anything else.
pub fn parse_pg_version(text: &str) -> Option<u32> {
    let text = text.trim();
    let (major, minor) = match text.split_once('.') {
        Some((major, minor)) => (major, minor),
        None => (text, "0"),
    };
    let number = |s: &str| {
        if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            s.parse::<u32>().ok()
        }
    };
    let (major, minor) = (number(major)?, number(minor)?);
    (minor < 100).then_some(major * 100 + minor)
}

/// The level-10 checks (see the module doc). `probe` tolerates a missing
/// configuration file and skips the writability test, because shared storage
/// may not be mounted on a node that only probes. Every problem is
/// collected, not only the first (issue 12, attack finding 5); a check that
/// needs what an earlier one found missing is skipped (pgdata's writability
/// without the pgdba user, `socketdir` without the configuration file).
pub fn machine_problems(
    agent: &Agent,
    world: &mut World<'_>,
    probe: bool,
) -> (MachineFacts, Vec<ParamError>) {
    let p = &agent.params;
    let mut problems = Vec::new();
    let user_problem = pgdba_problem(agent, world);
    let user_exists = !matches!(&user_problem, Some(e) if e.code == OcfExit::ErrInstalled);
    problems.extend(user_problem);
    let pg_version = read_pg_version(world, &p.pgdata);
    for (param, value) in [("pgctl", &p.pgctl), ("psql", &p.psql)] {
        let program = value.split_whitespace().next().unwrap_or("");
        if program.is_empty() || world.system.find_program(program).is_none() {
            let (head, tail) = param_path(param, value);
            let what = if program == value.trim() {
                "the command".to_string()
            } else {
                format!("command {}", quoted(program))
            };
            problems.push(problem(
                param,
                OcfExit::ErrInstalled,
                format!("{head}: setup problem: couldn't find {what}{tail}"),
            ));
        }
    }
    let config_text = match world.fs.read(&p.config) {
        Ok(Some(text)) => Some(text),
        Ok(None) if !probe => {
            problems.push(problem("config", OcfExit::ErrInstalled, {
                let (head, tail) = param_path("config", &p.config);
                format!("{head}: configuration file doesn't exist{tail}")
            }));
            None
        }
        // `[ -f config ]` in the stock agent: a directory (or any path that
        // can't be read as a file) is as missing as an absent file.
        Err(e) if !probe => {
            problems.push(problem("config", OcfExit::ErrInstalled, {
                let (head, tail) = param_path("config", &p.config);
                format!(
                    "{head}: configuration file can't be read as a file: {}{tail}",
                    e.message
                )
            }));
            None
        }
        Ok(None) | Err(_) => None,
    };
    if let Some(text) = &config_text {
        problems.extend(check_socketdir(agent, text, pg_version).err());
    }
    if !probe && user_exists {
        problems.extend(check_pgdata_writable(agent, world).err());
    }
    problems.extend(check_version_features(agent, pg_version).err());
    let facts = MachineFacts {
        pg_version,
        config_readable: config_text.is_some(),
    };
    (facts, problems)
}

/// [`machine_problems`] as one outcome: `Err` with the first problem's code
/// and a reason naming it and how many more there are.
pub fn check_machine(
    agent: &Agent,
    world: &mut World<'_>,
    probe: bool,
) -> Result<MachineFacts, Outcome> {
    let (facts, problems) = machine_problems(agent, world, probe);
    super::summarize(&problems).map(|()| facts)
}

/// Stock check B1 (basic, every action and `validate-all` at any level,
/// stock §1.9/§1.10): the `pgdba` user must exist (5); it must not be root
/// either (6: `pg_ctl` refuses to run as root).
pub fn pgdba_problem(agent: &Agent, world: &mut World<'_>) -> Option<ParamError> {
    let p = &agent.params;
    match world.system.user(&p.pgdba) {
        None => Some(problem(
            "pgdba",
            OcfExit::ErrInstalled,
            format!("pgdba={}: user {} doesn't exist", quoted(&p.pgdba), quoted(&p.pgdba)),
        )),
        Some(u) if u.uid == 0 => Some(problem(
            "pgdba",
            OcfExit::ErrConfigured,
            format!(
                "pgdba={}: user {} has uid 0 and PostgreSQL (pg_ctl) can't run as root: set pgdba to the unprivileged owner of the data directory",
                quoted(&p.pgdba), quoted(&p.pgdba)
            ),
        )),
        Some(_) => None,
    }
}

fn problem(param: &str, code: OcfExit, message: String) -> ParamError {
    ParamError {
        param: param.to_string(),
        code,
        message,
    }
}

/// The facts `stop` goes on with when the full check failed while a server
/// runs: nothing `pg_ctl stop` needs is checked here (a missing `config` or
/// `socketdir` does not matter to it, and the server port signals the
/// postmaster itself when `pgctl` or `pgdba` is missing). The configuration
/// counts as not read.
pub fn stop_facts(agent: &Agent, world: &mut World<'_>) -> MachineFacts {
    MachineFacts {
        pg_version: read_pg_version(world, &agent.params.pgdata),
        config_readable: false,
    }
}

fn read_pg_version(world: &mut World<'_>, pgdata: &str) -> Option<u32> {
    let path = format!("{}/PG_VERSION", pgdata.trim_end_matches('/'));
    match world.fs.read(&path) {
        Ok(Some(text)) => parse_pg_version(&text),
        _ => None,
    }
}

/// PostgreSQL ≥ 9.3 (or an unknown version, as in the stock agent): a
/// configured `unix_socket_directories` may list several directories, so the
/// agent must be told which one to use.
fn check_socketdir(
    agent: &Agent,
    config_text: &str,
    pg_version: Option<u32>,
) -> Result<(), ParamError> {
    let p = &agent.params;
    if pg_version.is_some_and(|v| v < MIN_SOCKET_DIRECTORIES_VERSION) || !p.socketdir.is_empty() {
        return Ok(());
    }
    let values = config_values(config_text, "unix_socket_directories");
    match values.iter().find(|v| !v.is_empty()) {
        Some(dirs) => Err(problem(
            "socketdir",
            OcfExit::ErrConfigured,
            format!(
                "socketdir can't be empty because {} sets unix_socket_directories = {dirs}: set socketdir to one of them",
                p.config
            ),
        )),
        None => Ok(()),
    }
}

/// sync/async: `tmpdir` must be a directory or creatable (the stock agent
/// runs `mkdir -p` at level 10 and fails with 4; we only look, start
/// creates it): the path and its nearest existing ancestor must be
/// directories, and root must be able to write to that ancestor (the
/// Filesystem port's `writable_by(_, "root")`: not a read-only mount, not
/// `/proc`, not a pseudo-filesystem such as `/sys`; issue 12, attack finding 6 and re-attack item 7). Checked by `start` and `validate-all` (level 10); a monitor
/// of a running server withholds the score instead of failing (actions).
pub fn check_tmpdir_creatable(agent: &Agent, world: &mut World<'_>) -> Result<(), ParamError> {
    let p = &agent.params;
    if !p.rep_mode.is_replication() {
        return Ok(());
    }
    let refuse = |why: String| {
        let (head, tail) = param_path("tmpdir", &p.tmpdir);
        Err(problem(
            "tmpdir",
            OcfExit::ErrPerm,
            format!("{head}: can't create the directory: {why}{tail}"),
        ))
    };
    let mut path = p.tmpdir.trim_end_matches('/').to_string();
    while !path.is_empty() {
        match world.fs.metadata(&path) {
            // `mkdir -p` as root creates the rest here: root must be able
            // to write to it (not a read-only mount, not /proc).
            Ok(Some(m)) if m.is_dir => {
                return match world.fs.writable_by(&path, "root") {
                    Ok(true) => Ok(()),
                    Ok(false) => refuse(format!(
                        "{} is read-only or not writable",
                        quoted(&short_path(&path))
                    )),
                    Err(e) => refuse(e.message),
                }
            }
            Ok(Some(_)) => return refuse(format!("{path} is not a directory")),
            Ok(None) => {}
            Err(e) => return refuse(e.message),
        }
        path = match path.rfind('/') {
            Some(i) => path[..i].to_string(),
            None => String::new(),
        };
    }
    Ok(())
}

fn check_pgdata_writable(agent: &Agent, world: &mut World<'_>) -> Result<(), ParamError> {
    let p = &agent.params;
    match world.fs.writable_by(&p.pgdata, &p.pgdba) {
        Ok(true) => Ok(()),
        Ok(false) => Err(problem("pgdata", OcfExit::ErrPerm, {
            let (head, tail) = param_path("pgdata", &p.pgdata);
            format!(
                "{head}: directory is not writable by pgdba={}{tail}",
                quoted(&p.pgdba)
            )
        })),
        Err(e) => Err(problem("pgdata", OcfExit::ErrPerm, {
            let (head, tail) = param_path("pgdata", &p.pgdata);
            format!(
                "{head}: {} (can't check that pgdba={} may write to it){tail}",
                e.message,
                quoted(&p.pgdba)
            )
        })),
    }
}

/// The supported majors: an unknown version (PG_VERSION unreadable, e.g.
/// storage not mounted) refuses nothing, the start fails clearly later; a
/// known one outside [`MIN_SUPPORTED_MAJOR`]..=[`MAX_SUPPORTED_MAJOR`] (the
/// majors the real-server tests run, docs/compatibility.md) is refused as
/// not installed instead of guessing which version's behaviour applies.
/// (Replication, 9.1, and slots, 9.4, are therefore always available.)
fn check_version_features(agent: &Agent, pg_version: Option<u32>) -> Result<(), ParamError> {
    let p = &agent.params;
    let Some(version) = pg_version else {
        return Ok(());
    };
    if !is_supported(version) {
        return Err(problem(
            "pgdata",
            OcfExit::ErrInstalled,
            format!(
                "PostgreSQL {} is not supported: {}/PG_VERSION holds {}, pgsql-ra supports PostgreSQL {MIN_SUPPORTED_MAJOR} to {MAX_SUPPORTED_MAJOR}",
                version_text(version),
                p.pgdata.trim_end_matches('/'),
                version_text(version)
            ),
        ));
    }
    Ok(())
}

/// True for a version (`major * 100 + minor`) whose major is supported.
pub fn is_supported(version: u32) -> bool {
    (MIN_SUPPORTED_MAJOR * 100..(MAX_SUPPORTED_MAJOR + 1) * 100).contains(&version)
}

fn version_text(version: u32) -> String {
    if version >= 1000 {
        (version / 100).to_string()
    } else {
        format!("{}.{}", version / 100, version % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pg_version_files() {
        assert_eq!(parse_pg_version("15\n"), Some(1500));
        assert_eq!(parse_pg_version("9.6"), Some(906));
        assert_eq!(parse_pg_version("10"), Some(1000));
        assert_eq!(parse_pg_version(""), None);
        assert_eq!(parse_pg_version("9."), None);
        assert_eq!(parse_pg_version("x15"), None);
        assert_eq!(parse_pg_version("9.100"), None);
        assert_eq!(parse_pg_version("99999999999"), None);
        assert_eq!(version_text(906), "9.6");
        assert_eq!(version_text(1500), "15");
    }
}
