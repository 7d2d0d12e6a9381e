//! The rewind role's rights on the server reached through `master_ip`
//! ([`RewindRoleFacts`]), read in one query over the same normal session as
//! [`super::primary`] (as `rewind_user`, else `pgdba`; database `postgres`;
//! the password from `pgdba`'s password file). `validate-all` at level 10
//! judges them (`pgsql_ra_core::validate::role_problems`; issue 10,
//! "Precisions").

use pgsql_ra_core::ports::{DbErrorKind, RewindRoleError, RewindRoleFacts};

use crate::db::PgDatabase;

/// One row, every column text: the role, `server_version_num`, recovery,
/// `is_superuser`, EXECUTE on each of `REWIND_FUNCTIONS` (same order), and
/// membership in `pg_checkpoint` (NULL when the role does not exist, before
/// PostgreSQL 15: looked up by oid so that no name fails to resolve).
pub const ROLE_SQL: &str = "select current_user::text, \
     current_setting('server_version_num'), \
     pg_is_in_recovery()::text, \
     current_setting('is_superuser'), \
     has_function_privilege('pg_catalog.pg_ls_dir(text, boolean, boolean)', 'EXECUTE')::text, \
     has_function_privilege('pg_catalog.pg_stat_file(text, boolean)', 'EXECUTE')::text, \
     has_function_privilege('pg_catalog.pg_read_binary_file(text)', 'EXECUTE')::text, \
     has_function_privilege('pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)', 'EXECUTE')::text, \
     (select pg_has_role(current_user, oid, 'MEMBER')::text from pg_roles where rolname = 'pg_checkpoint')";

/// Converts [`ROLE_SQL`]'s row.
///
/// # Errors
/// A missing or malformed column.
pub fn parse_row(cols: &[Option<String>]) -> Result<RewindRoleFacts, String> {
    let col = |i: usize| cols.get(i).and_then(|c| c.as_deref()).map(str::trim);
    let flag = |i: usize| -> Result<bool, String> {
        match col(i) {
            Some("true" | "on") => Ok(true),
            Some("false" | "off") => Ok(false),
            other => Err(format!(
                "unexpected answer {} in column {}",
                other.map_or_else(|| "NULL".to_string(), pgsql_ra_core::quote::quoted),
                i + 1
            )),
        }
    };
    let role = col(0)
        .ok_or("the primary returned no role name")?
        .to_string();
    let version = col(1).unwrap_or_default();
    let server_version_num = version.parse::<u32>().map_err(|_| {
        format!(
            "bad server_version_num {}",
            pgsql_ra_core::quote::quoted(version)
        )
    })?;
    Ok(RewindRoleFacts {
        role,
        server_version_num,
        in_recovery: flag(2)?,
        superuser: flag(3)?,
        executable: [flag(4)?, flag(5)?, flag(6)?, flag(7)?],
        checkpoint_member: match col(8) {
            None => None,
            Some(_) => Some(flag(8)?),
        },
    })
}

/// Asks the server `db` connects to (see the module documentation). The
/// session connects on this first query: a refused login is told apart from
/// no server answering by the driver's error kind (SQLSTATE 28000/28P01 or
/// no password to send: a login refused).
///
/// # Errors
/// See [`RewindRoleError`].
pub fn ask(db: &mut PgDatabase) -> Result<RewindRoleFacts, RewindRoleError> {
    let row = db
        .first_row_text(ROLE_SQL, None)
        .map_err(|e| match e.kind {
            DbErrorKind::Auth => RewindRoleError::LoginRefused(e.message),
            DbErrorKind::Connect | DbErrorKind::Timeout => RewindRoleError::Unreachable(e.message),
            DbErrorKind::NoDatabase | DbErrorKind::Query => RewindRoleError::Failed(e.message),
        })?;
    let row = row.ok_or_else(|| RewindRoleError::Failed("no row".into()))?;
    parse_row(&row).map_err(RewindRoleError::Failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgsql_ra_core::ports::REWIND_FUNCTIONS;

    fn cols(v: &[Option<&str>]) -> Vec<Option<String>> {
        v.iter().map(|c| c.map(String::from)).collect()
    }

    #[test]
    fn the_query_asks_for_the_functions_the_core_names_in_order() {
        let mut rest = ROLE_SQL;
        for f in REWIND_FUNCTIONS {
            let at = rest
                .find(&format!("has_function_privilege('{f}', 'EXECUTE')"))
                .unwrap_or_else(|| panic!("{f} not asked (in order)"));
            rest = &rest[at + 1..];
        }
    }

    #[test]
    fn a_row_converts() {
        let row = cols(&[
            Some("rewinder"),
            Some("150004"),
            Some("false"),
            Some("off"),
            Some("true"),
            Some("false"),
            Some("true"),
            Some("false"),
            Some("false"),
        ]);
        assert_eq!(
            parse_row(&row),
            Ok(RewindRoleFacts {
                role: "rewinder".into(),
                server_version_num: 150_004,
                in_recovery: false,
                superuser: false,
                executable: [true, false, true, false],
                checkpoint_member: Some(false),
            })
        );
        let mut before_15 = row.clone();
        before_15[8] = None;
        assert_eq!(parse_row(&before_15).unwrap().checkpoint_member, None);
        let mut bad = row;
        bad[4] = Some("maybe".into());
        assert!(parse_row(&bad).is_err());
        assert!(parse_row(&[]).is_err());
    }
}
