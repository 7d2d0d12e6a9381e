use crate::lsn::Lsn;

/// What kind of database failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbErrorKind {
    /// The server could not be reached or refused the connection.
    Connect,
    /// Authentication failed (wrong password, no such role, no pg_hba.conf
    /// line: SQLSTATE 28P01/28000).
    Auth,
    /// The database to connect to does not exist (SQLSTATE 3D000, `pgdb`).
    NoDatabase,
    /// The connect or statement timeout expired.
    Timeout,
    /// A statement failed.
    Query,
}

/// A failed database call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DbError {
    /// The kind of failure.
    pub kind: DbErrorKind,
    /// What the server or driver said (never contains a password).
    pub message: String,
}

impl DbError {
    /// Builds an error.
    pub fn new(kind: DbErrorKind, message: impl Into<String>) -> DbError {
        DbError {
            kind,
            message: message.into(),
        }
    }

    /// True when the server refused the login for a reason that retrying
    /// cannot cure ([`DbErrorKind::Auth`], [`DbErrorKind::NoDatabase`]):
    /// `start` fails at once instead of polling until its timeout (issue
    /// 12, re-attack item 3). A server that is starting up (SQLSTATE 57P03)
    /// or not listening yet is transient.
    pub fn refuses_login(&self) -> bool {
        matches!(self.kind, DbErrorKind::Auth | DbErrorKind::NoDatabase)
    }
}

/// One row of `pg_stat_replication` on a primary (serializable for
/// `pgsql-ra status --json`, issue 13).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReplicationRow {
    /// `application_name` (the agent sets it to the standby's node name).
    pub application_name: String,
    /// `upper(state)`, e.g. `STREAMING`.
    pub state: String,
    /// `upper(sync_state)`, e.g. `SYNC`.
    pub sync_state: String,
    /// `flush_lsn` (WAL the standby has made durable), when known.
    pub flush_lsn: Option<Lsn>,
    /// `replay_lsn`, when known.
    pub replay_lsn: Option<Lsn>,
    /// How old the standby's last reply is (issue 11): `clock_timestamp() -
    /// reply_time`, measured by the primary's server so that the core needs
    /// no clock; `None` before PostgreSQL 12 (no `reply_time` column) or
    /// when NULL. A healthy standby replies at least every
    /// `wal_receiver_status_interval`, idle or not.
    pub reply_age: Option<std::time::Duration>,
}

/// What `pgsql-ra status` shows of a `pg_stat_replication` row beyond
/// [`ReplicationRow`] (issue 13; no decision reads it).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReplicationLag {
    /// `application_name`.
    pub application_name: String,
    /// `sent_lsn` (`sent_location` before 10).
    pub sent_lsn: Option<Lsn>,
    /// `write_lag` in milliseconds (PostgreSQL 10+; NULL when idle).
    pub write_lag_ms: Option<u64>,
    /// `flush_lag` in milliseconds (PostgreSQL 10+).
    pub flush_lag_ms: Option<u64>,
    /// `replay_lag` in milliseconds (PostgreSQL 10+).
    pub replay_lag_ms: Option<u64>,
}

/// What the local server's recovery is doing, read in one statement (issue
/// 16: the early election's finality, docs/decision-logic.md "Early
/// election"). Serializable for `pgsql-ra status --json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RecoveryActivity {
    /// `pg_is_in_recovery()`.
    pub in_recovery: bool,
    /// `pg_last_wal_replay_lsn()` (`pg_last_xlog_replay_location()` before
    /// 10); `None` for NULL.
    pub replay: Option<Lsn>,
    /// A WAL receiver process exists: `pg_stat_wal_receiver` has a row
    /// (any `status`) or `pg_stat_activity` lists a `walreceiver` backend
    /// (one still connecting has no `pg_stat_wal_receiver` row: attack on
    /// issue 16, finding 1).
    pub receiver: bool,
    /// The startup process sleeps after every WAL source failed: its
    /// `pg_stat_activity` row (`backend_type = 'startup'`) shows the wait
    /// event `RecoveryRetrieveRetryInterval` (PostgreSQL 13+) or
    /// `RecoveryWalStream` (10–12, renamed in 13 by commit 1d253ba). The
    /// wait inside streaming recovery (`RecoveryWalStream` on 13+,
    /// `RecoveryWalAll` on 10–12: a receiver was requested), a paused
    /// replay (`RecoveryPause`), an apply delay (`RecoveryApplyDelay`), a
    /// running `restore_command` or a record being replayed (no wait event)
    /// is not. The sleep began after `pg_wal`, the archive and the stream
    /// gave no further record; WAL put into `pg_wal` during the sleep is
    /// only read after it (`wal_retrieve_retry_interval`, 5 s by default).
    pub startup_waiting_for_wal: bool,
    /// Every WAL receiver process is still making its connection:
    /// `pg_stat_wal_receiver` has no row (PostgreSQL fills it once the
    /// connection is made) and each `walreceiver` backend waits in
    /// `LibPQWalReceiverConnect` (PostgreSQL 10+; `LibpqwalreceiverConnect`
    /// from 17). False when there is no
    /// receiver. Such a receiver has delivered nothing yet.
    pub receiver_connecting: bool,
    /// The startup process waits inside streaming recovery for its receiver
    /// to deliver: wait event `RecoveryWalStream` (PostgreSQL 13+) or
    /// `RecoveryWalAll` (10–12). It got there after `pg_wal` and the
    /// archive gave no further record in this cycle.
    pub startup_waiting_for_stream: bool,
    /// The `walreceiver` backend's process ID (`pg_stat_activity.pid`), if
    /// one exists: [`crate::ports::System::connection_answer`] asks the
    /// kernel about its connection.
    pub receiver_pid: Option<u32>,
}

