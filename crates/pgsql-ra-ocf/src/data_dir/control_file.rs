//! Parses `pg_controldata`'s output (run with `LC_ALL=C`, so the labels are
//! untranslated) into the core's [`ControlData`].
//!
//! The labels read are printed unchanged by PostgreSQL 10 to 18
//! (`src/bin/pg_controldata/pg_controldata.c`); what differs across those
//! versions only concerns lines this parser does not read ("Prior checkpoint
//! location" exists in 10 only, "Float4 argument passing" up to 12,
//! "Default char data signedness" from 18). A zero-padded LSN form
//! (`0/0177A580`, printed by releases after 18) is accepted as well
//! ([`Lsn::parse_pg`]).
//! Recorded outputs of PostgreSQL 15 and outputs written from the 10 and 18
//! sources are in `testdata/pg_controldata/` (`testdata/README.md` says which is which).

use pgsql_ra_core::ports::{ControlData, DbClusterState};
use pgsql_ra_core::Lsn;

use super::wal_dump::WalGeometry;

/// The label → value pairs of `pg_controldata`'s output (`label: value`,
/// the value trimmed). A line without `:` is skipped (the CRC warning).
fn fields(text: &str) -> Vec<(&str, &str)> {
    text.lines()
        .filter_map(|line| {
            // "Latest checkpoint's oldestCommitTsXid:0" has no space after
            // the colon; labels never contain ':' themselves.
            let (label, value) = line.split_once(':')?;
            Some((label.trim(), value.trim()))
        })
        .collect()
}

/// `DBState`'s text (`dbState()` in pg_controldata.c).
pub fn parse_state(text: &str) -> DbClusterState {
    match text {
        "shut down" => DbClusterState::ShutDown,
        "shut down in recovery" => DbClusterState::ShutDownInRecovery,
        "shutting down" => DbClusterState::ShuttingDown,
        "in crash recovery" => DbClusterState::InCrashRecovery,
        "in archive recovery" => DbClusterState::InArchiveRecovery,
        "in production" => DbClusterState::InProduction,
        other => DbClusterState::Other(other.to_string()),
    }
}

/// Parses the whole output of `LC_ALL=C pg_controldata -D <pgdata>`.
///
/// # Errors
/// A required line ("Database cluster state", "Database system
/// identifier", "Latest checkpoint location", "Latest checkpoint's REDO
/// location", "Latest checkpoint's TimeLineID", "Minimum recovery ending
/// location", "Min recovery ending loc's timeline", "Data page checksum
/// version", "wal_log_hints setting") is missing or its value does not
/// parse; or the output carries pg_controldata's CRC warning (the control
/// file is corrupt or of another version: its values are untrustworthy).
pub fn parse(text: &str) -> Result<ControlData, String> {
    if text.contains("Calculated CRC checksum does not match") {
        return Err(
            "pg_controldata: the CRC of pg_control does not match (corrupt, or another PostgreSQL version's layout)"
                .into(),
        );
    }
    let all = fields(text);
    let get = |label: &str| -> Result<&str, String> {
        all.iter()
            .find(|(l, _)| *l == label)
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("pg_controldata printed no \"{label}\" line"))
    };
    let lsn = |label: &str| -> Result<Lsn, String> {
        let v = get(label)?;
        Lsn::parse_pg(v).map_err(|_| {
            format!(
                "pg_controldata: \"{label}\" is not an LSN: {}",
                pgsql_ra_core::quote::quoted(v)
            )
        })
    };
    let number = |label: &str| -> Result<u64, String> {
        let v = get(label)?;
        v.parse::<u64>().map_err(|_| {
            format!(
                "pg_controldata: \"{label}\" is not a number: {}",
                pgsql_ra_core::quote::quoted(v)
            )
        })
    };
    let on_off = |label: &str| -> Result<bool, String> {
        match get(label)? {
            "on" => Ok(true),
            "off" => Ok(false),
            v => Err(format!(
                "pg_controldata: \"{label}\" is not on/off: {}",
                pgsql_ra_core::quote::quoted(v)
            )),
        }
    };
    let timeline = |label: &str| -> Result<u32, String> {
        u32::try_from(number(label)?)
            .map_err(|_| format!("pg_controldata: \"{label}\" is out of range"))
    };
    Ok(ControlData {
        state: parse_state(get("Database cluster state")?),
        system_id: number("Database system identifier")?,
        checkpoint: lsn("Latest checkpoint location")?,
        redo: lsn("Latest checkpoint's REDO location")?,
        timeline: timeline("Latest checkpoint's TimeLineID")?,
        min_recovery_end: lsn("Minimum recovery ending location")?,
        min_recovery_end_timeline: timeline("Min recovery ending loc's timeline")?,
        data_checksums: number("Data page checksum version")? != 0,
        wal_log_hints: on_off("wal_log_hints setting")?,
    })
}

