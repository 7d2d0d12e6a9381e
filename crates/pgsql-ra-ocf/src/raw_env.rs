//! The environment as the shim reads it, byte-exact (`std::env::vars_os`),
//! and what happens to a value the agent cannot read.
//!
//! The core takes `String` parameters. A value of one of the agent's own
//! variables ([`is_agent_var`]) that is not valid UTF-8 is kept
//! as its exact bytes ([`Unreadable`]) and is **never** replaced by the
//! parameter's default (before issue 17 it was silently dropped, so
//! `pgdata=/srv/pg\xff` made `stop` act on `/var/lib/pgsql/data`):
//!
//! - `stop` ([`stop_exact`]) acts on exactly the given data directory: it
//!   succeeds when no postmaster runs there (its `postmaster.pid`, opened
//!   with the exact bytes, names no live postgres process whose working
//!   directory is that data directory), and otherwise
//!   runs `pg_ctl -W -D <pgdata> stop -m fast` (then `-m immediate`) with the
//!   exact bytes (signalling the verified postmaster itself when pg_ctl
//!   fails or can't run) and succeeds once the postmaster is gone. Cluster attributes
//!   are not touched (they would need the values the agent cannot read);
//! - `monitor`/`status` answer "not running" (7) when no postmaster runs in
//!   the data directory, otherwise OCF_ERR_CONFIGURED, like any other
//!   invalid parameter;
//! - every other action (`validate-all`, `start`, `promote`, `demote`,
//!   `notify`, `reload-agent`) fails with OCF_ERR_CONFIGURED naming the
//!   variable.
//!
//! Carrying raw bytes through the whole core instead would touch every
//! parameter's type for paths that PostgreSQL itself only half supports
//! (`postgresql.conf` and `recovery` settings are text); the decision is
//! documented in docs/parameters.md.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::command;
use crate::pg_ctl::{live_postmaster_at, signal_postmaster};
use crate::users;
use pgsql_ra_core::ports::StopMode;

/// A variable of the agent whose value is not valid UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// The variable's name (`OCF_RESKEY_pgdata`).
    pub name: String,
    /// Its exact value.
    pub value: OsString,
}

/// True for a variable the agent reads: its parameters and Pacemaker's
/// context (`OCF_*`), the file store's settings (`PGSQL_RA_*`) and the
/// Pacemaker tools' directory and debug flag. Other variables (`HA_LOGFILE`,
/// `LANG`, …) pass through to the children untouched, whatever their bytes.
pub fn is_agent_var(name: &str) -> bool {
    name.starts_with("OCF_")
        || name.starts_with("PGSQL_RA_")
        || name == "HA_SBIN_DIR"
        || name == "HA_debug"
}

/// Splits an environment into the readable map and the agent's unreadable
/// variables. Variables that are not the agent's (and names that are not
/// UTF-8, which no agent variable is) are left out of both.
pub fn split_env(
    vars: impl IntoIterator<Item = (OsString, OsString)>,
) -> (BTreeMap<String, String>, Vec<Unreadable>) {
    let mut env = BTreeMap::new();
    let mut unreadable = Vec::new();
    for (k, v) in vars {
        let Ok(k) = k.into_string() else { continue };
        match v.into_string() {
            Ok(v) => {
                env.insert(k, v);
            }
            Err(value) if is_agent_var(&k) => unreadable.push(Unreadable { name: k, value }),
            Err(_) => {}
        }
    }
    (env, unreadable)
}

/// The parameter name (`pgdata`) or the variable name, for messages.
pub fn display_name(u: &Unreadable) -> &str {
    u.name.strip_prefix("OCF_RESKEY_").unwrap_or(&u.name)
}

