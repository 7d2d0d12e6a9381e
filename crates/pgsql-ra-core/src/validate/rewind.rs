//! Level 10 with crash rejoin enabled (`crash_rejoin` = `rewind` or
//! `rewind-or-clone`; issue 10, "Precisions"): `pg_rewind`'s prerequisites,
//! judged from facts the ports read (pure here: which facts → which
//! problems, their words).
//!
//! * On the primary reached through `master_ip`, as the rewind role
//!   (`rewind_user`, empty: `pgdba`; the role the shim's `pg_rewind` uses),
//!   over a **normal** connection: the login works (stock setups have only
//!   `replication` lines in `pg_hba.conf`); the role is a superuser or has
//!   EXECUTE on each of [`REWIND_FUNCTIONS`] (PostgreSQL documentation,
//!   pg_rewind, "Notes") and, on PostgreSQL 15+, is a member of
//!   `pg_checkpoint` (the shim runs `CHECKPOINT` on a just-promoted primary
//!   before `pg_rewind`, docs/rejoin.md).
//! * With `crash_rejoin=rewind`: the local data directory has data
//!   checksums or `wal_log_hints` (`pg_controldata`); without either,
//!   `pg_rewind` refuses it and `rewind` allows no re-clone.
//!
//! Every missing prerequisite is one problem naming it and its fix (the
//! GRANT statement, the `pg_hba.conf` line). Codes: 4 (`OCF_ERR_PERM`) for
//! the login and the grants (a permission on another node, as a refused
//! login is for `start`), 6 (`OCF_ERR_CONFIGURED`) for a data directory
//! `crash_rejoin=rewind` can never rewind. `validate-all`'s result is
//! advisory (Pacemaker acts on no validate-all of a running resource); these
//! checks run there only, never before a monitor or a start. No primary
//! answering (master_ip unset or unreachable, a standby answering) is no
//! problem: the check is skipped with a note.

use crate::ocf::OcfExit;
use crate::params::{CrashRejoin, ParamError};
use crate::ports::{ControlData, RewindRoleError, RewindRoleFacts, REWIND_FUNCTIONS};
use crate::quote::quoted;

/// The first `server_version_num` with the role `pg_checkpoint`.
pub const PG_CHECKPOINT_SINCE: u32 = 150_000;

/// The result of judging the rewind role: the problems, or why nothing
/// could be judged (a note for the log, not a failure).
pub type RoleJudgement = Result<Vec<ParamError>, String>;

/// The rewind role's problems from what the primary answered. `role` is the
/// configured role (`rewind_user`, else `pgdba`), `master_ip` and `pgport`
/// where it was asked. `Err` carries the note when no primary answered.
pub fn role_problems(
    role: &str,
    master_ip: &str,
    pgport: u16,
    answer: &Result<RewindRoleFacts, RewindRoleError>,
) -> RoleJudgement {
    let facts = match answer {
        Ok(f) if f.in_recovery => {
            return Err(format!(
                "the server at master_ip={} is in recovery (a standby), not a primary",
                quoted(master_ip)
            ))
        }
        Ok(f) => f,
        Err(RewindRoleError::Unreachable(why)) => {
            return Err(format!(
                "no primary answered through master_ip={}: {why}",
                quoted(master_ip)
            ))
        }
        Err(RewindRoleError::Failed(why)) => {
            return Err(format!(
                "the primary at master_ip={} could not be asked: {why}",
                quoted(master_ip)
            ))
        }
        Err(RewindRoleError::LoginRefused(why)) => {
            return Ok(vec![perm(format!(
                "rewind_user={}: the primary at {}:{pgport} refused a normal (non-replication) login as {} to database postgres ({why}): pg_rewind needs a pg_hba.conf line on every node such as \"host postgres {} <each node's address>/32 scram-sha-256\" and the password in pgdba's ~/.pgpass",
                quoted(role),
                master_ip,
                quoted(role),
                sql_ident(role)
            ))])
        }
    };
    if facts.superuser {
        return Ok(Vec::new());
    }
    let grantee = sql_ident(&facts.role);
    let mut problems: Vec<ParamError> = REWIND_FUNCTIONS
        .iter()
        .zip(facts.executable)
        .filter(|(_, ok)| !ok)
        .map(|(function, _)| {
            perm(format!(
                "rewind_user={}: role {} lacks EXECUTE on {function}, which pg_rewind calls: GRANT EXECUTE ON FUNCTION {function} TO {grantee};",
                quoted(role),
                quoted(&facts.role)
            ))
        })
        .collect();
    if facts.server_version_num >= PG_CHECKPOINT_SINCE && facts.checkpoint_member != Some(true) {
        problems.push(perm(format!(
            "rewind_user={}: role {} is not a member of pg_checkpoint, needed for the CHECKPOINT run on a just-promoted primary before pg_rewind: GRANT pg_checkpoint TO {grantee};",
            quoted(role),
            quoted(&facts.role)
        )));
    }
    Ok(problems)
}

/// With `crash_rejoin=rewind`, the local data directory must be rewindable
/// (data checksums or `wal_log_hints`). `Err` carries a note when
/// `pg_controldata` could not be read; `Ok(None)` for no problem (or
/// another `crash_rejoin`: `rewind-or-clone` re-clones instead).
pub fn rewindable_problem(
    crash_rejoin: CrashRejoin,
    pgdata: &str,
    control: &Result<ControlData, String>,
) -> Result<Option<ParamError>, String> {
    if crash_rejoin != CrashRejoin::Rewind {
        return Ok(None);
    }
    match control {
        Ok(c) if c.rewindable() => Ok(None),
        Ok(_) => Ok(Some(ParamError {
            param: "crash_rejoin".into(),
            code: OcfExit::ErrConfigured,
            message: format!(
                "crash_rejoin=rewind: pgdata={} has no data checksums and wal_log_hints is off (pg_controldata), so pg_rewind refuses it: set wal_log_hints = on and restart, or use crash_rejoin=rewind-or-clone",
                quoted(pgdata)
            ),
        })),
        Err(why) => Err(format!(
            "whether pgdata={} is rewindable is unknown: {why}",
            quoted(pgdata)
        )),
    }
}

