//! Issue 16: the statement behind `Database::recovery_activity` (the early
//! election's finality read, docs/decision-logic.md "Early election") and
//! the reading of its row.
//!
//! **Receiver.** A WAL receiver process exists when `pg_stat_wal_receiver`
//! has a row *or* `pg_stat_activity` lists a `walreceiver` backend: the
//! first view shows no row until the receiver's connection is made (attack
//! on issue 16, finding 1: a receiver connecting to a silent upstream, wait
//! event `LibPQWalReceiverConnect`, had no row there for as long as the
//! connection hung).
//!
//! **Waiting.** The startup process counts as waiting only in the sleep it
//! takes after every WAL source failed (`wal_retrieve_retry_interval`):
//! `RecoveryRetrieveRetryInterval` on 13 and later, `RecoveryWalStream` on
//! 10 to 12. PostgreSQL 13 (commit 1d253ba) renamed the events: 10-12's
//! `RecoveryWalAll` (the wait inside streaming recovery, a receiver running
//! or being started) became `RecoveryWalStream`, and 10-12's
//! `RecoveryWalStream` (the retry sleep) became
//! `RecoveryRetrieveRetryInterval`. The streaming wait is not counted: the
//! startup process has asked for a receiver, which may be about to deliver.
//! Read on the servers 10 to 18 (2026-12-01): a standby without a primary
//! sleeps in `RecoveryWalStream` on 10-12 and `RecoveryRetrieveRetryInterval`
//! on 13-18.
//!
//! **Calling nobody.** Two more columns: every WAL receiver is still
//! connecting, and the startup process waits for the stream (not the
//! sleep), and the receiver's process ID; with whether that process's TCP
//! connection got an answer (`upstream_socket.rs`) the core counts such an
//! observation as final
//! (`pgsql_ra_core::election::observed_final`). Read on 10 to 18
//! (2026-12-02, `recovery_activity_real_pg.rs`).
//!
//! **Functions, not views.** The statement reads the functions the two
//! views are defined over (PostgreSQL's `system_views.sql`:
//! `pg_stat_get_activity(NULL)`, `pg_stat_get_wal_receiver()` whose row
//! has a NULL `pid` when there is no receiver); the rows are the views'.
//! A fresh session reads and rewrites a view's stored query tree on first
//! use: 7.6 ms through the views, 1.6 ms through the functions (issue 16,
//! lab standby on 15, median of 8 first statements of a session).
//!
//! **Privileges.** A role that is neither superuser nor in
//! `pg_read_all_stats` sees no `backend_type` nor `wait_event` of the
//! startup and WAL receiver processes (checked on 15: it reads "no
//! receiver" while one is connecting, and "not waiting"): "not waiting"
//! makes no observation final (fail closed).

use pgsql_ra_core::ports::{DbError, DbErrorKind, RecoveryActivity};
use pgsql_ra_core::Lsn;

/// The statement, given the sleep's and the streaming wait's event names.
/// Its columns after the sleep's: every WAL receiver still connecting (no
/// `pg_stat_wal_receiver` row, each `walreceiver` backend in
/// `LibPQWalReceiverConnect`, spelt `LibpqwalreceiverConnect` from
/// PostgreSQL 17 on: read on the servers, compared without case), then the
/// startup process's wait for the stream (`RecoveryWalStream` on 13+,
/// `RecoveryWalAll` on 10-12), the WAL receiver's process ID (NULL when
/// there is none, or more than one).
macro_rules! recovery_activity_sql {
    ($sleep:literal, $stream:literal) => {
        concat!(
            "select pg_is_in_recovery()::text, pg_last_wal_replay_lsn()::text, ",
            "(exists (select 1 from pg_stat_get_wal_receiver() where pid is not null) ",
            "or exists (select 1 from pg_stat_get_activity(null) where backend_type = 'walreceiver'))::text, ",
            "(exists (select 1 from pg_stat_get_activity(null) where backend_type = 'startup' ",
            "and wait_event = '",
            $sleep,
            "'))::text, ",
            "(not exists (select 1 from pg_stat_get_wal_receiver() where pid is not null) ",
            "and exists (select 1 from pg_stat_get_activity(null) where backend_type = 'walreceiver') ",
            "and not exists (select 1 from pg_stat_get_activity(null) where backend_type = 'walreceiver' ",
            "and lower(wait_event) is distinct from 'libpqwalreceiverconnect'))::text, ",
            "(exists (select 1 from pg_stat_get_activity(null) where backend_type = 'startup' ",
            "and wait_event = '",
            $stream,
            "'))::text, ",
            "(select case when count(*) = 1 then min(pid) end from pg_stat_get_activity(null) ",
            "where backend_type = 'walreceiver')::text"
        )
    };
}