/// The reason for refusing: names every unreadable variable, with its bytes
/// unless it is a secret ([`pgsql_ra_core::metadata::is_secret_parameter`]:
/// `*password*`, private parameters, `primary_conninfo_opt`), whose value is
/// never printed (the reason ends up in the CIB).
pub fn reason(unreadable: &[Unreadable]) -> String {
    let list: Vec<String> = unreadable
        .iter()
        .map(|u| match u.name.strip_prefix("OCF_RESKEY_") {
            Some(p) if pgsql_ra_core::metadata::is_secret_parameter(p) => {
                format!("{p} (secret, value not shown)")
            }
            _ => format!("{}={:?}", display_name(u), u.value),
        })
        .collect();
    format!(
        "{}: not valid UTF-8; pgsql-ra can't use this value (and never replaces it by the default)",
        list.join(", ")
    )
}

/// The exact value of parameter `param`: unreadable bytes, the readable
/// text, or (only when the variable is absent) `default`.
pub fn exact_param(
    env: &BTreeMap<String, String>,
    unreadable: &[Unreadable],
    param: &str,
    default: &str,
) -> OsString {
    let key = format!("OCF_RESKEY_{param}");
    if let Some(u) = unreadable.iter().find(|u| u.name == key) {
        return u.value.clone();
    }
    OsString::from(env.get(&key).map(String::as_str).unwrap_or(default))
}

fn default_of(param: &str) -> &'static str {
    pgsql_ra_core::params::param_spec(param)
        .map(|s| s.default)
        .unwrap_or("")
}

/// The data directory exactly as given.
pub fn exact_pgdata(env: &BTreeMap<String, String>, unreadable: &[Unreadable]) -> PathBuf {
    PathBuf::from(exact_param(env, unreadable, "pgdata", default_of("pgdata")))
}

/// The live postmaster in exactly that data directory (an unreadable
/// `postmaster.pid` counts as running: nothing is proven).
pub fn running_at(pgdata: &Path) -> Result<Option<u32>, String> {
    live_postmaster_at(pgdata, Path::new("/proc")).map_err(|e| e.to_string())
}

/// What [`stop_exact`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopResult {
    /// Nothing runs in the data directory (any more).
    Stopped(String),
    /// The postmaster is still there, or its state is unknown.
    Failed(String),
}

fn op_timeout(env: &BTreeMap<String, String>) -> Duration {
    let ms = env
        .get("OCF_RESKEY_CRM_meta_timeout")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .unwrap_or(60_000);
    // Keep a reserve as the core's budget does.
    let total = Duration::from_millis(ms);
    total.saturating_sub((total / 10).min(Duration::from_secs(5)))
}