fn perm(message: String) -> ParamError {
    ParamError {
        param: "rewind_user".into(),
        code: OcfExit::ErrPerm,
        message,
    }
}

/// A role name as an SQL identifier: bare when it is a lower-case simple
/// name, else double-quoted with `"` doubled.
fn sql_ident(name: &str) -> String {
    let simple = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if simple {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsn::Lsn;
    use crate::ports::DbClusterState;

    fn facts(executable: [bool; 4], checkpoint: Option<bool>, version: u32) -> RewindRoleFacts {
        RewindRoleFacts {
            role: "rewinder".into(),
            server_version_num: version,
            in_recovery: false,
            superuser: false,
            executable,
            checkpoint_member: checkpoint,
        }
    }

    fn judge(answer: Result<RewindRoleFacts, RewindRoleError>) -> RoleJudgement {
        role_problems("rewinder", "10.0.0.10", 5432, &answer)
    }

    #[test]
    fn a_role_without_grants_gets_every_grant_named() {
        let problems = judge(Ok(facts([false; 4], Some(false), 150_004))).unwrap();
        let texts: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(problems.len(), 5, "{texts:#?}");
        for (text, function) in texts.iter().zip(REWIND_FUNCTIONS) {
            assert!(
                text.ends_with(&format!(
                    "GRANT EXECUTE ON FUNCTION {function} TO rewinder;"
                )),
                "{text}"
            );
        }
        assert!(texts[4].ends_with("GRANT pg_checkpoint TO rewinder;"));
        assert!(problems
            .iter()
            .all(|p| p.code == OcfExit::ErrPerm && p.param == "rewind_user"));
    }

    #[test]
    fn only_the_missing_grants_are_named() {
        let problems = judge(Ok(facts([true, false, true, true], Some(true), 150_004))).unwrap();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("pg_stat_file(text, boolean)"));
    }

    #[test]
    fn the_documented_grants_or_a_superuser_are_clean() {
        assert_eq!(judge(Ok(facts([true; 4], Some(true), 150_004))), Ok(vec![]));
        let mut su = facts([false; 4], Some(false), 150_004);
        su.superuser = true;
        assert_eq!(judge(Ok(su)), Ok(vec![]));
    }

    #[test]
    fn pg_checkpoint_is_asked_from_15_only() {
        assert_eq!(judge(Ok(facts([true; 4], None, 140_010))), Ok(vec![]));
        let problems = judge(Ok(facts([true; 4], None, 150_000))).unwrap();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("pg_checkpoint"));
    }

    #[test]
    fn a_refused_login_names_the_pg_hba_line() {
        let problems = judge(Err(RewindRoleError::LoginRefused(
            "FATAL: no pg_hba.conf entry".into(),
        )))
        .unwrap();
        assert_eq!(problems.len(), 1);
        let text = &problems[0].message;
        assert!(text.contains("no pg_hba.conf entry"), "{text}");
        assert!(
            text.contains("\"host postgres rewinder <each node's address>/32 scram-sha-256\""),
            "{text}"
        );
        assert_eq!(problems[0].code, OcfExit::ErrPerm);
    }

    #[test]
    fn no_primary_skips_with_a_note() {
        let note = judge(Err(RewindRoleError::Unreachable(
            "connection refused".into(),
        )))
        .unwrap_err();
        assert!(note.contains("no primary answered") && note.contains("connection refused"));
        let mut standby = facts([false; 4], None, 150_004);
        standby.in_recovery = true;
        assert!(judge(Ok(standby)).unwrap_err().contains("in recovery"));
        assert!(judge(Err(RewindRoleError::Failed("x".into()))).is_err());
    }

    #[test]
    fn identifiers_are_quoted_when_needed() {
        assert_eq!(sql_ident("rewinder_2"), "rewinder_2");
        assert_eq!(sql_ident("Rewinder"), "\"Rewinder\"");
        assert_eq!(sql_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(sql_ident(""), "\"\"");
    }

    fn control(checksums: bool, hints: bool) -> Result<ControlData, String> {
        Ok(ControlData {
            state: DbClusterState::ShutDown,
            system_id: 1,
            checkpoint: Lsn(0),
            redo: Lsn(0),
            timeline: 1,
            min_recovery_end: Lsn(0),
            min_recovery_end_timeline: 0,
            data_checksums: checksums,
            wal_log_hints: hints,
        })
    }

    #[test]
    fn rewind_needs_a_rewindable_data_directory() {
        let p = rewindable_problem(CrashRejoin::Rewind, "/d", &control(false, false))
            .unwrap()
            .unwrap();
        assert_eq!(p.code, OcfExit::ErrConfigured);
        assert!(p.message.contains("wal_log_hints = on"), "{}", p.message);
        for (c, h) in [(true, false), (false, true)] {
            assert_eq!(
                rewindable_problem(CrashRejoin::Rewind, "/d", &control(c, h)),
                Ok(None)
            );
        }
        assert_eq!(
            rewindable_problem(CrashRejoin::RewindOrClone, "/d", &control(false, false)),
            Ok(None)
        );
        assert!(rewindable_problem(CrashRejoin::Rewind, "/d", &Err("gone".into())).is_err());
    }
}