/// One session with the local PostgreSQL as the monitoring role (slot
/// changes use the `pgdba` role). The implementation connects lazily on the
/// first call, reuses the session, and bounds every call in time.
pub trait Database {
    /// Drops the session; the next call reconnects (after a restart).
    fn reset(&mut self);
    /// `pg_is_in_recovery()`.
    fn is_in_recovery(&mut self) -> Result<bool, DbError>;
    /// `server_version_num`, e.g. 150004.
    fn server_version_num(&mut self) -> Result<u32, DbError>;
    /// On a primary, `pg_current_wal_lsn()` (`pg_current_xlog_location()` before 10).
    fn current_lsn(&mut self) -> Result<Lsn, DbError>;
    /// On a standby, (replay, receive) locations; `None` for NULL.
    fn replay_and_receive_lsn(&mut self) -> Result<(Option<Lsn>, Option<Lsn>), DbError>;
    /// The timeline ID of the last checkpoint (`pg_control_checkpoint()`), if available.
    fn timeline(&mut self) -> Result<Option<u32>, DbError>;
    /// The cluster's system identifier (`pg_control_system()`), if available.
    fn system_identifier(&mut self) -> Result<Option<u64>, DbError>;
    /// The rows of `pg_stat_replication`.
    fn replication_rows(&mut self) -> Result<Vec<ReplicationRow>, DbError>;
    /// `show synchronous_standby_names`.
    fn synchronous_standby_names(&mut self) -> Result<String, DbError>;
    /// `sent_lsn` and the `*_lag` columns of `pg_stat_replication`, for
    /// `pgsql-ra status` only (issue 13). The default (in-memory servers)
    /// reports none.
    ///
    /// # Errors
    /// As [`Database::replication_rows`].
    fn replication_lag(&mut self) -> Result<Vec<ReplicationLag>, DbError> {
        Ok(Vec::new())
    }
    /// How long the oldest commit has been waiting for synchronous
    /// replication: `clock_timestamp() - min(query_start)` over
    /// `pg_stat_activity` rows with `wait_event = 'SyncRep'` (PostgreSQL ≥
    /// 9.6), on the monitoring session; `None` when none waits. A role that
    /// cannot see other roles' sessions (not a superuser, not in
    /// `pg_read_all_stats`) sees none (issue 11; the default, for in-memory
    /// servers, reports none).
    ///
    /// # Errors
    /// The query failed.
    fn sync_rep_wait_age(&mut self) -> Result<Option<std::time::Duration>, DbError> {
        Ok(None)
    }
    /// True when a replication slot of that name exists.
    fn slot_exists(&mut self, name: &str) -> Result<bool, DbError>;
    /// Drops a replication slot (as `pgdba`).
    fn drop_slot(&mut self, name: &str) -> Result<(), DbError>;
    /// Creates a physical replication slot (as `pgdba`).
    fn create_physical_slot(&mut self, name: &str) -> Result<(), DbError>;
    /// Runs the operator's `monitor_sql` and discards the result.
    fn run_monitor_sql(&mut self, sql: &str) -> Result<(), DbError>;
    /// Terminates this server's walsenders whose `application_name` is
    /// `application_name` (`pg_terminate_backend` on the `pid`s of
    /// `pg_stat_replication`, as `pgdba`) and returns how many it terminated.
    /// Used on a standby for its own name: its walreceiver connected to
    /// itself through `master_ip` before the VIP left it (issue 10); the
    /// walreceiver retries after `wal_retrieve_retry_interval`.
    ///
    /// # Errors
    /// The query failed.
    fn terminate_walsenders(&mut self, application_name: &str) -> Result<u32, DbError>;
    /// The local server's [`RecoveryActivity`] in one statement, on the
    /// monitoring session (issue 16). `Ok(None)` when it cannot be told
    /// (the default, and a server before PostgreSQL 10, which has no
    /// `backend_type`): the election then never decides early.
    ///
    /// # Errors
    /// The query failed.
    fn recovery_activity(&mut self) -> Result<Option<RecoveryActivity>, DbError> {
        Ok(None)
    }
}