/// `stop` with exactly the given data directory (see the module doc).
pub fn stop_exact(env: &BTreeMap<String, String>, unreadable: &[Unreadable]) -> StopResult {
    let deadline = Instant::now() + op_timeout(env);
    let pgdata = exact_pgdata(env, unreadable);
    let pid = match running_at(&pgdata) {
        Ok(None) => {
            return StopResult::Stopped(format!(
                "no postmaster runs in {pgdata:?}: nothing to stop"
            ))
        }
        Ok(Some(pid)) => pid,
        Err(e) => return StopResult::Failed(format!("can't tell whether PostgreSQL runs: {e}")),
    };
    let pgctl = exact_param(env, unreadable, "pgctl", default_of("pgctl"));
    let pgdba = exact_param(env, unreadable, "pgdba", default_of("pgdba"));
    // The owner of the data directory when pgdba itself is unreadable.
    let account = pgdba.to_str().and_then(users::by_name).or_else(|| {
        std::fs::metadata(&pgdata)
            .ok()
            .and_then(|m| users::by_uid(m.uid()))
    });
    let mut last = String::new();
    for mode in ["fast", "immediate"] {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        // Fast gets at most half of what is left, immediate the rest.
        let limit = if mode == "fast" { left / 2 } else { left };
        let stopped = match &account {
            Some(account) => {
                let mut cmd = Command::new(&pgctl);
                cmd.args([OsStr::new("-W"), OsStr::new("-D")])
                    .arg(&pgdata)
                    .args(["stop", "-m", mode])
                    .env_remove("PGUSER")
                    .current_dir("/");
                match command::run_command(cmd, Some(account), limit) {
                    Ok(done) => {
                        last = format!("pg_ctl stop -m {mode}: {}", done.output_line());
                        done.success()
                    }
                    Err(e) => {
                        last = format!("can't run {pgctl:?}: {e}");
                        false
                    }
                }
            }
            None => {
                last = format!("user {pgdba:?} doesn't exist");
                false
            }
        };
        if !stopped {
            // pg_ctl failed or can't run: signal the verified postmaster as
            // pg_ctl would (a failed stop means fencing).
            let stop_mode = if mode == "fast" {
                StopMode::Fast
            } else {
                StopMode::Immediate
            };
            if let Ok(Some(pid)) = running_at(&pgdata) {
                if let Err(e) = signal_postmaster(pid, stop_mode) {
                    last = format!("{last}; signalling the postmaster {pid} failed: {e}");
                }
            }
        }
        let wait_until = Instant::now() + limit.min(Duration::from_secs(5));
        while Instant::now() < wait_until.min(deadline) {
            match running_at(&pgdata) {
                Ok(None) => {
                    return StopResult::Stopped(format!(
                        "PostgreSQL (pid {pid}) in {pgdata:?} stopped (-m {mode})"
                    ))
                }
                Ok(Some(_)) => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => last = e,
            }
        }
    }
    StopResult::Failed(format!(
        "PostgreSQL (pid {pid}) in {pgdata:?} is still running: {last}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt;

    #[test]
    fn only_the_agents_unreadable_variables_are_kept_as_bytes() {
        let bad = OsString::from_vec(b"/srv/pg\xff".to_vec());
        let (env, unreadable) = split_env(vec![
            (OsString::from("OCF_RESKEY_pgdata"), bad.clone()),
            (OsString::from("OCF_RESKEY_pgport"), OsString::from("5433")),
            (OsString::from("LANG"), bad.clone()),
            (OsString::from("HA_LOGFILE"), bad.clone()),
        ]);
        assert_eq!(
            env.get("OCF_RESKEY_pgport").map(String::as_str),
            Some("5433")
        );
        assert!(!env.contains_key("OCF_RESKEY_pgdata"));
        assert_eq!(unreadable.len(), 1);
        assert_eq!(display_name(&unreadable[0]), "pgdata");
        assert!(reason(&unreadable).starts_with("pgdata=\"/srv/pg\\xFF\": not valid UTF-8"));
        let secret = |name: &str| Unreadable {
            name: name.to_string(),
            value: OsString::from_vec(b"SEC\xffRET".to_vec()),
        };
        let text = reason(&[
            secret("OCF_RESKEY_monitor_password"),
            secret("OCF_RESKEY_primary_conninfo_opt"),
        ]);
        assert!(!text.contains("SEC") && !text.contains("RET"), "{text}");
        assert!(text.contains("monitor_password") && text.contains("primary_conninfo_opt"));
        assert_eq!(exact_pgdata(&env, &unreadable), PathBuf::from(bad));
        assert_eq!(
            exact_param(&env, &unreadable, "pgctl", "/usr/bin/pg_ctl"),
            OsString::from("/usr/bin/pg_ctl")
        );
    }

    #[test]
    fn nothing_runs_in_a_missing_or_impossible_directory() {
        let missing = PathBuf::from(OsString::from_vec(b"/nonexistent/pg\xff".to_vec()));
        assert_eq!(running_at(&missing), Ok(None));
        let long = PathBuf::from(format!("/tmp/{}", "x".repeat(300)));
        assert_eq!(running_at(&long), Ok(None));
        let (env, unreadable) = split_env(vec![(
            OsString::from("OCF_RESKEY_pgdata"),
            missing.into_os_string(),
        )]);
        assert!(matches!(
            stop_exact(&env, &unreadable),
            StopResult::Stopped(_)
        ));
    }
}