/// The WAL page and segment sizes ("WAL block size", "Bytes per WAL
/// segment", printed since PostgreSQL 8.x / 11 resp.; before 11 the segment
/// size was a build constant, printed as well).
///
/// # Errors
/// A line is missing or not a positive number.
pub fn wal_geometry(text: &str) -> Result<WalGeometry, String> {
    let all = fields(text);
    let number = |label: &str| -> Result<u64, String> {
        let v = all
            .iter()
            .find(|(l, _)| *l == label)
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("pg_controldata printed no \"{label}\" line"))?;
        v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            format!(
                "pg_controldata: \"{label}\" is not a size: {}",
                pgsql_ra_core::quote::quoted(v)
            )
        })
    };
    Ok(WalGeometry {
        page: number("WAL block size")?,
        segment: number("Bytes per WAL segment")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PG15_CLEAN: &str = include_str!("../../testdata/pg_controldata/15-primary-clean.txt");
    const PG15_KILLED: &str = include_str!("../../testdata/pg_controldata/15-primary-killed.txt");
    const PG15_STANDBY_CLEAN: &str =
        include_str!("../../testdata/pg_controldata/15-standby-clean.txt");
    const PG15_STANDBY_KILLED: &str =
        include_str!("../../testdata/pg_controldata/15-standby-killed.txt");
    const PG15_NO_HINTS: &str =
        include_str!("../../testdata/pg_controldata/15-no-checksums-no-hints.txt");
    const PG10_SOURCE: &str = include_str!("../../testdata/pg_controldata/10-from-source.txt");
    const PG18_SOURCE: &str = include_str!("../../testdata/pg_controldata/18-from-source.txt");

    fn lsn(t: &str) -> Lsn {
        Lsn::parse_pg(t).expect("test LSN")
    }

    #[test]
    fn recorded_pg15_primary_after_a_clean_stop() {
        let c = parse(PG15_CLEAN).expect("parses");
        assert_eq!(
            c,
            ControlData {
                state: DbClusterState::ShutDown,
                system_id: 7714073988357505639,
                checkpoint: lsn("0/177A580"),
                redo: lsn("0/177A580"),
                timeline: 1,
                min_recovery_end: Lsn::ZERO,
                min_recovery_end_timeline: 0,
                data_checksums: true,
                wal_log_hints: false,
            }
        );
        assert!(c.state.is_clean_shutdown());
        assert!(c.rewindable());
    }

    #[test]
    fn recorded_pg15_primary_after_kill_9() {
        let c = parse(PG15_KILLED).expect("parses");
        assert_eq!(c.state, DbClusterState::InProduction);
        assert!(!c.state.is_clean_shutdown());
        // The checkpoint lags the writes that followed it (initdb's one).
        assert_eq!(c.checkpoint, lsn("0/17529B0"));
        assert_eq!(c.system_id, 7714073988357505639);
    }

    #[test]
    fn recorded_pg15_standby_clean_and_killed() {
        let c = parse(PG15_STANDBY_CLEAN).expect("parses");
        assert_eq!(c.state, DbClusterState::ShutDownInRecovery);
        assert!(c.state.is_clean_shutdown());
        assert!(c.min_recovery_end > Lsn::ZERO);
        assert!(c.min_recovery_end_timeline >= 1);
        let k = parse(PG15_STANDBY_KILLED).expect("parses");
        assert_eq!(k.state, DbClusterState::InArchiveRecovery);
        assert!(!k.state.is_clean_shutdown());
    }

    #[test]
    fn recorded_pg15_without_checksums_or_hints_is_not_rewindable() {
        let c = parse(PG15_NO_HINTS).expect("parses");
        assert!(!c.data_checksums);
        assert!(!c.wal_log_hints);
        assert!(!c.rewindable());
    }

    /// Built from the PostgreSQL 10 source's labels (no pg_controldata
    /// binary of 10 here): "Prior checkpoint location" is ignored.
    #[test]
    fn pg10_labels_from_source() {
        let c = parse(PG10_SOURCE).expect("parses");
        assert_eq!(c.state, DbClusterState::InProduction);
        assert_eq!(c.checkpoint, lsn("0/3000060"));
        assert_eq!(c.redo, lsn("0/3000028"));
        assert_eq!(c.timeline, 3);
        assert!(c.wal_log_hints);
        assert!(!c.data_checksums);
    }

    /// Built from the PostgreSQL 18 source's labels: checksums on (18's
    /// initdb default), the new "Default char data signedness"; its LSNs
    /// are zero-padded to test that form too.
    #[test]
    fn pg18_labels_from_source() {
        let c = parse(PG18_SOURCE).expect("parses");
        assert_eq!(c.state, DbClusterState::ShutDownInRecovery);
        assert_eq!(c.checkpoint, lsn("0/0177A580"));
        assert_eq!(c.min_recovery_end, lsn("1/0000A0B8"));
        assert_eq!(c.min_recovery_end_timeline, 2);
        assert!(c.data_checksums);
    }

    #[test]
    fn wal_geometry_of_recorded_and_source_outputs() {
        for text in [PG15_CLEAN, PG10_SOURCE, PG18_SOURCE] {
            assert_eq!(
                wal_geometry(text),
                Ok(WalGeometry {
                    page: 8192,
                    segment: 16 * 1024 * 1024
                })
            );
        }
        assert!(wal_geometry("WAL block size: 0\nBytes per WAL segment: 16777216").is_err());
        assert!(wal_geometry("").is_err());
    }

    #[test]
    fn every_state_text() {
        for (t, s) in [
            ("shut down", DbClusterState::ShutDown),
            ("shut down in recovery", DbClusterState::ShutDownInRecovery),
            ("shutting down", DbClusterState::ShuttingDown),
            ("in crash recovery", DbClusterState::InCrashRecovery),
            ("in archive recovery", DbClusterState::InArchiveRecovery),
            ("in production", DbClusterState::InProduction),
            (
                "starting up",
                DbClusterState::Other("starting up".to_string()),
            ),
        ] {
            assert_eq!(parse_state(t), s, "{t}");
        }
    }

    #[test]
    fn a_missing_or_bad_line_is_an_error_naming_it() {
        let without = PG15_CLEAN
            .lines()
            .filter(|l| !l.starts_with("wal_log_hints"))
            .collect::<Vec<_>>()
            .join("\n");
        let e = parse(&without).unwrap_err();
        assert!(e.contains("wal_log_hints setting"), "{e}");
        let bad = PG15_CLEAN.replace("0/177A580", "zz");
        let e = parse(&bad).unwrap_err();
        assert!(e.contains("Latest checkpoint location"), "{e}");
        assert!(parse("").is_err());
        assert!(parse("garbage\n\u{0}\n::::").is_err());
    }

    #[test]
    fn the_crc_warning_refuses_the_values() {
        let warned = format!(
            "WARNING: Calculated CRC checksum does not match value stored in file.\n\
             Either the file is corrupt, or it has a different layout than this program\n\
             is expecting.  The results below are untrustworthy.\n\n{PG15_CLEAN}"
        );
        assert!(parse(&warned).unwrap_err().contains("CRC"));
    }
}
