//! The current primary's facts ([`PrimaryFacts`]) over a normal SQL
//! session to `master_ip:pgport` as the rewind role, database `postgres`
//! ([`crate::db::PgDatabase`]: connect and statement deadlines, the
//! password from `pgdba`'s password file, never in the environment).
//!
//! * the system identifier: `pg_control_system()` (PostgreSQL 9.6+);
//! * the timeline it writes on: the first 8 hex digits of
//!   `pg_walfile_name(pg_current_wal_lsn())`, not `pg_control_checkpoint()`,
//!   whose timeline stays the old one until the first checkpoint after a
//!   promotion;
//! * that timeline's history file, `pg_wal/<8 hex>.history`, read with
//!   `pg_read_binary_file` (none on timeline 1);
//! * `pg_current_wal_lsn()` and `sum(pg_database_size(oid))`.
//!
//! A server in recovery (a standby reached through `master_ip`) is refused.

use pgsql_ra_core::ports::PrimaryFacts;
use pgsql_ra_core::timeline::{history_file_name, parse_history};
use pgsql_ra_core::Lsn;

use crate::db::PgDatabase;

/// One query for everything but the history file; the functions that
/// fail during recovery are not called on a standby.
const FACTS_SQL: &str = "select pg_is_in_recovery()::text, \
     (select system_identifier::text from pg_control_system()), \
     case when pg_is_in_recovery() then null else pg_walfile_name(pg_current_wal_lsn()) end, \
     case when pg_is_in_recovery() then null else pg_current_wal_lsn()::text end, \
     (select sum(pg_database_size(oid))::text from pg_database)";

/// The history file of a timeline, as text.
const HISTORY_SQL: &str = "select convert_from(pg_read_binary_file($1), 'UTF8')";

/// The text columns of the facts query's row, checked and converted (the
/// history still to be read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactsRow {
    /// `pg_control_system().system_identifier`.
    pub system_id: u64,
    /// From the current WAL file's name.
    pub timeline: u32,
    /// `pg_current_wal_lsn()`.
    pub current_lsn: Lsn,
    /// Bytes of all databases.
    pub size_bytes: u64,
}

/// Checks and converts the facts query's columns (recovery state, system
/// id, WAL file name, current LSN, total size; all as text).
///
/// # Errors
/// The server is in recovery, or a column is missing or malformed.
pub fn parse_facts_row(cols: &[Option<String>]) -> Result<FactsRow, String> {
    let col = |i: usize, what: &str| -> Result<&str, String> {
        cols.get(i)
            .and_then(|c| c.as_deref())
            .map(str::trim)
            .ok_or_else(|| format!("the primary returned no {what}"))
    };
    if col(0, "recovery state")? != "false" {
        return Err(
            "the server reached through master_ip is in recovery (a standby), not a primary".into(),
        );
    }
    // A bigint holding an unsigned 64-bit value: reinterpret negatives.
    let sysid = col(1, "system identifier")?;
    let system_id = sysid.parse::<i64>().map(|n| n as u64).map_err(|_| {
        format!(
            "bad system identifier {}",
            pgsql_ra_core::quote::quoted(sysid)
        )
    })?;
    let timeline = walfile_timeline(col(2, "current WAL file name")?)?;
    let lsn = col(3, "current WAL location")?;
    let current_lsn =
        Lsn::parse_pg(lsn).map_err(|_| format!("bad LSN {}", pgsql_ra_core::quote::quoted(lsn)))?;
    let size = col(4, "database size")?;
    let size_bytes = size
        .parse::<u64>()
        .map_err(|_| format!("bad database size {}", pgsql_ra_core::quote::quoted(size)))?;
    Ok(FactsRow {
        system_id,
        timeline,
        current_lsn,
        size_bytes,
    })
}

/// Asks the primary `db` is connected to (see the module documentation).
///
/// # Errors
/// Connection, authentication, deadline or permission errors (the
/// message names the query's purpose), a server in recovery, a missing or
/// malformed history file.
pub fn ask(db: &mut PgDatabase) -> Result<PrimaryFacts, String> {
    let row = db
        .first_row_text(FACTS_SQL, None)
        .map_err(|e| format!("asking the primary: {e}"))?
        .ok_or("asking the primary: no row")?;
    let facts = parse_facts_row(&row)?;
    let history = if facts.timeline > 1 {
        let file = format!("pg_wal/{}", history_file_name(facts.timeline));
        let text = db
            .first_row_text(HISTORY_SQL, Some(file.clone()))
            .map_err(|e| format!("reading the primary's {file}: {e}"))?
            .and_then(|cols| cols.into_iter().next().flatten())
            .ok_or_else(|| format!("the primary's {file} is empty"))?;
        parse_history(&text).map_err(|e| format!("the primary's {file}: {e}"))?
    } else {
        Vec::new()
    };
    Ok(PrimaryFacts {
        system_id: facts.system_id,
        timeline: facts.timeline,
        history,
        current_lsn: facts.current_lsn,
        size_bytes: facts.size_bytes,
    })
}

/// The timeline of the primary's last checkpoint and the one it writes on
/// (from the current WAL file's name).
const CHECKPOINT_TIMELINE_SQL: &str =
    "select (select timeline_id::text from pg_control_checkpoint()), \
     pg_walfile_name(pg_current_wal_lsn())";