/// PostgreSQL 13 and later.
const SQL_13: &str = recovery_activity_sql!("RecoveryRetrieveRetryInterval", "RecoveryWalStream");

/// PostgreSQL 10 to 12.
const SQL_10: &str = recovery_activity_sql!("RecoveryWalStream", "RecoveryWalAll");

/// The statement for a server of `version` (`server_version_num`); `None`
/// before 10 (no `backend_type` in `pg_stat_activity`: unknown).
pub fn sql(version: u32) -> Option<&'static str> {
    match version {
        v if v >= 130_000 => Some(SQL_13),
        v if v >= 100_000 => Some(SQL_10),
        _ => None,
    }
}

/// Reads the statement's row (every column as text).
///
/// # Errors
/// A column missing or not of the expected form (a query error).
pub fn parse(row: &[Option<String>]) -> Result<RecoveryActivity, DbError> {
    let bad =
        |what: &str| DbError::new(DbErrorKind::Query, format!("recovery activity: bad {what}"));
    let flag = |i: usize, what: &str| match row.get(i).and_then(|c| c.as_deref()) {
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        _ => Err(bad(what)),
    };
    let replay = match row.get(1).ok_or_else(|| bad("replay position"))? {
        None => None,
        Some(t) => Some(Lsn::parse_pg(t).map_err(|_| bad("replay position"))?),
    };
    Ok(RecoveryActivity {
        in_recovery: flag(0, "pg_is_in_recovery")?,
        replay,
        receiver: flag(2, "WAL receiver")?,
        startup_waiting_for_wal: flag(3, "startup wait")?,
        receiver_connecting: flag(4, "WAL receiver connecting")?,
        startup_waiting_for_stream: flag(5, "startup stream wait")?,
        receiver_pid: match row.get(6).ok_or_else(|| bad("WAL receiver pid"))? {
            None => None,
            Some(t) => Some(t.parse().map_err(|_| bad("WAL receiver pid"))?),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cols: &[Option<&str>]) -> Vec<Option<String>> {
        cols.iter().map(|c| c.map(str::to_string)).collect()
    }

    #[test]
    fn the_statement_follows_the_rename_of_13() {
        assert!(sql(90_624).is_none());
        // 10-12: the retry sleep is `RecoveryWalStream`, the streaming
        // wait `RecoveryWalAll` (its own column, after the sleep's).
        let s10 = sql(100_023).expect("10");
        assert!(s10.find("'RecoveryWalStream'") < s10.find("'RecoveryWalAll'"));
        assert!(sql(120_022).is_some_and(|s| !s.contains("RetryInterval")));
        // 13+: the retry sleep is `RecoveryRetrieveRetryInterval`, the
        // streaming wait (now `RecoveryWalStream`) after it.
        let s13 = sql(130_000).expect("13");
        assert!(s13.find("'RecoveryRetrieveRetryInterval'") < s13.find("'RecoveryWalStream'"));
        assert!(sql(180_004).is_some_and(|s| !s.contains("RecoveryWalAll")));
        // Both see a receiver that has not connected yet, and tell one
        // still connecting.
        for v in [100_023, 130_000] {
            assert!(sql(v).is_some_and(|s| s.contains("backend_type = 'walreceiver'")));
            assert!(sql(v).is_some_and(
                |s| s.contains("lower(wait_event) is distinct from 'libpqwalreceiverconnect'")
            ));
        }
    }

    #[test]
    fn rows_are_read_and_bad_ones_refused() {
        let a = parse(&row(&[
            Some("true"),
            Some("0/3000060"),
            Some("true"),
            Some("false"),
            Some("true"),
            Some("true"),
            Some("4242"),
        ]))
        .expect("a row");
        assert_eq!(
            a,
            RecoveryActivity {
                in_recovery: true,
                replay: Some(Lsn(0x0300_0060)),
                receiver: true,
                startup_waiting_for_wal: false,
                receiver_connecting: true,
                startup_waiting_for_stream: true,
                receiver_pid: Some(4242),
            }
        );
        let f = Some("false");
        let primary = parse(&row(&[f, None, f, f, f, f, None])).expect("a row");
        assert_eq!((primary.replay, primary.receiver_pid), (None, None));
        assert!(parse(&row(&[Some("t"), None, f, f, f, f, None])).is_err());
        assert!(parse(&row(&[Some("true"), Some("x"), f, f, f, f, None])).is_err());
        assert!(parse(&row(&[Some("true"), None, f, f, f, f, Some("x")])).is_err());
        assert!(
            parse(&row(&[Some("true"), None, f, f, f, f])).is_err(),
            "a column missing"
        );
        assert!(parse(&row(&[Some("true")])).is_err());
    }
}
