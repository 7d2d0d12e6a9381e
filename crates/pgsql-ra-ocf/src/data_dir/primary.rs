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
//! * `pg_current_wal_lsn()` and `sum(pg_database_size(oid))`;
//! * the WAL segment files it holds ([`WAL_SQL`]): every complete segment
//!   file in `pg_wal` (as runs per timeline) and `wal_segment_size`, through
//!   `pg_ls_dir(text, boolean, boolean)` (the rewind role's grant, one of
//!   `pg_rewind`'s own prerequisites). A failure there does not fail the
//!   facts: [`WalHoldings::Unknown`] with the reason, and the decision
//!   fails closed.
//!
//! A server in recovery (a standby reached through `master_ip`) is refused.

use pgsql_ra_core::ports::{segment_runs, PrimaryFacts, PrimaryWal, WalHoldings};
use pgsql_ra_core::rejoin::wal::parse_segment_file_name;
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

/// `wal_segment_size` in bytes, then the name of every complete segment
/// file in `pg_wal` (exactly 24 hex digits: not `.partial`, `.history`,
/// `.backup`), comma separated: the decision checks that none is missing
/// from the first it needs to the primary's current one (issue 10).
pub const WAL_SQL: &str = "select pg_size_bytes(current_setting('wal_segment_size'))::text, \
     (select string_agg(f, ',' order by f) \
      from pg_ls_dir('pg_wal', false, false) as f where f ~ '^[0-9A-F]{24}$')";

/// Converts [`WAL_SQL`]'s two columns.
///
/// # Errors
/// A missing or malformed column (no file at all is an error: a primary
/// always holds its current segment).
pub fn parse_wal_row(cols: &[Option<String>]) -> Result<PrimaryWal, String> {
    let size_text = cols
        .first()
        .and_then(|c| c.as_deref())
        .map(str::trim)
        .ok_or("no wal_segment_size")?;
    let segment_size = size_text
        .parse::<u64>()
        .ok()
        .filter(|s| s.is_power_of_two())
        .ok_or_else(|| {
            format!(
                "bad wal_segment_size {}",
                pgsql_ra_core::quote::quoted(size_text)
            )
        })?;
    let list = cols
        .get(1)
        .and_then(|c| c.as_deref())
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .ok_or("no WAL segment file in the primary's pg_wal")?;
    let mut files = Vec::new();
    for name in list.split(',') {
        let parsed = parse_segment_file_name(name, segment_size)
            .ok_or_else(|| format!("bad WAL file name {}", pgsql_ra_core::quote::quoted(name)))?;
        files.push(parsed);
    }
    Ok(PrimaryWal {
        segment_size,
        runs: segment_runs(files),
    })
}

/// The primary's WAL files ([`WAL_SQL`]), or why they are unknown.
fn wal_holdings(db: &mut PgDatabase) -> WalHoldings {
    let row = match db.first_row_text(WAL_SQL, None) {
        Ok(Some(row)) => row,
        Ok(None) => return WalHoldings::Unknown("listing the primary's pg_wal: no row".into()),
        Err(e) => return WalHoldings::Unknown(format!("listing the primary's pg_wal: {e}")),
    };
    match parse_wal_row(&row) {
        Ok(w) => WalHoldings::Known(w),
        Err(e) => WalHoldings::Unknown(format!("the primary's pg_wal: {e}")),
    }
}

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
    let wal = wal_holdings(db);
    Ok(PrimaryFacts {
        system_id: facts.system_id,
        timeline: facts.timeline,
        history,
        current_lsn: facts.current_lsn,
        size_bytes: facts.size_bytes,
        wal,
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
    use pgsql_ra_core::ports::SegmentRun;

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
    fn the_wal_row_converts() {
        let row = cols(&[
            Some("16777216"),
            Some("000000010000000000000003,000000010000000000000004,000000010000000000000006,0000000200000001000000A5"),
        ]);
        let run = |timeline, first, last| SegmentRun {
            timeline,
            first,
            last,
        };
        assert_eq!(
            parse_wal_row(&row),
            Ok(PrimaryWal {
                segment_size: 16 << 20,
                runs: vec![run(1, 3, 4), run(1, 6, 6), run(2, 0x1A5, 0x1A5)],
            })
        );
        // 1 GiB segments: 4 per 4 GiB.
        let big = cols(&[Some("1073741824"), Some("000000030000000200000001")]);
        assert_eq!(parse_wal_row(&big).map(|w| w.runs), Ok(vec![run(3, 9, 9)]));
        for bad in [
            [Some("16777217"), Some("000000010000000000000003")],
            [Some("16777216"), None],
            [Some("16777216"), Some("")],
            [Some("16777216"), Some("000000010000000000000003.partial")],
            [Some("16777216"), Some("0000000100000000000003")],
            [Some("16777216"), Some("0000000Z0000000000000003")],
            [Some("16777216"), Some("000000010000000000000100")],
            [None, Some("000000010000000000000003")],
        ] {
            assert!(parse_wal_row(&cols(&bad)).is_err(), "{bad:?}");
        }
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