/// The timeline in a WAL file name's first 8 hex digits.
fn walfile_timeline(walfile: &str) -> Result<u32, String> {
    walfile
        .get(..8)
        .filter(|t| t.bytes().all(|b| b.is_ascii_hexdigit()))
        .and_then(|t| u32::from_str_radix(t, 16).ok())
        .filter(|t| *t > 0)
        .ok_or_else(|| {
            format!(
                "bad WAL file name {}",
                pgsql_ra_core::quote::quoted(walfile)
            )
        })
}

/// True when the primary's control file still names an older timeline
/// than the one it writes on (`checkpoint_tli`, `current_tli`): it was
/// promoted and has not completed a checkpoint since.
pub fn needs_checkpoint(checkpoint_tli: u32, current_tli: u32) -> bool {
    checkpoint_tli < current_tli
}

/// Makes the primary's control file name its current timeline before
/// `pg_rewind` runs: when the last checkpoint is older than the timeline
/// (a promotion requests its checkpoint without hurry: it may complete
/// minutes later), runs `CHECKPOINT`. `pg_rewind` 15 and older take the
/// source's timeline from its control file and, with the target on that
/// same old timeline, print "source and target cluster are on the same
/// timeline" and "no rewind required" although the target went past the
/// switch point (measured on PostgreSQL 15; PostgreSQL documentation,
/// pg_rewind, "Notes": "execute a CHECKPOINT after promotion"). Returns
/// the two timelines when a checkpoint was run, `None` when none was
/// needed.
///
/// # Errors
/// Connection, deadline or permission errors (`CHECKPOINT` needs a
/// superuser or, from PostgreSQL 15, the role `pg_checkpoint`), a server in
/// recovery, a malformed answer.
pub fn checkpoint_if_promoted(db: &mut PgDatabase) -> Result<Option<(u32, u32)>, String> {
    let row = db
        .first_row_text(CHECKPOINT_TIMELINE_SQL, None)
        .map_err(|e| format!("asking the primary for its checkpoint's timeline: {e}"))?
        .ok_or("asking the primary for its checkpoint's timeline: no row")?;
    let col = |i: usize| row.get(i).and_then(|c| c.as_deref()).map(str::trim);
    let checkpoint_tli = col(0).and_then(|t| t.parse::<u32>().ok()).ok_or_else(|| {
        format!(
            "bad checkpoint timeline {}",
            col(0).map_or_else(|| "NULL".to_string(), pgsql_ra_core::quote::quoted)
        )
    })?;
    let current_tli = walfile_timeline(col(1).unwrap_or_default())?;
    if !needs_checkpoint(checkpoint_tli, current_tli) {
        return Ok(None);
    }
    db.first_row_text("checkpoint", None).map_err(|e| {
        format!(
            "the primary's last checkpoint is on timeline {checkpoint_tli}, it writes on {current_tli}: \
             CHECKPOINT on it failed (the rewind role needs superuser or pg_checkpoint): {e}"
        )
    })?;
    Ok(Some((checkpoint_tli, current_tli)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(v: &[Option<&str>]) -> Vec<Option<String>> {
        v.iter().map(|c| c.map(String::from)).collect()
    }

    #[test]
    fn a_primary_row_converts() {
        let row = cols(&[
            Some("false"),
            Some("-4732670085352046173"),
            Some("00000002000000000000000A"),
            Some("0/A0001B8"),
            Some("31457280"),
        ]);
        assert_eq!(
            parse_facts_row(&row),
            Ok(FactsRow {
                system_id: (-4732670085352046173i64) as u64,
                timeline: 2,
                current_lsn: Lsn(0x0A00_01B8),
                size_bytes: 31_457_280,
            })
        );
    }

    #[test]
    fn a_checkpoint_is_needed_only_on_an_older_timeline() {
        assert!(needs_checkpoint(2, 3));
        assert!(!needs_checkpoint(3, 3));
        assert!(!needs_checkpoint(4, 3));
        assert_eq!(walfile_timeline("0000000300000000000000A1"), Ok(3));
        assert!(walfile_timeline("0000000000000000000000A1").is_err());
        assert!(walfile_timeline("xyz").is_err());
    }

    #[test]
    fn a_standby_is_refused() {
        let row = cols(&[Some("true"), Some("1"), None, None, Some("1")]);
        let e = parse_facts_row(&row).unwrap_err();
        assert!(e.contains("in recovery"), "{e}");
    }

    #[test]
    fn malformed_columns_are_errors() {
        let good = [
            Some("false"),
            Some("7"),
            Some("0000000A0000000000000001"),
            Some("0/1"),
            Some("8"),
        ];
        assert_eq!(parse_facts_row(&cols(&good)).map(|f| f.timeline), Ok(10));
        for (i, bad) in [
            (1, Some("x")),
            (2, Some("zz")),
            (2, Some("000000000000000000000001")),
            (3, Some("nope")),
            (4, None),
        ] {
            let mut row = good;
            row[i] = bad;
            assert!(
                parse_facts_row(&cols(&row)).is_err(),
                "column {i} = {bad:?}"
            );
        }
        assert!(parse_facts_row(&[]).is_err());
    }
}
